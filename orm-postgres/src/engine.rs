//! The Engine: a connection pool plus the dialect, as SQLAlchemy's `Engine`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use deadpool_postgres::{PoolError, TimeoutType, Timeouts};
use orm_core::metadata::{sort_by_dependency, TableMeta};
use orm_core::{BoxFuture, Connection, Connector, Dialect, Result, SchemaReport, Session, StatementTexts};

use crate::dialect::{self, POSTGRES};
use crate::error::from_pool;
use crate::executor::PgConnection;
use crate::pool::{self, Invalidation, Pool, PoolOptions, Pooled, Target};
use crate::tls::RootCert;

/// A pool of PostgreSQL connections and the factory of [`Session`]s.
///
/// Building an engine does no I/O: the first session or statement connects,
/// as SQLAlchemy's `create_engine`. Cloning is cheap and shares the pool.
///
/// ```no_run
/// # async fn demo() -> orm_core::Result<()> {
/// use std::time::Duration;
/// let engine = orm_postgres::Engine::builder("postgres://postgres@127.0.0.1:5432/postgres")
///     .pool_size(5)
///     .max_overflow(10)
///     .pool_timeout(Duration::from_secs(5))
///     .build()?;
/// let mut session = engine.session();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    state: Arc<EngineState>,
}

#[derive(Debug)]
pub(crate) struct EngineState {
    /// This state's own `Arc`, for the connections it hands out.
    me: Weak<EngineState>,
    pool: Pool,
    pub(crate) options: PoolOptions,
    /// Marks the pooled connections that a lost one makes suspect.
    pub(crate) invalidation: Arc<Invalidation>,
    /// What checkout errors name.
    target: Target,
    statements: AtomicU64,
    texts: StatementTexts,
}

impl EngineState {
    /// Counts a statement and starts its clock, if anything will read it:
    /// a `slow_statement` threshold, or a subscriber of `orm::sql` (the
    /// clock costs two reads of it per statement otherwise for nothing).
    pub(crate) fn statement_started(&self) -> Option<Instant> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        let timed =
            self.options.slow_statement.is_some() || tracing::enabled!(target: "orm::sql", tracing::Level::INFO);
        timed.then(Instant::now)
    }

    /// Closes idle connections beyond `pool_size` (QueuePool's overflow),
    /// after a connection went back to the pool. Each return trims after
    /// itself, under the pool's lock, so that returns racing each other
    /// never leave more than `pool_size` idle.
    pub(crate) fn close_overflow(&self) {
        let keep = self.options.pool_size;
        if self.pool.status().available <= keep {
            return;
        }
        let mut kept = 0;
        drop(self.pool.retain(|_, _| {
            kept += 1;
            kept <= keep
        }));
    }

    async fn checkout(self: Arc<Self>) -> Result<PgConnection> {
        let client = self.take_from_pool().await?;
        Ok(PgConnection::lent(client, self))
    }

    /// Takes a connection out of the pool. A free one is taken at once,
    /// without the timer that bounds a wait for one (`pool_timeout`):
    /// arming and dropping it was a fifth of a checkout's instructions.
    async fn take_from_pool(&self) -> Result<Pooled> {
        let at_once = Timeouts { wait: Some(Duration::ZERO), ..self.pool.timeouts() };
        let taken = match self.pool.timeout_get(&at_once).await {
            // Boxed: as rare as a busy pool, and large.
            Err(PoolError::Timeout(TimeoutType::Wait)) => Box::pin(self.pool.get()).await,
            taken => taken,
        };
        taken.map_err(|e| from_pool(e, &self.target))
    }
}

impl Connector for EngineState {
    fn dialect(&self) -> &'static dyn Dialect {
        &POSTGRES
    }

    fn statement_texts(&self) -> &StatementTexts {
        &self.texts
    }

    fn connect(&self) -> BoxFuture<'_, Result<Box<dyn Connection>>> {
        Box::pin(async move {
            let client = self.take_from_pool().await?;
            let state = self.me.upgrade().expect("an engine state outlives its own calls");
            Ok(Box::new(PgConnection::new(client, state)) as Box<dyn Connection>)
        })
    }
}

/// Options for an [`Engine`], as `create_engine` takes them.
#[derive(Debug, Clone)]
#[must_use = "call `build` to get an engine"]
pub struct EngineBuilder {
    url: String,
    options: PoolOptions,
}

