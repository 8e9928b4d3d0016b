//! `impl Model`: the static table description, the key, and the mapping
//! between fields and column values.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;

use super::helpers::{self, column};
use super::relations;
use crate::ast::{Container, Field};

/// Generates `impl Model`, to go inside `const _: () = { .. };` after the helpers.
pub(super) fn impl_model(cont: &Container<'_>, p: &TokenStream) -> TokenStream {
    let ident = cont.ident;
    let table = table_meta(cont, p);
    let (key_type, key, key_values) = key(cont);
    let reads = cont.fields.iter().map(|field| read_field(field, p));
    let links = relations::links(cont, p);
    let columns: Vec<&Field<'_>> = cont.columns().collect();
    let get_arms = columns.iter().enumerate().map(|(index, field)| {
        let (member, column) = (field.ident, column(field.ty));
        quote!(#index => (#column.to_value)(&self.#member))
    });
    let set_arms = columns.iter().enumerate().map(|(index, field)| {
        let (member, column) = (field.ident, column(field.ty));
        quote!(#index => self.#member = (#column.decode)(<Self as #p::Model>::TABLE, #index, value)?)
    });
    let lend_arms = columns.iter().enumerate().map(|(index, field)| {
        let (member, column) = (field.ident, column(field.ty));
        quote!(#index => (#column.lend)(&mut self.#member))
    });
    let take_back_arms = columns.iter().enumerate().map(|(index, field)| {
        let (member, column) = (field.ident, column(field.ty));
        quote!(#index => (#column.take_back)(&mut self.#member, value))
    });
    // The value `new` gives the key, or, without `new`, an integer key's
    // zero; a server default's key without `new` has nothing to go back to.
    let resets: Vec<TokenStream> = columns
        .iter()
        .filter(|f| f.is_primary_key() && f.is_server_filled())
        .filter_map(|field| {
            let member = field.ident;
            if cont.has_constructor() {
                let initial = super::constructor::initial_value(field);
                Some(quote!(self.#member = #initial))
            } else {
                field.generated.then(|| quote!(self.#member = ::core::default::Default::default()))
            }
        })
        .collect();
    let reset_database_key = (!resets.is_empty()).then(|| {
        quote! {
            fn reset_database_key(&mut self) {
                #(#resets;)*
            }
        }
    });
    // Spanned at `hooks`, so that a missing `impl Hooks` points there.
    let hooks = cont.attrs.hooks.as_ref().map(|hooks| {
        quote_spanned! {super::first_last_spans(&hooks.tokens).0=>
            fn run_hook(&mut self, hook: #p::Hook) {
                <Self as #p::Hooks>::run(self, hook)
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl #p::Model for #ident {
            type Key = #key_type;

            const TABLE: &'static #p::TableMeta = #table;

            fn key(&self) -> #key_type {
                #key
            }

            fn key_values(key: &#key_type) -> ::std::vec::Vec<#p::Value> {
                #key_values
            }

            fn from_row(row: &mut #p::RowReader<'_>) -> #p::Result<Self> {
                // Struct literal fields are evaluated in the order written:
                // field order, which is column order.
                ::core::result::Result::Ok(#ident { #(#reads,)* })
            }

            fn column_value(&self, index: usize) -> #p::Value {
                match index {
                    #(#get_arms,)*
                    _ => #p::Value::Null,
                }
            }

            fn set_column_value(&mut self, index: usize, value: #p::Value) -> #p::Result<()> {
                match index {
                    #(#set_arms,)*
                    _ => {}
                }
                ::core::result::Result::Ok(())
            }

            fn lend_column_value(&mut self, index: usize) -> #p::Value {
                match index {
                    #(#lend_arms,)*
                    _ => #p::Value::Null,
                }
            }

            fn take_back_column_value(&mut self, index: usize, value: #p::Value) {
                match index {
                    #(#take_back_arms,)*
                    _ => {}
                }
            }

            #reset_database_key

            #links

            #hooks
        }
    }
}

/// The `&TableMeta` literal.
fn table_meta(cont: &Container<'_>, p: &TokenStream) -> TokenStream {
    let model = cont.ident.unraw().to_string();
    let name = &cont.table;
    let columns = cont.columns().enumerate().map(|(position, field)| column_meta(field, position, p));
    let relations = relations::relation_metas(cont, p);
    let constraints = constraints(cont, p);
    quote! {
        &#p::TableMeta {
            model: #model,
            name: #name,
            columns: &[#(#columns),*],
            relations: &[#(#relations),*],
            constraints: &[#(#constraints),*],
        }
    }
}

/// A constraint name PostgreSQL keeps whole: at most 63 bytes, a longer one
/// cut and ended with a hash of the whole, so that two long names stay apart.
fn constraint_name(name: String) -> String {
    const MAX: usize = 63;
    if name.len() <= MAX {
        return name;
    }
    // FNV-1a: stable across compilers, unlike `DefaultHasher`.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let suffix = format!("_{:08x}", hash as u32);
    let mut cut = MAX - suffix.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &name[..cut])
}

/// The table's unique constraints over several columns, its indexes and its
/// checks, named as PostgreSQL names a unique constraint
/// (`books_author_id_title_key`), as SQLAlchemy names indexes
/// (`ix_books_author_id_published`), and checks as `<table>_<name>`.
fn constraints(cont: &Container<'_>, p: &TokenStream) -> Vec<TokenStream> {
    let table = &cont.table;
    let columns = |fields: &[syn::Ident]| -> Vec<String> {
        fields.iter().filter_map(|ident| cont.columns().find(|f| f.ident == ident)).map(|f| f.column.clone()).collect()
    };
    let uniques = cont.attrs.uniques.iter().map(|unique| {
        let columns = columns(&unique.value);
        let name = constraint_name(format!("{table}_{}_key", columns.join("_")));
        quote!(#p::Constraint::Unique { name: #name, columns: &[#(#columns),*] })
    });
    // `#[orm(index)]` on a field is an index of that one column.
    let single: Vec<Vec<String>> =
        cont.columns().filter(|f| f.attrs.index.is_some()).map(|f| vec![f.column.clone()]).collect();
    let several = cont.attrs.indexes.iter().map(|index| columns(&index.value));
    let indexes = single.into_iter().chain(several).map(|columns| {
        let name = constraint_name(format!("ix_{table}_{}", columns.join("_")));
        quote!(#p::Constraint::Index { name: #name, columns: &[#(#columns),*] })
    });
    let checks = cont.attrs.checks.iter().map(|check| {
        let (ident, sql) = &check.value;
        let name = constraint_name(format!("{table}_{}", ident.unraw()));
        quote!(#p::Constraint::Check { name: #name, sql: #sql })
    });
    uniques.chain(indexes).chain(checks).collect()
}

/// One `ColumnMeta` literal, for the column at `position`.
fn column_meta(field: &Field<'_>, position: usize, p: &TokenStream) -> TokenStream {
    let name = &field.column;
    let rust_name = field.ident.unraw().to_string();
    let column = column(field.ty);
    let primary_key = field.is_primary_key();
    let generated = field.generated;
    let unique = field.attrs.unique.is_some();
    let index = field.attrs.index.is_some();
    let version = field.is_version();
    let default = option(field.attrs.default.as_ref().map(|d| d.value.as_str()).map(|d| quote!(#d)));
    let max_len = option(field.attrs.max_len.as_ref().map(|m| m.value).map(|m| quote!(#m)));
    let scale = field.attrs.scale.as_ref().map_or(0, |s| s.value);
    let onupdate = option(field.attrs.onupdate.as_ref().map(|o| o.value.as_str()).map(|o| quote!(#o)));
    let precision = option(field.attrs.precision.as_ref().map(|p| p.value).map(|p| quote!((#p, #scale))));
    let foreign_key = option(field.attrs.foreign_key.as_ref().map(|_| relations::foreign_key_meta(field, position, p)));
    quote! {
        #p::ColumnMeta {
            name: #name,
            field: #rust_name,
            sql_type: #column.meta.sql_type,
            nullable: #column.meta.nullable,
            primary_key: #primary_key,
            generated: #generated,
            unique: #unique,
            index: #index,
            default: #default,
            max_len: #max_len,
            onupdate: #onupdate,
            precision: #precision,
            foreign_key: #foreign_key,
            version: #version,
        }
    }
}

/// `Some(value)` or `None`, spelled out for generated code.
fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// The key type, the body of `key()` and the body of `key_values(key)`: the
/// field itself for a single key, a tuple in field order for a composite one.
fn key(cont: &Container<'_>) -> (TokenStream, TokenStream, TokenStream) {
    let fields: Vec<&Field<'_>> = cont.primary_key().collect();
    let clone = |field: &Field<'_>| {
        let member = field.ident;
        quote!(::core::clone::Clone::clone(&self.#member))
    };
    if let [field] = fields.as_slice() {
        let (ty, column) = (field.ty, column(field.ty));
        return (quote!(#ty), clone(field), quote!(::std::vec![(#column.to_value)(key)]));
    }
    let types = fields.iter().map(|f| f.ty);
    let clones = fields.iter().map(|f| clone(f));
    let values = fields.iter().enumerate().map(|(i, f)| {
        let (index, column) = (syn::Index::from(i), column(f.ty));
        quote!((#column.to_value)(&key.#index))
    });
    (quote!((#(#types,)*)), quote!((#(#clones,)*)), quote!(::std::vec![#(#values),*]))
}

/// One field of the struct literal in `from_row`: the next column, a
/// relationship not loaded yet, or the default value for a skipped field.
fn read_field(field: &Field<'_>, p: &TokenStream) -> TokenStream {
    let (member, ty) = (field.ident, field.ty);
    if let Some(relationship) = &field.relationship {
        let not_loaded = relations::not_loaded(relationship, ty, p);
        quote!(#member: #not_loaded)
    } else if field.is_column() {
        let column = column(ty);
        quote!(#member: (#column.read)(row)?)
    } else {
        let default = helpers::default(ty, quote!(__OrmSkipped));
        quote!(#member: #default)
    }
}
