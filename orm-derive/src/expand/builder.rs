//! `Movie::builder()`: a way to build an object that names its fields,
//! generated next to `new` (and left out with it by `no_constructor`).
//!
//! The builder is a typestate: each field `new` requires is a type parameter
//! of `MovieBuilder`, `()` until its setter is called, so that `build` exists
//! only once all of them have a value, and a missing one is a compile error
//! that names it. Every other column (nullable, server default,
//! `client_default`) and skipped field is optional and starts as `new`
//! starts it.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::Ident;

use super::constructor::{initial_value, is_param, param};
use crate::ast::{Container, Field};
use crate::ty;

/// What the builder does with one field of the model.
enum Role {
    /// A value `new` requires: type parameter number `usize`.
    Required(usize),
    /// A value the builder may be given; else its `new` starting value.
    Optional,
    /// A value the builder does not take (a generated key, the version, a
    /// relationship): as `new` starts it.
    Fixed,
}

fn role(field: &Field<'_>, required: &mut usize) -> Role {
    let settable = is_param(field) || field.is_skipped() || settable_default(field);
    if !settable {
        Role::Fixed
    } else if is_param(field) && ty::option_inner(field.ty).is_none() {
        *required += 1;
        Role::Required(*required - 1)
    } else {
        Role::Optional
    }
}

/// A column with a server or client default that the application may still
/// set: every such column but the version and a key the database fills
/// (an identity, or a key with a server default, which INSERT leaves out).
fn settable_default(field: &Field<'_>) -> bool {
    let filled_key = field.is_primary_key() && field.is_server_filled();
    field.is_column() && !filled_key && !field.is_version()
}

