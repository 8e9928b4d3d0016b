//! Compile-time checks of `#[derive(Model)]` and of typed expressions.
//!
//! Every file under `ui/<area>/` holds one mistake, named after it, with the
//! expected compiler output next to it in a `.stderr` file; `ui/pass/` holds
//! inputs that must compile and run. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test ui` and review the diff: each error
//! must point at the offending token and say what to write instead.
//!
//! The cases are compiled by `rustc` itself, against the rlibs cargo has just
//! built for this test binary: trybuild, used before, built every dependency
//! a second time in a target directory of its own. The `.stderr` files keep
//! trybuild's format (see `normalize.rs`), and the variable keeps its name.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::SystemTime;

use normalize::{diff, normalize};

/// trybuild's normalization of rustc's output, and a line diff.
#[path = "ui/normalize.rs"]
mod normalize;

/// The workspace root, which is the facade's directory too. rustc runs there,
/// so that it names a case `tests/ui/<area>/<name>.rs`.
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Crates besides `orm` that a case may name: dev-dependencies of the facade,
/// so cargo has built them for this test. A case that needs another crate
/// needs it here and in `[dev-dependencies]`.
const OTHER_CRATES: &[&str] = &["chrono", "rust_decimal", "serde", "serde_json", "uuid"];

#[test]
fn ui() {
    let cases = cases();
    let compiler = Compiler::locate();
    let overwrite = env::var_os("TRYBUILD").is_some_and(|value| value == "overwrite");
    let failures = in_parallel(&cases, |case| match case.kind {
        Kind::Pass => compiler.check_pass(case),
        Kind::CompileFail => compiler.check_compile_fail(case, overwrite),
    });
    assert!(failures.is_empty(), "{} of {} UI cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Must compile and exit with success.
    Pass,
    /// Must fail to compile with the errors of its `.stderr` file.
    CompileFail,
}

struct Case {
    kind: Kind,
    /// `tests/ui/<area>/<name>.rs`: the path rustc is given and prints.
    path: String,
    area: String,
    name: String,
}

/// `ui/pass/*.rs` must compile; every other directory of `ui/` is an area of
/// compile-fail cases.
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for area in sorted_entries(&Path::new(ROOT).join("tests/ui")) {
        let Some(area_name) = file_name(&area).filter(|_| area.is_dir()) else { continue };
        let kind = if area_name == "pass" { Kind::Pass } else { Kind::CompileFail };
        for file in sorted_entries(&area) {
            let Some(name) = file_name(&file).and_then(|name| name.strip_suffix(".rs")) else { continue };
            let path = format!("tests/ui/{area_name}/{name}.rs");
            cases.push(Case { kind, path, area: area_name.to_owned(), name: name.to_owned() });
        }
    }
    assert!(cases.iter().any(|case| case.kind == Kind::CompileFail), "no compile-fail cases under tests/ui");
    // Pass cases link and run, the slowest work: start them first, so that
    // the quick checks fill the other cores meanwhile (the sort is stable).
    cases.sort_by_key(|case| case.kind != Kind::Pass);
    cases
}

/// Runs `check` on every case with one thread per core; returns the failures
/// sorted by path.
fn in_parallel(cases: &[Case], check: impl Fn(&Case) -> Option<String> + Sync) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(case) = cases.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Some(failure) = check(case) {
                        failures.lock().unwrap().push((case.path.clone(), failure));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    failures.into_iter().map(|(_, failure)| failure).collect()
}

/// `rustc` with the artifacts of this test run.
struct Compiler {
    rustc: OsString,
    /// `target/<profile>/deps`, where the test binary and its rlibs are.
    deps: PathBuf,
    /// `name=path` of each crate a case may name.
    externs: Vec<String>,
    /// Where the cases' outputs go.
    out: PathBuf,
}

