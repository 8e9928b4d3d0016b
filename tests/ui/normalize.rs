//! rustc's output made the same on every machine, in the format trybuild gave
//! the `.stderr` files, and a line diff to show how it differs from them.

use crate::ROOT;

/// Rewrites rustc's output as trybuild did, so that it is the same on every
/// machine and the `.stderr` files trybuild wrote still hold:
/// - the workspace root is cut from paths; the standard library's sources are
///   `$RUST/..`, the registry's `$CARGO/<crate>-$VERSION/..`;
/// - in files other than the case, line and column numbers are hidden (in the
///   `-->` line and the gutter below it), so that editing `orm-core` does not
///   change the `.stderr` files; `unindent` then narrows the gutter;
/// - counts of "and N others" are `$N`, and lists of implementing types stop
///   after 8 entries, as they grow with every impl;
/// - rustc's closing lines ("aborting due to ..", "For more information ..")
///   are dropped, runs of blank lines are one, trailing spaces are trimmed.
pub(crate) fn normalize(stderr: &str, case: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut normalized = String::new();
    let mut hide_numbers = 0;
    let mut listed_types: Option<usize> = None;
    for (index, line) in lines.iter().enumerate() {
        let mut line = line.replace(&format!("{ROOT}/"), "");
        if hide_numbers > 0 {
            hide_leading_numbers(&mut line);
            hide_numbers -= 1;
        }
        if let Some((location, other_file)) = location(&line, case) {
            line = location;
            if other_file {
                let gutter = |line: &&&str| matches!(line.trim_start().chars().next(), Some('0'..='9' | '|' | '.'));
                hide_numbers = lines[index + 1..].iter().take_while(gutter).count();
            }
        } else if is_closing_noise(&line) {
            continue;
        } else {
            line.truncate(line.trim_end().len());
            line = others_count(&line);
            match shorten_type_list(&line, lines.get(index + 1).copied(), &mut listed_types) {
                Some(shortened) => line = shortened,
                None => continue,
            }
        }
        normalized.push_str(&line);
        if !normalized.ends_with("\n\n") {
            normalized.push('\n');
        }
    }
    let normalized = unindent(&normalized);
    format!("{}\n", normalized.trim_end())
}

/// Normalizes a `--> path:line:col` or `::: path:line:col` line; says whether
/// it points into another file than the case.
fn location(line: &str, case: &str) -> Option<(String, bool)> {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    let arrow = trimmed.get(..4).filter(|arrow| *arrow == "--> " || *arrow == "::: ")?;
    let path = &trimmed[4..];
    if path.strip_prefix(case).is_some_and(|rest| rest.starts_with(':')) {
        return Some((line.to_owned(), false));
    }
    let mut path = rust_library(path).or_else(|| cargo_registry(path)).unwrap_or_else(|| path.to_owned());
    // "expr.rs:120:13" -> "expr.rs"
    for _ in 0..2 {
        let digits = path.bytes().rev().take_while(u8::is_ascii_digit).count();
        if digits == 0 || !path[..path.len() - digits].ends_with(':') {
            break;
        }
        path.truncate(path.len() - digits - 1);
    }
    Some((format!("{indent}{arrow}{path}"), true))
}

/// `$RUST/core/src/panic.rs` for `<sysroot>/lib/rustlib/src/rust/library/core/src/panic.rs`
/// (rust-src installed) or `/rustc/<commit>/library/core/src/panic.rs`.
fn rust_library(path: &str) -> Option<String> {
    const RUST_SRC: &str = "/rustlib/src/rust/library/";
    if let Some(start) = path.find(RUST_SRC) {
        return Some(format!("$RUST/{}", &path[start + RUST_SRC.len()..]));
    }
    let (commit, in_commit) = path.strip_prefix("/rustc/")?.split_at_checked(40)?;
    let rest = in_commit.strip_prefix("/library/")?;
    commit.bytes().all(|byte| byte.is_ascii_hexdigit()).then(|| format!("$RUST/{rest}"))
}

