//! Rules that span more than one key or field. Each reports into the
//! [`Ctxt`] at the token to change, so one build shows every mistake.

use std::collections::HashMap;

use syn::{Data, DeriveInput, Fields, FieldsNamed};

use crate::ast::{Container, Field, Relationship};
use crate::attr::Kind;
use crate::attr::ReferentialAction;
use crate::ctxt::Ctxt;
use crate::symbol::SKIP;
use crate::ty::{self, Holder};

/// Runs every rule on a parsed model. `had_attribute_errors` tells whether
/// attribute parsing already failed.
pub(crate) fn check(cx: &Ctxt, cont: &Container<'_>, had_attribute_errors: bool) {
    check_generics(cx, cont);
    if !had_attribute_errors {
        // A misspelled key (`#[orm(primay_key)]`) is already reported; saying
        // "found none" on top of it would blame the wrong line.
        check_primary_key_exists(cx, cont);
    }
    let composite = cont.primary_key().count() > 1;
    for field in &cont.fields {
        check_skip_alone(cx, field);
        check_key_not_nullable(cx, field);
        check_autoincrement(cx, field, composite);
        if field.relationship.is_none() && field.attrs.skip.is_none() {
            check_not_unsigned(cx, field);
        }
        check_max_len_on_text(cx, field);
        check_precision(cx, field);
        check_referential_actions(cx, field);
        check_client_default(cx, field);
        check_foreign_key_shape(cx, field);
        if let Some(relationship) = &field.relationship {
            check_relationship_not_a_column(cx, field);
            check_relationship_type(cx, field, relationship);
            check_relationship_keys(cx, cont, relationship);
        }
    }
    check_unique_columns(cx, cont);
    check_constraint_fields(cx, cont);
    if !cont.has_constructor() {
        for client in cont.columns().filter_map(|f| f.attrs.client_default.as_ref()) {
            let message = "`client_default` is computed by `new`, which `no_constructor` leaves out: compute it in \
                           your constructor";
            cx.error_spanned_by(&client.tokens, message);
        }
    }
    check_version(cx, cont);
    check_constructor_name(cx, cont);
}

/// A model maps the named fields of a struct onto columns: an enum, a union
/// or a struct without field names has nothing to map. Returns the fields
/// when the shape is right.
pub(crate) fn named_fields<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<&'a FieldsNamed> {
    let ident = &input.ident;
    let example = format!("`struct {ident} {{ #[orm(primary_key)] id: i32, .. }}`");
    let expects = "`#[derive(Model)]` expects a struct with named fields";
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => return Some(named),
            Fields::Unnamed(unnamed) => {
                cx.error_spanned_by(unnamed, format!("{expects}, found a tuple struct; name the fields: {example}"))
            }
            Fields::Unit => {
                cx.error_spanned_by(ident, format!("{expects}, found a unit struct; add the columns: {example}"))
            }
        },
        Data::Enum(_) => {
            cx.error_spanned_by(ident, format!("{expects}, found an enum; a model maps one table: {example}"))
        }
        Data::Union(_) => {
            cx.error_spanned_by(ident, format!("{expects}, found a union; a model maps one table: {example}"))
        }
    }
    None
}

/// Column types must be known to build the static `TABLE` and the typed
/// column constants, which cannot be generic.
fn check_generics(cx: &Ctxt, cont: &Container<'_>) {
    let generics = &cont.original.generics;
    let message = "`#[derive(Model)]` does not support generic structs, remove the generic parameters: a model maps \
                   one table with fixed column types";
    if !generics.params.is_empty() {
        cx.error_spanned_by(generics, message);
    } else if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned_by(where_clause, message);
    }
}

/// The session's identity map and every UPDATE and DELETE address a row by
/// its primary key.
fn check_primary_key_exists(cx: &Ctxt, cont: &Container<'_>) {
    if cont.primary_key().next().is_none() {
        cx.error_spanned_by(
            cont.ident,
            "`#[derive(Model)]` requires at least one `#[orm(primary_key)]` field, found none",
        );
    }
}

/// A skipped field is not a column, so column settings on it would be
/// silently meaningless.
fn check_skip_alone(cx: &Ctxt, field: &Field<'_>) {
    if field.attrs.skip.is_none() {
        return;
    }
    for (key, tokens) in field.attrs.column_keys() {
        let message =
            format!("`{SKIP}` cannot be combined with `{key}`: a skipped field is not a column, remove one of them");
        cx.error_spanned_by(tokens, message);
    }
}

