//! Applying and reverting migrations: in order, each in a transaction,
//! under an advisory lock, recorded with a checksum in `orm_migrations`.

use orm_core::{Connection, Error, Result, Value};

use crate::Engine;

/// The table that records applied migrations.
const LEDGER: &str = "CREATE TABLE IF NOT EXISTS orm_migrations (version text PRIMARY KEY, checksum text NOT NULL, \
                      applied_at timestamptz NOT NULL DEFAULT now())";
/// The advisory lock key every migrating process takes (`orm_migrations`
/// as bytes), so that two processes starting at once apply each migration
/// exactly once.
const LOCK_KEY: i64 = 0x6f72_6d5f_6d69_6772;

/// One migration: its version (the folder name, `0002_add_bio`), and its
/// SQL up and down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The version, which also orders migrations.
    pub version: String,
    /// The SQL that applies it.
    pub up: String,
    /// The SQL that reverts it.
    pub down: String,
}

impl Migration {
    /// A migration from its parts.
    pub fn new(version: impl Into<String>, up: impl Into<String>, down: impl Into<String>) -> Migration {
        Migration { version: version.into(), up: up.into(), down: down.into() }
    }

    /// A checksum of both scripts (FNV-1a, hex): an applied migration whose
    /// files changed since is refused.
    pub fn checksum(&self) -> String {
        let hash = self
            .up
            .bytes()
            .chain([0])
            .chain(self.down.bytes())
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        format!("{hash:016x}")
    }
}

/// A set of migrations, in version order, and what runs them.
///
/// ```no_run
/// # async fn demo(engine: orm_postgres::Engine) -> orm_core::Result<()> {
/// // Read at run time; `orm::embed_migrations!("migrations")` embeds the
/// // folder at compile time instead, so that a service migrates itself.
/// let migrator = orm_postgres::migrations::read_dir(std::path::Path::new("migrations"))?;
/// let applied = migrator.run(&engine).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Migrator {
    migrations: Vec<Migration>,
}

impl Migrator {
    /// The migrations, sorted by version.
    pub fn new(mut migrations: Vec<Migration>) -> Migrator {
        migrations.sort_by(|a, b| a.version.cmp(&b.version));
        Migrator { migrations }
    }

    /// The migrations, in order.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// Applies the pending migrations, in order, each in its own
    /// transaction, under an advisory lock. Returns the versions applied.
    ///
    /// # Errors
    /// [`Error::Migration`] when an applied migration's scripts changed or
    /// are missing; a database error from a script (that migration is
    /// rolled back, the earlier ones stay).
    pub async fn run(&self, engine: &Engine) -> Result<Vec<String>> {
        let mut conn = Dedicated::lock(engine).await?;
        self.apply_pending(conn.get()).await
    }

    /// Reverts the last applied migration with its down script. Returns its
    /// version, or `None` when none is applied.
    ///
    /// # Errors
    /// As [`run`](Migrator::run).
    pub async fn revert(&self, engine: &Engine) -> Result<Option<String>> {
        let mut conn = Dedicated::lock(engine).await?;
        self.revert_last(conn.get()).await
    }

    /// The versions applied to the database, in order.
    ///
    /// # Errors
    /// A database error.
    pub async fn applied(&self, engine: &Engine) -> Result<Vec<String>> {
        let mut conn = engine.connect().await?;
        conn.batch_execute(LEDGER).await?;
        Ok(applied(&mut conn).await?.into_iter().map(|(version, _)| version).collect())
    }

    async fn apply_pending(&self, conn: &mut dyn Connection) -> Result<Vec<String>> {
        let applied = applied(conn).await?;
        self.check_applied(&applied)?;
        let mut done = Vec::new();
        for migration in self.migrations.iter().filter(|m| !applied.iter().any(|(v, _)| *v == m.version)) {
            let record = Value::Text(migration.version.clone());
            let script = format!("BEGIN;\n{}\n;", migration.up);
            in_transaction(
                conn,
                &script,
                "INSERT INTO orm_migrations (version, checksum) VALUES ($1, $2)",
                &[record, Value::Text(migration.checksum())],
            )
            .await
            .map_err(|e| failed(&migration.version, "up", e))?;
            done.push(migration.version.clone());
        }
        Ok(done)
    }

    async fn revert_last(&self, conn: &mut dyn Connection) -> Result<Option<String>> {
        let applied = applied(conn).await?;
        self.check_applied(&applied)?;
        let Some((version, _)) = applied.last() else { return Ok(None) };
        let migration = self.find(version)?;
        let script = format!("BEGIN;\n{}\n;", migration.down);
        in_transaction(conn, &script, "DELETE FROM orm_migrations WHERE version = $1", &[Value::Text(version.clone())])
            .await
            .map_err(|e| failed(version, "down", e))?;
        Ok(Some(version.clone()))
    }

    fn find(&self, version: &str) -> Result<&Migration> {
        self.migrations.iter().find(|m| m.version == version).ok_or_else(|| Error::Migration {
            version: version.to_owned(),
            reason: "was applied to the database but is not among the migrations".into(),
        })
    }

    /// Every applied migration is still here, unchanged.
    fn check_applied(&self, applied: &[(String, String)]) -> Result<()> {
        for (version, checksum) in applied {
            if self.find(version)?.checksum() != *checksum {
                return Err(Error::Migration {
                    version: version.clone(),
                    reason: "was applied, and its scripts changed since; write a new migration instead".into(),
                });
            }
        }
        Ok(())
    }
}

/// The connection a migration runs on, holding the advisory lock. It is
/// closed when dropped, never returned to the pool: closing releases the
/// lock and rolls back whatever transaction a failed or dropped `run` left
/// open, on every way out.
struct Dedicated(Option<crate::PgConnection>);

impl Dedicated {
    /// Takes the advisory lock (waiting for another process that holds it),
    /// then makes the ledger: `CREATE TABLE IF NOT EXISTS` can still collide
    /// with itself outside the lock.
    async fn lock(engine: &Engine) -> Result<Dedicated> {
        let mut dedicated = Dedicated(Some(engine.connect().await?));
        let conn = dedicated.get();
        conn.execute("SELECT pg_advisory_lock($1)", &[Value::I64(LOCK_KEY)]).await?;
        conn.batch_execute(LEDGER).await?;
        Ok(dedicated)
    }

    fn get(&mut self) -> &mut dyn Connection {
        self.0.as_mut().expect("present until dropped")
    }
}

impl Drop for Dedicated {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            Box::new(conn).close();
        }
    }
}

/// The script and its ledger statement, committed together; rolled back on
/// failure.
async fn in_transaction(conn: &mut dyn Connection, script: &str, ledger: &str, params: &[Value]) -> Result<()> {
    let result = async {
        conn.batch_execute(script).await?;
        conn.execute(ledger, params).await?;
        conn.batch_execute("COMMIT").await
    }
    .await;
    if result.is_err() {
        let _ = conn.batch_execute("ROLLBACK").await;
    }
    result
}

async fn applied(conn: &mut dyn Connection) -> Result<Vec<(String, String)>> {
    let rows = conn.query("SELECT version, checksum FROM orm_migrations ORDER BY version", &[]).await?;
    Ok(rows
        .values
        .chunks(2)
        .filter_map(|row| match row {
            [Value::Text(version), Value::Text(checksum)] => Some((version.clone(), checksum.clone())),
            _ => None,
        })
        .collect())
}

fn failed(version: &str, direction: &str, cause: Error) -> Error {
    Error::Migration { version: version.to_owned(), reason: format!("its {direction} script failed: {cause}") }
}
