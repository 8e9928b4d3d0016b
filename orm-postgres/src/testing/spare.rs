//! Spare test databases: a dropped [`TestDb`](super::TestDb)'s database,
//! emptied and kept for the next `TestDb` of the same process.
//!
//! `CREATE DATABASE` copies a whole template and waits for it to reach the
//! disk (PostgreSQL 15 writes it through the WAL): 0.2–0.5 s on the
//! project's 2-core machines, most of an integration test's time. Emptying
//! a database (its schemas and extensions dropped, `public` made again with
//! the owner and grants of the first database the process created) takes a few milliseconds. A database that cannot
//! be emptied, or shows anything left after it, is dropped as before.
//!
//! A spare is renamed `orm_spare_<pid>_<n>` while it waits, and back to a
//! fresh `orm_test_…` name when taken: a database in use never has a spare's
//! name. The spares of a process that has ended are dropped by the next
//! process that takes a spare. Spares are kept only where `/proc` tells
//! which processes run, and only when the server's new databases hold
//! nothing beyond an untouched `template1`'s.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::Duration;

use orm_core::{Error, Result};
use tokio_postgres::Client;

use super::{connect, quote_ident, unique_name, with_database, OBJECT_IN_USE};
use crate::error::from_pg;

/// This process's spares, by name.
static SPARES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The statements that make `public` as a new database of the server has
/// it (empty when it has none), read from the first database this process
/// created; `None` when databases are not to be emptied (see
/// [`note_fresh`]). Unset until read.
static FRESH_PUBLIC: OnceLock<Option<String>> = OnceLock::new();

/// The statements that make `public` as the database holds it now.
const MAKE_PUBLIC: &str = r#"
SELECT string_agg(statement, '; ' ORDER BY step) FROM (
    SELECT 0, 'CREATE SCHEMA public' FROM pg_namespace WHERE nspname = 'public'
    UNION ALL
    SELECT 1, format('ALTER SCHEMA public OWNER TO %s', nspowner::regrole) FROM pg_namespace WHERE nspname = 'public'
    UNION ALL
    SELECT 2, format('GRANT %s ON SCHEMA public TO %s', a.privilege_type,
                     CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END)
    FROM pg_namespace n, aclexplode(n.nspacl) a
    WHERE n.nspname = 'public' AND a.grantee <> n.nspowner
) AS steps (step, statement)
"#;

/// Ends every other session on the database, then drops every large
/// object, schema (`public` included) and extension the test made.
/// Built-in `plpgsql` stays. [`FRESH_PUBLIC`] follows.
const EMPTY: &str = r#"
SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid();
SELECT lo_unlink(oid) FROM pg_largeobject_metadata;
DO $$
DECLARE
    item text;
BEGIN
    FOR item IN SELECT nspname FROM pg_namespace
                WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\_%' LOOP
        EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', item);
    END LOOP;
    FOR item IN SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' LOOP
        EXECUTE format('DROP EXTENSION IF EXISTS %I CASCADE', item);
    END LOOP;
END $$;
"#;

