//! `#[orm(...)]` and `#[relationship(...)]` attributes, parsed into typed
//! values.
//!
//! One branch per key, as serde's `internals/attr.rs` does. Every level owns
//! its whole namespace, so an unknown key is an error that lists the valid
//! ones: a typo must never compile into a silently different mapping. Values
//! that name Rust items (`foreign_key`, `crate`, `secondary`) are paths, so
//! they keep their spans and resolve like any other path; SQL names (`table`,
//! `column`, `default`) are strings.
//!
//! A mistake in one key is recorded in the [`Ctxt`] and its value skipped, so
//! the keys after it are still parsed and every mistake shows up in one build.

mod relationship;

pub(crate) use relationship::{Kind, Relationship};

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Attribute, Ident, LitBool, LitInt, LitStr, Path, Token};

use crate::ctxt::Ctxt;
use crate::symbol::{self, Symbol};
use crate::symbol::{AUTOINCREMENT, CHECK, COLUMN, CRATE, DEFAULT, FOREIGN_KEY, INDEX, MAX_LEN, NO_CONSTRUCTOR};
use crate::symbol::{CLIENT_DEFAULT, HOOKS, ONUPDATE, ON_DELETE, ON_KEY_UPDATE};
use crate::symbol::{ORM, PRECISION, PRIMARY_KEY, RELATIONSHIP, SCALE, SKIP, TABLE, UNIQUE, VERSION};

/// A value given in an attribute, with the tokens of `key = value` for errors.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    /// The tokens of the key and its value; errors about the key span them.
    pub(crate) tokens: TokenStream,
    /// The parsed value.
    pub(crate) value: T,
}

/// A key that may be given at most once (serde's `Attr`): the one place where
/// duplicates are caught.
struct Attr<'c, T> {
    cx: &'c Ctxt,
    /// `orm` or `relationship`, for the message.
    attribute: Symbol,
    name: Symbol,
    value: Option<Spanned<T>>,
}

impl<'c, T> Attr<'c, T> {
    /// An `#[orm(...)]` key not given yet.
    fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Attr { cx, attribute: ORM, name, value: None }
    }

    /// A `#[relationship(...)]` key not given yet.
    fn relationship(cx: &'c Ctxt, name: Symbol) -> Self {
        Attr { cx, attribute: RELATIONSHIP, name, value: None }
    }

    /// Records a value; `None` (a mistake already reported) is ignored.
    fn set(&mut self, value: Option<Spanned<T>>) {
        let Some(value) = value else { return };
        if self.value.is_some() {
            let message = format!("duplicate `{}` attribute `{}`, keep only one", self.attribute, self.name);
            self.cx.error_spanned_by(&value.tokens, message);
        } else {
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<Spanned<T>> {
        self.value
    }
}

/// The container attributes: `#[orm(...)]` on the struct.
#[derive(Debug, Default)]
pub(crate) struct Container {
    /// `table = "movies"`
    pub(crate) table: Option<Spanned<String>>,
    /// `crate = path`
    pub(crate) krate: Option<Spanned<Path>>,
    /// `no_constructor`
    pub(crate) no_constructor: Option<Spanned<()>>,
    /// `hooks`: the model implements `Hooks`.
    pub(crate) hooks: Option<Spanned<()>>,
    /// `unique(a, b)`: a UNIQUE constraint over several fields.
    pub(crate) uniques: Vec<Spanned<Vec<Ident>>>,
    /// `index(a, b)`: an index over several fields.
    pub(crate) indexes: Vec<Spanned<Vec<Ident>>>,
    /// `check(name = "sql")`: a CHECK constraint.
    pub(crate) checks: Vec<Spanned<(Ident, String)>>,
}

impl Container {
    /// Parses every `#[orm(...)]` of the struct, recording mistakes in `cx`.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut table = Attr::none(cx, TABLE);
        let mut krate = Attr::none(cx, CRATE);
        let mut no_constructor = Attr::none(cx, NO_CONSTRUCTOR);
        let mut hooks = Attr::none(cx, HOOKS);
        let (mut uniques, mut indexes, mut checks) = (Vec::new(), Vec::new(), Vec::new());
        for attr in attrs.iter().filter(|attr| attr.path() == RELATIONSHIP) {
            let message = "`#[relationship]` goes on a field of type `One<T>` or `Many<T>`, not on the struct: \
                           move it onto the relationship field";
            cx.error_spanned_by(attr, message);
        }
        for attr in orm_attributes(attrs) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path == TABLE {
                    table.set(string_value(cx, &meta, TABLE, "movies")?);
                } else if meta.path == CRATE {
                    krate.set(path_value(cx, &meta, CRATE)?);
                } else if meta.path == NO_CONSTRUCTOR {
                    no_constructor.set(flag(cx, &meta, NO_CONSTRUCTOR)?);
                } else if meta.path == HOOKS {
                    hooks.set(flag(cx, &meta, HOOKS)?);
                } else if meta.path == UNIQUE {
                    uniques.extend(field_list(cx, &meta, UNIQUE)?);
                } else if meta.path == INDEX {
                    indexes.extend(field_list(cx, &meta, INDEX)?);
                } else if meta.path == CHECK {
                    checks.extend(check_value(cx, &meta)?);
                } else {
                    unknown_key(cx, &meta, Level::Container)?;
                }
                Ok(())
            });
            parsed.unwrap_or_else(|error| cx.syn_error(error));
        }
        Container {
            table: table.get(),
            krate: krate.get(),
            no_constructor: no_constructor.get(),
            hooks: hooks.get(),
            uniques,
            indexes,
            checks,
        }
    }
}

