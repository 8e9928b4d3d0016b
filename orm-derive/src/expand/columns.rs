//! The column and relationship constants: one typed constant per column
//! field (`Movie::title`) and per relationship field (`Movie::actors`), in an
//! inherent impl outside the `const _` block.

use proc_macro2::TokenStream;
use quote::quote;

use super::relations;
use crate::ast::{Container, Field};

/// Generates `impl Movie { pub const title: Column<Movie, String> = ..; .. }`,
/// with the relationship constants after the column constants.
pub(super) fn impl_columns(cont: &Container<'_>, p: &TokenStream) -> TokenStream {
    let ident = cont.ident;
    let consts = cont.columns().enumerate().map(|(index, field)| column_const(cont, field, index, p));
    let relations = relations::relation_consts(cont, p);
    // The columns a foreign key may reference: a single-column key, and
    // unique columns.
    let single_key = cont.primary_key().count() == 1;
    let key_columns = cont.columns().enumerate().filter_map(|(index, field)| {
        let referable = field.attrs.unique.is_some() || (single_key && field.is_primary_key());
        referable.then(|| quote!(#[automatically_derived] impl #p::KeyColumn<#index> for #ident {}))
    });
    quote! {
        // Column constants are named after their fields, in snake_case; one
        // that the user never names is not their dead code (rustc says so
        // of a model declared inside a `macro_rules!`).
        #[allow(non_upper_case_globals, dead_code)]
        impl #ident {
            #(#consts)*
            #relations
        }
        #(#key_columns)*
    }
}

/// `pub const title: Column<Movie, String> = Column::new("movies", "title", 1);`
fn column_const(cont: &Container<'_>, field: &Field<'_>, index: usize, p: &TokenStream) -> TokenStream {
    let (model, vis, member, ty) = (cont.ident, field.vis, field.ident, field.ty);
    let (table, column) = (&cont.table, &field.column);
    let doc = format!(" The `{table}.{column}` column.");
    quote! {
        #[doc = #doc]
        #vis const #member: #p::Column<#model, #ty> = #p::Column::new(#table, #column, #index);
    }
}