/// Primary-key columns are NOT NULL in SQL, and a key must identify its row.
fn check_key_not_nullable(cx: &Ctxt, field: &Field<'_>) {
    if field.is_primary_key() && ty::option_inner(field.ty).is_some() {
        let message = format!(
            "primary key `{}` cannot be an `Option`: key columns are never NULL, declare the inner type instead",
            field.ident
        );
        cx.error_spanned_by(field.ty, message);
    }
}

/// Only a primary key can be generated by the database, and only when it is
/// the whole key: the constructor and the identity map rely on one value
/// coming back from RETURNING.
fn check_autoincrement(cx: &Ctxt, field: &Field<'_>, composite: bool) {
    let Some(autoincrement) = &field.attrs.autoincrement else { return };
    if !field.is_primary_key() {
        let message = "`autoincrement` only applies to a primary key, add `primary_key` or remove `autoincrement`";
        cx.error_spanned_by(&autoincrement.tokens, message);
    } else if composite && autoincrement.value {
        let message = "`autoincrement = true` needs a single-field primary key, remove it from this composite key";
        cx.error_spanned_by(&autoincrement.tokens, message);
    } else if autoincrement.value && !ty::is_integer(field.ty) {
        let message = format!(
            "`autoincrement` needs an integer key (`i16`, `i32` or `i64`), found `{}`; for other generated keys use \
             `default = \"<sql>\"`, such as `default = \"gen_random_uuid()\"`",
            ty::display(field.ty)
        );
        cx.error_spanned_by(&autoincrement.tokens, message);
    }
}

/// PostgreSQL has no unsigned integers: say which signed type holds the
/// values, rather than "`u32` has no SQL mapping".
fn check_not_unsigned(cx: &Ctxt, field: &Field<'_>) {
    let ty = ty::option_inner(field.ty).unwrap_or(field.ty);
    let Some(advice) = ty::signed_for_unsigned(ty) else { return };
    let message = format!(
        "`{}` has no PostgreSQL column type (PostgreSQL has no unsigned integers): declare {advice}",
        ty::display(ty)
    );
    cx.error_spanned_by(ty, message);
}

/// `precision` and `scale` make the column `numeric(p, s)`: a `Decimal`
/// field, a precision PostgreSQL accepts, and a scale that fits in it.
fn check_precision(cx: &Ctxt, field: &Field<'_>) {
    let (precision, scale) = (&field.attrs.precision, &field.attrs.scale);
    let Some(first) = precision.as_ref().or(scale.as_ref()) else { return };
    if !ty::is_decimal(field.ty) {
        let message =
            "`precision` and `scale` only apply to `Decimal` and `Option<Decimal>` fields (`numeric(p, s)`), \
                       remove them or change the field type";
        cx.error_spanned_by(&first.tokens, message);
        return;
    }
    match (precision, scale) {
        (None, Some(scale)) => {
            let message = format!(
                "`scale` needs a `precision`: write `precision = {}, scale = {}`",
                10.max(scale.value),
                scale.value
            );
            cx.error_spanned_by(&scale.tokens, message);
        }
        (Some(precision), _) if precision.value > 1000 => {
            cx.error_spanned_by(&precision.tokens, "`precision` is at most 1000 in PostgreSQL");
        }
        (Some(precision), Some(scale)) if scale.value > precision.value => {
            let message = format!("`scale = {}` cannot exceed `precision = {}`", scale.value, precision.value);
            cx.error_spanned_by(&scale.tokens, message);
        }
        _ => {}
    }
}

/// A value is computed in Rust or by the database, not both; a generated key
/// is the database's.
fn check_client_default(cx: &Ctxt, field: &Field<'_>) {
    if let Some(onupdate) = &field.attrs.onupdate {
        if field.is_primary_key() || field.is_version() {
            let message = "`onupdate` cannot be on a primary key or the version: the session writes those itself";
            cx.error_spanned_by(&onupdate.tokens, message);
        }
    }
    let Some(client) = &field.attrs.client_default else { return };
    if field.is_version() {
        let message = "the version starts at 1 and the session counts it: remove `client_default`";
        cx.error_spanned_by(&client.tokens, message);
    } else if field.attrs.default.is_some() {
        let message = "`client_default` computes the value in Rust and `default` in the database: keep one";
        cx.error_spanned_by(&client.tokens, message);
    } else if field.generated {
        let message = "a generated key is filled in by the database: add `autoincrement = false` to compute it with \
                       `client_default`";
        cx.error_spanned_by(&client.tokens, message);
    }
}

