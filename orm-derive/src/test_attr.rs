//! `#[orm::test(Model, ..)]`: an async test that is handed a fresh database
//! holding the models' tables.
//!
//! The function is read as tokens (attributes, `async fn`, name, the
//! parameter list, an optional return type, the body), so the crate needs
//! no full `syn` parser for it.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Path, Token};

/// Expands the attribute, or reports why it cannot.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let models = Punctuated::<Path, Token![,]>::parse_terminated.parse2(args)?;
    let tokens: Vec<TokenTree> = item.into_iter().collect();
    let usage = "`#[orm::test(Model, ..)]` goes on `async fn name(db: orm::testing::TestDb) { .. }`";
    let fn_at = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i == "fn"))
        .ok_or_else(|| syn::Error::new(Span::call_site(), usage))?;
    let (prefix, rest) = tokens.split_at(fn_at);
    if !prefix.iter().any(|t| matches!(t, TokenTree::Ident(i) if i == "async")) {
        return Err(syn::Error::new(rest[0].span(), format!("the test must be async: {usage}")));
    }
    let (Some(TokenTree::Ident(name)), Some(TokenTree::Group(params)), Some(TokenTree::Group(body))) =
        (rest.get(1), rest.get(2), rest.last())
    else {
        return Err(syn::Error::new(rest[0].span(), usage));
    };
    if params.delimiter() != Delimiter::Parenthesis
        || params.stream().is_empty()
        || body.delimiter() != Delimiter::Brace
    {
        return Err(syn::Error::new(params.span(), format!("the test takes the database: {usage}")));
    }
    let output: TokenStream = rest[3..rest.len() - 1].iter().cloned().collect();
    let prefix: TokenStream = prefix.iter().cloned().collect();
    let params = params.stream();
    let message = format!("a test database for `{name}`");
    let models = models.iter();
    Ok(quote! {
        #[::tokio::test]
        #prefix fn #name() #output {
            async fn __orm_test(#params) #output #body
            let db = ::orm::testing::TestDb::with_tables(&[#(<#models as ::orm::Model>::TABLE),*])
                .await
                .expect(#message);
            __orm_test(db).await
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(args: TokenStream, item: TokenStream) -> String {
        expand(args, item).map_or_else(|e| e.to_string(), |t| t.to_string())
    }

    #[test]
    fn wraps_the_function_in_a_tokio_test_with_a_database() {
        let out = expand_str(
            quote!(Movie, crate::Actor),
            quote!(
                #[should_panic]
                async fn t(db: TestDb) {
                    db;
                }
            ),
        );
        assert!(out.starts_with("# [:: tokio :: test] # [should_panic] async fn t ()"), "{out}");
        assert!(out.contains("async fn __orm_test (db : TestDb) { db ; }"), "{out}");
        assert!(out.contains("with_tables (& [< Movie as :: orm :: Model > :: TABLE , < crate :: Actor as"), "{out}");
        let out = expand_str(
            quote!(),
            quote!(
                async fn t(db: TestDb) -> orm::Result<()> {
                    Ok(())
                }
            ),
        );
        assert!(out.contains("fn t () -> orm :: Result < () > {"), "{out}");
    }

    #[test]
    fn refuses_a_test_without_async_or_without_the_database() {
        assert!(expand_str(
            quote!(),
            quote!(
                fn t(db: TestDb) {}
            )
        )
        .contains("must be async"));
        assert!(expand_str(
            quote!(),
            quote!(
                async fn t() {}
            )
        )
        .contains("takes the database"));
    }
}
