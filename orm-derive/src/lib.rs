//! `#[derive(Model)]` for the `orm` crate.

use proc_macro::TokenStream;

/// Derives `orm::Model`.
#[proc_macro_derive(Model, attributes(orm, relationship))]
pub fn derive_model(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