/// The field attributes: `#[orm(...)]` on one field.
#[derive(Debug, Default)]
pub(crate) struct Field {
    /// `column = "name"`
    pub(crate) column: Option<Spanned<String>>,
    /// `primary_key`
    pub(crate) primary_key: Option<Spanned<()>>,
    /// `autoincrement = bool`
    pub(crate) autoincrement: Option<Spanned<bool>>,
    /// `unique`
    pub(crate) unique: Option<Spanned<()>>,
    /// `index`
    pub(crate) index: Option<Spanned<()>>,
    /// `default = "<sql>"`
    pub(crate) default: Option<Spanned<String>>,
    /// `client_default = path::to::function`: what `new` puts in the field.
    pub(crate) client_default: Option<Spanned<Path>>,
    /// `onupdate = "<sql>"`
    pub(crate) onupdate: Option<Spanned<String>>,
    /// `max_len = N`
    pub(crate) max_len: Option<Spanned<u32>>,
    /// `precision = P`: `numeric(P, S)`
    pub(crate) precision: Option<Spanned<u32>>,
    /// `scale = S`
    pub(crate) scale: Option<Spanned<u32>>,
    /// `foreign_key = Model::column`
    pub(crate) foreign_key: Option<Spanned<Path>>,
    /// `on_delete = "cascade"`
    pub(crate) on_delete: Option<Spanned<ReferentialAction>>,
    /// `on_key_update = "cascade"`: SQL's `ON UPDATE` of the foreign key
    pub(crate) on_update: Option<Spanned<ReferentialAction>>,
    /// `version`: the optimistic-concurrency counter
    pub(crate) version: Option<Spanned<()>>,
    /// `skip`
    pub(crate) skip: Option<Spanned<()>>,
    /// The first `#[orm(...)]` of the field, if any, for errors that span it.
    pub(crate) attribute: Option<TokenStream>,
}