impl Compiler {
    fn locate() -> Compiler {
        let exe = env::current_exe().expect("the path of the test binary");
        let deps = exe.parent().expect("the test binary is in target/<profile>/deps").to_path_buf();
        // The deps directory keeps the rlibs of every cargo command run on
        // this target directory: a `cargo build` leaves an `orm` built without
        // the dev-dependencies' features, `cargo test -p ..` another one. The
        // cases must see the ones this binary was built with.
        let record = CargoRecord::read(&exe);
        let externs = ["orm"].iter().chain(OTHER_CRATES).map(|name| {
            let rlib = record.as_ref().and_then(|record| record.rlib(&deps, name));
            // Without cargo's record: the rlibs this binary was built with
            // are older than it, and usually the newest of those.
            let rlib = rlib.or_else(|| newest(rlibs(&deps, name), modified(&exe))).unwrap_or_else(|| {
                panic!("no lib{name}-*.rlib in {}: is `{name}` in [dev-dependencies]?", deps.display())
            });
            format!("{name}={}", rlib.display())
        });
        let externs = externs.collect();
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui");
        fs::create_dir_all(&out).unwrap_or_else(|err| panic!("cannot create {}: {err}", out.display()));
        let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        Compiler { rustc, deps, externs, out }
    }

    fn rustc(&self, case: &Case) -> Command {
        let mut rustc = Command::new(&self.rustc);
        rustc.current_dir(ROOT).arg(&case.path);
        rustc.args(["--edition=2021", "--crate-type=bin", "--error-format=human", "--color=never"]);
        rustc.arg(format!("--crate-name={}", case.name.replace('-', "_")));
        // The flags trybuild compiled the cases with, which the `.stderr`
        // files reflect: full type names, 140 columns, no warning for the
        // fields a case never reads.
        rustc.args(["--verbose", "--diagnostic-width=140", "-Adead_code"]);
        // As cargo's dev and test profiles do.
        rustc.arg("-Cdebug-assertions=on");
        rustc.arg("-L").arg(format!("dependency={}", self.deps.display()));
        for name_and_path in &self.externs {
            rustc.arg("--extern").arg(name_and_path);
        }
        rustc
    }

    fn check_compile_fail(&self, case: &Case, overwrite: bool) -> Option<String> {
        // A check is enough: every error of the cases comes from the derive,
        // type checking or constant evaluation, none from code generation.
        let output = self.out.join(format!("{}-{}.rmeta", case.area, case.name));
        let compiled = run(self.rustc(case).arg("--emit=metadata").arg("-o").arg(output));
        if compiled.status.success() {
            // An error raised only while generating code (a constant of a
            // generic impl, say) would need a full build to show.
            return Some(format!("{}: compiles (checked with --emit=metadata), but it must not\n", case.path));
        }
        let actual = normalize(&String::from_utf8_lossy(&compiled.stderr), &case.path);
        let stderr_file = Path::new(ROOT).join(&case.path).with_extension("stderr");
        let expected = fs::read_to_string(&stderr_file).ok();
        if expected.as_deref() == Some(actual.as_str()) {
            return None;
        }
        if overwrite {
            fs::write(&stderr_file, &actual)
                .unwrap_or_else(|err| panic!("cannot write {}: {err}", stderr_file.display()));
            return None;
        }
        Some(match expected {
            None => format!("{}: no .stderr file; write it with TRYBUILD=overwrite. The errors:\n{actual}", case.path),
            Some(expected) => format!(
                "{}: errors differ from the .stderr file (-expected +actual):\n{}",
                case.path,
                diff(&expected, &actual)
            ),
        })
    }

    fn check_pass(&self, case: &Case) -> Option<String> {
        let exe = self.out.join(format!("{}-{}", case.area, case.name));
        // Without the dependencies' debug info the link takes half the time
        // and the binary a thirtieth of the space; a panic still says where.
        let compiled = run(self.rustc(case).arg("-Cstrip=debuginfo").arg("-o").arg(&exe));
        if !compiled.status.success() {
            let errors = normalize(&String::from_utf8_lossy(&compiled.stderr), &case.path);
            return Some(format!("{}: must compile, but:\n{errors}", case.path));
        }
        let ran = run(Command::new(&exe).current_dir(ROOT));
        if !ran.status.success() {
            let (stdout, stderr) = (String::from_utf8_lossy(&ran.stdout), String::from_utf8_lossy(&ran.stderr));
            return Some(format!("{}: compiled, but running it {}:\n{stdout}{stderr}", case.path, ran.status));
        }
        None
    }
}

