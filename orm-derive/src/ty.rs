//! Syntactic questions about field types. A derive sees tokens, not types, so
//! these recognise the spellings a user writes (`i32`, `Option<String>`,
//! `std::string::String`); a type alias is not seen through.

use syn::{GenericArgument, PathArguments, Type};

/// Returns the last path segment of a plain type path, with its arguments.
fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// Whether `ty` is spelled as the plain type `name` (no generic arguments).
fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == name && s.arguments.is_none())
}

/// Returns `T` when `ty` is spelled `name<T>`.
fn inner_of<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let segment = last_segment(ty).filter(|s| s.ident == name)?;
    let PathArguments::AngleBracketed(args) = &segment.arguments else { return None };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// Returns `T` when `ty` is spelled `Option<T>`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    inner_of(ty, "Option")
}

/// The two types a relationship field can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// `One<T>`: at most one related object.
    One,
    /// `Many<T>`: a collection.
    Many,
}

impl Holder {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Holder::One => "One",
            Holder::Many => "Many",
        }
    }
}

/// Returns `One` or `Many` and the target `T` when `ty` is spelled `One<T>`
/// or `Many<T>` (any path ending so: `orm::Many<T>`).
pub(crate) fn relationship_holder(ty: &Type) -> Option<(Holder, &Type)> {
    match (inner_of(ty, "One"), inner_of(ty, "Many")) {
        (Some(target), _) => Some((Holder::One, target)),
        (_, Some(target)) => Some((Holder::Many, target)),
        _ => None,
    }
}

/// What a relationship field of type `ty` most likely relates to, for a
/// suggestion: `T` in `Vec<T>`, `Option<T>` or `Box<T>`, else `ty` itself if
/// it is a plain name.
pub(crate) fn likely_target(ty: &Type) -> Option<&Type> {
    let inner = ["Vec", "Option", "Box", "HashSet", "BTreeSet"].iter().find_map(|name| inner_of(ty, name));
    let candidate = inner.unwrap_or(ty);
    last_segment(candidate).is_some().then_some(candidate)
}

/// A type as a user would write it, for messages: `Many<crate::Actor>`.
pub(crate) fn display(ty: &Type) -> String {
    let text = quote::ToTokens::to_token_stream(ty).to_string();
    text.replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
}

/// The last identifier of a plain type path: `Actor` in `crate::Actor`.
pub(crate) fn type_name(ty: &Type) -> Option<&syn::Ident> {
    last_segment(ty).map(|segment| &segment.ident)
}

/// Whether `ty` is `String` or `Option<String>`.
pub(crate) fn is_text(ty: &Type) -> bool {
    is_named(option_inner(ty).unwrap_or(ty), "String")
}

/// Whether `ty` is `Decimal` or `Option<Decimal>`: a `numeric` column.
pub(crate) fn is_decimal(ty: &Type) -> bool {
    is_named(option_inner(ty).unwrap_or(ty), "Decimal")
}

/// Whether `ty` is `i16`, `i32` or `i64`: a key the database can generate.
pub(crate) fn is_integer(ty: &Type) -> bool {
    ["i16", "i32", "i64"].iter().any(|name| is_named(ty, name))
}

/// What to declare instead of the unsigned integer `ty`, or `None` if `ty`
/// is not one.
pub(crate) fn signed_for_unsigned(ty: &Type) -> Option<&'static str> {
    const UNSIGNED: &[(&str, &str)] = &[
        ("u8", "`i16`, which holds every value of it"),
        ("u16", "`i32`, which holds every value of it"),
        ("u32", "`i64`, which holds every value of it"),
        ("u64", "`i64` (values up to `i64::MAX`) or `Decimal`"),
        ("usize", "`i64` (values up to `i64::MAX`) or `Decimal`"),
        ("u128", "`Decimal`"),
    ];
    UNSIGNED.iter().find(|(name, _)| is_named(ty, name)).map(|&(_, advice)| advice)
}

/// Whether `ty` is a primitive number, `bool` or `char`. A literal argument
/// does not infer through `impl Into<i16>` (`2001` falls back to `i32`, which
/// has no `Into<i16>`), so the constructor takes these by value.
pub(crate) fn is_primitive(ty: &Type) -> bool {
    const PRIMITIVES: &[&str] = &[
        "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize", "f32", "f64", "bool",
        "char",
    ];
    PRIMITIVES.iter().any(|name| is_named(ty, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn recognises_spellings() {
        assert!(is_integer(&parse_quote!(i32)));
        assert!(is_integer(&parse_quote!(::core::primitive::i64)));
        assert!(!is_integer(&parse_quote!(u32)));
        assert!(signed_for_unsigned(&parse_quote!(u32)).is_some_and(|a| a.starts_with("`i64`")));
        assert_eq!(signed_for_unsigned(&parse_quote!(i32)), None);
        assert!(!is_integer(&parse_quote!(Option<i32>)));
        assert!(is_text(&parse_quote!(String)));
        assert!(is_text(&parse_quote!(std::option::Option<std::string::String>)));
        assert!(!is_text(&parse_quote!(Vec<u8>)));
        assert!(!is_text(&parse_quote!(&'static str)));
        assert!(option_inner(&parse_quote!(Option<i32>)).is_some());
        assert!(option_inner(&parse_quote!(Option)).is_none());
        assert!(is_primitive(&parse_quote!(f32)) && is_primitive(&parse_quote!(bool)));
        assert!(!is_primitive(&parse_quote!(Option<i16>)) && !is_primitive(&parse_quote!(String)));
    }

    #[test]
    fn recognises_relationship_fields() {
        let holder = |ty: Type| relationship_holder(&ty).map(|(h, t)| (h, quote::quote!(#t).to_string()));
        assert_eq!(holder(parse_quote!(One<Actor>)), Some((Holder::One, "Actor".to_owned())));
        assert_eq!(holder(parse_quote!(orm::Many<crate::Actor>)), Some((Holder::Many, "crate :: Actor".to_owned())));
        assert_eq!(holder(parse_quote!(Many)), None);
        assert_eq!(holder(parse_quote!(Vec<Actor>)), None);
        let likely = |ty: Type| likely_target(&ty).map(|t| quote::quote!(#t).to_string());
        assert_eq!(likely(parse_quote!(Vec<Actor>)).as_deref(), Some("Actor"));
        assert_eq!(likely(parse_quote!(Actor)).as_deref(), Some("Actor"));
        assert_eq!(likely(parse_quote!(&'static Actor)), None);
        assert_eq!(display(&parse_quote!(orm::Many<::m::Actor>)), "orm::Many<::m::Actor>");
        assert_eq!(display(&parse_quote!(HashMap<i32, Vec<u8>>)), "HashMap<i32, Vec<u8>>");
        assert_eq!(type_name(&parse_quote!(crate::m::Actor)).map(|i| i.to_string()).as_deref(), Some("Actor"));
    }
}