/// `on_delete` and `on_key_update` go with a foreign key; `set null` needs one
/// that can be NULL.
fn check_referential_actions(cx: &Ctxt, field: &Field<'_>) {
    for action in [&field.attrs.on_delete, &field.attrs.on_update].into_iter().flatten() {
        if field.attrs.foreign_key.is_none() {
            let message = "`on_delete` and `on_key_update` go with a foreign key: add `foreign_key = Model::column`";
            cx.error_spanned_by(&action.tokens, message);
        } else if action.value == ReferentialAction::SetDefault && field.attrs.default.is_none() {
            let message = "`set default` needs a default: add `default = \"<sql>\"` to the field";
            cx.error_spanned_by(&action.tokens, message);
        } else if action.value == ReferentialAction::SetNull && ty::option_inner(field.ty).is_none() {
            let message = format!(
                "`set null` needs a nullable foreign key: declare `{}: Option<{}>`",
                field.ident,
                ty::display(field.ty)
            );
            cx.error_spanned_by(&action.tokens, message);
        }
    }
}

/// The fields of `unique(..)` and `index(..)` on the struct are columns.
fn check_constraint_fields(cx: &Ctxt, cont: &Container<'_>) {
    for list in cont.attrs.uniques.iter().chain(&cont.attrs.indexes) {
        for (i, ident) in list.value.iter().enumerate() {
            if list.value[..i].contains(ident) {
                cx.error_spanned_by(ident, format!("`{ident}` is listed twice, list each field once"));
            } else if !cont.columns().any(|f| f.ident == ident) {
                let message = format!("`{}` has no column field `{ident}`: list fields that are columns", cont.ident);
                cx.error_spanned_by(ident, message);
            }
        }
    }
}

/// `max_len` makes the column `varchar(n)`, which only text can be.
fn check_max_len_on_text(cx: &Ctxt, field: &Field<'_>) {
    if let Some(max_len) = &field.attrs.max_len {
        if !ty::is_text(field.ty) {
            let message = "`max_len` only applies to `String` and `Option<String>` fields, remove it or change the \
                           field type";
            cx.error_spanned_by(&max_len.tokens, message);
        }
    }
}

/// A foreign key references a column constant of another model, `Model::column`;
/// a bare name would resolve to nothing the derive can type-check.
fn check_foreign_key_shape(cx: &Ctxt, field: &Field<'_>) {
    if let Some(foreign_key) = &field.attrs.foreign_key {
        let path = &foreign_key.value;
        if path.segments.len() < 2 {
            let found = path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
            let message = format!(
                "`foreign_key` must name a column as `Model::column`, e.g. `foreign_key = Studio::{found}`, \
                 found `{found}`"
            );
            cx.error_spanned_by(path, message);
        }
    }
}

/// A relationship field holds handles, not a column value: column keys on it
/// would be silently meaningless, and a foreign key belongs on a column.
fn check_relationship_not_a_column(cx: &Ctxt, field: &Field<'_>) {
    if let Some(attribute) = &field.attrs.attribute {
        let message = "`#[orm]` and `#[relationship]` cannot be combined: a relationship field is not a column, \
                       remove `#[orm(...)]` and put `#[orm(foreign_key = Model::column)]` on the foreign-key column";
        cx.error_spanned_by(attribute, message);
    }
}