/// `$CARGO/serde-$VERSION/src/de.rs` for `~/.cargo/registry/src/<registry>-<hash>/serde-1.0.228/src/de.rs`.
fn cargo_registry(path: &str) -> Option<String> {
    const REGISTRY: &str = "/registry/src/";
    let in_registry = &path[path.find(REGISTRY)? + REGISTRY.len()..];
    let (_registry, in_source) = in_registry.split_once('/')?;
    let (crate_and_version, rest) = in_source.split_once('/')?;
    let version_dot = crate_and_version.find('.')?;
    let crate_name = &crate_and_version[..crate_and_version[..version_dot].rfind('-')?];
    Some(format!("$CARGO/{crate_name}-$VERSION/{rest}"))
}

fn is_closing_noise(line: &str) -> bool {
    let note = line.trim_start();
    let note = note.strip_prefix("= note: ").unwrap_or(note);
    line.starts_with("error: aborting due to ")
        || line.starts_with("Some errors have detailed explanations:")
        || line.starts_with("For more information about this error, try `rustc --explain")
        || line.starts_with("For more information about an error, try `rustc --explain")
        || note.starts_with("the full type name has been written to")
        || note.starts_with("the full name for the type has been written to")
        || note.starts_with("this compiler was built on ")
}

/// "10 | T: Send," -> "   | T: Send,"
fn hide_leading_numbers(line: &mut String) {
    let end = line.bytes().take_while(|byte| *byte == b' ' || byte.is_ascii_digit()).count();
    line.replace_range(..end, &" ".repeat(end));
}

/// "and 12 others" -> "and $N others"
fn others_count(line: &str) -> String {
    let trimmed = line.trim_start();
    let count = trimmed.strip_prefix("and ").and_then(|rest| rest.strip_suffix(" others"));
    match count {
        Some(count) if !count.is_empty() && count.bytes().all(|byte| byte.is_ascii_digit()) => {
            format!("{}and $N others", &line[..line.len() - trimmed.len()])
        }
        _ => line.to_owned(),
    }
}

/// Keeps 8 entries of a "the following (other) types implement trait" list,
/// and turns the 9th into "and $N others" when more follow; `None` drops the
/// line. `listed` counts the entries seen in the current list.
fn shorten_type_list(line: &str, next: Option<&str>, listed: &mut Option<usize>) -> Option<String> {
    let trimmed = line.trim_start();
    let indent = line.len() - trimmed.len();
    if trimmed.starts_with("= help: the following types implement trait ")
        || trimmed.starts_with("= help: the following other types implement trait ")
    {
        *listed = Some(0);
        return Some(line.to_owned());
    }
    let Some(count) = listed else { return Some(line.to_owned()) };
    if indent < 12 || trimmed == "and $N others" {
        *listed = None;
        return Some(line.to_owned());
    }
    *count += 1;
    let next_indent = next.map(|next| next.len() - next.trim_start().len());
    match *count {
        9 if next_indent == Some(indent) => Some(format!("{}and $N others", &line[..indent - 2])),
        10.. => None,
        _ => Some(line.to_owned()),
    }
}

/// How `unindent` sees a line of a diagnostic.
#[derive(PartialEq)]
enum LineKind {
    /// `error[..]: ..`, `warning: ..`, or a `note: ..` that starts a block.
    Heading,
    /// A gutter line (`12 | ..`, `   |`, `  --> ..`, `   = note: ..`): how
    /// many columns of its gutter could be cut.
    Code(usize),
    /// `note: ..` or `help: ..` inside a block, `...`.
    Note,
    /// Anything else, with its leading spaces.
    Other(usize),
}