/// The builder struct (at the model's visibility) and, for the `const _`
/// block, `Movie::builder()`, the setters and `build`.
pub(super) fn builder(cont: &Container<'_>) -> (TokenStream, TokenStream) {
    if !cont.has_constructor() {
        return (TokenStream::new(), TokenStream::new());
    }
    let mut required = 0;
    let roles: Vec<(&Field<'_>, Role)> = cont.fields.iter().map(|f| (f, role(f, &mut required))).collect();
    let params: Vec<Ident> = (0..required).map(|i| format_ident!("__T{}", i)).collect();
    (builder_struct(cont, &roles, &params), builder_impls(cont, &roles, &params))
}

fn builder_name(cont: &Container<'_>) -> Ident {
    format_ident!("{}Builder", cont.ident.unraw())
}

/// `pub struct MovieBuilder<__T0 = (), ..> { title: __T0, note: Option<String>, .. }`
fn builder_struct(cont: &Container<'_>, roles: &[(&Field<'_>, Role)], params: &[Ident]) -> TokenStream {
    let (vis, builder) = (cont.vis, builder_name(cont));
    let fields = roles.iter().filter_map(|(field, role)| {
        let (member, ty) = (field.ident, field.ty);
        match role {
            Role::Required(i) => {
                let param = &params[*i];
                Some(quote!(#member: #param))
            }
            Role::Optional => Some(quote!(#member: ::core::option::Option<#ty>)),
            Role::Fixed => None,
        }
    });
    let doc = format!(
        " Builds a [`{model}`] naming its fields: `{model}::builder()`, a setter per field, then `build()`. \
         `build` exists once every field that `{model}::new` requires is set; the other fields start as `new` \
         starts them.",
        model = cont.ident.unraw()
    );
    quote! {
        #[doc = #doc]
        #[must_use = "a builder does nothing until `build` is called"]
        // Generated for every model, as its methods below: unused, they are
        // not the user's dead code.
        #[allow(dead_code)]
        #vis struct #builder<#(#params = ()),*> {
            #(#fields,)*
        }
    }
}

/// `Movie::builder()`, a setter per settable field, and `build`.
fn builder_impls(cont: &Container<'_>, roles: &[(&Field<'_>, Role)], params: &[Ident]) -> TokenStream {
    let (model, vis, builder) = (cont.ident, cont.vis, builder_name(cont));
    let starts = roles.iter().filter_map(|(field, role)| {
        let member = field.ident;
        match role {
            Role::Required(_) => Some(quote!(#member: ())),
            Role::Optional => Some(quote!(#member: ::core::option::Option::None)),
            Role::Fixed => None,
        }
    });
    let setters = roles.iter().filter_map(|(field, role)| setter(cont, roles, params, field, role));
    let (bounds, traits): (Vec<TokenStream>, Vec<TokenStream>) = roles
        .iter()
        .filter_map(|(field, role)| match role {
            Role::Required(i) => Some(required_bound(cont, field, &params[*i])),
            _ => None,
        })
        .unzip();
    let values = roles.iter().map(|(field, role)| {
        let member = field.ident;
        match role {
            Role::Required(_) => quote!(#member: __OrmBuilderValue::__orm_value(self.#member)),
            Role::Optional => {
                // An optional field `new` takes is an `Option`: unset is `None`.
                let initial = if is_param(field) { quote!(::core::option::Option::None) } else { initial_value(field) };
                quote!(#member: match self.#member {
                    ::core::option::Option::Some(value) => value,
                    ::core::option::Option::None => #initial,
                })
            }
            Role::Fixed => {
                let initial = initial_value(field);
                quote!(#member: #initial)
            }
        }
    });
    let unset = params.iter().map(|_| quote!(()));
    let builder_doc = format!(" Starts a [`{builder}`]: `{model}` with its fields named.", model = model.unraw());
    quote! {
        #[allow(dead_code)]
        impl #model {
            #[doc = #builder_doc]
            #vis fn builder() -> #builder<#(#unset),*> {
                #builder { #(#starts,)* }
            }
        }

        #[allow(dead_code)]
        impl<#(#params),*> #builder<#(#params),*> {
            #(#setters)*
        }

        /// The value of a required field once its setter was called.
        trait __OrmBuilderValue<T> {
            fn __orm_value(self) -> T;
        }

        impl<T> __OrmBuilderValue<T> for T {
            fn __orm_value(self) -> T {
                self
            }
        }

        #(#traits)*

        #[allow(dead_code)]
        impl<#(#params),*> #builder<#(#params),*> {
            /// Builds the object.
            // A bound on the method, not the impl, so that a missing field is
            // reported with the trait's message rather than as "method not found".
            #[allow(private_bounds)]
            #vis fn build(self) -> #model where #(#bounds),* {
                #model { #(#values,)* }
            }
        }
    }
}

/// The setter of a settable field: a required one moves the builder to the
/// state where it is set; an optional one keeps the state.
fn setter(
    cont: &Container<'_>,
    roles: &[(&Field<'_>, Role)],
    params: &[Ident],
    field: &Field<'_>,
    role: &Role,
) -> Option<TokenStream> {
    let (member, ty) = (field.ident, field.ty);
    let argument = param(field);
    let value = if ty::is_primitive(ty) { quote!(#member) } else { quote!(::core::convert::Into::into(#member)) };
    // Shorthand for a primitive, as a person would write it: `x: x` trips
    // clippy's `redundant_field_names` where the model comes from a
    // `macro_rules!` of the user's.
    let field_init = if ty::is_primitive(ty) { quote!(#member) } else { quote!(#member: #value) };
    let doc = format!(" Sets `{}`.", member.unraw());
    let (vis, builder) = (cont.vis, builder_name(cont));
    match role {
        Role::Fixed => None,
        Role::Optional => Some(quote! {
            #[doc = #doc]
            #vis fn #member(mut self, #argument) -> Self {
                self.#member = ::core::option::Option::Some(#value);
                self
            }
        }),
        Role::Required(index) => {
            let state = params.iter().enumerate().map(|(i, p)| if i == *index { quote!(#ty) } else { quote!(#p) });
            let moved = roles.iter().filter(|(_, r)| !matches!(r, Role::Fixed)).map(|(f, _)| {
                let other = f.ident;
                if other == member {
                    field_init.clone()
                } else {
                    quote!(#other: self.#other)
                }
            });
            Some(quote! {
                #[doc = #doc]
                #vis fn #member(self, #argument) -> #builder<#(#state),*> {
                    #builder { #(#moved,)* }
                }
            })
        }
    }
}

/// The bound `build` puts on the type parameter of a required field, and the
/// trait behind it, whose error names the field and its setter.
fn required_bound(cont: &Container<'_>, field: &Field<'_>, param: &Ident) -> (TokenStream, TokenStream) {
    let (member, ty) = (field.ident.unraw(), field.ty);
    let name = Ident::new(&format!("__OrmBuilderSet_{member}"), Span::call_site());
    let message = format!("`{}::builder()` has no value for `{member}`", cont.ident.unraw());
    let label = format!("call `.{member}(..)` before `.build()`");
    let bound = quote!(#param: #name);
    let item = quote! {
        #[diagnostic::on_unimplemented(message = #message, label = #label)]
        #[allow(non_camel_case_types)]
        trait #name: __OrmBuilderValue<#ty> {}

        impl #name for #ty {}
    };
    (bound, item)
}