/// The field type says how many related objects there are, so it must agree
/// with the kind: `One<T>` for `many_to_one` and `one_to_one`, `Many<T>` for
/// `one_to_many` and `many_to_many`.
fn check_relationship_type(cx: &Ctxt, field: &Field<'_>, relationship: &Relationship<'_>) {
    let Some(kind) = relationship.kind() else {
        if relationship.holder.is_none() {
            let message = "a relationship field has type `One<T>` (`many_to_one`, `one_to_one`) or `Many<T>` \
                           (`one_to_many`, `many_to_many`), where `T` is the related model";
            cx.error_spanned_by(field.ty, message);
        }
        return;
    };
    let expected = if kind.is_collection() { Holder::Many } else { Holder::One };
    let (holder, target) = match relationship.holder {
        Some((holder, _)) if holder == expected => return,
        Some((holder, target)) => (Some(holder), Some(target)),
        None => (None, ty::likely_target(field.ty)),
    };
    let target = target.map_or_else(|| "T".to_owned(), ty::display);
    let (expected, kind) = (expected.name(), kind.symbol());
    let message = match holder {
        Some(_) if expected == "Many" => {
            format!("a `{kind}` relationship holds a collection: write `Many<{target}>`")
        }
        Some(_) => format!("a `{kind}` relationship holds at most one object: write `One<{target}>`"),
        None => format!(
            "a relationship field has type `One<T>` or `Many<T>`, where `T` is the related model: write \
             `{expected}<{target}>` for a `{kind}` relationship"
        ),
    };
    cx.error_spanned_by(field.ty, message);
}

/// Keys that only some kinds use: a key that does nothing must not compile.
fn check_relationship_keys(cx: &Ctxt, cont: &Container<'_>, relationship: &Relationship<'_>) {
    let Some(kind) = relationship.kind() else { return };
    let attrs = &relationship.attrs;
    let (model, symbol) = (cont.ident, kind.symbol());
    match (&attrs.secondary, kind) {
        (None, Kind::ManyToMany) => {
            let target =
                relationship.target().map_or_else(|| "the target".to_owned(), |t| format!("`{}`", ty::display(t)));
            let message = format!(
                "a `many_to_many` relationship needs `secondary = Model`, the model whose rows link `{model}` and \
                 {target}"
            );
            cx.error_spanned_by(relationship.kind_tokens(), message);
        }
        (Some(secondary), kind) if kind != Kind::ManyToMany => {
            let message = format!(
                "`secondary` only applies to `many_to_many` relationships, remove it from this `{symbol}` \
                 relationship"
            );
            cx.error_spanned_by(&secondary.tokens, message);
        }
        _ => {}
    }
    if let (Some(foreign_key), Kind::ManyToMany) = (&attrs.foreign_key, kind) {
        let message = "`foreign_key` does not apply to a `many_to_many` relationship: its foreign keys are those of \
                       the `secondary` model, remove it";
        cx.error_spanned_by(&foreign_key.tokens, message);
    }
    if let Some(order_by) = &attrs.order_by {
        if !kind.is_collection() {
            let message = format!(
                "`order_by` sorts a collection, so it applies to `one_to_many` and `many_to_many` relationships \
                 only, remove it from this `{symbol}` relationship"
            );
            cx.error_spanned_by(&order_by.tokens, message);
        }
    } else if let Some(order_desc) = &attrs.order_desc {
        let message = "`order_desc` reverses `order_by`, add `order_by = Target::column` or remove it";
        cx.error_spanned_by(&order_desc.tokens, message);
    }
}

/// The error for a `what` name PostgreSQL would cut, if `name` is one.
fn too_long(what: &str, name: &str) -> Option<String> {
    const MAX_IDENTIFIER: usize = 63;
    (name.len() > MAX_IDENTIFIER).then(|| {
        format!(
            "the {what} name `{name}` is {} bytes long; PostgreSQL keeps only the first {MAX_IDENTIFIER}, so two such \
             names could become one: choose a shorter name with `#[orm({what} = \"...\")]`",
            name.len()
        )
    })
}

/// Two fields on one column would make INSERT name the column twice and
/// reads overwrite each other; names starting with `orm_` are the ORM's own
/// (its batched statements name their rows and helper columns so).
/// PostgreSQL cuts longer names to 63 bytes, so two long names could become
/// one table or column.
fn check_unique_columns(cx: &Ctxt, cont: &Container<'_>) {
    let table_error = |message: String| match &cont.attrs.table {
        Some(table) => cx.error_spanned_by(&table.tokens, message),
        None => cx.error_spanned_by(cont.ident, message),
    };
    if cont.table.starts_with("orm_") {
        table_error(format!("table names starting with `orm_` are reserved, rename `{}`", cont.table));
    }
    if let Some(message) = too_long("table", &cont.table) {
        table_error(message);
    }
    let mut seen: HashMap<&str, &Field<'_>> = HashMap::new();
    for field in cont.columns() {
        if field.column.starts_with("orm_") {
            let message = format!("column names starting with `orm_` are reserved, rename `{}`", field.column);
            cx.error_spanned_by(field.ident, message);
        }
        if let Some(message) = too_long("column", &field.column) {
            match &field.attrs.column {
                Some(column) => cx.error_spanned_by(&column.tokens, message),
                None => cx.error_spanned_by(field.ident, message),
            }
        }
        if let Some(first) = seen.insert(&field.column, field) {
            let message = format!(
                "column `{}` is already mapped by field `{}`, give this field another name with \
                 `#[orm(column = \"...\")]`",
                field.column, first.ident
            );
            match &field.attrs.column {
                Some(column) => cx.error_spanned_by(&column.tokens, message),
                None => cx.error_spanned_by(field.ident, message),
            }
            seen.insert(&first.column, first);
        }
    }
}

