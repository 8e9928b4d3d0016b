//! `#[relationship(...)]` on a field, parsed into typed values.
//!
//! A relationship names Rust items only, so every value but `cascade` is a
//! path or an identifier: the target of `secondary`, `foreign_key` and
//! `order_by` is a model or one of its column constants, and resolves (or
//! fails to, at the user's token) like any other path. SQLAlchemy spells
//! these as strings; a string here is an error that shows the path to write.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Ident, LitStr, Path};

use super::{equals, error_at_value, flag_of, missing_value, path, path_to_string, skip_value, spanned};
use super::{Attr, Spanned};
use crate::ctxt::Ctxt;
use crate::symbol::{self, Symbol};
use crate::symbol::{BACK_POPULATES, CASCADE, FOREIGN_KEY, ORDER_BY, ORDER_DESC, RELATIONSHIP, SECONDARY};
use crate::symbol::{MANY_TO_MANY, MANY_TO_ONE, ONE_TO_MANY, ONE_TO_ONE};

/// The relationship pattern, given as a flag: `#[relationship(many_to_one)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    ManyToOne,
    OneToMany,
    OneToOne,
    ManyToMany,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::ManyToOne, Kind::OneToMany, Kind::OneToOne, Kind::ManyToMany];

    /// The key that declares this kind.
    pub(crate) fn symbol(self) -> Symbol {
        match self {
            Kind::ManyToOne => MANY_TO_ONE,
            Kind::OneToMany => ONE_TO_MANY,
            Kind::OneToOne => ONE_TO_ONE,
            Kind::ManyToMany => MANY_TO_MANY,
        }
    }

    fn from_path(path: &Path) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| path == kind.symbol())
    }

    /// Whether the field holds a collection (`Many<T>`) rather than at most
    /// one object (`One<T>`).
    pub(crate) fn is_collection(self) -> bool {
        matches!(self, Kind::OneToMany | Kind::ManyToMany)
    }
}

/// What `cascade = "..."` asks for beyond `save-update`, which is always
/// on: related objects are handles, and handles always live in the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cascade {
    /// `delete` (or `all`): deleting this object deletes the related ones.
    pub(crate) delete: bool,
    /// `delete-orphan`: a related object removed from this one is deleted.
    pub(crate) delete_orphan: bool,
}

/// The keys of `#[relationship(...)]` on one field.
#[derive(Debug)]
pub(crate) struct Relationship {
    /// The first `#[relationship(...)]` of the field, for errors that span it.
    pub(crate) attribute: TokenStream,
    /// `many_to_one`, `one_to_many`, `one_to_one` or `many_to_many`; `None`
    /// when missing (already reported).
    pub(crate) kind: Option<Spanned<Kind>>,
    /// `back_populates = field`
    pub(crate) back_populates: Option<Spanned<Ident>>,
    /// `secondary = Model`
    pub(crate) secondary: Option<Spanned<Path>>,
    /// `foreign_key = Model::column`
    pub(crate) foreign_key: Option<Spanned<Path>>,
    /// `order_by = Target::column`
    pub(crate) order_by: Option<Spanned<Path>>,
    /// `order_desc`
    pub(crate) order_desc: Option<Spanned<()>>,
    /// `cascade = "..."`
    pub(crate) cascade: Option<Spanned<Cascade>>,
    /// Whether a key was unknown or its value malformed (reported): the
    /// relationship may not say what was meant, so nothing is inferred
    /// from it.
    pub(crate) malformed: bool,
}