/// What a database holds beyond a new one's: what [`EMPTY`] drops (a
/// schema, an extension, a large object, a session), and what it does not
/// (publications, subscriptions, event triggers, default privileges,
/// foreign servers, replication slots, settings of a role in it, grants on
/// it or a connection limit), which send it to `DROP DATABASE` instead.
/// Also how a server's new database starts: 0 for one made from an
/// untouched `template1`, without which no database is emptied.
const LEFT_OVER: &str = r#"
SELECT (SELECT count(*) FROM pg_namespace
            WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\_%')
     + (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace)
     + (SELECT count(*) FROM pg_type WHERE typnamespace = 'public'::regnamespace)
     + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace)
     + (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')
     + (SELECT count(*) FROM pg_largeobject_metadata)
     + (SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid())
     + (SELECT count(*) FROM pg_publication)
     + (SELECT count(*) FROM pg_event_trigger)
     + (SELECT count(*) FROM pg_default_acl)
     + (SELECT count(*) FROM pg_foreign_server)
     + (SELECT count(*) FROM pg_foreign_data_wrapper)
     + (SELECT count(*) FROM pg_subscription s, pg_database d
            WHERE s.subdbid = d.oid AND d.datname = current_database())
     + (SELECT count(*) FROM pg_replication_slots WHERE database = current_database())
     + (SELECT count(*) FROM pg_db_role_setting s, pg_database d
            WHERE s.setdatabase = d.oid AND d.datname = current_database() AND s.setrole <> 0)
     + (SELECT count(*) FROM pg_database
            WHERE datname = current_database() AND (datacl IS NOT NULL OR datconnlimit <> -1))
"#;

/// Whether [`note_fresh`] is still to read a new database: until then, the
/// caller makes its databases from `template1`, not from a template with
/// tables, so that one can be read.
pub(super) fn fresh_unread() -> bool {
    FRESH_PUBLIC.get().is_none()
}

/// Reads [`FRESH_PUBLIC`] from the new database at `url` (made from
/// `template1`), once per process. A database that holds more than a new
/// one of an untouched `template1` (an extension, a table) sets it to
/// `None`: emptying would drop what every new database of the server has.
/// So does a system without `/proc` (spares are kept only where it tells
/// the next process which processes have ended, so that theirs do not
/// pile up), and a failure to read: the process's databases are then
/// dropped, not kept.
pub(super) async fn note_fresh(url: &str) {
    if FRESH_PUBLIC.get().is_some() {
        return;
    }
    let public = if Path::new("/proc/self").exists() { read_fresh_public(url).await.unwrap_or(None) } else { None };
    let _ = FRESH_PUBLIC.set(public);
}

/// The statements that make `public` as the database at `url` has it, if
/// the database holds nothing more than a new one of an untouched
/// `template1`.
async fn read_fresh_public(url: &str) -> Result<Option<String>> {
    let client = connect(url).await?;
    let beyond: i64 = client.query_one(LEFT_OVER, &[]).await.map_err(from_pg)?.get(0);
    if beyond > 0 {
        return Ok(None);
    }
    let statements: Option<String> = client.query_one(MAKE_PUBLIC, &[]).await.map_err(from_pg)?.get(0);
    Ok(Some(statements.unwrap_or_default()))
}

/// A spare database renamed to a fresh `orm_test_…` name, if this process
/// has one; `None` when it has none or the rename fails (the spare is then
/// dropped, best effort).
pub(super) async fn take(admin: &Client) -> Option<String> {
    static LEFTOVERS: Once = Once::new();
    let mut first = false;
    LEFTOVERS.call_once(|| first = true);
    if first {
        drop_ended_processes_spares(admin).await;
    }
    let spare = SPARES.lock().ok()?.pop()?;
    let name = unique_name();
    let rename = format!("ALTER DATABASE {} RENAME TO {}", quote_ident(&spare), quote_ident(&name));
    match admin.batch_execute(&rename).await {
        Ok(()) => Some(name),
        Err(_) => {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(&spare))).await;
            None
        }
    }
}