/// The version column is compared with its old value and set to the old
/// value plus one by every UPDATE, and compared by every DELETE, so it is one
/// column that always holds an integer and is not part of the key (a key
/// must never change). Spelled `i16`, `i32` or `i64`: the derive sees tokens,
/// so a type alias is not seen through.
fn check_version(cx: &Ctxt, cont: &Container<'_>) {
    let mut first: Option<&Field<'_>> = None;
    for field in cont.columns() {
        let Some(version) = &field.attrs.version else { continue };
        if let Some(first) = first {
            let message = format!(
                "`version` is already on field `{}`: a model has at most one version column, remove one of them",
                first.ident
            );
            cx.error_spanned_by(&version.tokens, message);
            continue;
        }
        first = Some(field);
        if field.is_primary_key() {
            let message = "`version` cannot be on a primary key: a key never changes and the version changes at every \
                           UPDATE, put it on a field of its own such as `#[orm(version)] version: i32`";
            cx.error_spanned_by(&version.tokens, message);
        } else if let Some(inner) = ty::option_inner(field.ty) {
            let message = format!(
                "version column `{}` cannot be an `Option`: the version is never NULL, declare `{}` instead",
                field.ident,
                ty::display(inner)
            );
            cx.error_spanned_by(field.ty, message);
        } else if !ty::is_integer(field.ty) {
            let message = format!(
                "version column `{}` must be `i16`, `i32` or `i64`, found `{}`",
                field.ident,
                ty::display(field.ty)
            );
            cx.error_spanned_by(field.ty, message);
        }
    }
}

