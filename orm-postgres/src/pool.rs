//! Engine options -> a deadpool pool of deadpool-postgres connections with
//! SQLAlchemy's QueuePool meaning, and the connection settings (TLS,
//! timeouts, startup options, on-connect SQL) of each new connection.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_postgres::{ClientWrapper, HookError, Manager, ManagerConfig, RecyclingMethod, Runtime, Timeouts};
use orm_core::{Error, Result};
use rustc_hash::FxHashMap;
use tokio_postgres::config::Host;
use tokio_postgres::types::Type;
use tokio_postgres::Statement;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::tls::{self, RootCert, SslMode};
use crate::types::ColumnKind;
use crate::url::take_params;

/// Pool options, named and defaulted as SQLAlchemy's `create_engine` names them,
/// and the settings of each new connection.
#[derive(Debug, Clone)]
pub(crate) struct PoolOptions {
    /// Connections kept open while idle.
    pub(crate) pool_size: usize,
    /// Connections opened beyond `pool_size` under load, closed when returned.
    pub(crate) max_overflow: usize,
    /// How long a checkout waits for a free connection; also how long opening
    /// a connection may take when the URL has no `connect_timeout`.
    pub(crate) pool_timeout: Duration,
    /// Connections older than this are closed instead of reused.
    pub(crate) pool_recycle: Option<Duration>,
    /// Test each connection with a round trip before handing it out.
    pub(crate) pre_ping: bool,
    /// Statements slower than this are logged at WARN.
    pub(crate) slow_statement: Option<Duration>,
    /// Log parameter values with the statements (off: only their number).
    pub(crate) log_parameters: bool,
    /// SQL run on each new connection before its first use.
    pub(crate) on_connect: Vec<String>,
    /// The server's `statement_timeout` for each connection.
    pub(crate) statement_timeout: Option<Duration>,
    /// The `application_name` each connection reports.
    pub(crate) application_name: Option<String>,
    /// The root certificate to trust; overrides the URL's `sslrootcert`.
    pub(crate) root_cert: Option<RootCert>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            pool_size: 5,
            max_overflow: 10,
            pool_timeout: Duration::from_secs(30),
            pool_recycle: None,
            pre_ping: false,
            slow_statement: None,
            log_parameters: false,
            on_connect: Vec::new(),
            statement_timeout: None,
            application_name: None,
            root_cert: None,
        }
    }
}

/// When a connection is lost, the connections opened before it are not
/// reused (SQLAlchemy invalidates its pool the same way): whatever dropped
/// one (a restart, a failover, a killed backend) most likely dropped them
/// all, and without `pre_ping` each would otherwise fail once.
#[derive(Debug)]
pub(crate) struct Invalidation {
    epoch: Instant,
    /// Nanoseconds from `epoch` to the last lost connection; 0 for none.
    before: AtomicU64,
}

impl Invalidation {
    pub(crate) fn new() -> Self {
        Invalidation { epoch: Instant::now(), before: AtomicU64::new(0) }
    }

    /// Records that a connection was lost now.
    pub(crate) fn connection_lost(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1);
        self.before.fetch_max(now, Ordering::Relaxed);
    }

    /// Whether a connection opened at `created` predates the last loss.
    fn is_invalid(&self, created: Instant) -> bool {
        let before = self.before.load(Ordering::Relaxed);
        let created = u64::try_from(created.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        before != 0 && created < before
    }
}

/// The engine's pool.
pub(crate) type Pool = managed::Pool<PgManager>;

/// A connection checked out of the pool.
pub(crate) type Pooled = managed::Object<PgManager>;

/// A pooled connection: deadpool-postgres's client and the statements
/// prepared on it, by their text. Only the holder of the connection reaches
/// them, so finding one takes no lock, and the text is hashed with FxHash:
/// deadpool-postgres's own cache takes a lock and hashes with SipHash on
/// every call (see `docs/design/statements.md`, *Prepared statements*).
pub(crate) struct PooledClient {
    pub(crate) client: ClientWrapper,
    pub(crate) statements: FxHashMap<Box<str>, Arc<Prepared>>,
    /// A statement that may open a transaction ran on it while
    /// `Engine::connect` had lent it: its user may have left the
    /// transaction open or failed, and the next checkout ends it first
    /// ([`end_transaction`]). A session's connection never needs it: the
    /// session rolls back what it leaves open.
    pub(crate) may_be_in_transaction: bool,
}

