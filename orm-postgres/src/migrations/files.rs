//! The `migrations/` folder: one folder per migration, `<version>_<name>/`
//! holding `up.sql`, `down.sql` and `schema.json` (the schema after it).

use std::fs;
use std::path::{Path, PathBuf};

use orm_core::{Error, Result};

use super::diff::Plan;
use super::runner::{Migration, Migrator};
use super::snapshot::Snapshot;

/// The migrations of `dir`, read at run time (see `embed_migrations!` for
/// a binary that carries them).
///
/// # Errors
/// [`Error::Config`] naming a folder or file that cannot be read.
pub fn read_dir(dir: &Path) -> Result<Migrator> {
    let mut migrations = Vec::new();
    for folder in folders(dir)? {
        let read = |file: &str| {
            let path = folder.join(file);
            fs::read_to_string(&path).map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))
        };
        let version = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        migrations.push(Migration::new(version, read("up.sql")?, read("down.sql")?));
    }
    Ok(Migrator::new(migrations))
}

/// The snapshot the last migration of `dir` recorded; empty without one.
///
/// # Errors
/// [`Error::Config`] when a `schema.json` cannot be read or parsed.
pub fn last_snapshot(dir: &Path) -> Result<Snapshot> {
    let Some(last) = folders(dir)?.pop() else { return Ok(Snapshot::default()) };
    let path = last.join("schema.json");
    let text = fs::read_to_string(&path).map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    Snapshot::from_json(&text)
}

/// Writes `plan` as the next migration of `dir`: `<0001 + count>_<name>/`
/// with `up.sql`, `down.sql` and `schema.json`. Returns the folder.
///
/// # Errors
/// [`Error::Config`] when a file cannot be written, or `name` is not a
/// word (letters, digits, `_`).
pub fn write(dir: &Path, name: &str, plan: &Plan) -> Result<PathBuf> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::Config(format!("a migration name is letters, digits and `_`, not `{name}`")));
    }
    // After the highest number, so that a removed folder is never reused.
    let highest = folders(dir)?
        .iter()
        .filter_map(|f| f.file_name()?.to_str()?.split('_').next()?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    let number = highest + 1;
    let folder = dir.join(format!("{number:04}_{name}"));
    let write = |file: &str, text: &str| {
        let path = folder.join(file);
        fs::write(&path, text).map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))
    };
    fs::create_dir_all(&folder).map_err(|e| Error::Config(format!("cannot create {}: {e}", folder.display())))?;
    write("up.sql", &plan.up())?;
    write("down.sql", &plan.down())?;
    write("schema.json", &plan.snapshot().to_json())?;
    Ok(folder)
}

/// The migration folders of `dir`, in version order; none if `dir` does not
/// exist.
fn folders(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::Config(format!("cannot read {}: {e}", dir.display()))),
    };
    let mut folders: Vec<PathBuf> =
        entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("up.sql").is_file()).collect();
    folders.sort();
    Ok(folders)
}