impl EngineBuilder {
    /// Connections kept open while idle (default 5).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.options.pool_size = n;
        self
    }

    /// Connections opened beyond `pool_size` under load and closed when they
    /// are returned (default 10). At most `pool_size + max_overflow` are open.
    pub fn max_overflow(mut self, n: usize) -> Self {
        self.options.max_overflow = n;
        self
    }

    /// How long a checkout waits for a free connection before failing with
    /// [`Error::PoolTimeout`](orm_core::Error::PoolTimeout) (default 30 s).
    ///
    /// It also bounds opening a new connection (TCP, TLS, authentication and
    /// the [`on_connect`](Self::on_connect) SQL) unless the URL sets
    /// `connect_timeout` (in seconds), which then does; past it the checkout
    /// fails with [`Error::Connection`](orm_core::Error::Connection) naming
    /// the server and the limit.
    pub fn pool_timeout(mut self, timeout: Duration) -> Self {
        self.options.pool_timeout = timeout;
        self
    }

    /// Closes connections older than `age` instead of reusing them (default:
    /// never).
    pub fn pool_recycle(mut self, age: Duration) -> Self {
        self.options.pool_recycle = Some(age);
        self
    }

    /// Tests each connection with a round trip before handing it out, so a
    /// connection the server dropped is replaced (default off).
    pub fn pre_ping(mut self, on: bool) -> Self {
        self.options.pre_ping = on;
        self
    }

    /// Logs statements that take at least `threshold` at WARN on target
    /// `orm::sql` (default: none).
    pub fn slow_statement(mut self, threshold: Duration) -> Self {
        self.options.slow_statement = Some(threshold);
        self
    }

    /// Logs the parameter values of each statement with it (default off:
    /// values may be personal data or secrets, so only their number is
    /// logged; SQLAlchemy's `hide_parameters` the other way round).
    pub fn log_parameters(mut self, on: bool) -> Self {
        self.options.log_parameters = on;
        self
    }

    /// Runs `sql` on each new connection before its first use, e.g.
    /// `SET search_path TO app, public`. Call again to add statements; they
    /// run in order, as one batch (the simple query protocol, so several
    /// statements separated by `;` work too).
    ///
    /// A failing statement fails the checkout with its database error and
    /// the connection is not used.
    ///
    /// ```no_run
    /// # fn demo() -> orm_core::Result<()> {
    /// let engine = orm_postgres::Engine::builder("postgres://postgres@127.0.0.1/app")
    ///     .on_connect("SET search_path TO app, public")
    ///     .on_connect("SET TIME ZONE 'UTC'")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn on_connect(mut self, sql: impl Into<String>) -> Self {
        self.options.on_connect.push(sql.into());
        self
    }

    /// Cancels any statement that runs longer than `timeout` (PostgreSQL's
    /// `statement_timeout`, in whole milliseconds), for every connection of
    /// the engine. A cancelled statement fails with
    /// [`Error::Database`](orm_core::Error::Database), SQLSTATE `57014`.
    ///
    /// Sent as a startup option (`-c statement_timeout=…`), so it costs no
    /// round trip; a `SET` in a session still overrides it. Some poolers
    /// (PgBouncer) refuse startup options: use
    /// [`on_connect`](Self::on_connect) with `SET statement_timeout` there.
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.options.statement_timeout = Some(timeout);
        self
    }

    /// The `application_name` each connection reports, shown in
    /// `pg_stat_activity` and the server's logs. Overrides the URL's.
    pub fn application_name(mut self, name: &str) -> Self {
        self.options.application_name = Some(name.to_owned());
        self
    }

    /// Trusts the certificate authority (or authorities) in `pem` for
    /// `sslmode=verify-ca` and `verify-full`; with `sslmode=require` the
    /// server's certificate chain is then checked too, as libpq does.
    /// Overrides the URL's `sslrootcert`.
    ///
    /// ```no_run
    /// # fn demo() -> orm_core::Result<()> {
    /// let ca = std::fs::read("/etc/myapp/db-ca.pem").expect("the CA");
    /// let engine = orm_postgres::Engine::builder("postgres://app@db.example.com/app?sslmode=verify-full")
    ///     .root_cert_pem(ca)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn root_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.options.root_cert = Some(RootCert::Pem(pem.into()));
        self
    }

    /// As [`root_cert_pem`](Self::root_cert_pem), with the PEM read from
    /// `path` by [`build`](Self::build). The URL's `sslrootcert=path` does
    /// the same.
    pub fn root_cert_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.root_cert = Some(RootCert::File(path.into()));
        self
    }

    /// Builds the engine. Does no network I/O (it reads the root
    /// certificate file, if one is named).
    ///
    /// # Errors
    /// [`Error::Config`](orm_core::Error::Config) for a URL that does not
    /// parse, an unknown `sslmode`, `verify-ca` or `verify-full` without a
    /// root certificate, a root certificate that cannot be read or is not
    /// PEM, or a `pool_size` of 0.
    pub fn build(self) -> Result<Engine> {
        let invalidation = Arc::new(Invalidation::new());
        let (pool, target) = pool::build(&self.url, &self.options, invalidation.clone())?;
        let state = Arc::new_cyclic(|me| EngineState {
            me: me.clone(),
            pool,
            options: self.options,
            invalidation,
            target,
            statements: AtomicU64::new(0),
            texts: StatementTexts::default(),
        });
        Ok(Engine { state })
    }
}