/// A statement prepared on a connection, with what each run of it needs,
/// found once: the kind and type of each column (a `Vec` of them built
/// per query cost about 150 instructions), and how many rows it returned
/// the last time, so that a reader can make room for them at the first
/// row (see `RawRow::rows_hint`).
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) statement: Statement,
    pub(crate) columns: Box<[(ColumnKind, Type)]>,
    /// Only the holder of the connection runs it; atomic so that a
    /// statement's future, which borrows the entry, can write it.
    pub(crate) rows: AtomicUsize,
}

impl Prepared {
    pub(crate) fn new(statement: Statement) -> Self {
        let columns = statement.columns().iter().map(|c| (ColumnKind::of(c.type_()), c.type_().clone())).collect();
        Prepared { statement, columns, rows: AtomicUsize::new(0) }
    }
}

impl std::fmt::Debug for PooledClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledClient").field("statements", &self.statements.len()).finish_non_exhaustive()
    }
}

/// deadpool-postgres's manager, for connections that carry their prepared
/// statements; it does not reuse a connection older than `pool_recycle` or
/// opened before a connection was lost.
#[derive(Debug)]
pub(crate) struct PgManager {
    connections: Manager,
    max_age: Option<Duration>,
    invalidation: Arc<Invalidation>,
    /// Whether a checkout asks the server first (`pre_ping`).
    pre_ping: bool,
}

impl managed::Manager for PgManager {
    /// Boxed: deadpool's checkout holds the connection by value in several
    /// of its nested futures and moves it between them. With the 208-byte
    /// client inline its future was 1,168 bytes; with a box, 592.
    type Type = Box<PooledClient>;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> std::result::Result<Box<PooledClient>, tokio_postgres::Error> {
        let client = managed::Manager::create(&self.connections).await?;
        Ok(Box::new(PooledClient { client, statements: FxHashMap::default(), may_be_in_transaction: false }))
    }

    async fn recycle(&self, pooled: &mut Box<PooledClient>, metrics: &Metrics) -> RecycleResult<tokio_postgres::Error> {
        if self.max_age.is_some_and(|max_age| metrics.age() > max_age) {
            return Err(RecycleError::message("connection older than pool_recycle"));
        }
        if self.invalidation.is_invalid(metrics.created) {
            return Err(RecycleError::message("connection opened before a connection was lost"));
        }
        if std::mem::take(&mut pooled.may_be_in_transaction) {
            // Boxed, as the pre-ping below: rare, and every checkout's
            // future would carry it.
            Box::pin(end_transaction(&pooled.client)).await.map_err(RecycleError::Backend)?;
        }
        if !self.pre_ping {
            // deadpool-postgres's `Fast` check, made here: its recycle
            // future holds the pre-ping's query even when it sends none,
            // and made every checkout's future 576 bytes larger. For the
            // same reason the pre-ping's future is boxed below.
            if pooled.client.is_closed() {
                return Err(RecycleError::message("connection closed"));
            }
            return Ok(());
        }
        Box::pin(managed::Manager::recycle(&self.connections, &mut pooled.client, metrics)).await
    }

    fn detach(&self, pooled: &mut Box<PooledClient>) {
        managed::Manager::detach(&self.connections, &mut pooled.client);
    }
}

/// Ends the transaction a connection's last user may have left open or
/// failed. Outside a transaction a statement's own start is its
/// transaction's (`now()`); inside a failed one the query fails. Only then
/// is ROLLBACK sent: outside a transaction it draws a warning.
async fn end_transaction(client: &tokio_postgres::Client) -> std::result::Result<(), tokio_postgres::Error> {
    let status = client.simple_query("SELECT now() = statement_timestamp()").await;
    let outside = status.is_ok_and(|messages| {
        messages.iter().any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(row) if row.get(0) == Some("t")))
    });
    if !outside {
        client.batch_execute("ROLLBACK").await?;
    }
    Ok(())
}

/// A parsed connection string: the driver's configuration and the TLS
/// connector for its `sslmode`.
pub(crate) struct ConnectConfig {
    /// Everything but the TLS checks.
    pub(crate) config: tokio_postgres::Config,
    /// The connector doing the checks of `ssl_mode`.
    pub(crate) tls: MakeRustlsConnect,
    /// The URL's `sslmode` (default `prefer`, as libpq).
    pub(crate) ssl_mode: SslMode,
}