/// Narrows the gutter of each diagnostic to what its visible line numbers
/// need, as trybuild did: rustc sized it for the hidden line numbers of other
/// files. Each block runs from a heading to the next heading or blank line.
fn unindent(diagnostics: &str) -> String {
    let mut unindented = String::new();
    let mut lines = diagnostics.lines();
    while let Some(line) = lines.next() {
        unindented.push_str(line);
        unindented.push('\n');
        if line_kind(line, true, &mut false) != LineKind::Heading {
            continue;
        }
        // Only a block whose first line is its `-->` location.
        let mut ahead = lines.clone();
        let Some(next) = ahead.next() else { continue };
        let LineKind::Code(indent) = line_kind(next, false, &mut false) else { continue };
        if !next[indent + 1..].starts_with("--> ") {
            continue;
        }
        let (mut block_len, mut least_indent, mut after_note) = (1, indent, false);
        for line in ahead {
            match line_kind(line, false, &mut after_note) {
                LineKind::Code(indent) => least_indent = least_indent.min(indent),
                LineKind::Note => {}
                LineKind::Other(spaces) if spaces > 10 => {}
                LineKind::Heading | LineKind::Other(_) => break,
            }
            block_len += 1;
        }
        let mut after_note = false;
        for line in lines.by_ref().take(block_len) {
            match line_kind(line, false, &mut after_note) {
                LineKind::Code(_) | LineKind::Other(_) => {
                    let space = line.find(' ').expect("a gutter line starts with spaces or a number");
                    unindented.push_str(&line[..space]);
                    unindented.push_str(&line[space + least_indent..]);
                }
                LineKind::Heading | LineKind::Note => unindented.push_str(line),
            }
            unindented.push('\n');
        }
    }
    unindented
}

fn line_kind(line: &str, starts_block: bool, after_note: &mut bool) -> LineKind {
    let previous_was_note = std::mem::replace(after_note, false);
    let heading = ["error", "warning"]
        .iter()
        .any(|level| line.strip_prefix(level).is_some_and(|rest| rest.starts_with(':') || rest.starts_with('[')));
    if heading || starts_block && line.starts_with("note: ") {
        return LineKind::Heading;
    }
    if line.starts_with("note:")
        || line.starts_with("help:")
        || line == "..."
        || previous_was_note && line.starts_with("      ")
    {
        *after_note = true;
        return LineKind::Note;
    }
    if let Some(rest) = line.strip_prefix("... ") {
        return LineKind::Code(rest.bytes().take_while(|byte| *byte == b' ').count());
    }
    let leading = line.bytes().take_while(|byte| *byte == b' ').count();
    let digits = line[leading..].bytes().take_while(u8::is_ascii_digit).count();
    let spaces = leading + line[leading + digits..].bytes().take_while(|byte| *byte == b' ').count();
    let rest = &line[digits + spaces..];
    let source_line = rest == "|" || rest.starts_with("| ");
    let suggestion =
        digits > 0 && ["~", "+", "-"].iter().any(|mark| rest == *mark || rest.starts_with(&format!("{mark} ")));
    let annotation = digits == 0 && (rest.starts_with("--> ") || rest.starts_with("::: ") || rest.starts_with("= "));
    if spaces > 0 && (source_line || suggestion || annotation) {
        return LineKind::Code(spaces - 1);
    }
    LineKind::Other(if digits == 0 { spaces } else { 0 })
}

/// A line diff of `expected` and `actual` (a longest common subsequence):
/// "-" lines only in `expected`, "+" lines only in `actual`.
pub(crate) fn diff(expected: &str, actual: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    // common[i][j]: length of the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![vec![0; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] =
                if old[i] == new[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut diff) = (0, 0, String::new());
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            diff += &format!(" {}\n", old[i]);
            (i, j) = (i + 1, j + 1);
        } else if i < old.len() && (j == new.len() || common[i + 1][j] >= common[i][j + 1]) {
            diff += &format!("-{}\n", old[i]);
            i += 1;
        } else {
            diff += &format!("+{}\n", new[j]);
            j += 1;
        }
    }
    diff
}