impl Field {
    /// Parses every `#[orm(...)]` of one field, recording mistakes in `cx`.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut column = Attr::none(cx, COLUMN);
        let mut primary_key = Attr::none(cx, PRIMARY_KEY);
        let mut autoincrement = Attr::none(cx, AUTOINCREMENT);
        let mut unique = Attr::none(cx, UNIQUE);
        let mut index = Attr::none(cx, INDEX);
        let mut default = Attr::none(cx, DEFAULT);
        let mut max_len = Attr::none(cx, MAX_LEN);
        let mut client_default = Attr::none(cx, CLIENT_DEFAULT);
        let mut onupdate = Attr::none(cx, ONUPDATE);
        let mut precision = Attr::none(cx, PRECISION);
        let mut scale = Attr::none(cx, SCALE);
        let mut foreign_key = Attr::none(cx, FOREIGN_KEY);
        let mut on_delete = Attr::none(cx, ON_DELETE);
        let mut on_update = Attr::none(cx, ON_KEY_UPDATE);
        let mut version = Attr::none(cx, VERSION);
        let mut skip = Attr::none(cx, SKIP);
        for attr in orm_attributes(attrs) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path == COLUMN {
                    column.set(string_value(cx, &meta, COLUMN, "name")?);
                } else if meta.path == PRIMARY_KEY {
                    primary_key.set(flag(cx, &meta, PRIMARY_KEY)?);
                } else if meta.path == AUTOINCREMENT {
                    autoincrement.set(bool_value(cx, &meta, AUTOINCREMENT)?);
                } else if meta.path == UNIQUE {
                    unique.set(flag(cx, &meta, UNIQUE)?);
                } else if meta.path == INDEX {
                    index.set(flag(cx, &meta, INDEX)?);
                } else if meta.path == DEFAULT {
                    default.set(string_value(cx, &meta, DEFAULT, "now()")?);
                } else if meta.path == ONUPDATE {
                    onupdate.set(string_value(cx, &meta, ONUPDATE, "now()")?);
                } else if meta.path == CLIENT_DEFAULT {
                    client_default.set(path_value(cx, &meta, CLIENT_DEFAULT)?);
                } else if meta.path == MAX_LEN {
                    max_len.set(integer_value(cx, &meta, MAX_LEN, 200, 1)?);
                } else if meta.path == PRECISION {
                    precision.set(integer_value(cx, &meta, PRECISION, 10, 1)?);
                } else if meta.path == SCALE {
                    scale.set(integer_value(cx, &meta, SCALE, 2, 0)?);
                } else if meta.path == FOREIGN_KEY {
                    foreign_key.set(foreign_key_value(cx, &meta)?);
                } else if meta.path == ON_DELETE {
                    on_delete.set(action_value(cx, &meta, ON_DELETE)?);
                } else if meta.path == ON_KEY_UPDATE {
                    on_update.set(action_value(cx, &meta, ON_KEY_UPDATE)?);
                } else if meta.path == VERSION {
                    version.set(flag(cx, &meta, VERSION)?);
                } else if meta.path == SKIP {
                    skip.set(flag(cx, &meta, SKIP)?);
                } else {
                    unknown_key(cx, &meta, Level::Field)?;
                }
                Ok(())
            });
            parsed.unwrap_or_else(|error| cx.syn_error(error));
        }
        Field {
            column: column.get(),
            primary_key: primary_key.get(),
            autoincrement: autoincrement.get(),
            unique: unique.get(),
            index: index.get(),
            default: default.get(),
            client_default: client_default.get(),
            onupdate: onupdate.get(),
            max_len: max_len.get(),
            precision: precision.get(),
            scale: scale.get(),
            foreign_key: foreign_key.get(),
            on_delete: on_delete.get(),
            on_update: on_update.get(),
            version: version.get(),
            skip: skip.get(),
            attribute: orm_attributes(attrs).next().map(ToTokens::to_token_stream),
        }
    }

    /// Every key given other than `skip`, with its tokens: what `skip`
    /// conflicts with.
    pub(crate) fn column_keys(&self) -> Vec<(Symbol, &TokenStream)> {
        let keys = [
            (COLUMN, self.column.as_ref().map(|v| &v.tokens)),
            (PRIMARY_KEY, self.primary_key.as_ref().map(|v| &v.tokens)),
            (AUTOINCREMENT, self.autoincrement.as_ref().map(|v| &v.tokens)),
            (UNIQUE, self.unique.as_ref().map(|v| &v.tokens)),
            (INDEX, self.index.as_ref().map(|v| &v.tokens)),
            (DEFAULT, self.default.as_ref().map(|v| &v.tokens)),
            (CLIENT_DEFAULT, self.client_default.as_ref().map(|v| &v.tokens)),
            (ONUPDATE, self.onupdate.as_ref().map(|v| &v.tokens)),
            (MAX_LEN, self.max_len.as_ref().map(|v| &v.tokens)),
            (PRECISION, self.precision.as_ref().map(|v| &v.tokens)),
            (SCALE, self.scale.as_ref().map(|v| &v.tokens)),
            (FOREIGN_KEY, self.foreign_key.as_ref().map(|v| &v.tokens)),
            (ON_DELETE, self.on_delete.as_ref().map(|v| &v.tokens)),
            (ON_KEY_UPDATE, self.on_update.as_ref().map(|v| &v.tokens)),
            (VERSION, self.version.as_ref().map(|v| &v.tokens)),
        ];
        keys.into_iter().filter_map(|(key, tokens)| Some((key, tokens?))).collect()
    }
}

