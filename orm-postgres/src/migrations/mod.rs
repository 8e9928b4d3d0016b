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

use crate::Engine;

/// The plan of the next migration of `dir` for `tables`: from the last
/// migration's snapshot (or nothing) to the models.
///
/// # Errors
/// As [`last_snapshot`].
pub fn generate(dir: &Path, tables: &[&'static TableMeta]) -> Result<Plan> {
    Ok(plan(&last_snapshot(dir)?, &Snapshot::of(tables)))
}

/// The plan of a migration from what the database holds to the models: for
/// a first migration of a database that exists already, or to catch up with
/// changes made by hand. Only the models' tables and enum types are read.
/// Server defaults and checks cannot be compared as text (PostgreSQL
/// rewrites them), so they count as unchanged where both sides have one.
///
/// # Errors
/// A connection or database error.
pub async fn generate_from_database(engine: &Engine, tables: &[&'static TableMeta]) -> Result<Plan> {
    let mut conn = engine.connect().await?;
    let mut live = crate::schema::live_snapshot(&mut conn, tables).await?;
    let models = Snapshot::of(tables);
    reconcile(&mut live, &models);
    Ok(plan(&live, &models))
}

/// Takes the models' text for the defaults and checks the database has too.
fn reconcile(live: &mut Snapshot, models: &Snapshot) {
    for table in &mut live.tables {
        let Some(model) = models.table(&table.name) else { continue };
        for column in &mut table.columns {
            let wanted = model.column(&column.name).and_then(|c| c.default.as_ref());
            if let (Some(_), Some(wanted)) = (&column.default, wanted) {
                column.default = Some(wanted.clone());
            }
        }
        for constraint in &mut table.constraints {
            let wanted = model.constraints.iter().find(|c| c.name == constraint.name);
            if let (ConstraintKind::Check(sql), Some(ConstraintSnapshot { kind: ConstraintKind::Check(text), .. })) =
                (&mut constraint.kind, wanted)
            {
                sql.clone_from(text);
            }
        }
    }
}