/// Parses a connection string, taking out `sslmode` and `sslrootcert`
/// (`root_cert`, when given, wins over the latter). Reads the root
/// certificate file; no network I/O.
///
/// # Errors
/// [`Error::Config`] for a string that does not parse, an unknown `sslmode`,
/// or a root certificate that is missing, unreadable or not PEM.
pub(crate) fn parse_url(url: &str, root_cert: Option<&RootCert>) -> Result<ConnectConfig> {
    let split = take_params(url, &["sslmode", "sslrootcert"]);
    let mut config = tokio_postgres::Config::from_str(&split.rest)
        .map_err(|e| Error::Config(format!("cannot parse database URL `{}`: {e}", redact(url))))?;
    let mut ssl_mode = SslMode::Prefer;
    let mut url_root_cert = None;
    for (key, value) in split.taken {
        match key.as_str() {
            "sslmode" => ssl_mode = SslMode::parse(&value)?,
            "sslrootcert" => url_root_cert = Some(RootCert::File(value.into())),
            _ => {}
        }
    }
    config.ssl_mode(ssl_mode.driver_mode());
    let tls = tls::connector(ssl_mode, root_cert.or(url_root_cert.as_ref()))?;
    Ok(ConnectConfig { config, tls, ssl_mode })
}

/// What a checkout error names: the server, its sslmode and the time limits.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `host:port` of each host tried, comma-separated; never credentials.
    pub(crate) server: String,
    /// The connection's sslmode.
    pub(crate) ssl_mode: SslMode,
    /// How long a checkout waits for a free connection.
    pub(crate) pool_timeout: Duration,
    /// How long opening a connection may take.
    pub(crate) connect_timeout: Duration,
    /// Which option set `connect_timeout`: `connect_timeout` or `pool_timeout`.
    pub(crate) connect_timeout_from: &'static str,
}

/// Parses the URL and builds the pool. Reads a root certificate file if one
/// is named; no network I/O.
pub(crate) fn build(url: &str, options: &PoolOptions, invalidation: Arc<Invalidation>) -> Result<(Pool, Target)> {
    let ConnectConfig { mut config, tls, ssl_mode } = parse_url(url, options.root_cert.as_ref())?;
    if options.pool_size == 0 {
        return Err(Error::Config("pool_size must be at least 1".into()));
    }
    apply_session_settings(&mut config, options);
    let target = Target::new(&config, ssl_mode, options);
    let recycling_method = if options.pre_ping { RecyclingMethod::Verified } else { RecyclingMethod::Fast };
    let manager = PgManager {
        connections: Manager::from_config(config, tls, ManagerConfig { recycling_method }),
        max_age: options.pool_recycle,
        invalidation,
        pre_ping: options.pre_ping,
    };
    let timeouts = Timeouts {
        wait: Some(options.pool_timeout),
        create: Some(target.connect_timeout),
        // Only a pre-ping can wait on the server while recycling.
        recycle: options.pre_ping.then_some(target.connect_timeout),
    };
    let mut builder = Pool::builder(manager)
        .max_size(options.pool_size + options.max_overflow)
        .timeouts(timeouts)
        .runtime(Runtime::Tokio1);
    if !options.on_connect.is_empty() {
        builder = builder.post_create(on_connect_hook(options.on_connect.join(";\n"), &target));
    }
    let pool = builder.build().map_err(|e| Error::Config(format!("cannot build the connection pool: {e}")))?;
    Ok((pool, target))
}

/// Sends `application_name` and `statement_timeout` as startup parameters,
/// so they cost no round trip.
fn apply_session_settings(config: &mut tokio_postgres::Config, options: &PoolOptions) {
    if let Some(name) = &options.application_name {
        config.application_name(name);
    }
    if let Some(timeout) = options.statement_timeout {
        // PostgreSQL counts in milliseconds; 0 would mean "no timeout".
        let millis = timeout.as_millis().max(u128::from(!timeout.is_zero()));
        let setting = format!("-c statement_timeout={millis}");
        let options = match config.get_options() {
            Some(existing) if !existing.trim().is_empty() => format!("{existing} {setting}"),
            _ => setting,
        };
        config.options(&options);
    }
}

/// Runs the on-connect SQL on each new connection, within the connect
/// timeout (the create timeout of the pool does not cover hooks).
fn on_connect_hook(sql: String, target: &Target) -> managed::Hook<PgManager> {
    let sql = Arc::new(sql);
    let limit = target.connect_timeout;
    managed::Hook::async_fn(move |pooled: &mut Box<PooledClient>, _| {
        let sql = sql.clone();
        Box::pin(async move {
            match tokio::time::timeout(limit, pooled.client.batch_execute(&sql)).await {
                Ok(result) => result.map_err(HookError::Backend),
                Err(_) => Err(HookError::message(format!("the on_connect SQL did not finish within {limit:?}"))),
            }
        })
    })
}