impl Engine {
    /// Starts configuring an engine for `url`
    /// (`postgres://user:password@host:port/database`).
    pub fn builder(url: &str) -> EngineBuilder {
        EngineBuilder { url: url.to_owned(), options: PoolOptions::default() }
    }

    /// Builds an engine with the default pool options. Does no I/O.
    ///
    /// # Errors
    /// As [`EngineBuilder::build`].
    pub fn new(url: &str) -> Result<Engine> {
        Engine::builder(url).build()
    }

    /// Creates a session bound to this engine. Does no I/O.
    pub fn session(&self) -> Session {
        Session::new(self.state.clone())
    }

    /// Checks a connection out of the pool, for statements outside a session.
    /// Dropped, it goes back to the pool; a transaction it leaves open or
    /// failed is rolled back before the pool lends it again (SQLAlchemy's
    /// reset on return).
    ///
    /// # Errors
    /// [`Error::PoolTimeout`](orm_core::Error::PoolTimeout) or a connection error.
    pub async fn connect(&self) -> Result<PgConnection> {
        self.state.clone().checkout().await
    }

    /// Creates the tables (and their indexes) that do not exist yet, parents
    /// before children, in one transaction.
    ///
    /// # Errors
    /// A database error, e.g. a foreign key to a table that is neither given
    /// nor present.
    pub async fn create_all(&self, tables: &[&'static TableMeta]) -> Result<()> {
        self.run_ddl(&dialect::create_all(tables)).await
    }

    /// Drops the tables that exist, children before parents, in one
    /// transaction.
    ///
    /// # Errors
    /// A database error, e.g. another table still references one of them.
    pub async fn drop_all(&self, tables: &[&'static TableMeta]) -> Result<()> {
        let mut statements: Vec<String> =
            sort_by_dependency(tables).into_iter().rev().map(dialect::drop_table).collect();
        statements.extend(dialect::drop_types(tables));
        self.run_ddl(&statements).await
    }

    /// Compares the models with the live database (its catalog, in two
    /// queries): tables, columns and their types (varchar length, numeric
    /// precision and scale, enum and array types), nullability, server
    /// defaults and identity keys, primary, foreign and unique keys, indexes,
    /// checks and enum labels. Cheap enough for every start-up:
    ///
    /// ```no_run
    /// # async fn demo(engine: orm_postgres::Engine, tables: &[&'static orm_core::TableMeta]) -> orm_core::Result<()> {
    /// engine.verify_schema(tables).await?.into_result()?; // or panic with its Display
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A connection or database error; differences are the report's, not
    /// errors.
    pub async fn verify_schema(&self, tables: &[&'static TableMeta]) -> Result<SchemaReport> {
        let mut conn = self.connect().await?;
        crate::schema::verify(&mut conn, tables).await
    }

    async fn run_ddl(&self, statements: &[String]) -> Result<()> {
        let mut conn = self.connect().await?;
        let script = format!("BEGIN;\n{};\nCOMMIT", statements.join(";\n"));
        let result = conn.batch_execute(&script).await;
        if result.is_err() && conn.batch_execute("ROLLBACK").await.is_err() {
            // The connection cannot be cleaned: close it rather than pool it.
            Box::new(conn).abandon();
        }
        result
    }

    /// The number of statements this engine's connections have sent, for
    /// tests that assert how many round trips an operation takes.
    pub fn statement_count(&self) -> u64 {
        self.state.statements.load(Ordering::Relaxed)
    }

    /// How many shapes of plain query (a model's rows, filtered, sorted
    /// and paged, without joins or a lock) this engine keeps the SQL text
    /// of, for tests and metrics: a query of a kept shape is neither built
    /// nor rendered again, only its values are bound.
    pub fn cached_query_texts(&self) -> usize {
        self.state.texts.query_shapes()
    }

    /// The pool's current state, for metrics: connections open, idle, the
    /// maximum, and checkouts waiting for a connection.
    pub fn pool_status(&self) -> PoolStatus {
        let status = self.state.pool.status();
        PoolStatus { open: status.size, idle: status.available, max: status.max_size, waiting: status.waiting }
    }
}

/// A snapshot of an engine's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open (idle or in use).
    pub open: usize,
    /// Connections idle in the pool.
    pub idle: usize,
    /// `pool_size + max_overflow`.
    pub max: usize,
    /// Checkouts waiting for a connection (all `max` are in use, or being
    /// opened).
    pub waiting: usize,
}
