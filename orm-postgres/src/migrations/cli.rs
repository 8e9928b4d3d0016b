//! `migrate`, the command-line tool: a binary of the user's crate, since the
//! models live there.
//!
//! ```no_run
//! // src/bin/migrate.rs
//! # mod models { pub const TABLES: [&'static orm_core::TableMeta; 0] = []; }
//! fn main() -> std::process::ExitCode {
//!     orm_postgres::migrations::cli(&models::TABLES)
//! }
//! ```

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use orm_core::{Result, TableMeta};

use super::{files, generate};
use crate::Engine;

const USAGE: &str = "\
usage: migrate <command> [--dir migrations] [--database URL]
  generate <name>   write the next migration: the models against the last migration's schema
  run               apply the pending migrations (URL from --database or DATABASE_URL)
  revert            revert the last applied migration
  status            list the migrations and whether each is applied";

/// Runs the command the arguments name; prints what it did or why not.
pub fn cli(tables: &[&'static TableMeta]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(tables, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run(tables: &[&'static TableMeta], args: &[String]) -> std::result::Result<(), String> {
    let option = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let dir = PathBuf::from(option("--dir").unwrap_or_else(|| "migrations".to_owned()));
    let database = option("--database").or_else(|| std::env::var("DATABASE_URL").ok());
    let engine = || -> std::result::Result<Engine, String> {
        let url = database.clone().ok_or("no database: pass --database URL or set DATABASE_URL")?;
        Engine::new(&url).map_err(|e| e.to_string())
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let text = |r: Result<()>| r.map_err(|e| e.to_string());
    match args.first().map(String::as_str) {
        Some("generate") => {
            let name = args.get(1).filter(|n| !n.starts_with("--")).ok_or(USAGE)?;
            text(generate_confirmed(&dir, name, tables))
        }
        Some("run") => {
            let engine = engine()?;
            let migrator = files::read_dir(&dir).map_err(|e| e.to_string())?;
            let applied = runtime.block_on(migrator.run(&engine)).map_err(|e| e.to_string())?;
            match applied.as_slice() {
                [] => println!("up to date"),
                versions => versions.iter().for_each(|v| println!("applied {v}")),
            }
            Ok(())
        }
        Some("revert") => {
            let engine = engine()?;
            let migrator = files::read_dir(&dir).map_err(|e| e.to_string())?;
            match runtime.block_on(migrator.revert(&engine)).map_err(|e| e.to_string())? {
                Some(version) => println!("reverted {version}"),
                None => println!("nothing to revert"),
            }
            Ok(())
        }
        Some("status") => {
            let engine = engine()?;
            let migrator = files::read_dir(&dir).map_err(|e| e.to_string())?;
            let applied = runtime.block_on(migrator.applied(&engine)).map_err(|e| e.to_string())?;
            for migration in migrator.migrations() {
                let state = if applied.contains(&migration.version) { "applied" } else { "pending" };
                println!("{state:<8} {}", migration.version);
            }
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    }
}

/// Plans the migration, asks about each suspected rename on the terminal,
/// and writes it.
fn generate_confirmed(dir: &std::path::Path, name: &str, tables: &[&'static TableMeta]) -> Result<()> {
    let mut plan = generate(dir, tables)?;
    if plan.is_empty() {
        println!("the models match the last migration: nothing to generate");
        return Ok(());
    }
    let stdin = std::io::stdin();
    for proposal in plan.proposals().to_vec() {
        print!("is {}.{} renamed to {}.{}? [y/N] ", proposal.table, proposal.from, proposal.table, proposal.to);
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = stdin.lock().read_line(&mut answer);
        if answer.trim().eq_ignore_ascii_case("y") {
            plan.accept(&proposal);
        }
    }
    let folder = files::write(dir, name, &plan)?;
    println!("wrote {} (review up.sql and down.sql, and every `-- DANGER:` step)", folder.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use orm_core::{ColumnMeta, SqlType};

    const NOTES: TableMeta = TableMeta {
        model: "Note",
        name: "cli_notes",
        columns: &[ColumnMeta { primary_key: true, generated: true, ..ColumnMeta::new("id", SqlType::Integer) }],
        relations: &[],
        constraints: &[],
    };

    #[test]
    fn generate_run_status_and_revert_from_the_command_line() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let db = runtime.block_on(crate::testing::TestDb::new()).unwrap();
        let dir = std::env::temp_dir().join(format!("orm-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let args = |words: &[&str]| -> Vec<String> {
            let mut args: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
            args.extend(["--dir".into(), dir.display().to_string(), "--database".into(), db.url().to_owned()]);
            args
        };
        run(&[&NOTES], &args(&["generate", "notes"])).unwrap();
        assert!(dir.join("0001_notes/up.sql").is_file() && dir.join("0001_notes/schema.json").is_file());
        run(&[&NOTES], &args(&["run"])).unwrap();
        run(&[&NOTES], &args(&["status"])).unwrap();
        let migrator = files::read_dir(&dir).unwrap();
        let engine = Engine::new(db.url()).unwrap();
        assert_eq!(runtime.block_on(migrator.applied(&engine)).unwrap(), ["0001_notes"]);
        run(&[&NOTES], &args(&["revert"])).unwrap();
        assert!(runtime.block_on(migrator.applied(&engine)).unwrap().is_empty());
        assert_eq!(run(&[&NOTES], &args(&["fly"])).unwrap_err(), USAGE);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
