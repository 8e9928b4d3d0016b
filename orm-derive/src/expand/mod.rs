//! Code generation from the [`ast`](crate::ast) model only: nothing here reads
//! raw attributes.

mod builder;
mod columns;
mod constructor;
mod helpers;
mod model;
mod relations;

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::DeriveInput;

use crate::ast::Container;
use crate::ctxt::Ctxt;
use crate::{attr, check};

/// Expands `#[derive(Model)]`: parse, check, then generate, reporting every
/// mistake of the input at once. Free of `proc_macro`, so tests can call it.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let cont = Container::from_ast(&cx, input);
    if let Some(cont) = &cont {
        let had_attribute_errors = cx.has_errors();
        check::check(&cx, cont, had_attribute_errors);
    }
    cx.check()?;
    match cont {
        Some(cont) => Ok(expand(&cont)),
        // `from_ast` reports why it returned `None`; this is a safety net.
        None => Err(syn::Error::new_spanned(&input.ident, "`#[derive(Model)]` expects a struct with named fields")),
    }
}

fn expand(cont: &Container<'_>) -> TokenStream {
    let private = private_path(cont.krate());
    let helpers = helpers::helpers(cont, &private);
    let default_checks = helpers::server_default_checks(cont, &private);
    let foreign_keys = relations::foreign_keys(cont, &private);
    let model = model::impl_model(cont, &private);
    let checks = relations::checks(cont, &private);
    let constructor = constructor::impl_constructor(cont);
    let (builder_struct, builder_impls) = builder::builder(cont);
    let columns = columns::impl_columns(cont, &private);
    quote! {
        const _: () = {
            #helpers
            #default_checks
            #foreign_keys
            #model
            #checks
            #constructor
            #builder_impls
        };
        #builder_struct
        #columns
    }
}

/// What to emit when the input has mistakes: the errors, plus an empty
/// `Model` impl, the column and relationship constants and the foreign-key
/// impls, so that code using the model, and other models that reference it,
/// do not add a cascade of "`Movie: Model` is not satisfied" or "no
/// associated item named `id`" errors to the real ones (thiserror's
/// `fallback.rs`). Nothing of it is ever run: the errors stop the build.
pub(crate) fn fallback(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let errors = error.into_compile_error();
    // A generic stub would add bound errors of its own.
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return errors;
    }
    // Parsed again, its mistakes ignored: they are in `errors` already.
    let cx = Ctxt::new();
    let cont = Container::from_ast(&cx, input);
    let krate = attr::Container::from_ast(&cx, &input.attrs).krate.map(|k| k.value);
    drop(cx.check());
    let p = private_path(krate.as_ref());
    let ident = &input.ident;
    let name = ident.to_string();
    let (foreign_keys, constants) = match &cont {
        Some(cont) => {
            let mut foreign_keys = relations::foreign_keys(cont, &p);
            if !foreign_keys.is_empty() {
                foreign_keys.extend(helpers::foreign_key_helper(&p));
            }
            (foreign_keys, columns::impl_columns(cont, &p))
        }
        None => (TokenStream::new(), TokenStream::new()),
    };
    quote! {
        #errors
        const _: () = {
            #foreign_keys
            #[automatically_derived]
            impl #p::Model for #ident {
                type Key = ();
                const TABLE: &'static #p::TableMeta =
                    &#p::TableMeta { model: #name, name: #name, columns: &[], relations: &[], constraints: &[] };
                fn key(&self) -> Self::Key {}
                fn key_values(_: &Self::Key) -> ::std::vec::Vec<#p::Value> {
                    ::std::vec::Vec::new()
                }
                fn from_row(_: &mut #p::RowReader<'_>) -> #p::Result<Self> {
                    ::core::unreachable!()
                }
                fn column_value(&self, _: usize) -> #p::Value {
                    #p::Value::Null
                }
                fn set_column_value(&mut self, _: usize, _: #p::Value) -> #p::Result<()> {
                    ::core::result::Result::Ok(())
                }
            }
        };
        #constants
    }
}

/// The spans of the first and the last token of `tokens`.
fn first_last_spans(tokens: &dyn ToTokens) -> (Span, Span) {
    let mut iter = tokens.to_token_stream().into_iter();
    let first = iter.next().map_or_else(Span::call_site, |t| t.span());
    let last = iter.last().map_or(first, |t| t.span());
    (first, last)
}

