//! The constructor `new`, generated unless `#[orm(no_constructor)]`. It lives
//! in the `const _` block, next to the helper trait that explains a missing
//! `Default`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;

use super::helpers;
use crate::ast::{Container, Field};
use crate::ty;

/// `impl Movie { pub fn new(..) -> Self }`, or nothing with `no_constructor`.
pub(super) fn impl_constructor(cont: &Container<'_>) -> TokenStream {
    if !cont.has_constructor() {
        return TokenStream::new();
    }
    let ident = cont.ident;
    let constructor = constructor(cont);
    quote! {
        // Generated for every model: unused, it is not the user's dead code.
        #[allow(dead_code)]
        impl #ident {
            #constructor
        }
    }
}

/// Whether `new` takes `field` as an argument: every column the
/// application must provide.
pub(super) fn is_param(field: &Field<'_>) -> bool {
    field.is_column() && !field.is_server_filled() && !field.is_version() && field.attrs.client_default.is_none()
}

/// The argument `field` as `new` and the builder's setter take it: as
/// `impl Into<T>`, primitives by value (see [`ty::is_primitive`]).
pub(super) fn param(field: &Field<'_>) -> TokenStream {
    let (member, ty) = (field.ident, field.ty);
    if ty::is_primitive(ty) {
        quote!(#member: #ty)
    } else {
        quote!(#member: impl ::core::convert::Into<#ty>)
    }
}

/// The value `new` gives a field it takes no argument for: relationships
/// start empty, the version at 1, a `client_default` is computed, and the
/// rest is `Default::default()`.
pub(super) fn initial_value(field: &Field<'_>) -> TokenStream {
    if field.relationship.is_some() {
        // Loaded, and empty: a new object has no related objects yet.
        quote!(::core::default::Default::default())
    } else if field.is_version() {
        // The first version of a row; the session counts on from here.
        quote!(1)
    } else if let Some(function) = &field.attrs.client_default {
        let function = &function.value;
        quote!(#function())
    } else {
        let helper = if field.is_column() { quote!(__OrmServerFilled) } else { quote!(__OrmSkipped) };
        helpers::default(field.ty, helper)
    }
}

/// `pub fn new(..) -> Self`, taking every column the application must
/// provide; the other fields take their [`initial_value`].
fn constructor(cont: &Container<'_>) -> TokenStream {
    let (model, vis) = (cont.ident, cont.vis);
    let params = cont.fields.iter().filter(|f| is_param(f)).map(param);
    let values = cont.fields.iter().map(|field| {
        let member = field.ident;
        match is_param(field) {
            // Shorthand, as a person would write it.
            true if ty::is_primitive(field.ty) => quote!(#member),
            true => quote!(#member: ::core::convert::Into::into(#member)),
            false => {
                let value = initial_value(field);
                quote!(#member: #value)
            }
        }
    });
    let doc = constructor_doc(cont);
    quote! {
        #[doc = #doc]
        #[allow(clippy::too_many_arguments, clippy::new_without_default)]
        #vis fn new(#(#params),*) -> Self {
            #model { #(#values,)* }
        }
    }
}

/// "Creates a `Movie` from its column values; `id` is filled in by the
/// database on flush."
fn constructor_doc(cont: &Container<'_>) -> String {
    let names = |fields: Vec<&Field<'_>>| {
        let names: Vec<String> = fields.iter().map(|f| format!("`{}`", f.ident.unraw())).collect();
        let verb = if names.len() == 1 { "is" } else { "are" };
        (join(&names), verb)
    };
    let mut doc = format!(" Creates a `{}` from its column values", cont.ident.unraw());
    let filled: Vec<&Field<'_>> = cont.columns().filter(|f| f.is_server_filled() && !f.is_version()).collect();
    if !filled.is_empty() {
        let (filled, verb) = names(filled);
        doc.push_str(&format!("; {filled} {verb} filled in by the database on flush"));
    }
    let computed: Vec<&Field<'_>> = cont.columns().filter(|f| f.attrs.client_default.is_some()).collect();
    if !computed.is_empty() {
        let (computed, verb) = names(computed);
        let verb = if verb == "is" { "is computed by its" } else { "are computed by their" };
        doc.push_str(&format!("; {computed} {verb} `client_default`"));
    }
    if let Some(version) = cont.columns().find(|f| f.is_version()) {
        doc.push_str(&format!("; the version `{}` starts at 1", version.ident.unraw()));
    }
    let skipped: Vec<&Field<'_>> = cont.fields.iter().filter(|f| f.is_skipped()).collect();
    if !skipped.is_empty() {
        let (skipped, verb) = names(skipped);
        let rest = if verb == "is" { "not a column and starts" } else { "not columns and start" };
        doc.push_str(&format!("; {skipped} {verb} {rest} as `Default::default()`"));
    }
    let relationships: Vec<&Field<'_>> = cont.relationships().map(|(field, _)| field).collect();
    if !relationships.is_empty() {
        let (relationships, verb) = names(relationships);
        let verb = if verb == "is" { "starts" } else { "start" };
        doc.push_str(&format!("; {relationships} {verb} empty"));
    }
    doc.push('.');
    doc
}

/// "`a`", "`a` and `b`", "`a`, `b` and `c`".
fn join(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