impl Target {
    /// The URL's `connect_timeout` bounds opening a connection (all of it:
    /// tokio-postgres applies it to the TCP connect only); without one,
    /// `pool_timeout` does.
    fn new(config: &tokio_postgres::Config, ssl_mode: SslMode, options: &PoolOptions) -> Target {
        let (connect_timeout, connect_timeout_from) = match config.get_connect_timeout() {
            Some(timeout) => (*timeout, "connect_timeout"),
            None => (options.pool_timeout, "pool_timeout"),
        };
        Target {
            server: server_name(config),
            ssl_mode,
            pool_timeout: options.pool_timeout,
            connect_timeout,
            connect_timeout_from,
        }
    }
}

/// `host:port` of each host of `config`, as tokio-postgres pairs them (one
/// port for all, or one each); `hostaddr` when there is no host.
fn server_name(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = if config.get_hosts().is_empty() {
        config.get_hostaddrs().iter().map(ToString::to_string).collect()
    } else {
        config
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            })
            .collect()
    };
    let ports = config.get_ports();
    hosts
        .iter()
        .enumerate()
        .map(|(i, host)| match ports.get(i).or(ports.first()) {
            Some(port) => format!("{host}:{port}"),
            None => format!("{host}:5432"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Hides the password of a URL (or of a `key=value` connection string) for
/// messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &credentials[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ if url.contains("password=") => url
            .split_whitespace()
            .map(|pair| if pair.starts_with("password=") { "password=***" } else { pair })
            .collect::<Vec<_>>()
            .join(" "),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("host=h password=secret user=u"), "host=h password=*** user=u");
    }

    #[test]
    fn connections_opened_before_a_loss_are_invalid() {
        let invalidation = Invalidation::new();
        let old = Instant::now();
        assert!(!invalidation.is_invalid(old), "nothing was lost yet");
        std::thread::sleep(Duration::from_millis(1));
        invalidation.connection_lost();
        std::thread::sleep(Duration::from_millis(1));
        assert!(invalidation.is_invalid(old));
        assert!(!invalidation.is_invalid(Instant::now()));
    }

    #[test]
    fn bad_url_is_a_config_error() {
        let err =
            build("postgres://h:notaport/db", &PoolOptions::default(), Arc::new(Invalidation::new())).unwrap_err();
        assert!(matches!(err, Error::Config(ref m) if m.contains("cannot parse database URL")), "{err}");
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_the_url() {
        let parsed = parse_url("postgres://u:secret@h/db?sslmode=verify-ca&sslrootcert=/none/ca.pem", None);
        let err = parsed.err().expect("the root certificate file is read");
        assert!(matches!(err, Error::Config(ref m) if m.contains("`/none/ca.pem`")), "{err}");
        let parsed = parse_url("postgres://h/db?sslmode=require&application_name=app", None).unwrap();
        assert_eq!(parsed.ssl_mode, SslMode::Require);
        assert_eq!(parsed.config.get_ssl_mode(), tokio_postgres::config::SslMode::Require);
        assert_eq!(parsed.config.get_application_name(), Some("app"));
        let parsed = parse_url("host=h dbname=db", None).unwrap();
        assert_eq!(parsed.ssl_mode, SslMode::Prefer);
        let err = parse_url("postgres://u:secret@h/db?sslmode=allow", None).err().expect("an error");
        assert!(matches!(err, Error::Config(ref m) if m.contains("unknown sslmode")), "{err}");
    }

    #[test]
    fn session_settings_are_startup_options() {
        let options = PoolOptions {
            statement_timeout: Some(Duration::from_micros(1500)),
            application_name: Some("billing".into()),
            ..PoolOptions::default()
        };
        let mut config = tokio_postgres::Config::from_str("postgres://h/db?options=-c%20work_mem%3D8MB").unwrap();
        apply_session_settings(&mut config, &options);
        assert_eq!(config.get_options(), Some("-c work_mem=8MB -c statement_timeout=1"));
        assert_eq!(config.get_application_name(), Some("billing"));
    }

    #[test]
    fn the_connect_timeout_comes_from_the_url_else_pool_timeout() {
        let options = PoolOptions { pool_timeout: Duration::from_secs(7), ..PoolOptions::default() };
        let config = tokio_postgres::Config::from_str("postgres://a,b:6000/db?connect_timeout=3").unwrap();
        let target = Target::new(&config, SslMode::Prefer, &options);
        assert_eq!((target.connect_timeout, target.connect_timeout_from), (Duration::from_secs(3), "connect_timeout"));
        assert_eq!(target.server, "a:5432,b:6000");
        let config = tokio_postgres::Config::from_str("host=/run/pg port=5433").unwrap();
        let target = Target::new(&config, SslMode::Prefer, &options);
        assert_eq!((target.connect_timeout, target.connect_timeout_from), (Duration::from_secs(7), "pool_timeout"));
        assert_eq!(target.server, "/run/pg:5433");
    }
}
