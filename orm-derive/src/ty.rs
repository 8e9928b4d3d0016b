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

/// Returns `T` when `ty` is spelled `Option<T>`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let segment = last_segment(ty).filter(|s| s.ident == "Option")?;
    let PathArguments::AngleBracketed(args) = &segment.arguments else { return None };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// Whether `ty` is `String` or `Option<String>`.
pub(crate) fn is_text(ty: &Type) -> bool {
    is_named(option_inner(ty).unwrap_or(ty), "String")
}

/// Whether `ty` is `i16`, `i32` or `i64`: a key the database can generate.
pub(crate) fn is_integer(ty: &Type) -> bool {
    ["i16", "i32", "i64"].iter().any(|name| is_named(ty, name))
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
}
