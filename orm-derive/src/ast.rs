//! The internal model of one `#[derive(Model)]` input: the struct, its fields
//! and their parsed attributes, with every default resolved. It keeps
//! references into the `syn` input, so errors and generated code keep the
//! user's spans.

mod relationship;

pub(crate) use relationship::{Join, Relationship};

use syn::ext::IdentExt;
use syn::{DeriveInput, Ident, Path, Type, Visibility};

use crate::attr;
use crate::check;
use crate::ctxt::Ctxt;
use crate::ty;

/// The struct a model is derived for.
#[derive(Debug)]
pub(crate) struct Container<'a> {
    /// The struct's name.
    pub(crate) ident: &'a Ident,
    /// The struct's visibility, given to the constructor.
    pub(crate) vis: &'a Visibility,
    /// The whole input, for the checks that look at its shape.
    pub(crate) original: &'a DeriveInput,
    /// The parsed `#[orm(...)]` of the struct.
    pub(crate) attrs: attr::Container,
    /// The SQL table name: `table = "..."`, or the struct name in snake_case.
    pub(crate) table: String,
    /// Every named field, skipped ones included, in declaration order.
    pub(crate) fields: Vec<Field<'a>>,
}

/// One named field of the struct.
#[derive(Debug)]
pub(crate) struct Field<'a> {
    /// The field's name, maybe a raw identifier (`r#type`).
    pub(crate) ident: &'a Ident,
    /// The field's visibility, given to its column constant.
    pub(crate) vis: &'a Visibility,
    /// The field's type, as written.
    pub(crate) ty: &'a Type,
    /// The parsed `#[orm(...)]` of the field.
    pub(crate) attrs: attr::Field,
    /// The SQL column name: `column = "..."`, or the field name.
    pub(crate) column: String,
    /// Whether the database generates the value (an identity key): the
    /// only primary-key field, spelled `i16`, `i32` or `i64` unless
    /// `autoincrement` says otherwise either way.
    pub(crate) generated: bool,
    /// The relationship, when the field has `#[relationship(...)]`: then it
    /// is not a column.
    pub(crate) relationship: Option<Relationship<'a>>,
}

impl<'a> Container<'a> {
    /// Builds the model of `input`, recording every attribute mistake in
    /// `cx`. Returns `None` when the input is not a struct with named fields,
    /// the one shape nothing can be generated for.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let attrs = attr::Container::from_ast(cx, &input.attrs);
        let named = check::named_fields(cx, input)?;
        let mut fields: Vec<Field<'a>> = named
            .named
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                let attrs = attr::Field::from_ast(cx, &field.attrs);
                let column = attrs.column.as_ref().map_or_else(|| ident.unraw().to_string(), |c| c.value.clone());
                let relationship =
                    attr::Relationship::from_ast(cx, &field.attrs).map(|attrs| Relationship::new(attrs, &field.ty));
                Some(Field { ident, vis: &field.vis, ty: &field.ty, attrs, column, generated: false, relationship })
            })
            .collect();
        relationship::resolve(cx, &input.ident, &mut fields);
        let single_key = fields.iter().filter(|f| f.is_primary_key()).count() == 1;
        for field in &mut fields {
            field.generated = single_key && field.is_primary_key() && field.autoincrement(ty::is_integer(field.ty));
        }
        let table =
            attrs.table.as_ref().map_or_else(|| snake_case(&input.ident.unraw().to_string()), |t| t.value.clone());
        Some(Container { ident: &input.ident, vis: &input.vis, original: input, attrs, table, fields })
    }

    /// The fields that are columns (not `skip`, not a relationship), in
    /// column order.
    pub(crate) fn columns(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| f.is_column())
    }

    /// The relationship fields with their relationships, in field order:
    /// the order of `TABLE.relations`.
    pub(crate) fn relationships(&self) -> impl Iterator<Item = (&Field<'a>, &Relationship<'a>)> {
        self.fields.iter().filter_map(|f| Some((f, f.relationship.as_ref()?)))
    }

    /// The primary-key fields, in column order.
    pub(crate) fn primary_key(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| f.is_primary_key())
    }

    /// The path generated code reaches `__private` through: `crate = ...`,
    /// or the facade `::orm`.
    pub(crate) fn krate(&self) -> Option<&Path> {
        self.attrs.krate.as_ref().map(|k| &k.value)
    }

    /// Whether to generate `new`.
    pub(crate) fn has_constructor(&self) -> bool {
        self.attrs.no_constructor.is_none()
    }
}