/// Column and relationship constants and `new` share the associated-item
/// namespace of the struct, so a field named `new` would collide with the
/// constructor.
fn check_constructor_name(cx: &Ctxt, cont: &Container<'_>) {
    if !cont.has_constructor() {
        return;
    }
    if let Some(field) = cont.fields.iter().find(|f| !f.is_skipped() && f.ident == "new") {
        let what = if field.relationship.is_some() { "relationship" } else { "column" };
        let message = format!(
            "a {what} field named `new` clashes with the generated constructor `{}::new`, add \
             `#[orm(no_constructor)]` to the struct or rename the field",
            cont.ident
        );
        cx.error_spanned_by(field.ident, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    /// Runs parsing and every check, returning the error messages.
    fn errors(input: DeriveInput) -> Vec<String> {
        let cx = Ctxt::new();
        if let Some(cont) = Container::from_ast(&cx, &input) {
            let had_attribute_errors = cx.has_errors();
            check(&cx, &cont, had_attribute_errors);
        }
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_valid_model_passes() {
        let input = parse_quote! {
            #[orm(table = "movies")]
            pub struct Movie {
                #[orm(primary_key)] pub id: i32,
                #[orm(max_len = 200, unique)] pub title: String,
                #[orm(max_len = 20)] pub code: Option<String>,
                #[orm(foreign_key = Studio::id)] pub studio_id: Option<i32>,
                #[orm(skip)] pub note: String,
            }
        };
        assert_eq!(errors(input), Vec::<String>::new());
    }

    #[test]
    fn only_structs_with_named_fields() {
        let expects = "`#[derive(Model)]` expects a struct with named fields";
        let example = "`struct Kind { #[orm(primary_key)] id: i32, .. }`";
        assert_eq!(
            errors(parse_quote!(
                enum Kind {
                    A,
                    B,
                }
            )),
            [format!("{expects}, found an enum; a model maps one table: {example}")]
        );
        assert_eq!(
            errors(parse_quote!(
                struct Kind(i32);
            )),
            [format!("{expects}, found a tuple struct; name the fields: {example}")]
        );
        assert_eq!(
            errors(parse_quote!(
                struct Kind;
            )),
            [format!("{expects}, found a unit struct; add the columns: {example}")]
        );
        assert_eq!(
            errors(parse_quote!(union Kind { a: i32 })),
            [format!("{expects}, found a union; a model maps one table: {example}")]
        );
    }

    #[test]
    fn attributes_of_a_non_struct_are_still_checked() {
        let errors = errors(parse_quote!(
            #[orm(tabel = "kinds")]
            enum Kind {
                A,
            }
        ));
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn generic_structs_are_rejected() {
        let message = "`#[derive(Model)]` does not support generic structs, remove the generic parameters: a model \
                       maps one table with fixed column types";
        assert_eq!(
            errors(parse_quote!(
                struct A<T> {
                    #[orm(primary_key)]
                    id: i32,
                    t: T,
                }
            )),
            [message]
        );
        assert_eq!(
            errors(parse_quote!(
                struct A<'a> {
                    #[orm(primary_key)]
                    id: &'a str,
                }
            )),
            [message]
        );
        assert_eq!(
            errors(parse_quote!(
                struct A
                where
                    i32: Copy,
                {
                    #[orm(primary_key)]
                    id: i32,
                }
            )),
            [message]
        );
    }

    #[test]
    fn a_primary_key_is_required() {
        assert_eq!(
            errors(parse_quote!(
                struct Movie {
                    id: i32,
                }
            )),
            ["`#[derive(Model)]` requires at least one `#[orm(primary_key)]` field, found none"]
        );
        // ... unless a misspelled key may be the missing one.
        assert_eq!(
            errors(parse_quote!(
                struct Movie {
                    #[orm(primay_key)]
                    id: i32,
                }
            ))
            .len(),
            1
        );
    }

    #[test]
    fn a_primary_key_is_not_nullable() {
        assert_eq!(
            errors(parse_quote!(
                struct Movie {
                    #[orm(primary_key)]
                    id: Option<i32>,
                }
            )),
            ["primary key `id` cannot be an `Option`: key columns are never NULL, declare the inner type instead"]
        );
    }

    #[test]
    fn autoincrement_needs_a_single_primary_key() {
        assert_eq!(
            errors(parse_quote!(
                struct A {
                    #[orm(primary_key)]
                    id: i32,
                    #[orm(autoincrement = false)]
                    n: i32,
                }
            )),
            ["`autoincrement` only applies to a primary key, add `primary_key` or remove `autoincrement`"]
        );
        assert_eq!(
            errors(parse_quote!(
                struct A {
                    #[orm(primary_key, autoincrement = true)]
                    a: i32,
                    #[orm(primary_key)]
                    b: i32,
                }
            )),
            ["`autoincrement = true` needs a single-field primary key, remove it from this composite key"]
        );
        // `false` on a composite key says what is true anyway.
        assert!(errors(parse_quote!(
            struct A {
                #[orm(primary_key, autoincrement = false)]
                a: i32,
                #[orm(primary_key)]
                b: i32,
            }
        ))
        .is_empty());
    }

    #[test]
    fn skip_stands_alone() {
        let errors = errors(parse_quote!(
            struct A {
                #[orm(primary_key)]
                id: i32,
                #[orm(skip, column = "x", index)]
                cache: String,
            }
        ));
        assert_eq!(
            errors,
            [
                "`skip` cannot be combined with `column`: a skipped field is not a column, remove one of them",
                "`skip` cannot be combined with `index`: a skipped field is not a column, remove one of them",
            ]
        );
    }

    #[test]
    fn max_len_is_for_text() {
        assert_eq!(
            errors(parse_quote!(
                struct A {
                    #[orm(primary_key)]
                    id: i32,
                    #[orm(max_len = 4)]
                    year: i32,
                }
            )),
            ["`max_len` only applies to `String` and `Option<String>` fields, remove it or change the field type"]
        );
    }

    #[test]
    fn foreign_key_names_model_and_column() {
        assert_eq!(
            errors(parse_quote!(
                struct A {
                    #[orm(primary_key)]
                    id: i32,
                    #[orm(foreign_key = id)]
                    parent: i32,
                }
            )),
            ["`foreign_key` must name a column as `Model::column`, e.g. `foreign_key = Studio::id`, found `id`"]
        );
        assert!(errors(parse_quote!(
            struct A {
                #[orm(primary_key)]
                id: i32,
                #[orm(foreign_key = Self::id)]
                p: i32,
            }
        ))
        .is_empty());
    }

    #[test]
    fn columns_are_unique() {
        assert_eq!(
            errors(parse_quote!(
                struct A {
                    #[orm(primary_key)]
                    id: i32,
                    title: String,
                    #[orm(column = "title")]
                    original_title: String,
                    #[orm(skip)]
                    r#title2: String,
                }
            )),
            ["column `title` is already mapped by field `title`, give this field another name with \
              `#[orm(column = \"...\")]`"]
        );
    }

    #[test]
    fn a_version_column_is_a_plain_integer() {
        assert!(errors(parse_quote!(
            struct A {
                #[orm(primary_key)]
                id: i32,
                #[orm(version, column = "revision")]
                version: i64,
            }
        ))
        .is_empty());
        assert_eq!(
            errors(parse_quote!(
                struct A {
                    #[orm(primary_key)]
                    id: i32,
                    #[orm(version)]
                    version: Option<i32>,
                }
            )),
            ["version column `version` cannot be an `Option`: the version is never NULL, declare `i32` instead"]
        );
        assert_eq!(
            errors(parse_quote!(
                struct A {
                    #[orm(primary_key)]
                    id: i32,
                    #[orm(version)]
                    version: f64,
                    #[orm(version)]
                    stamp: String,
                }
            )),
            [
                "version column `version` must be `i16`, `i32` or `i64`, found `f64`",
                "`version` is already on field `version`: a model has at most one version column, remove one of \
                 them",
            ]
        );
    }

    #[test]
    fn a_version_column_is_not_a_key() {
        assert_eq!(
            errors(parse_quote!(
                struct A {
                    #[orm(primary_key, version)]
                    id: i32,
                }
            )),
            ["`version` cannot be on a primary key: a key never changes and the version changes at every UPDATE, put \
              it on a field of its own such as `#[orm(version)] version: i32`"]
        );
        // A skipped field is not a column: `skip` says so, once.
        assert_eq!(
            errors(parse_quote!(
                struct A {
                    #[orm(primary_key)]
                    id: i32,
                    #[orm(skip, version)]
                    version: i32,
                }
            )),
            ["`skip` cannot be combined with `version`: a skipped field is not a column, remove one of them"]
        );
    }

    #[test]
    fn a_column_named_new_needs_no_constructor() {
        let message = "a column field named `new` clashes with the generated constructor `A::new`, add \
                       `#[orm(no_constructor)]` to the struct or rename the field";
        assert_eq!(
            errors(parse_quote!(
                struct A {
                    #[orm(primary_key)]
                    id: i32,
                    new: bool,
                }
            )),
            [message]
        );
        assert!(errors(parse_quote!(
            #[orm(no_constructor)]
            struct A {
                #[orm(primary_key)]
                id: i32,
                new: bool,
            }
        ))
        .is_empty());
        assert!(errors(parse_quote!(
            struct A {
                #[orm(primary_key)]
                id: i32,
                #[orm(skip)]
                new: bool,
            }
        ))
        .is_empty());
    }

    #[test]
    fn relationship_field_types_follow_the_kind() {
        let errors = errors(parse_quote! {
            struct Article {
                #[orm(primary_key)] id: i32,
                #[relationship(one_to_many)] a: One<Comment>,
                #[relationship(many_to_one)] b: Many<Author>,
                #[relationship(one_to_many)] c: Vec<Comment>,
                #[relationship(one_to_one)] d: Option<Author>,
                #[relationship(many_to_many, secondary = Tagging)] e: orm::Many<Tag>,
                #[relationship(one_to_one)] f: Author,
            }
        });
        assert_eq!(
            errors,
            [
                "a `one_to_many` relationship holds a collection: write `Many<Comment>`",
                "a `many_to_one` relationship holds at most one object: write `One<Author>`",
                "a relationship field has type `One<T>` or `Many<T>`, where `T` is the related model: write \
                 `Many<Comment>` for a `one_to_many` relationship",
                "a relationship field has type `One<T>` or `Many<T>`, where `T` is the related model: write \
                 `One<Author>` for a `one_to_one` relationship",
                "a relationship field has type `One<T>` or `Many<T>`, where `T` is the related model: write \
                 `One<Author>` for a `one_to_one` relationship",
            ]
        );
    }

    #[test]
    fn relationship_keys_follow_the_kind() {
        let errors = errors(parse_quote! {
            struct Movie {
                #[orm(primary_key)] id: i32,
                #[orm(foreign_key = Studio::id)] studio_id: i32,
                #[relationship(many_to_many)] actors: Many<Actor>,
                #[relationship(many_to_one, secondary = X, order_by = Studio::id)] studio: One<Studio>,
                #[relationship(many_to_many, secondary = X, foreign_key = X::a_id)] b: Many<Actor>,
                #[relationship(one_to_many, order_desc)] c: Many<Review>,
            }
        });
        assert_eq!(
            errors,
            [
                "a `many_to_many` relationship needs `secondary = Model`, the model whose rows link `Movie` and \
                 `Actor`",
                "`secondary` only applies to `many_to_many` relationships, remove it from this `many_to_one` \
                 relationship",
                "`order_by` sorts a collection, so it applies to `one_to_many` and `many_to_many` relationships \
                 only, remove it from this `many_to_one` relationship",
                "`foreign_key` does not apply to a `many_to_many` relationship: its foreign keys are those of the \
                 `secondary` model, remove it",
                "`order_desc` reverses `order_by`, add `order_by = Target::column` or remove it",
            ]
        );
    }

    #[test]
    fn a_relationship_is_not_a_column() {
        let errors = errors(parse_quote! {
            struct Article {
                #[orm(primary_key)] id: i32,
                #[orm(foreign_key = Author::id)]
                #[relationship(many_to_one)]
                author: One<Author>,
            }
        });
        // The one error: no "no foreign key to `Author`" on top.
        assert_eq!(
            errors,
            ["`#[orm]` and `#[relationship]` cannot be combined: a relationship field is not a column, remove \
              `#[orm(...)]` and put `#[orm(foreign_key = Model::column)]` on the foreign-key column"]
        );
        let input = parse_quote! {
            struct Article {
                #[orm(primary_key)] id: i32,
                #[orm(foreign_key = Author::id)] author_id: i32,
                #[relationship(many_to_one)] author: One<Author>,
                #[orm(skip)] cache: String,
            }
        };
        let cx = Ctxt::new();
        let cont = Container::from_ast(&cx, &input).expect("a named struct");
        let columns: Vec<String> = cont.columns().map(|f| f.ident.to_string()).collect();
        assert_eq!(columns, ["id", "author_id"]);
        let relationships: Vec<String> = cont.relationships().map(|(f, _)| f.ident.to_string()).collect();
        assert_eq!(relationships, ["author"]);
        assert!(cx.check().is_ok());
    }

    #[test]
    fn a_relationship_named_new_needs_no_constructor() {
        assert_eq!(
            errors(parse_quote!(
                struct A {
                    #[orm(primary_key)]
                    id: i32,
                    #[relationship(one_to_many)]
                    new: Many<B>,
                }
            )),
            ["a relationship field named `new` clashes with the generated constructor `A::new`, add \
              `#[orm(no_constructor)]` to the struct or rename the field"]
        );
    }

    #[test]
    fn relationship_mistakes_are_reported_together() {
        let errors = errors(parse_quote! {
            struct Stuntman {
                #[orm(primary_key)] id: i32,
                #[relationship(many_to_one, cascade = "merge")] actor: One<Actor>,
                #[relationship(one_to_one, secundary = X)] double: Many<Actor>,
                #[relationship(many_to_many)] movies: Many<Movie>,
                #[relationship(many_to_one)] studio: One<Studio>,
            }
        });
        assert_eq!(errors.len(), 5, "{errors:#?}");
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let errors = errors(parse_quote! {
            #[orm(tabel = "movies")]
            struct Movie<T> {
                #[orm(primary_key)] id: Option<i32>,
                #[orm(colum = "name")] title: String,
                #[orm(max_len = 4)] year: i32,
                #[orm(skip, unique)] extra: T,
            }
        });
        assert_eq!(errors.len(), 6, "{errors:#?}");
    }
}
