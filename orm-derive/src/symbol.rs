//! The keys of `#[orm(...)]` and `#[relationship(...)]`, as constants, so that parsing and error
//! messages spell them the same way.

use std::fmt::{self, Display};

use syn::Path;

/// An attribute name or key.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Symbol(pub(crate) &'static str);

/// The attribute of columns and of the struct: `#[orm(...)]`.
pub(crate) const ORM: Symbol = Symbol("orm");
/// The attribute of relationship fields: `#[relationship(...)]`.
pub(crate) const RELATIONSHIP: Symbol = Symbol("relationship");

// Container keys.
pub(crate) const TABLE: Symbol = Symbol("table");
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const NO_CONSTRUCTOR: Symbol = Symbol("no_constructor");
pub(crate) const CHECK: Symbol = Symbol("check");
pub(crate) const HOOKS: Symbol = Symbol("hooks");

// Field keys.
pub(crate) const COLUMN: Symbol = Symbol("column");
pub(crate) const PRIMARY_KEY: Symbol = Symbol("primary_key");
pub(crate) const AUTOINCREMENT: Symbol = Symbol("autoincrement");
pub(crate) const UNIQUE: Symbol = Symbol("unique");
pub(crate) const INDEX: Symbol = Symbol("index");
pub(crate) const DEFAULT: Symbol = Symbol("default");
pub(crate) const CLIENT_DEFAULT: Symbol = Symbol("client_default");
pub(crate) const ONUPDATE: Symbol = Symbol("onupdate");
pub(crate) const MAX_LEN: Symbol = Symbol("max_len");
pub(crate) const PRECISION: Symbol = Symbol("precision");
pub(crate) const SCALE: Symbol = Symbol("scale");
pub(crate) const FOREIGN_KEY: Symbol = Symbol("foreign_key");
pub(crate) const VERSION: Symbol = Symbol("version");
pub(crate) const ON_DELETE: Symbol = Symbol("on_delete");
pub(crate) const ON_KEY_UPDATE: Symbol = Symbol("on_key_update");
pub(crate) const SKIP: Symbol = Symbol("skip");

// Relationship keys: the kind flags, then the options.
pub(crate) const MANY_TO_ONE: Symbol = Symbol("many_to_one");
pub(crate) const ONE_TO_MANY: Symbol = Symbol("one_to_many");
pub(crate) const ONE_TO_ONE: Symbol = Symbol("one_to_one");
pub(crate) const MANY_TO_MANY: Symbol = Symbol("many_to_many");
pub(crate) const BACK_POPULATES: Symbol = Symbol("back_populates");
pub(crate) const SECONDARY: Symbol = Symbol("secondary");
pub(crate) const ORDER_BY: Symbol = Symbol("order_by");
pub(crate) const ORDER_DESC: Symbol = Symbol("order_desc");
pub(crate) const CASCADE: Symbol = Symbol("cascade");

/// Every container key, in the order error messages list them.
pub(crate) const CONTAINER_KEYS: &[Symbol] = &[TABLE, CRATE, NO_CONSTRUCTOR, HOOKS, UNIQUE, INDEX, CHECK];

/// Every field key, in the order error messages list them.
pub(crate) const FIELD_KEYS: &[Symbol] = &[
    COLUMN,
    PRIMARY_KEY,
    AUTOINCREMENT,
    UNIQUE,
    INDEX,
    DEFAULT,
    CLIENT_DEFAULT,
    ONUPDATE,
    MAX_LEN,
    PRECISION,
    SCALE,
    FOREIGN_KEY,
    ON_DELETE,
    ON_KEY_UPDATE,
    VERSION,
    SKIP,
];

/// The relationship kinds, in the order error messages list them.
pub(crate) const KINDS: &[Symbol] = &[MANY_TO_ONE, ONE_TO_MANY, ONE_TO_ONE, MANY_TO_MANY];

/// Every relationship key, in the order error messages list them.
pub(crate) const RELATIONSHIP_KEYS: &[Symbol] = &[
    MANY_TO_ONE,
    ONE_TO_MANY,
    ONE_TO_ONE,
    MANY_TO_MANY,
    BACK_POPULATES,
    SECONDARY,
    FOREIGN_KEY,
    ORDER_BY,
    ORDER_DESC,
    CASCADE,
];

/// The tokens `cascade = "..."` accepts, in the order error messages list them.
pub(crate) const CASCADES: &[&str] = &["save-update", "delete", "delete-orphan", "all"];

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}

/// Lists symbols for a message: "`a`, `b`, `c`".
pub(crate) fn list(symbols: &[Symbol]) -> String {
    symbols.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}
