//! `embed_migrations!("migrations")`: the migration folders of the crate,
//! embedded in the binary with `include_str!` (so a change to a script
//! rebuilds it), as an `orm::migrations::Migrator`.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

/// Expands the macro for the folder `dir`, relative to the crate's root.
pub(crate) fn expand(dir: LitStr) -> syn::Result<TokenStream> {
    let root = std::env::var("CARGO_MANIFEST_DIR").map_err(|e| syn::Error::new(dir.span(), e.to_string()))?;
    let path = Path::new(&root).join(dir.value());
    let folders =
        folders(&path).map_err(|e| syn::Error::new(dir.span(), format!("cannot read {}: {e}", path.display())))?;
    let migrations = folders.iter().map(|folder| {
        let version = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let up = folder.join("up.sql").to_string_lossy().into_owned();
        let down = folder.join("down.sql").to_string_lossy().into_owned();
        quote!(::orm::migrations::Migration::new(#version, ::core::include_str!(#up), ::core::include_str!(#down)))
    });
    Ok(quote!(::orm::migrations::Migrator::new(::std::vec![#(#migrations),*])))
}

/// The folders of `dir` holding an `up.sql`, sorted.
fn folders(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("up.sql").is_file())
        .collect();
    folders.sort();
    Ok(folders)
}
