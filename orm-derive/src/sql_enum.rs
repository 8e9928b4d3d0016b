//! `#[derive(SqlEnum)]`: a fieldless Rust enum stored as a PostgreSQL enum
//! type (labels in snake_case, or `#[orm(rename = "..")]`), or as text with
//! `#[orm(text)]`. Parse, check, then generate, as the `Model` derive does.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::ast::snake_case;
use crate::ctxt::Ctxt;

/// The enum as the derive sees it.
struct SqlEnum<'a> {
    ident: &'a syn::Ident,
    /// The database type's name, or `None` for text.
    type_name: Option<String>,
    /// Each variant with its label.
    variants: Vec<(&'a syn::Ident, String)>,
    krate: TokenStream,
}

/// Expands `#[derive(SqlEnum)]`, or returns every mistake at once.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let parsed = parse(&cx, input);
    cx.check()?;
    Ok(parsed.map(|e| expand(&e)).unwrap_or_default())
}

fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<SqlEnum<'a>> {
    let Data::Enum(data) = &input.data else {
        cx.error_spanned_by(&input.ident, "`SqlEnum` is derived for an enum whose variants have no fields");
        return None;
    };
    let mut type_name = Some(snake_case(&input.ident.unraw().to_string()));
    let mut krate = quote!(::orm);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("orm")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("text") {
                type_name = None;
            } else if meta.path.is_ident("type_name") {
                let name: LitStr = meta.value()?.parse()?;
                if !is_plain_name(&name.value()) {
                    let message = "`type_name` is a lowercase SQL name: letters, digits and `_`";
                    cx.error_spanned_by(&name, message);
                }
                type_name = Some(name.value());
            } else if meta.path.is_ident("crate") {
                let path: syn::Path = meta.value()?.parse()?;
                krate = quote!(#path);
            } else {
                let message =
                    "unknown `orm` attribute of a `SqlEnum`, expected `type_name = \"...\"`, `text` or `crate`";
                cx.error_spanned_by(&meta.path, message);
            }
            Ok(())
        });
        parsed.unwrap_or_else(|e| cx.syn_error(e));
    }
    let mut variants = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            cx.error_spanned_by(&variant.fields, "a `SqlEnum` variant has no fields: it is one label");
            continue;
        }
        let mut label = snake_case(&variant.ident.unraw().to_string());
        for attr in variant.attrs.iter().filter(|a| a.path().is_ident("orm")) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    label = meta.value()?.parse::<LitStr>()?.value();
                } else {
                    cx.error_spanned_by(
                        &meta.path,
                        "unknown `orm` attribute of a variant, expected `rename = \"...\"`",
                    );
                }
                Ok(())
            });
            parsed.unwrap_or_else(|e| cx.syn_error(e));
        }
        if let Some((first, _)) = variants.iter().find(|(_, l)| *l == label) {
            cx.error_spanned_by(&variant.ident, format!("label `{label}` is already `{first}`'s, rename one"));
        }
        variants.push((&variant.ident, label));
    }
    if variants.is_empty() && !cx.has_errors() {
        cx.error_spanned_by(&input.ident, "a `SqlEnum` needs at least one variant");
    }
    Some(SqlEnum { ident: &input.ident, type_name, variants, krate })
}

/// A name that needs no quoting in a cast: `genre`, `book_format2`.
fn is_plain_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn expand(e: &SqlEnum<'_>) -> TokenStream {
    let (ident, krate) = (e.ident, &e.krate);
    let p = quote!(#krate::__private);
    let labels: Vec<&String> = e.variants.iter().map(|(_, label)| label).collect();
    let members: Vec<&syn::Ident> = e.variants.iter().map(|(member, _)| *member).collect();
    let (enum_type, sql_type, to_value) = match &e.type_name {
        Some(name) => (
            quote! {
                #[allow(non_upper_case_globals)]
                impl #ident {
                    #[doc(hidden)]
                    const __ORM_ENUM_TYPE: #p::EnumType = #p::EnumType { name: #name, labels: &[#(#labels),*] };
                }
            },
            quote!(#p::SqlType::Enum(&Self::__ORM_ENUM_TYPE)),
            quote!(#p::Value::Enum(&Self::__ORM_ENUM_TYPE, label)),
        ),
        None => {
            (TokenStream::new(), quote!(#p::SqlType::Text), quote!(#p::Value::Text(::std::string::String::from(label))))
        }
    };
    quote! {
        #enum_type

        #[automatically_derived]
        impl #p::SqlValue for #ident {
            const SQL_TYPE: #p::SqlType = #sql_type;

            fn to_value(&self) -> #p::Value {
                let label = match self { #(#ident::#members => #labels,)* };
                #to_value
            }

            fn from_value(value: #p::Value) -> ::core::result::Result<Self, #p::Value> {
                let label = match &value {
                    #p::Value::Enum(_, label) => *label,
                    #p::Value::Text(label) => label.as_str(),
                    _ => return ::core::result::Result::Err(value),
                };
                match label {
                    #(#labels => ::core::result::Result::Ok(#ident::#members),)*
                    _ => ::core::result::Result::Err(value),
                }
            }
        }
    }
}