impl Relationship {
    /// Parses every `#[relationship(...)]` of one field, recording mistakes
    /// in `cx`. Returns `None` when the field has none.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Option<Self> {
        let mut relationship_attrs = attrs.iter().filter(|attr| attr.path() == RELATIONSHIP).peekable();
        let attribute = relationship_attrs.peek()?.to_token_stream();
        let mut kind: Option<Spanned<Kind>> = None;
        let mut back_populates = Attr::relationship(cx, BACK_POPULATES);
        let mut secondary = Attr::relationship(cx, SECONDARY);
        let mut foreign_key = Attr::relationship(cx, FOREIGN_KEY);
        let mut order_by = Attr::relationship(cx, ORDER_BY);
        let mut order_desc = Attr::relationship(cx, ORDER_DESC);
        let mut cascade = Attr::relationship(cx, CASCADE);
        let errors_before = cx.error_count();
        // Whether a key was unknown or malformed, and so maybe the kind.
        let mut unknown = false;
        for attr in relationship_attrs {
            let parsed = attr.parse_nested_meta(|meta| {
                if let Some(found) = Kind::from_path(&meta.path) {
                    let flag = flag_of(cx, &meta, RELATIONSHIP, found.symbol())?;
                    // `many_to_one = true` is reported; "needs a kind" would be noise.
                    unknown |= flag.is_none();
                    set_kind(cx, &mut kind, flag.map(|f| Spanned { tokens: f.tokens, value: found }));
                } else if meta.path == BACK_POPULATES {
                    back_populates.set(back_populates_value(cx, &meta)?);
                } else if meta.path == SECONDARY {
                    secondary.set(secondary_value(cx, &meta)?);
                } else if meta.path == FOREIGN_KEY {
                    foreign_key.set(column_value(cx, &meta, FOREIGN_KEY)?);
                } else if meta.path == ORDER_BY {
                    order_by.set(column_value(cx, &meta, ORDER_BY)?);
                } else if meta.path == ORDER_DESC {
                    order_desc.set(flag_of(cx, &meta, RELATIONSHIP, ORDER_DESC)?);
                } else if meta.path == CASCADE {
                    cascade.set(cascade_value(cx, &meta)?);
                } else {
                    unknown = true;
                    unknown_key(cx, &meta)?;
                }
                Ok(())
            });
            parsed.unwrap_or_else(|error| {
                unknown = true;
                cx.syn_error(error);
            });
        }
        // A misspelled kind (`many_to_on`) is already reported as unknown.
        if kind.is_none() && !unknown {
            let message = format!(
                "`#[relationship]` needs a kind, one of {}, e.g. `#[relationship(many_to_one)]`",
                symbol::list(symbol::KINDS)
            );
            cx.error_spanned_by(&attribute, message);
        }
        Some(Relationship {
            attribute,
            kind,
            back_populates: back_populates.get(),
            secondary: secondary.get(),
            foreign_key: foreign_key.get(),
            order_by: order_by.get(),
            order_desc: order_desc.get(),
            cascade: cascade.get(),
            malformed: cx.error_count() > errors_before,
        })
    }
}

/// Records the kind flag; a second, different kind is an error of its own.
fn set_kind(cx: &Ctxt, kind: &mut Option<Spanned<Kind>>, found: Option<Spanned<Kind>>) {
    let Some(found) = found else { return };
    match kind {
        None => *kind = Some(found),
        Some(first) if first.value == found.value => {
            let message = format!("duplicate `relationship` attribute `{}`, keep only one", found.value.symbol());
            cx.error_spanned_by(&found.tokens, message);
        }
        Some(first) => {
            let message = format!(
                "a relationship has exactly one kind, found `{}` and `{}`: keep the one that describes the foreign key",
                first.value.symbol(),
                found.value.symbol()
            );
            cx.error_spanned_by(&found.tokens, message);
        }
    }
}

/// Reports a key that is not ours, listing the valid ones.
fn unknown_key(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    let key = path_to_string(&meta.path);
    let message = match key.as_str() {
        // SQLAlchemy's `backref` creates the other side implicitly; a model
        // here declares every field it has.
        "backref" => "`backref` is not supported: declare the relationship on both models and link them with \
                      `back_populates = <field>`"
            .to_owned(),
        _ => format!(
            "unknown `relationship` attribute `{key}`, expected one of {}",
            symbol::list(symbol::RELATIONSHIP_KEYS)
        ),
    };
    cx.error_spanned_by(&meta.path, message);
    skip_value(meta.input).map(drop)
}