/// Returns the `#[orm]` attributes.
fn orm_attributes(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path() == ORM)
}

/// Which attribute a key was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Container,
    Field,
}

/// Reports a key that is not ours, listing the valid ones; a key of the other
/// level says where it belongs instead.
fn unknown_key(cx: &Ctxt, meta: &ParseNestedMeta<'_>, level: Level) -> syn::Result<()> {
    let key = path_to_string(&meta.path);
    let is = |keys: &[Symbol]| keys.iter().any(|k| k.0 == key);
    let message = match level {
        Level::Container if is(symbol::FIELD_KEYS) => {
            format!("`{key}` is a field attribute, move `#[orm({key})]` onto a field of the struct")
        }
        Level::Field if is(symbol::CONTAINER_KEYS) => {
            format!("`{key}` is a container attribute, move `#[orm({key} = ...)]` onto the struct")
        }
        Level::Container => format!(
            "unknown `orm` container attribute `{key}`, expected one of {}",
            symbol::list(symbol::CONTAINER_KEYS)
        ),
        Level::Field => {
            format!("unknown `orm` field attribute `{key}`, expected one of {}", symbol::list(symbol::FIELD_KEYS))
        }
    };
    cx.error_spanned_by(&meta.path, message);
    skip_value(meta.input).map(drop)
}

/// A key of `#[orm(...)]` that takes no value: `primary_key`.
fn flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: Symbol) -> syn::Result<Option<Spanned<()>>> {
    flag_of(cx, meta, ORM, key)
}

/// A key of `#[attribute(...)]` that takes no value.
fn flag_of(cx: &Ctxt, meta: &ParseNestedMeta<'_>, attribute: Symbol, key: Symbol) -> syn::Result<Option<Spanned<()>>> {
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        return Ok(Some(Spanned { tokens: meta.path.to_token_stream(), value: () }));
    }
    let mut tokens = meta.path.to_token_stream();
    tokens.extend(skip_value(meta.input)?);
    cx.error_spanned_by(tokens, format!("`{key}` takes no value, write `#[{attribute}({key})]`"));
    Ok(None)
}

/// `key = "string"`, not empty.
fn string_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    key: Symbol,
    example: &str,
) -> syn::Result<Option<Spanned<String>>> {
    let Some(input) = equals(meta)? else {
        return missing_value(cx, meta, format!("`{key}` expects a string, write `{key} = \"{example}\"`"));
    };
    if !input.peek(LitStr) {
        // `table = movies`, `default = now()`: suggest what was written, quoted.
        let value = skip_value(meta.input)?;
        let written = value.to_string().replace(" (", "(").replace("( ", "(").replace(" )", ")");
        let example = if written.is_empty() { example } else { &written };
        let message = format!("`{key}` expects a string literal, write `{key} = \"{example}\"`");
        if value.is_empty() {
            cx.error_spanned_by(&meta.path, message);
        } else {
            cx.error_spanned_by(value, message);
        }
        return Ok(None);
    }
    let lit: LitStr = input.parse()?;
    let value = lit.value();
    if value.trim().is_empty() {
        let message = format!("`{key}` cannot be empty, write `{key} = \"{example}\"` or remove it");
        cx.error_spanned_by(&lit, message);
        return Ok(None);
    }
    Ok(Some(spanned(meta, &lit, value)))
}

/// `key = true` or `key = false`.
fn bool_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: Symbol) -> syn::Result<Option<Spanned<bool>>> {
    let message = format!("`{key}` expects `true` or `false`, write `{key} = false`");
    let Some(input) = equals(meta)? else { return missing_value(cx, meta, message) };
    if !input.peek(LitBool) {
        return error_at_value(cx, meta, message);
    }
    let lit: LitBool = input.parse()?;
    Ok(Some(spanned(meta, &lit, lit.value)))
}