/// `open #inner close`, with `open` spanned on the first token of `inner`
/// and `close` on its last, so that an error about the whole expression
/// underlines all of `inner` (`Spanned::span` gives only the first token on
/// stable).
fn around(inner: &dyn ToTokens, open: TokenStream, close: TokenStream) -> TokenStream {
    let (first, last) = first_last_spans(inner);
    let respan = |tokens: TokenStream, span: Span| -> TokenStream {
        tokens
            .into_iter()
            .map(|mut token| {
                token.set_span(span);
                token
            })
            .collect()
    };
    let (open, close) = (respan(open, first), respan(close, last));
    quote!(#open #inner #close)
}

/// `<crate>::__private`, the only path generated code reaches the runtime through.
fn private_path(krate: Option<&syn::Path>) -> TokenStream {
    match krate {
        Some(krate) => quote!(#krate::__private),
        None => quote!(::orm::__private),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    /// The expansion of `input`, without whitespace, for substring checks.
    pub(crate) fn expand(input: DeriveInput) -> String {
        match derive(&input) {
            Ok(tokens) => squeeze(&tokens.to_string()),
            Err(error) => panic!("unexpected error: {error}"),
        }
    }

    fn squeeze(text: &str) -> String {
        text.split_whitespace().collect()
    }

    /// Asserts that the squeezed `haystack` contains every needle.
    pub(crate) fn assert_contains(haystack: &str, needles: &[&str]) {
        for needle in needles {
            assert!(haystack.contains(&squeeze(needle)), "missing `{needle}` in:\n{haystack}");
        }
    }

    fn movie() -> DeriveInput {
        parse_quote! {
            #[orm(table = "movies")]
            pub struct Movie {
                #[orm(primary_key)] pub id: i32,
                #[orm(max_len = 200, unique)] pub title: String,
                pub release_date: NaiveDate,
                #[orm(foreign_key = Studio::id)] pub studio_id: Option<i32>,
                #[orm(default = "now()")] pub(crate) created: DateTime<Utc>,
                #[orm(skip)] pub note: String,
            }
        }
    }

    #[test]
    fn implements_model_for_a_single_key() {
        let out = expand(movie());
        assert_contains(
            &out,
            &[
                "const _: () = {",
                "#[automatically_derived] impl ::orm::__private::Model for Movie {",
                "type Key = i32;",
                "model: \"Movie\", name: \"movies\",",
                "name: \"id\", field: \"id\", sql_type: __orm_column::<i32>().meta.sql_type,",
                "primary_key: true, generated: true, unique: false, index: false,",
                "name: \"title\", field: \"title\",",
                "unique: true, index: false, default: ::core::option::Option::None, \
                 max_len: ::core::option::Option::Some(200u32)",
                "type __OrmForeignKey3 = Studio;",
                "const __ORM_FOREIGN_KEY_3: (&str, &str, usize) = { \
                 let column = __orm_foreign_key(__OrmForeignKey3::id, ::core::marker::PhantomData::<Option<i32>>); \
                 (column.table(), column.name(), column.index()) };",
                "#[automatically_derived] impl ::orm::__private::References<__OrmForeignKey3, \
                 ::orm::__private::ColumnMarker<3usize>> for Movie { const COLUMN: usize = 3usize; \
                 const TARGET_COLUMN: usize = __ORM_FOREIGN_KEY_3.2; }",
                "foreign_key: ::core::option::Option::Some(::orm::__private::ForeignKeyMeta { \
                 table: __ORM_FOREIGN_KEY_3.0, column: __ORM_FOREIGN_KEY_3.1, \
                 on_delete: ::core::option::Option::None, on_update: ::core::option::Option::None })",
                "relations: &[]",
                "default: ::core::option::Option::Some(\"now()\")",
                "fn key(&self) -> i32 { ::core::clone::Clone::clone(&self.id) }",
                "::std::vec![(__orm_column::<i32>().to_value)(key)]",
                "note: <String as __OrmSkipped>::__orm_default()",
                "4usize => self.created = (__orm_column::<DateTime<Utc> >().decode)\
                 (<Self as ::orm::__private::Model>::TABLE, 4usize, value)?",
                "_ => ::orm::__private::Value::Null",
            ],
        );
        // Reads in column order; the skipped field reads nothing.
        let reads = ["id: (__orm_column::<i32>().read)(row)?", "title: (__orm_column::<String>().read)(row)?"];
        assert_contains(&out, &reads);
        assert!(!out.contains("note:(__orm_column"));
    }

    #[test]
    fn adds_column_constants_and_a_constructor() {
        let out = expand(movie());
        assert_contains(
            &out,
            &[
                "#[allow(non_upper_case_globals, dead_code)] impl Movie {",
                "trait __OrmSkipped",
                "trait __OrmServerFilled",
                "#[doc = \" The `movies.title` column.\"] pub const title: ::orm::__private::Column<Movie, String> \
                 = ::orm::__private::Column::new(\"movies\", \"title\", 1usize);",
                "pub(crate) const created: ::orm::__private::Column<Movie, DateTime<Utc> >",
                "pub fn new(title: impl ::core::convert::Into<String>, \
                 release_date: impl ::core::convert::Into<NaiveDate>, \
                 studio_id: impl ::core::convert::Into<Option<i32> >) -> Self {",
                "Movie { id: <i32 as __OrmServerFilled>::__orm_default(), title: ::core::convert::Into::into(title),",
            ],
        );
        assert!(!out.contains("constnote"), "a skipped field has no column constant");
        assert_contains(
            &out,
            &["#[doc = \" Creates a `Movie` from its column values; `id` and `created` are filled in by the database \
               on flush; `note` is not a column and starts as `Default::default()`.\"]"],
        );
    }

    #[test]
    fn a_key_the_database_fills_is_reset_to_what_new_gives_it() {
        let reset = "fn reset_database_key(&mut self) { self.id = <i32 as __OrmServerFilled>::__orm_default(); }";
        assert_contains(&expand(movie()), &[reset]);
        let given: DeriveInput = parse_quote! {
            struct Tag { #[orm(primary_key, autoincrement = false)] id: i32, label: String }
        };
        assert!(!expand(given).contains("reset_database_key"), "a key the application gives stays");
        let without_new: DeriveInput = parse_quote! {
            #[orm(no_constructor)]
            struct Tag { #[orm(primary_key)] id: i32, label: String }
        };
        let zero = "fn reset_database_key(&mut self) { self.id = ::core::default::Default::default(); }";
        assert_contains(&expand(without_new), &[zero]);
        let defaulted_without_new: DeriveInput = parse_quote! {
            #[orm(no_constructor)]
            struct Device { #[orm(primary_key, default = "gen_random_uuid()")] id: Uuid, label: String }
        };
        let out = expand(defaulted_without_new);
        assert!(!out.contains("reset_database_key"), "no value of `new`'s to go back to");
    }

    #[test]
    fn composite_keys_are_tuples_in_field_order() {
        let out = expand(parse_quote! {
            struct MovieActor {
                #[orm(primary_key, foreign_key = Movie::id)] movie_id: i32,
                #[orm(primary_key)] role: String,
                since: i16,
            }
        });
        assert_contains(
            &out,
            &[
                "name: \"movie_actor\"",
                "type Key = (i32, String,);",
                "(::core::clone::Clone::clone(&self.movie_id), ::core::clone::Clone::clone(&self.role),)",
                "(__orm_column::<i32>().to_value)(&key.0), (__orm_column::<String>().to_value)(&key.1)",
                "generated: false",
                // Primitives are taken by value, so that literals infer.
                "fn new(movie_id: i32, role: impl ::core::convert::Into<String>, since: i16) -> Self",
            ],
        );
        assert!(!out.contains("generated:true"));
        assert_contains(&out, &["MovieActor { movie_id, role: ::core::convert::Into::into(role), since, }"]);
        // Helpers nothing uses are left out.
        assert!(!out.contains("__OrmSkipped") && !out.contains("__OrmServerFilled"));
    }

    #[test]
    fn a_version_column_is_marked_and_starts_at_one() {
        let out = expand(parse_quote! {
            struct Document {
                #[orm(primary_key)] id: i32,
                title: String,
                #[orm(version, column = "revision")] version: i64,
            }
        });
        assert_contains(
            &out,
            &[
                "name: \"id\", field: \"id\", sql_type: __orm_column::<i32>().meta.sql_type,",
                "foreign_key: ::core::option::Option::None, version: false, }",
                "name: \"revision\", field: \"version\",",
                "foreign_key: ::core::option::Option::None, version: true, }",
                // Not a parameter of `new`.
                "fn new(title: impl ::core::convert::Into<String>) -> Self",
                "version: 1,",
                "#[doc = \" Creates a `Document` from its column values; `id` is filled in by the database on flush; \
                 the version `version` starts at 1.\"]",
            ],
        );
    }

    #[test]
    fn crate_path_and_no_constructor() {
        let out = expand(parse_quote! {
            #[orm(crate = my::orm, no_constructor)]
            struct Tag { #[orm(primary_key, column = "tag_name")] name: String }
        });
        assert_contains(&out, &["impl my::orm::__private::Model for Tag", "name: \"tag_name\", field: \"name\""]);
        assert!(!out.replace("my::orm::__private", "").contains("::orm::__private"), "only the given path is used");
        assert!(!out.contains("fnnew") && !out.contains("__OrmServerFilled"));
        assert!(!out.contains("__orm_foreign_key"), "no foreign key, no helper");
    }

    #[test]
    fn errors_come_back_together() {
        let input: DeriveInput = parse_quote! {
            struct Movie { #[orm(colum = "x")] id: i32, #[orm(max_len = 4)] year: i32 }
        };
        let error = derive(&input).err().map(|e| e.into_iter().count());
        assert_eq!(error, Some(2));
    }

    #[test]
    fn fallback_stubs_the_impl_unless_generic() {
        let input: DeriveInput = parse_quote!(
            struct Movie {
                id: i32,
            }
        );
        let error = syn::Error::new(Span::call_site(), "oops");
        let out = squeeze(&fallback(&input, error.clone()).to_string());
        assert_contains(&out, &["compile_error!", "impl ::orm::__private::Model for Movie", "type Key = ();"]);
        let generic: DeriveInput = parse_quote!(
            struct Movie<T> {
                id: T,
            }
        );
        let out = squeeze(&fallback(&generic, error).to_string());
        assert!(out.contains("compile_error!") && !out.contains("impl"));
    }
}