impl Field<'_> {
    /// Whether the field is a column (not `skip`, not a relationship).
    pub(crate) fn is_column(&self) -> bool {
        self.attrs.skip.is_none() && self.relationship.is_none()
    }

    /// Whether the field is `#[orm(skip)]` (and not a relationship, which
    /// is an error of its own).
    pub(crate) fn is_skipped(&self) -> bool {
        self.attrs.skip.is_some() && self.relationship.is_none()
    }

    /// Whether the field is (part of) the primary key.
    pub(crate) fn is_primary_key(&self) -> bool {
        self.attrs.primary_key.is_some()
    }

    /// Whether the field is the version column, `#[orm(version)]`: set to
    /// 1 by `new`, then by the session at every UPDATE.
    pub(crate) fn is_version(&self) -> bool {
        self.attrs.version.is_some()
    }

    /// `autoincrement = ...` as given, or `default`.
    pub(crate) fn autoincrement(&self, default: bool) -> bool {
        self.attrs.autoincrement.as_ref().map_or(default, |a| a.value)
    }

    /// Whether the database fills the column in on INSERT (an identity key
    /// or a server default), so that the constructor leaves it out.
    pub(crate) fn is_server_filled(&self) -> bool {
        self.generated || self.attrs.default.is_some()
    }
}

/// `MovieActor` -> `movie_actor`, `HTTPRequest` -> `http_request`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut snake = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let after_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let ends_acronym =
                i > 0 && chars[i - 1].is_uppercase() && chars.get(i + 1).is_some_and(|next| next.is_lowercase());
            if (after_lower || ends_acronym) && !snake.ends_with('_') {
                snake.push('_');
            }
            snake.extend(c.to_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn snake_case_splits_words_and_acronyms() {
        assert_eq!(snake_case("Movie"), "movie");
        assert_eq!(snake_case("MovieActor"), "movie_actor");
        assert_eq!(snake_case("HTTPRequest"), "http_request");
        assert_eq!(snake_case("Table2Name"), "table2_name");
        assert_eq!(snake_case("Already_Snake"), "already_snake");
    }

    #[test]
    fn defaults_come_from_the_rust_names() {
        let input: DeriveInput = parse_quote! {
            struct MovieActor {
                #[orm(primary_key)] movie_id: i32,
                #[orm(primary_key)] r#type: i32,
                #[orm(column = "actor")] actor_id: i32,
            }
        };
        let cx = Ctxt::new();
        let cont = Container::from_ast(&cx, &input).expect("a named struct");
        assert_eq!(cont.table, "movie_actor");
        let columns: Vec<_> = cont.fields.iter().map(|f| f.column.as_str()).collect();
        assert_eq!(columns, ["movie_id", "type", "actor"]);
        assert!(cont.krate().is_none() && cont.has_constructor());
        // A composite key is never generated by the database.
        assert!(cont.fields.iter().all(|f| !f.generated));
        assert!(cx.check().is_ok());
    }

    #[test]
    fn a_single_integer_key_is_generated() {
        let generated = |input: DeriveInput| {
            let cx = Ctxt::new();
            let cont = Container::from_ast(&cx, &input).expect("a named struct");
            cont.fields.iter().map(|f| f.generated).collect::<Vec<_>>()
        };
        assert_eq!(
            generated(parse_quote!(
                struct A {
                    #[orm(primary_key)]
                    id: i64,
                    n: i32,
                }
            )),
            [true, false]
        );
        assert_eq!(
            generated(parse_quote!(
                struct A {
                    #[orm(primary_key)]
                    code: String,
                }
            )),
            [false]
        );
        assert_eq!(
            generated(parse_quote!(
                struct A {
                    #[orm(primary_key, autoincrement = false)]
                    id: i32,
                }
            )),
            [false]
        );
        // An alias is not seen through, so `autoincrement = true` says it.
        assert_eq!(
            generated(parse_quote!(
                struct A {
                    #[orm(primary_key, autoincrement = true)]
                    id: Id,
                }
            )),
            [true]
        );
    }
}