/// `key = N`, with `least <= N <= u32::MAX` (`least` is 0 or 1).
fn integer_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    key: Symbol,
    example: u32,
    least: u32,
) -> syn::Result<Option<Spanned<u32>>> {
    let kind = if least == 0 { "a non-negative" } else { "a positive" };
    let message = format!("`{key}` expects {kind} integer, write `{key} = {example}`");
    let Some(input) = equals(meta)? else { return missing_value(cx, meta, message) };
    if !input.peek(LitInt) {
        return error_at_value(cx, meta, message);
    }
    let lit: LitInt = input.parse()?;
    match lit.base10_parse::<u32>() {
        Ok(n) if n >= least => Ok(Some(spanned(meta, &lit, n))),
        _ => {
            cx.error_spanned_by(&lit, message);
            Ok(None)
        }
    }
}

/// `foreign_key = Model::column`: a path, never a string.
fn foreign_key_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Spanned<Path>>> {
    let shape = "write the referenced model and column as a path, e.g. `foreign_key = Studio::id`";
    let Some(input) = equals(meta)? else {
        return missing_value(cx, meta, format!("`foreign_key` expects a column, {shape}"));
    };
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let message = match lit.value().split_once('.') {
            // SQLAlchemy's `ForeignKey("movies.id")`: the table name is not
            // the model's name, so only the column can be carried over.
            Some((table, column)) if !table.is_empty() && !column.is_empty() => format!(
                "`foreign_key` takes a path, not a string: write `foreign_key = Model::{column}`, where `Model` is \
                 the struct mapped to table `{table}`"
            ),
            _ => format!("`foreign_key` takes a path, not a string: {shape}"),
        };
        cx.error_spanned_by(&lit, message);
        return Ok(None);
    }
    match path(input)? {
        Some(path) => Ok(Some(spanned(meta, &path, path.clone()))),
        None => error_at_value(cx, meta, format!("`foreign_key` expects a column, {shape}")),
    }
}

/// A foreign key's `ON DELETE` / `ON UPDATE` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReferentialAction {
    Cascade,
    SetNull,
    SetDefault,
    Restrict,
    NoAction,
}

impl ReferentialAction {
    /// The name of the matching `ReferentialAction` variant.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            ReferentialAction::Cascade => "Cascade",
            ReferentialAction::SetNull => "SetNull",
            ReferentialAction::SetDefault => "SetDefault",
            ReferentialAction::Restrict => "Restrict",
            ReferentialAction::NoAction => "NoAction",
        }
    }
}

/// `on_delete = "cascade"`: one of the SQL actions, spaces or underscores.
fn action_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: Symbol) -> syn::Result<Option<Spanned<ReferentialAction>>> {
    let Some(text) = string_value(cx, meta, key, "cascade")? else { return Ok(None) };
    let action = match text.value.to_lowercase().replace('_', " ").as_str() {
        "cascade" => ReferentialAction::Cascade,
        "set null" => ReferentialAction::SetNull,
        "set default" => ReferentialAction::SetDefault,
        "restrict" => ReferentialAction::Restrict,
        "no action" => ReferentialAction::NoAction,
        _ => {
            let message = format!(
                "unknown `{key}` action `{}`, expected one of \"cascade\", \"set null\", \"set default\", \
                 \"restrict\", \"no action\"",
                text.value
            );
            cx.error_spanned_by(&text.tokens, message);
            return Ok(None);
        }
    };
    Ok(Some(Spanned { tokens: text.tokens, value: action }))
}

/// `unique(a, b)` / `index(a, b)` on the struct: two fields or more.
fn field_list(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: Symbol) -> syn::Result<Option<Spanned<Vec<Ident>>>> {
    let shape = format!("`{key}` on the struct lists two fields or more, write `{key}(author_id, title)`");
    if !meta.input.peek(syn::token::Paren) {
        return error_at_value(cx, meta, shape);
    }
    let mut fields = Vec::new();
    meta.parse_nested_meta(|inner| {
        match inner.path.get_ident() {
            Some(ident) => fields.push(ident.clone()),
            None => cx.error_spanned_by(&inner.path, format!("`{key}(..)` lists field names")),
        }
        Ok(())
    })?;
    let tokens = meta.path.to_token_stream();
    if fields.len() < 2 {
        let one = format!("{shape}; for one field, put `#[orm({key})]` on the field");
        cx.error_spanned_by(&tokens, one);
        return Ok(None);
    }
    Ok(Some(Spanned { tokens, value: fields }))
}

