//! Compile-time checks of `#[derive(Model)]` and of typed expressions.
//!
//! Every file under `ui/<area>/` holds one mistake, named after it, with the
//! expected compiler output next to it in a `.stderr` file; `ui/pass/` holds
//! inputs that must compile and run. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test ui` and review the diff: each error
//! must point at the offending token and say what to write instead.

use std::path::Path;

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    // Every other directory is an area of compile-fail cases.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut areas: Vec<String> = std::fs::read_dir(&root)
        .expect("tests/ui exists")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name != "pass")
        .collect();
    areas.sort();
    assert!(!areas.is_empty(), "no compile-fail areas under {}", root.display());
    for area in areas {
        t.compile_fail(format!("tests/ui/{area}/*.rs"));
    }
}
