//! Template databases for [`TestDb::with_tables`](super::TestDb::with_tables):
//! the tables are created once, and each test clones them with `CREATE
//! DATABASE .. TEMPLATE`, which copies files instead of running DDL.
//!
//! A template is named after a hash of its DDL, so a changed model gets a
//! new one and an unchanged one is reused by later runs. Tests (and test
//! binaries) that need the same template at once agree through the server:
//! the first `CREATE DATABASE` wins and builds it; it is marked
//! `IS_TEMPLATE` when complete, which the others wait for.

use std::time::{Duration, Instant};

use orm_core::{Error, Result, TableMeta};

use super::{connect, quote_ident, with_database};
use crate::dialect;
use crate::error::from_pg;

/// SQLSTATEs of a `CREATE DATABASE` that lost the race to another test
/// building the same template: `duplicate_database`, or `unique_violation`
/// when both were in flight at once.
const TAKEN: [&str; 2] = ["42P04", "23505"];
/// How long to wait for a template another test is building.
const BUILD_WAIT: Duration = Duration::from_secs(60);

/// The name of the template for `tables`, made if needed.
pub(super) async fn ensure(server_url: &str, tables: &[&'static TableMeta]) -> Result<String> {
    let statements = dialect::create_all(tables);
    let name = template_name(&statements);
    let admin = connect(server_url).await?;
    let started = Instant::now();
    loop {
        let row = admin
            .query_opt("SELECT datistemplate FROM pg_database WHERE datname = $1", &[&name])
            .await
            .map_err(from_pg)?;
        match row.map(|r| r.get::<_, bool>(0)) {
            Some(true) => return Ok(name),
            Some(false) if started.elapsed() > BUILD_WAIT => {
                return Err(Error::Config(format!(
                    "the test template database `{name}` was not completed within {BUILD_WAIT:?}; if a test run \
                     was killed while making it, drop it: DROP DATABASE \"{name}\""
                )));
            }
            Some(false) => tokio::time::sleep(Duration::from_millis(25)).await,
            None => match admin.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name))).await {
                Ok(()) => {
                    if let Err(e) = build(server_url, &name, &statements).await {
                        // Best effort, so that the others stop waiting.
                        let _ = super::drop_database(server_url, &name).await;
                        return Err(e);
                    }
                    return Ok(name);
                }
                Err(e) if e.code().is_some_and(|c| TAKEN.contains(&c.code())) => {}
                Err(e) => return Err(from_pg(e)),
            },
        }
    }
}

/// Runs the DDL in the new database, closes the connection (a template with
/// a session on it cannot be cloned), and marks it complete.
async fn build(server_url: &str, name: &str, statements: &[String]) -> Result<()> {
    create_tables(&with_database(server_url, name), statements).await?;
    let admin = connect(server_url).await?;
    admin.batch_execute(&format!("ALTER DATABASE {} WITH IS_TEMPLATE true", quote_ident(name))).await.map_err(from_pg)
}

/// Runs `statements`, the DDL of some tables, in one transaction in the
/// database at `url`; the connection is closed on return.
pub(super) async fn create_tables(url: &str, statements: &[String]) -> Result<()> {
    let client = connect(url).await?;
    let script = format!("BEGIN;\n{};\nCOMMIT", statements.join(";\n"));
    client.batch_execute(&script).await.map_err(from_pg)
}

/// `orm_template_<hash of the DDL>`, FNV-1a: stable across builds.
fn template_name(statements: &[String]) -> String {
    let hash = statements
        .iter()
        .flat_map(|s| s.bytes().chain([b';']))
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("orm_template_{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_follows_the_ddl() {
        let a = template_name(&["CREATE TABLE a ()".to_owned()]);
        assert_eq!(a, template_name(&["CREATE TABLE a ()".to_owned()]));
        assert_ne!(a, template_name(&["CREATE TABLE b ()".to_owned()]));
        assert!(a.starts_with("orm_template_") && a.len() == "orm_template_".len() + 16);
    }
}