/// `check(name = "sql")` on the struct.
fn check_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<Spanned<(Ident, String)>>> {
    let shape = "`check` names its condition, write `check(stars_range = \"stars BETWEEN 1 AND 5\")`";
    if !meta.input.peek(syn::token::Paren) {
        return error_at_value(cx, meta, shape).map(|_: Option<()>| Vec::new());
    }
    let mut checks = Vec::new();
    meta.parse_nested_meta(|inner| {
        let Some(name) = inner.path.get_ident().cloned() else {
            cx.error_spanned_by(&inner.path, shape);
            return skip_value(inner.input).map(drop);
        };
        if let Some(sql) = string_value(cx, &inner, CHECK, "stars BETWEEN 1 AND 5")? {
            checks.push(Spanned { tokens: sql.tokens, value: (name, sql.value) });
        }
        Ok(())
    })?;
    Ok(checks)
}

/// `crate = path`: where generated code finds `__private`.
fn path_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: Symbol) -> syn::Result<Option<Spanned<Path>>> {
    let Some(input) = equals(meta)? else {
        return missing_value(cx, meta, format!("`{key}` expects a path, write `{key} = ::orm`"));
    };
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let message = format!("`{key}` takes a path, not a string: write `{key} = {}` without the quotes", lit.value());
        cx.error_spanned_by(&lit, message);
        return Ok(None);
    }
    match path(input)? {
        Some(path) => Ok(Some(spanned(meta, &path, path.clone()))),
        None => error_at_value(cx, meta, format!("`{key}` expects a path, write `{key} = ::orm`")),
    }
}

/// Parses a path that makes up the whole value, or consumes nothing and
/// returns `None` (`Studio::id()`, `"movies.id"`).
fn path(input: ParseStream<'_>) -> syn::Result<Option<Path>> {
    let fork = input.fork();
    match fork.call(Path::parse_mod_style) {
        Ok(_) if fork.is_empty() || fork.peek(Token![,]) => input.call(Path::parse_mod_style).map(Some),
        _ => Ok(None),
    }
}

/// Consumes `=` and returns the input holding the value, or `None` when the
/// key has no `= value`.
fn equals<'m>(meta: &'m ParseNestedMeta<'_>) -> syn::Result<Option<ParseStream<'m>>> {
    if meta.input.peek(Token![=]) {
        meta.value().map(Some)
    } else {
        Ok(None)
    }
}

fn spanned<T>(meta: &ParseNestedMeta<'_>, value_tokens: &dyn ToTokens, value: T) -> Spanned<T> {
    let mut tokens = meta.path.to_token_stream();
    value_tokens.to_tokens(&mut tokens);
    Spanned { tokens, value }
}

/// Reports a key given without a value, at the key.
fn missing_value<T>(cx: &Ctxt, meta: &ParseNestedMeta<'_>, message: impl std::fmt::Display) -> syn::Result<Option<T>> {
    cx.error_spanned_by(&meta.path, message);
    skip_value(meta.input)?;
    Ok(None)
}

/// Reports a value of the wrong shape, at the value, and skips it.
fn error_at_value<T>(cx: &Ctxt, meta: &ParseNestedMeta<'_>, message: impl std::fmt::Display) -> syn::Result<Option<T>> {
    let value = skip_value(meta.input)?;
    if value.is_empty() {
        cx.error_spanned_by(&meta.path, message);
    } else {
        cx.error_spanned_by(value, message);
    }
    Ok(None)
}

/// Skips what is left of a value, up to the next top-level `,`, so that the
/// keys after a mistake are still parsed. Returns the skipped tokens.
fn skip_value(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    input.step(|cursor| {
        let mut skipped = TokenStream::new();
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            if matches!(&tree, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
            skipped.extend([tree]);
            rest = next;
        }
        Ok((skipped, rest))
    })
}