/// Empties database `name` and keeps it as a spare.
///
/// # Errors
/// A connection or database error, or [`Error::Config`] naming what
/// emptying left behind; the caller then drops the database.
pub(super) async fn keep(server_url: &str, name: &str) -> Result<()> {
    empty(&with_database(server_url, name)).await?;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let spare = format!("orm_spare_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin = connect(server_url).await?;
    let rename = format!(
        "ALTER DATABASE {name} RESET ALL; ALTER DATABASE {name} RENAME TO {spare}",
        name = quote_ident(name),
        spare = quote_ident(&spare)
    );
    // The emptying connection's backend may not have ended yet.
    let mut attempt = 0;
    while let Err(e) = admin.batch_execute(&rename).await {
        attempt += 1;
        if attempt == 20 || e.code().map(|c| c.code()) != Some(OBJECT_IN_USE) {
            return Err(from_pg(e));
        }
        tokio::time::sleep(Duration::from_millis(5 * attempt)).await;
    }
    SPARES.lock().map_err(|_| Error::Config("the list of spare test databases is poisoned".into()))?.push(spare);
    Ok(())
}

/// Runs [`EMPTY`] on the database at `url`, then checks that nothing is
/// left, this connection included once it has closed.
pub(super) async fn empty(url: &str) -> Result<()> {
    let Some(Some(public)) = FRESH_PUBLIC.get() else {
        return Err(Error::Config("no new database was read for how `public` starts, or it held more".into()));
    };
    let client = connect(url).await?;
    client.batch_execute(&format!("{EMPTY}{public}")).await.map_err(from_pg)?;
    let left: i64 = client.query_one(LEFT_OVER, &[]).await.map_err(from_pg)?.get(0);
    if left > 0 {
        return Err(Error::Config(format!("{left} schemas, relations, extensions or sessions were left")));
    }
    Ok(())
}

/// Drops the spares of processes that have ended, where `/proc` tells.
async fn drop_ended_processes_spares(admin: &Client) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(rows) = admin.query(r"SELECT datname FROM pg_database WHERE datname LIKE 'orm\_spare\_%'", &[]).await else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let pid = name.trim_start_matches("orm_spare_").split('_').next().unwrap_or_default();
        if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(&name))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    /// `public`'s owner and grants; how many schemas besides it, and
    /// relations, types and functions in it, the database holds.
    const STATE: &str = r"
        SELECT (SELECT nspowner::regrole::text || ' ' || coalesce(nspacl::text, '')
                FROM pg_namespace WHERE nspname = 'public'),
               (SELECT count(*) FROM pg_namespace
                WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\_%'),
               (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace),
               (SELECT count(*) FROM pg_type WHERE typnamespace = 'public'::regnamespace),
               (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace),
               (SELECT count(*) FROM pg_largeobject_metadata)";

    async fn state(url: &str) -> (String, [i64; 5]) {
        let row = connect(url).await.unwrap().query_one(STATE, &[]).await.unwrap();
        (row.get(0), [1, 2, 3, 4, 5].map(|i| row.get(i)))
    }

    #[tokio::test]
    async fn an_emptied_database_holds_what_a_new_one_does() {
        let db = TestDb::new().await.unwrap();
        let fresh = state(db.url()).await;
        assert_eq!(fresh.1, [0; 5], "{fresh:?}");
        let test = connect(db.url()).await.unwrap();
        test.batch_execute(
            "CREATE SCHEMA app; CREATE TABLE app.t (id int);
             CREATE TYPE mood AS ENUM ('calm'); CREATE TABLE notes (id serial PRIMARY KEY, mood mood);
             CREATE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 1'; CREATE VIEW v AS SELECT 1 AS x;
             REVOKE ALL ON SCHEMA public FROM PUBLIC; SELECT lo_create(0)",
        )
        .await
        .unwrap();
        assert_ne!(state(db.url()).await, fresh);

        // `test` is still connected: emptying ends its session.
        empty(db.url()).await.unwrap();
        assert_eq!(state(db.url()).await, fresh);
        assert!(test.batch_execute("SELECT 1").await.is_err(), "the test's session was ended");
    }

    const NOTES: orm_core::TableMeta = orm_core::TableMeta {
        model: "Note",
        name: "spare_notes",
        columns: &[orm_core::ColumnMeta {
            primary_key: true,
            generated: true,
            ..orm_core::ColumnMeta::new("id", orm_core::SqlType::Integer)
        }],
        relations: &[],
        constraints: &[],
    };

    /// Set for the test below in the process it runs it in.
    const ALONE: &str = "ORM_SPARE_TEST_ALONE";

    /// A process whose tests all have tables (`#[orm::test(Model)]`) keeps
    /// spares too: its first database is read for how a new one starts.
    #[test]
    fn a_process_that_only_makes_databases_with_tables_keeps_spares() {
        let test = "testing::spare::tests::a_database_with_tables_first_in_its_process";
        let exe = std::env::current_exe().unwrap();
        let child = std::process::Command::new(exe).args(["--exact", test, "--ignored"]).env(ALONE, "1").output();
        let child = child.unwrap();
        let out = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success() && out.contains("1 passed"), "{test} in a process of its own:\n{out}");
    }

    #[tokio::test]
    #[ignore = "run in a process of its own by a_process_that_only_makes_databases_with_tables_keeps_spares"]
    async fn a_database_with_tables_first_in_its_process() {
        // Other tests of this process would read a new database first
        // (`--include-ignored`): only the test above, which checks that
        // this one passed in its own process, runs it for real.
        if std::env::var_os(ALONE).is_none() {
            return;
        }
        let db = TestDb::with_tables(&[&NOTES]).await.unwrap();
        connect(db.url()).await.unwrap().batch_execute("SELECT id FROM spare_notes").await.unwrap();
        let (server_url, name) = (db.server_url.clone(), db.name().to_owned());
        drop(db);
        let spare = SPARES.lock().unwrap().first().cloned().expect("kept as a spare, not dropped");
        let admin = connect(&server_url).await.unwrap();
        let sql = "SELECT array_agg(datname::text ORDER BY datname) FROM pg_database WHERE datname IN ($1, $2)";
        let names: Vec<String> = admin.query_one(sql, &[&name, &spare]).await.unwrap().get(0);
        assert_eq!(names, [spare], "renamed");
    }
}
