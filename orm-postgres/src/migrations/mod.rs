//! Schema migrations generated from the models.
//!
//! - [`generate`]: the next migration, as the diff between the last
//!   migration's recorded schema (`schema.json`) and the models, written
//!   as reviewable SQL (`up.sql`, `down.sql`) with dangerous steps marked
//!   `-- DANGER:`. Column renames are proposed, and applied only when
//!   confirmed ([`Plan::accept`]); otherwise the column is dropped and added.
//! - [`Migrator::run`] applies the pending ones, in order, each in a
//!   transaction, under an advisory lock, recorded with a checksum in
//!   `orm_migrations`; an applied migration whose scripts changed is
//!   refused. [`Migrator::revert`] runs the last one's down script.
//! - `orm::embed_migrations!("migrations")` embeds the folder in the binary;
//!   [`read_dir`] reads it at run time; [`cli`] is a command-line tool in a
//!   few lines of the user's crate.

mod cli;
mod diff;
mod files;
mod runner;
mod snapshot;

pub use cli::cli;
pub use diff::{plan, Plan, RenameProposal};
pub use files::{last_snapshot, read_dir, write};
pub use runner::{Migration, Migrator};
pub use snapshot::{ColumnSnapshot, ConstraintKind, ConstraintSnapshot, EnumSnapshot, Snapshot, TableSnapshot};

use std::path::Path;

use orm_core::{Result, TableMeta};

/// The plan of the next migration of `dir` for `tables`: from the last
/// migration's snapshot (or nothing) to the models.
///
/// # Errors
/// As [`last_snapshot`].
pub fn generate(dir: &Path, tables: &[&'static TableMeta]) -> Result<Plan> {
    Ok(plan(&last_snapshot(dir)?, &Snapshot::of(tables)))
}