fn path_to_string(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.join("::")
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    /// Parses field attributes, returning them with the error messages.
    fn field(attrs: Vec<Attribute>) -> (Field, Vec<String>) {
        let cx = Ctxt::new();
        let field = Field::from_ast(&cx, &attrs);
        (field, messages(cx))
    }

    fn container(attrs: Vec<Attribute>) -> (Container, Vec<String>) {
        let cx = Ctxt::new();
        let container = Container::from_ast(&cx, &attrs);
        (container, messages(cx))
    }

    fn messages(cx: Ctxt) -> Vec<String> {
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn parses_every_field_key() {
        let (attrs, errors) = field(vec![
            parse_quote!(#[orm(column = "title", primary_key, autoincrement = false, unique, index)]),
            parse_quote!(#[orm(default = "now()", max_len = 200, foreign_key = crate::Studio::id, version)]),
            parse_quote!(#[doc = "other attributes are ignored"]),
        ]);
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(attrs.column.map(|c| c.value).as_deref(), Some("title"));
        assert!(attrs.primary_key.is_some() && attrs.unique.is_some() && attrs.index.is_some());
        assert_eq!(attrs.autoincrement.map(|a| a.value), Some(false));
        assert_eq!(attrs.default.map(|d| d.value).as_deref(), Some("now()"));
        assert_eq!(attrs.max_len.map(|m| m.value), Some(200));
        let path = attrs.foreign_key.map(|f| path_to_string(&f.value));
        assert_eq!(path.as_deref(), Some("crate::Studio::id"));
        assert!(attrs.version.is_some());
        assert!(attrs.skip.is_none());
    }

    #[test]
    fn nothing_given_means_defaults() {
        let (attrs, errors) = field(vec![parse_quote!(#[orm()])]);
        assert!(errors.is_empty());
        assert!(attrs.column_keys().is_empty() && attrs.skip.is_none());
        let (attrs, errors) = container(Vec::new());
        assert!(errors.is_empty());
        assert!(attrs.table.is_none() && attrs.krate.is_none() && attrs.no_constructor.is_none());
    }

    #[test]
    fn parses_every_container_key() {
        let (attrs, errors) =
            container(vec![parse_quote!(#[orm(table = "movies", crate = ::my::orm, no_constructor)])]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(attrs.table.map(|t| t.value).as_deref(), Some("movies"));
        assert_eq!(attrs.krate.map(|k| path_to_string(&k.value)).as_deref(), Some("my::orm"));
        assert!(attrs.no_constructor.is_some());
    }

    #[test]
    fn unknown_keys_list_the_valid_ones() {
        let (_, errors) = field(vec![parse_quote!(#[orm(colum = "name")])]);
        assert_eq!(
            errors,
            ["unknown `orm` field attribute `colum`, expected one of `column`, `primary_key`, `autoincrement`, \
              `unique`, `index`, `default`, `client_default`, `onupdate`, `max_len`, `precision`, `scale`, `foreign_key`, `on_delete`, `on_key_update`, `version`, `skip`"]
        );
        let (_, errors) = container(vec![parse_quote!(#[orm(tabel = "movies")])]);
        assert_eq!(
            errors,
            ["unknown `orm` container attribute `tabel`, expected one of `table`, `crate`, `no_constructor`, `hooks`, \
              `unique`, `index`, `check`"]
        );
    }

    #[test]
    fn keys_of_the_other_level_say_where_they_belong() {
        let (_, errors) = container(vec![parse_quote!(#[orm(primary_key)])]);
        assert_eq!(
            errors,
            ["`primary_key` is a field attribute, move `#[orm(primary_key)]` onto a field of the struct"]
        );
        let (_, errors) = field(vec![parse_quote!(#[orm(table = "movies")])]);
        assert_eq!(errors, ["`table` is a container attribute, move `#[orm(table = ...)]` onto the struct"]);
    }

    #[test]
    fn duplicate_keys_are_errors_even_across_attributes() {
        let (attrs, errors) = field(vec![parse_quote!(#[orm(column = "a")]), parse_quote!(#[orm(column = "b")])]);
        assert_eq!(errors, ["duplicate `orm` attribute `column`, keep only one"]);
        assert_eq!(attrs.column.map(|c| c.value).as_deref(), Some("a"));
        let (_, errors) = container(vec![parse_quote!(#[orm(no_constructor, no_constructor)])]);
        assert_eq!(errors, ["duplicate `orm` attribute `no_constructor`, keep only one"]);
    }

    #[test]
    fn foreign_key_must_be_a_path() {
        let (attrs, errors) = field(vec![parse_quote!(#[orm(foreign_key = "movies.id")])]);
        assert!(attrs.foreign_key.is_none());
        assert_eq!(
            errors,
            ["`foreign_key` takes a path, not a string: write `foreign_key = Model::id`, where `Model` is the struct \
              mapped to table `movies`"]
        );
        let (_, errors) = field(vec![parse_quote!(#[orm(foreign_key = "id")])]);
        assert_eq!(
            errors,
            ["`foreign_key` takes a path, not a string: write the referenced model and column as a path, e.g. \
              `foreign_key = Studio::id`"]
        );
        let (_, errors) = field(vec![parse_quote!(#[orm(foreign_key = Studio::id())])]);
        assert_eq!(
            errors,
            ["`foreign_key` expects a column, write the referenced model and column as a path, e.g. \
              `foreign_key = Studio::id`"]
        );
    }

    #[test]
    fn crate_must_be_a_path() {
        let (_, errors) = container(vec![parse_quote!(#[orm(crate = "my_orm")])]);
        assert_eq!(errors, ["`crate` takes a path, not a string: write `crate = my_orm` without the quotes"]);
    }

    #[test]
    fn values_of_the_wrong_shape_show_the_right_one() {
        let cases: Vec<(Attribute, &str)> = vec![
            (parse_quote!(#[orm(primary_key = true)]), "`primary_key` takes no value, write `#[orm(primary_key)]`"),
            (parse_quote!(#[orm(version = 1)]), "`version` takes no value, write `#[orm(version)]`"),
            (parse_quote!(#[orm(column = name)]), "`column` expects a string literal, write `column = \"name\"`"),
            (parse_quote!(#[orm(column)]), "`column` expects a string, write `column = \"name\"`"),
            (parse_quote!(#[orm(column = "")]), "`column` cannot be empty, write `column = \"name\"` or remove it"),
            (parse_quote!(#[orm(default = 5)]), "`default` expects a string literal, write `default = \"5\"`"),
            (parse_quote!(#[orm(default = now())]), "`default` expects a string literal, write `default = \"now()\"`"),
            (parse_quote!(#[orm(max_len = 0)]), "`max_len` expects a positive integer, write `max_len = 200`"),
            (parse_quote!(#[orm(max_len = -1)]), "`max_len` expects a positive integer, write `max_len = 200`"),
            (parse_quote!(#[orm(max_len = "20")]), "`max_len` expects a positive integer, write `max_len = 200`"),
            (
                parse_quote!(#[orm(autoincrement)]),
                "`autoincrement` expects `true` or `false`, write `autoincrement = false`",
            ),
            (
                parse_quote!(#[orm(autoincrement = no)]),
                "`autoincrement` expects `true` or `false`, write `autoincrement = false`",
            ),
        ];
        for (attr, expected) in cases {
            let (_, errors) = field(vec![attr]);
            assert_eq!(errors, [expected]);
        }
        let (_, errors) = container(vec![parse_quote!(#[orm(table = movies)])]);
        assert_eq!(errors, ["`table` expects a string literal, write `table = \"movies\"`"]);
    }

    #[test]
    fn parsing_goes_on_after_a_mistake() {
        let (attrs, errors) =
            field(vec![parse_quote!(#[orm(colum = "title", primary_key = yes, max_len = 0, unique, index)])]);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(attrs.unique.is_some() && attrs.index.is_some());
    }

    #[test]
    fn relationship_belongs_on_fields() {
        let (_, errors) = container(vec![parse_quote!(#[relationship(many_to_one)])]);
        assert_eq!(
            errors,
            ["`#[relationship]` goes on a field of type `One<T>` or `Many<T>`, not on the struct: move it onto the \
              relationship field"]
        );
        // On a field it is parsed by `Relationship`, not here.
        let (attrs, errors) = field(vec![parse_quote!(#[relationship(many_to_one)])]);
        assert!(errors.is_empty() && attrs.attribute.is_none());
        let (attrs, _) = field(vec![parse_quote!(#[orm(unique)]), parse_quote!(#[orm(index)])]);
        assert_eq!(attrs.attribute.map(|a| a.to_string()).as_deref(), Some("# [orm (unique)]"));
    }

    #[test]
    fn malformed_attributes_are_errors_not_panics() {
        for attr in [parse_quote!(#[orm]), parse_quote!(#[orm = "x"]), parse_quote!(#[orm(column = "a" "b")])] {
            let (_, errors) = field(vec![attr]);
            assert_eq!(errors.len(), 1, "{errors:?}");
        }
    }
}