/// `back_populates = field`: the relationship field of the target, as an
/// identifier.
fn back_populates_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Spanned<Ident>>> {
    let shape = "name the relationship field of the target that mirrors this one, e.g. `back_populates = movies`";
    let Some(input) = equals(meta)? else {
        return missing_value(cx, meta, format!("`back_populates` expects a field name: {shape}"));
    };
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let message =
            format!("`back_populates` takes the field name, not a string: write `back_populates = {}`", lit.value());
        cx.error_spanned_by(&lit, message);
        return Ok(None);
    }
    match path(input)? {
        Some(path) => match path.get_ident() {
            Some(ident) => Ok(Some(spanned(meta, ident, ident.clone()))),
            None => {
                let field = path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
                let message = format!(
                    "`back_populates` takes the name of a field of the target, not a path: write \
                     `back_populates = {field}`"
                );
                cx.error_spanned_by(&path, message);
                Ok(None)
            }
        },
        None => error_at_value(cx, meta, format!("`back_populates` expects a field name: {shape}")),
    }
}

/// `secondary = Model`: the association model, a path.
fn secondary_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Spanned<Path>>> {
    let shape = "name the model whose rows link the two sides, e.g. `secondary = MovieActor`";
    let Some(input) = equals(meta)? else {
        return missing_value(cx, meta, format!("`secondary` expects a model: {shape}"));
    };
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let message = format!(
            "`secondary` takes a model, not a table name: write `secondary = Model`, where `Model` is the struct \
             mapped to table `{}`",
            lit.value()
        );
        cx.error_spanned_by(&lit, message);
        return Ok(None);
    }
    match path(input)? {
        Some(path) => Ok(Some(spanned(meta, &path, path.clone()))),
        None => error_at_value(cx, meta, format!("`secondary` expects a model: {shape}")),
    }
}

/// `foreign_key = Model::column` or `order_by = Model::column`: a column
/// constant, as a path.
fn column_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: Symbol) -> syn::Result<Option<Spanned<Path>>> {
    let shape = match key {
        ORDER_BY => {
            "write the column of the target as a path, e.g. `order_by = Model::column`, and add \
                     `order_desc` to sort in descending order"
        }
        _ => "write the foreign-key column as a path, e.g. `foreign_key = Model::column`",
    };
    let Some(input) = equals(meta)? else {
        return missing_value(cx, meta, format!("`{key}` expects a column: {shape}"));
    };
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        // SQLAlchemy's `foreign_keys="Employee.manager_id"` and
        // `order_by="Address.email"` name a class and an attribute, which
        // are the model and the column constant here.
        let message = match lit.value().split_once('.') {
            Some((model, column)) if !model.is_empty() && !column.is_empty() => {
                format!("`{key}` takes a path, not a string: write `{key} = {model}::{column}`")
            }
            _ => format!("`{key}` takes a path, not a string: {shape}"),
        };
        cx.error_spanned_by(&lit, message);
        return Ok(None);
    }
    match path(input)? {
        Some(path) => Ok(Some(spanned(meta, &path, path.clone()))),
        None => error_at_value(cx, meta, format!("`{key}` expects a column: {shape}")),
    }
}