fn run(command: &mut Command) -> std::process::Output {
    command.output().unwrap_or_else(|err| panic!("cannot run {:?}: {err}", command.get_program()))
}

/// What cargo recorded about this test binary: the fingerprint of each of
/// its dependencies. The format is cargo's own, hence `Option`s where it
/// cannot be read. `deps/ui-<hash>` has its record in
/// `.fingerprint/orm-<hash>/*.json`, whose `deps` are `[_, crate, _,
/// fingerprint]`; the unit `.fingerprint/<package>-<hash>` holding that
/// fingerprint (the hex of its little-endian bytes) in `lib-<crate>` has its
/// rlib at `deps/lib<crate>-<hash>.rlib`.
struct CargoRecord {
    /// `target/<profile>/.fingerprint`.
    fingerprints: PathBuf,
    /// The crate name and fingerprint of each dependency.
    dependencies: Vec<(String, u64)>,
}

impl CargoRecord {
    fn read(exe: &Path) -> Option<CargoRecord> {
        let fingerprints = exe.parent()?.with_file_name(".fingerprint");
        let (_, hash) = file_name(exe)?.rsplit_once('-')?;
        let unit = fingerprints.join(format!("{}-{hash}", env!("CARGO_PKG_NAME")));
        let json = fs::read_dir(unit)
            .ok()?
            .flatten()
            .map(|entry| entry.path())
            .find(|path| path.extension().is_some_and(|extension| extension == "json"))?;
        let record: serde_json::Value = serde_json::from_slice(&fs::read(json).ok()?).ok()?;
        let dependencies = record["deps"]
            .as_array()?
            .iter()
            .filter_map(|dependency| Some((dependency[1].as_str()?.to_owned(), dependency[3].as_u64()?)));
        Some(CargoRecord { fingerprints, dependencies: dependencies.collect() })
    }

    fn rlib(&self, deps: &Path, name: &str) -> Option<PathBuf> {
        let (_, fingerprint) = self.dependencies.iter().find(|(crate_name, _)| crate_name == name)?;
        let fingerprint: String = fingerprint.to_le_bytes().iter().map(|byte| format!("{byte:02x}")).collect();
        let units = fs::read_dir(&self.fingerprints).ok()?.flatten().map(|entry| entry.path());
        let unit = units.into_iter().find(|unit| {
            let recorded = fs::read_to_string(unit.join(format!("lib-{name}")));
            recorded.is_ok_and(|recorded| recorded.trim() == fingerprint)
        })?;
        let (_, hash) = file_name(&unit)?.rsplit_once('-')?;
        Some(deps.join(format!("lib{name}-{hash}.rlib"))).filter(|rlib| rlib.is_file())
    }
}

/// `lib<name>-<hash>.rlib` files in `deps`.
fn rlibs(deps: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!("lib{name}-");
    let is_rlib = |file: &str| {
        let hash = file.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix(".rlib"));
        hash.is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|byte| byte.is_ascii_hexdigit()))
    };
    sorted_entries(deps).into_iter().filter(|path| file_name(path).is_some_and(is_rlib)).collect()
}

/// The newest of `files` not modified after `limit`.
fn newest(files: Vec<PathBuf>, limit: SystemTime) -> Option<PathBuf> {
    let dated = files.into_iter().map(|file| (modified(&file), file));
    dated.filter(|(time, _)| *time <= limit).max().map(|(_, file)| file)
}

fn modified(path: &Path) -> SystemTime {
    fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()));
    let mut paths: Vec<PathBuf> = entries.map(|entry| entry.expect("a directory entry").path()).collect();
    paths.sort();
    paths
}

fn file_name(path: &Path) -> Option<&str> {
    path.file_name().and_then(|name| name.to_str())
}