/// `cascade = "all, delete-orphan"`: comma-separated options.
fn cascade_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Spanned<Cascade>>> {
    let message = "`cascade` expects a string of comma-separated options, write `cascade = \"all, delete-orphan\"`";
    let Some(input) = equals(meta)? else { return missing_value(cx, meta, message) };
    if !input.peek(LitStr) {
        return error_at_value(cx, meta, message);
    }
    let lit: LitStr = input.parse()?;
    let mut cascade = Cascade::default();
    let mut valid = true;
    let mut any = false;
    for option in lit.value().split(',').map(str::trim).filter(|option| !option.is_empty()) {
        any = true;
        match option {
            "save-update" => {}
            "delete" | "all" => cascade.delete = true,
            "delete-orphan" => cascade.delete_orphan = true,
            _ => {
                valid = false;
                let expected: Vec<String> = symbol::CASCADES.iter().map(|c| format!("`{c}`")).collect();
                let message = format!("unknown cascade option `{option}`, expected one of {}", expected.join(", "));
                cx.error_spanned_by(&lit, message);
            }
        }
    }
    if !any {
        let message = "`cascade` cannot be empty, write `cascade = \"all, delete-orphan\"` or remove it";
        cx.error_spanned_by(&lit, message);
        return Ok(None);
    }
    Ok(valid.then(|| spanned(meta, &lit, cascade)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn parse(attrs: Vec<Attribute>) -> (Option<Relationship>, Vec<String>) {
        let cx = Ctxt::new();
        let relationship = Relationship::from_ast(&cx, &attrs);
        let errors = match cx.check() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        };
        (relationship, errors)
    }

    fn errors(attr: Attribute) -> Vec<String> {
        parse(vec![attr]).1
    }

    fn path_of(value: &Option<Spanned<Path>>) -> Option<String> {
        value.as_ref().map(|v| path_to_string(&v.value))
    }

    #[test]
    fn parses_every_key() {
        let (rel, errors) = parse(vec![
            parse_quote!(#[relationship(one_to_many, back_populates = actor, foreign_key = Detail::actor_id)]),
            parse_quote!(#[relationship(order_by = crate::Detail::id, order_desc, cascade = "all, delete-orphan")]),
            parse_quote!(#[doc = "other attributes are ignored"]),
        ]);
        assert_eq!(errors, Vec::<String>::new());
        let rel = rel.expect("a relationship");
        assert_eq!(rel.kind.map(|k| k.value), Some(Kind::OneToMany));
        assert_eq!(rel.back_populates.map(|b| b.value.to_string()).as_deref(), Some("actor"));
        assert_eq!(path_of(&rel.foreign_key).as_deref(), Some("Detail::actor_id"));
        assert_eq!(path_of(&rel.order_by).as_deref(), Some("crate::Detail::id"));
        assert!(rel.order_desc.is_some() && rel.secondary.is_none());
        assert_eq!(rel.cascade.map(|c| c.value), Some(Cascade { delete: true, delete_orphan: true }));
        assert!(rel.attribute.to_string().starts_with("# [relationship (one_to_many"));
    }

    #[test]
    fn no_attribute_no_relationship() {
        let (rel, errors) = parse(vec![parse_quote!(#[orm(unique)])]);
        assert!(rel.is_none() && errors.is_empty());
    }

    #[test]
    fn parses_many_to_many() {
        let (rel, errors) = parse(vec![parse_quote!(#[relationship(many_to_many, secondary = MovieActor)])]);
        assert!(errors.is_empty(), "{errors:?}");
        let rel = rel.expect("a relationship");
        assert_eq!(rel.kind.map(|k| k.value), Some(Kind::ManyToMany));
        assert_eq!(path_of(&rel.secondary).as_deref(), Some("MovieActor"));
        assert!(rel.cascade.is_none() && rel.back_populates.is_none());
    }

    #[test]
    fn exactly_one_kind() {
        let kinds = "`many_to_one`, `one_to_many`, `one_to_one`, `many_to_many`";
        assert_eq!(
            errors(parse_quote!(#[relationship(back_populates = movies)])),
            [format!("`#[relationship]` needs a kind, one of {kinds}, e.g. `#[relationship(many_to_one)]`")]
        );
        assert_eq!(
            errors(parse_quote!(#[relationship(many_to_one, one_to_many)])),
            ["a relationship has exactly one kind, found `many_to_one` and `one_to_many`: keep the one that \
              describes the foreign key"]
        );
        assert_eq!(
            errors(parse_quote!(#[relationship(one_to_one, one_to_one)])),
            ["duplicate `relationship` attribute `one_to_one`, keep only one"]
        );
        assert_eq!(
            errors(parse_quote!(#[relationship(many_to_one = true)])),
            ["`many_to_one` takes no value, write `#[relationship(many_to_one)]`"]
        );
    }

    #[test]
    fn unknown_keys_list_the_valid_ones() {
        // The misspelled kind is the one error: no "needs a kind" on top.
        assert_eq!(
            errors(parse_quote!(#[relationship(many_to_on)])),
            ["unknown `relationship` attribute `many_to_on`, expected one of `many_to_one`, `one_to_many`, \
              `one_to_one`, `many_to_many`, `back_populates`, `secondary`, `foreign_key`, `order_by`, \
              `order_desc`, `cascade`"]
        );
        assert_eq!(
            errors(parse_quote!(#[relationship(many_to_one, backref = "movies")])),
            ["`backref` is not supported: declare the relationship on both models and link them with \
              `back_populates = <field>`"]
        );
    }

    #[test]
    fn duplicate_keys_across_attributes() {
        let (rel, errors) = parse(vec![
            parse_quote!(#[relationship(many_to_one, back_populates = a)]),
            parse_quote!(#[relationship(back_populates = b)]),
        ]);
        assert_eq!(errors, ["duplicate `relationship` attribute `back_populates`, keep only one"]);
        assert_eq!(rel.and_then(|r| r.back_populates).map(|b| b.value.to_string()).as_deref(), Some("a"));
    }

    #[test]
    fn strings_where_paths_belong_show_the_path() {
        let cases: Vec<(Attribute, &str)> = vec![
            (
                parse_quote!(#[relationship(many_to_one, back_populates = "movies")]),
                "`back_populates` takes the field name, not a string: write `back_populates = movies`",
            ),
            (
                parse_quote!(#[relationship(many_to_one, back_populates = Actor::movies)]),
                "`back_populates` takes the name of a field of the target, not a path: write \
                 `back_populates = movies`",
            ),
            (
                parse_quote!(#[relationship(many_to_many, secondary = "movies_actors")]),
                "`secondary` takes a model, not a table name: write `secondary = Model`, where `Model` is the \
                 struct mapped to table `movies_actors`",
            ),
            (
                parse_quote!(#[relationship(many_to_one, foreign_key = "Employee.manager_id")]),
                "`foreign_key` takes a path, not a string: write `foreign_key = Employee::manager_id`",
            ),
            (
                parse_quote!(#[relationship(many_to_one, foreign_key = "manager_id")]),
                "`foreign_key` takes a path, not a string: write the foreign-key column as a path, e.g. \
                 `foreign_key = Model::column`",
            ),
            (
                parse_quote!(#[relationship(one_to_many, order_by = "Detail.id")]),
                "`order_by` takes a path, not a string: write `order_by = Detail::id`",
            ),
            (
                parse_quote!(#[relationship(one_to_many, order_by = Detail::id.desc())]),
                "`order_by` expects a column: write the column of the target as a path, e.g. \
                 `order_by = Model::column`, and add `order_desc` to sort in descending order",
            ),
        ];
        for (attr, expected) in cases {
            assert_eq!(errors(attr), [expected]);
        }
    }

    #[test]
    fn cascade_options() {
        let cascade = |attr: Attribute| parse(vec![attr]).0.and_then(|r| r.cascade).map(|c| c.value);
        let all = Cascade { delete: true, delete_orphan: false };
        assert_eq!(cascade(parse_quote!(#[relationship(one_to_many, cascade = "all")])), Some(all));
        assert_eq!(
            cascade(parse_quote!(#[relationship(one_to_many, cascade = "save-update")])),
            Some(Cascade::default())
        );
        assert_eq!(
            cascade(parse_quote!(#[relationship(one_to_many, cascade = "save-update,delete-orphan,")])),
            Some(Cascade { delete: false, delete_orphan: true })
        );
        assert_eq!(cascade(parse_quote!(#[relationship(one_to_many, cascade = "delete")])), Some(all));
        assert_eq!(
            errors(parse_quote!(#[relationship(one_to_many, cascade = "all, merge")])),
            ["unknown cascade option `merge`, expected one of `save-update`, `delete`, `delete-orphan`, `all`"]
        );
        assert_eq!(
            errors(parse_quote!(#[relationship(one_to_many, cascade = " , ")])),
            ["`cascade` cannot be empty, write `cascade = \"all, delete-orphan\"` or remove it"]
        );
        assert_eq!(
            errors(parse_quote!(#[relationship(one_to_many, cascade = all)])),
            ["`cascade` expects a string of comma-separated options, write `cascade = \"all, delete-orphan\"`"]
        );
    }

    #[test]
    fn parsing_goes_on_after_a_mistake() {
        let (rel, errors) = parse(vec![parse_quote!(
            #[relationship(many_to_many, secundary = X, cascade = "nope", back_populates = movies)]
        )]);
        assert_eq!(errors.len(), 2, "{errors:?}");
        let rel = rel.expect("a relationship");
        assert!(rel.kind.is_some() && rel.back_populates.is_some());
    }

    #[test]
    fn malformed_attributes_are_errors_not_panics() {
        for attr in [parse_quote!(#[relationship]), parse_quote!(#[relationship = "x"])] {
            assert_eq!(errors(attr).len(), 1);
        }
    }
}
