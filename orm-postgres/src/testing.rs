//! A test harness: a reachable PostgreSQL server, and an empty database per
//! test, which is emptied afterwards for the next test of the process.
//!
//! The server comes from `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When nothing answers there
//! and PostgreSQL's binaries (`initdb`, `pg_ctl`) are installed, the harness
//! starts a *throwaway cluster* instead: a data directory under the system
//! temporary directory (`/tmp/orm-throwaway-pg` on Linux), listening on
//! `127.0.0.1` only, port 54329 or a free one. Later test runs reuse it; it is
//! left running after the tests. Stop and remove it with
//! `pg_ctl -D /tmp/orm-throwaway-pg/data stop && rm -rf /tmp/orm-throwaway-pg`
//! (as the `postgres` user when the tests ran as root). With neither a server
//! nor the binaries, [`server_url`] and [`TestDb::new`] fail with a message
//! that says how to get a server; a test is never skipped silently.
//!
//! A test that needs server settings of its own (TLS certificates, a
//! `pg_hba.conf` that refuses plain connections) starts a [`TempCluster`].
//!
//! ```no_run
//! # async fn demo() -> orm_core::Result<()> {
//! use orm_postgres::testing::TestDb;
//!
//! let db = TestDb::new().await?; // CREATE DATABASE orm_test_…, or a spare
//! let mut session = db.engine().session();
//! // … the test; other tests never see its rows …
//! drop(db); // its sessions ended, emptied, kept for the next TestDb
//! # Ok(()) }
//! ```

use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use orm_core::error::error_chain;
use orm_core::{Error, Result, TableMeta};
use tokio_postgres::Client;

use crate::error::from_pg;
use crate::pool::{self, redact, ConnectConfig};
use crate::Engine;

mod cluster;
mod spare;
mod template;

pub use cluster::TempCluster;

/// The server used when `DATABASE_URL` is not set.
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// How long a connection attempt may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The port a throwaway cluster prefers.
const THROWAWAY_PORT: u16 = 54329;
/// Connections a [`TestDb`]'s engine keeps open while idle.
const TEST_POOL_SIZE: usize = 4;
/// SQLSTATE `duplicate_database`.
const DUPLICATE_DATABASE: &str = "42P04";
/// SQLSTATE `object_in_use` (e.g. the template database is busy).
const OBJECT_IN_USE: &str = "55006";
/// SQLSTATE `cannot_connect_now` (the server is starting up or shutting down).
const CANNOT_CONNECT_NOW: &str = "57P03";

/// The URL of the server tests use: `DATABASE_URL` when it is set and not
/// empty, else `postgres://postgres@127.0.0.1:5432/postgres`.
///
/// ```
/// let url = orm_postgres::testing::database_url();
/// assert!(url.contains("://") || url.contains('='));
/// ```
pub fn database_url() -> String {
    database_url_from(std::env::var_os("DATABASE_URL"))
}

fn database_url_from(value: Option<OsString>) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_string_lossy().into_owned(),
        _ => DEFAULT_DATABASE_URL.to_owned(),
    }
}

/// The URL of a reachable PostgreSQL server.
///
/// [`database_url`] if a connection to it succeeds. If nothing answers there
/// and PostgreSQL's binaries are installed (`initdb` and `pg_ctl` in `PATH`
/// or `/usr/lib/postgresql/<version>/bin`, newest version first), starts a
/// throwaway cluster (or reuses the one already running, see the
/// [module docs](self)) and returns its URL. The answer is remembered for the
/// rest of the process.
///
/// # Errors
/// [`Error::Config`] when `DATABASE_URL` does not parse, when the server
/// answers but refuses the connection (wrong user, password or database), or
/// when no server is reachable and none can be started; the message names the
/// URL tried and says how to get a server.
pub async fn server_url() -> Result<String> {
    static REACHABLE: OnceLock<String> = OnceLock::new();
    if let Some(url) = REACHABLE.get() {
        return Ok(url.clone());
    }
    let configured = database_url();
    let url = match probe_patiently(&configured).await? {
        Probe::Reachable => configured,
        Probe::Refused { code, message } => return Err(Error::Config(refused_message(&configured, &code, &message))),
        Probe::Unreachable(why) => match find_bin_dir(std::env::var_os("PATH").as_deref(), &version_roots()) {
            None => return Err(Error::Config(no_server_message(&configured, &why, None))),
            Some(bin) => match throwaway_cluster(&bin).await {
                Ok(url) => url,
                Err(failure) => {
                    let failure = format!("starting a throwaway cluster with {} failed: {failure}", bin.display());
                    return Err(Error::Config(no_server_message(&configured, &why, Some(&failure))));
                }
            },
        },
    };
    Ok(REACHABLE.get_or_init(|| url).clone())
}

/// A fresh, uniquely named database for one test, and an [`Engine`] bound to
/// it.
///
/// [`TestDb::new`] runs `CREATE DATABASE orm_test_<pid>_<counter>_<stamp>` on
/// the server of [`server_url`], or takes a spare: the database of a
/// `TestDb` this process dropped. Dropping a `TestDb` ends the sessions still
/// on its database and empties it (every schema, extension, large object and
/// database setting the test made; `public` is made again as a new database
/// has it), then keeps it, renamed `orm_spare_<pid>_<n>`, for the next
/// `TestDb`; a database that cannot be emptied is dropped, and so is every
/// one where there is no `/proc` or the server's `template1` holds objects
/// of its own (see the `spare` module). An empty database
/// costs a few milliseconds where `CREATE DATABASE` costs 0.2–0.5 s. So tests
/// run in parallel and never see each other's rows. The spares of a process
/// are left on the server when it ends, and the next process to take a spare
/// drops them (where `/proc` tells that their process has ended).
///
/// ```no_run
/// # async fn demo() -> orm_core::Result<()> {
/// let db = orm_postgres::testing::TestDb::new().await?;
/// assert!(db.name().starts_with("orm_test_"));
/// let mut conn = db.engine().connect().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TestDb {
    engine: Engine,
    server_url: String,
    url: String,
    name: String,
}

impl TestDb {
    /// Creates the database and an engine for it (`pool_size` 4).
    ///
    /// # Errors
    /// As [`server_url`], or the database error of `CREATE DATABASE` (e.g.
    /// the user lacks the `CREATEDB` privilege).
    pub async fn new() -> Result<TestDb> {
        TestDb::create(server_url().await?, &[]).await
    }

    /// Creates a database holding the (empty) tables of `tables` and their
    /// enum types, cloned with `CREATE DATABASE .. TEMPLATE` from a template
    /// database made once for this set of tables (and kept on the server
    /// for later runs: its name carries a hash of the DDL, so a changed model
    /// gets a new template). A spare, and a database made before the
    /// process has read how a new one starts (its first), get the tables
    /// from their DDL instead. What `#[orm::test(Model, ..)]` calls.
    ///
    /// # Errors
    /// As [`TestDb::new`], or a DDL error while making the template.
    pub async fn with_tables(tables: &[&'static TableMeta]) -> Result<TestDb> {
        TestDb::create(server_url().await?, tables).await
    }

    /// A spare database of this process (see [`spare`]) with `tables`
    /// made in it, else a new one: from `template1` until one has been
    /// read by [`spare::note_fresh`] (the process's first, and any made
    /// while it was read), then given `tables`; later ones cloned from the
    /// template of `tables` when there are any. And an engine for it.
    async fn create(server_url: String, tables: &[&'static TableMeta]) -> Result<TestDb> {
        let admin = connect(&server_url).await?;
        let (name, needs_tables) = match spare::take(&admin).await {
            Some(name) => (name, true),
            None if tables.is_empty() || spare::fresh_unread() => {
                let name = create_database(&admin, None).await?;
                spare::note_fresh(&with_database(&server_url, &name)).await;
                (name, true)
            }
            None => {
                let template = template::ensure(&server_url, tables).await?;
                (create_database(&admin, Some(&template)).await?, false)
            }
        };
        if needs_tables && !tables.is_empty() {
            let made =
                template::create_tables(&with_database(&server_url, &name), &crate::dialect::create_all(tables)).await;
            if let Err(e) = made {
                let _ = drop_database(&server_url, &name).await;
                return Err(e);
            }
        }
        drop(admin);
        let url = with_database(&server_url, &name);
        match Engine::builder(&url).pool_size(TEST_POOL_SIZE).build() {
            Ok(engine) => Ok(TestDb { engine, server_url, url, name }),
            Err(e) => {
                // Best effort: the database would otherwise be left behind.
                let _ = drop_database(&server_url, &name).await;
                Err(e)
            }
        }
    }

    /// The engine bound to the test database.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The URL of the test database, for a second engine or a raw
    /// tokio-postgres connection.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The name of the test database.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `CREATE DATABASE` of a unique name, from `template` if given; returns
/// the name.
async fn create_database(admin: &Client, template: Option<&str>) -> Result<String> {
    let from = template.map(|t| format!(" TEMPLATE {}", quote_ident(t))).unwrap_or_default();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let name = unique_name();
        match admin.batch_execute(&format!("CREATE DATABASE {}{from}", quote_ident(&name))).await {
            Ok(()) => return Ok(name),
            Err(e) if attempt < 10 => match e.code().map(|c| c.code()) {
                Some(DUPLICATE_DATABASE) => continue,
                Some(OBJECT_IN_USE) => tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await,
                _ => return Err(from_pg(e)),
            },
            Err(e) => return Err(from_pg(e)),
        }
    }
}

impl Drop for TestDb {
    /// Ends the sessions still on the database and empties it for the next
    /// `TestDb` of this process (see [`spare`]), or drops it when it cannot
    /// be emptied. `Drop` cannot be async and may run inside a runtime, so
    /// this blocks on a short-lived thread with its own runtime. Failures
    /// are printed to stderr, never raised.
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        let spawned = std::thread::Builder::new().name("orm-testdb-drop".into()).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))?;
            runtime.block_on(async {
                let keep_or_drop = async {
                    if spare::keep(&server_url, &name).await.is_err() {
                        drop_database(&server_url, &name).await?;
                    }
                    Ok::<(), Error>(())
                };
                match tokio::time::timeout(Duration::from_secs(30), keep_or_drop).await {
                    Ok(result) => result.map_err(|e| error_chain(&e)),
                    Err(_) => Err("timed out after 30s".to_owned()),
                }
            })
        });
        let outcome = match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|_| Err("the dropping thread panicked".to_owned())),
            Err(e) => Err(format!("cannot spawn a thread: {e}")),
        };
        if let Err(why) = outcome {
            eprintln!("warning: could not drop test database `{}`: {why}", self.name);
        }
    }
}

/// Returns the URL of database `name` on the server of [`server_url`],
/// creating the database if it does not exist: examples use a database of
/// their own, so they never touch tables of the default database.
///
/// # Errors
/// As [`server_url`], or the database error of `CREATE DATABASE`.
pub async fn example_database(name: &str) -> Result<String> {
    let server_url = server_url().await?;
    let admin = connect(&server_url).await?;
    let exists =
        admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await.map_err(from_pg)?.is_some();
    if !exists {
        match admin.batch_execute(&format!("CREATE DATABASE {}", quote_ident(name))).await {
            // Another process created it meanwhile.
            Err(e) if e.code().map(|c| c.code()) == Some(DUPLICATE_DATABASE) => {}
            other => other.map_err(from_pg)?,
        }
    }
    Ok(with_database(&server_url, name))
}

/// Connects for administrative statements; the connection lives on a task of
/// the current runtime until the client is dropped.
async fn connect(url: &str) -> Result<Client> {
    let ConnectConfig { mut config, tls, .. } = parse_url(url)?;
    config.connect_timeout(CONNECT_TIMEOUT);
    let (client, connection) = config.connect(tls).await.map_err(from_pg)?;
    tokio::spawn(connection);
    Ok(client)
}

async fn drop_database(server_url: &str, name: &str) -> Result<()> {
    let admin = connect(server_url).await?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))).await.map_err(from_pg)
}

/// The URL as the engine reads it (`sslmode`, `sslrootcert` included).
fn parse_url(url: &str) -> Result<ConnectConfig> {
    pool::parse_url(url, None)
}

/// The outcome of one connection attempt.
#[derive(Debug)]
enum Probe {
    /// Connected and authenticated.
    Reachable,
    /// The server answered with an error (authentication, unknown database, …).
    Refused { code: String, message: String },
    /// Nothing answered, or not in time.
    Unreachable(String),
}

/// Tries a real connection (not just TCP), bounded by [`CONNECT_TIMEOUT`].
async fn probe(url: &str) -> Result<Probe> {
    let ConnectConfig { mut config, tls, .. } = parse_url(url)?;
    config.connect_timeout(CONNECT_TIMEOUT);
    let attempt = tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_secs(2), config.connect(tls)).await;
    Ok(match attempt {
        Err(_) => Probe::Unreachable(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs() + 2)),
        Ok(Err(e)) => match e.as_db_error() {
            Some(db) => Probe::Refused { code: db.code().code().to_owned(), message: db.message().to_owned() },
            None => Probe::Unreachable(error_chain(&e)),
        },
        Ok(Ok((client, connection))) => {
            // Dropping the client makes the connection say goodbye and end.
            let task = tokio::spawn(connection);
            drop(client);
            let _ = task.await;
            Probe::Reachable
        }
    })
}

/// As [`probe`], but waits up to 15 s for a server that is starting up.
async fn probe_patiently(url: &str) -> Result<Probe> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match probe(url).await? {
            Probe::Refused { code, .. } if code == CANNOT_CONNECT_NOW && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            other => return Ok(other),
        }
    }
}

/// `orm_test_<pid>_<counter>_<stamp>`: unique within the process through the
/// counter, across runs (a reused pid) through the time stamp.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
    format!("orm_test_{}_{n}_{stamp:08x}", std::process::id())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The URL of database `name` on the server of `url`, for both URL forms
/// tokio-postgres accepts: `postgres://…/db?opts` and `key=value` pairs.
fn with_database(url: &str, name: &str) -> String {
    let authority_start = match url.find("://") {
        Some(i) if url[..i].eq_ignore_ascii_case("postgres") || url[..i].eq_ignore_ascii_case("postgresql") => i + 3,
        _ => return format!("{url} dbname={name}"),
    };
    let (base, query) = match url[authority_start..].find('?') {
        Some(q) => url.split_at(authority_start + q),
        None => (url, ""),
    };
    let authority_end = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    format!("{}/{name}{query}", &base[..authority_end])
}

fn refused_message(url: &str, code: &str, message: &str) -> String {
    format!(
        "the PostgreSQL server at {} answered but refused the connection ({code}: {message}); \
         fix the user, password or database in DATABASE_URL, or the server's pg_hba.conf",
        redact(url)
    )
}

fn no_server_message(url: &str, why: &str, failure: Option<&str>) -> String {
    let mut message = format!("no PostgreSQL server reachable at {} ({why})", redact(url));
    if let Some(failure) = failure {
        message.push_str("; ");
        message.push_str(failure);
    }
    message.push_str(&format!(
        ". To run the tests against PostgreSQL, either\n  \
         - set DATABASE_URL to a running server (postgres://user:password@host:port/database), or\n  \
         - run `docker compose up -d` in the repository root (docker-compose.yml starts PostgreSQL on \
         127.0.0.1:5432), or\n  \
         - install PostgreSQL (initdb and pg_ctl in PATH or /usr/lib/postgresql/<version>/bin): the tests then \
         start a throwaway cluster in {}",
        throwaway_dir().display()
    ));
    message
}

// ---------------------------------------------------------------------------
// The throwaway cluster.
// ---------------------------------------------------------------------------

/// `<tmp>/orm-throwaway-pg`: `data/` (the cluster, also its socket directory),
/// `port`, `log`, and `init.lock` while a process sets the cluster up.
fn throwaway_dir() -> PathBuf {
    std::env::temp_dir().join("orm-throwaway-pg")
}

fn throwaway_url(port: u16) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

fn version_roots() -> Vec<PathBuf> {
    vec![PathBuf::from("/usr/lib/postgresql")]
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

fn has_pg_binaries(dir: &Path) -> bool {
    dir.join(exe("initdb")).is_file() && dir.join(exe("pg_ctl")).is_file()
}

/// The first directory of `path` holding `initdb` and `pg_ctl`, else the
/// newest `<root>/<version>/bin` holding them.
fn find_bin_dir(path: Option<&OsStr>, version_roots: &[PathBuf]) -> Option<PathBuf> {
    if let Some(dir) = path.into_iter().flat_map(std::env::split_paths).find(|d| has_pg_binaries(d)) {
        return Some(dir);
    }
    for root in version_roots {
        let Ok(entries) = fs::read_dir(root) else { continue };
        let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| Some((parse_version(entry.file_name().to_str()?)?, entry.path().join("bin"))))
            .filter(|(_, bin)| has_pg_binaries(bin))
            .collect();
        versions.sort_by(|a, b| b.0.cmp(&a.0));
        if let Some((_, bin)) = versions.into_iter().next() {
            return Some(bin);
        }
    }
    None
}

/// `"15"` -> `[15]`, `"9.6"` -> `[9, 6]`; anything else -> `None`.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// Starts (or finds running) the throwaway cluster and returns its URL.
/// Errors are plain text, for [`no_server_message`].
async fn throwaway_cluster(bin: &Path) -> std::result::Result<String, String> {
    let dir = throwaway_dir();
    if let Some(url) = running_throwaway(&dir).await? {
        return Ok(url);
    }
    let as_postgres = blocking(running_as_root).await?;
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if as_postgres {
        let dir = dir.clone();
        blocking(move || chown_to_postgres(&dir)).await?;
    }
    let _lock = match lock(&dir).await? {
        Lock::Held(guard) => guard,
        Lock::StartedByOther(url) => return Ok(url),
    };
    // Another process may have finished while this one waited for the lock.
    if let Some(url) = running_throwaway(&dir).await? {
        return Ok(url);
    }
    let bin = bin.to_owned();
    let port = blocking(move || start_cluster(&bin, &dir, as_postgres)).await?;
    let url = throwaway_url(port);
    match wait_reachable(&url, Duration::from_secs(30)).await? {
        true => Ok(url),
        false => Err(format!("the cluster started but {url} does not accept connections")),
    }
}

/// The URL of the throwaway cluster if it is running and answers.
async fn running_throwaway(dir: &Path) -> std::result::Result<Option<String>, String> {
    let Some(port) = read_port(dir) else { return Ok(None) };
    let url = throwaway_url(port);
    Ok(wait_reachable(&url, Duration::ZERO).await?.then_some(url))
}

/// Whether `url` accepts connections, retrying until `patience` is spent
/// while the server is starting up or not listening yet.
async fn wait_reachable(url: &str, patience: Duration) -> std::result::Result<bool, String> {
    let deadline = Instant::now() + patience;
    loop {
        match probe(url).await.map_err(|e| e.to_string())? {
            Probe::Reachable => return Ok(true),
            Probe::Refused { code, message } if code != CANNOT_CONNECT_NOW => {
                return Err(format!("{url} refused the connection ({code}: {message})"));
            }
            _ if Instant::now() >= deadline => return Ok(false),
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

fn read_port(dir: &Path) -> Option<u16> {
    fs::read_to_string(dir.join("port")).ok()?.trim().parse().ok()
}

enum Lock {
    Held(LockGuard),
    StartedByOther(String),
}

/// Removes the lock file when initialisation ends, successfully or not.
struct LockGuard(PathBuf);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Takes `init.lock` (created with `create_new`, holding the pid), or waits
/// until its holder has started the cluster. A lock whose holder is gone (or
/// older than two minutes) is stale and removed.
async fn lock(dir: &Path) -> std::result::Result<Lock, String> {
    let path = dir.join("init.lock");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                let guard = LockGuard(path.clone());
                let _ = write!(file, "{}", std::process::id());
                return Ok(Lock::Held(guard));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if let Some(url) = running_throwaway(dir).await? {
                    return Ok(Lock::StartedByOther(url));
                }
                if lock_is_stale(&path) {
                    let _ = fs::remove_file(&path);
                    continue;
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "gave up waiting for another process to start the cluster (remove {} if no test is running)",
                        path.display()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
        }
    }
}

fn lock_is_stale(path: &Path) -> bool {
    let too_old = fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|age| age > Duration::from_secs(120));
    // Where /proc exists, a lock whose process is gone is stale at once.
    let holder_gone = Path::new("/proc/self").exists()
        && fs::read_to_string(path)
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .is_some_and(|pid| !Path::new("/proc").join(pid.to_string()).exists());
    too_old || holder_gone
}

/// Under the lock: `initdb` if needed, then `pg_ctl start`. Returns the port.
fn start_cluster(bin: &Path, dir: &Path, as_postgres: bool) -> std::result::Result<u16, String> {
    let data = dir.join("data");
    let pg_ctl = bin.join(exe("pg_ctl"));
    if !data.join("PG_VERSION").is_file() {
        if data.exists() {
            // Left over from an initdb that did not finish.
            fs::remove_dir_all(&data).map_err(|e| format!("cannot remove {}: {e}", data.display()))?;
        }
        initdb(bin, &data, dir, as_postgres)?;
    } else {
        // A postmaster that runs but did not answer on the recorded port (a
        // different port, or stuck): stop it and start it afresh.
        let status = output(&pg_ctl, &["status".into(), "-D".into(), data.clone().into_os_string()], dir, as_postgres)?;
        if status.status.success() {
            let stop = ["stop".into(), "-D".into(), data.clone().into_os_string(), "-m".into(), "fast".into()];
            run(&pg_ctl, &stop, dir, as_postgres)?;
        }
    }
    let port = choose_port(read_port(dir))?;
    fs::write(dir.join("port"), port.to_string())
        .map_err(|e| format!("cannot write {}: {e}", dir.join("port").display()))?;
    pg_ctl_start(bin, &data, port, &[], dir, as_postgres)?;
    Ok(port)
}

/// `initdb` of a cluster with trust authentication and the `postgres` user.
fn initdb(bin: &Path, data: &Path, dir: &Path, as_postgres: bool) -> std::result::Result<(), String> {
    let args = [
        OsString::from("-D"),
        data.into(),
        "-U".into(),
        "postgres".into(),
        "--auth=trust".into(),
        "--encoding=UTF8".into(),
        "--locale=C".into(),
        "--no-sync".into(),
    ];
    run(&bin.join(exe("initdb")), &args, dir, as_postgres)
}

/// `pg_ctl start` on 127.0.0.1:`port` (the socket in the data directory),
/// with `settings` as `-c name=value`, logging to `dir/log`; waits until
/// the server runs.
fn pg_ctl_start(
    bin: &Path,
    data: &Path,
    port: u16,
    settings: &[(&str, &str)],
    dir: &Path,
    as_postgres: bool,
) -> std::result::Result<(), String> {
    let log = dir.join("log");
    let mut options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", sh_quote(&data.to_string_lossy()));
    for (name, value) in settings {
        options.push_str(&format!(" -c {}", sh_quote(&format!("{name}={value}"))));
    }
    let args = [
        OsString::from("-D"),
        data.into(),
        "-o".into(),
        options.into(),
        "-l".into(),
        log.clone().into_os_string(),
        "-w".into(),
        "-t".into(),
        "60".into(),
        "start".into(),
    ];
    run(&bin.join(exe("pg_ctl")), &args, dir, as_postgres).map_err(|e| format!("{e}\n{}", log_tail(&log)))
}

/// The previous port or 54329 if free, else one the system picks.
fn choose_port(previous: Option<u16>) -> std::result::Result<u16, String> {
    for port in previous.into_iter().chain([THROWAWAY_PORT]) {
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
}

fn log_tail(log: &Path) -> String {
    match fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            format!("last lines of {}:\n{}", log.display(), lines[lines.len().saturating_sub(15)..].join("\n"))
        }
        Err(e) => format!("(cannot read {}: {e})", log.display()),
    }
}

/// Runs `program`; a non-zero exit is an error carrying its output.
fn run(program: &Path, args: &[OsString], dir: &Path, as_postgres: bool) -> std::result::Result<(), String> {
    let out = output(program, args, dir, as_postgres)?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{}` failed ({}): {}{}",
        command_line(program, args),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim(),
        String::from_utf8_lossy(&out.stdout).trim()
    ))
}

/// Runs `program` in `dir` with no stdin, as the `postgres` user when
/// `as_postgres` (initdb and postgres refuse to run as root).
fn output(program: &Path, args: &[OsString], dir: &Path, as_postgres: bool) -> std::result::Result<Output, String> {
    let mut command = if !as_postgres {
        let mut c = Command::new(program);
        c.args(args);
        c
    } else if let Some(runuser) = find_program("runuser", &["/usr/sbin/runuser", "/sbin/runuser"]) {
        let mut c = Command::new(runuser);
        c.args(["-u", "postgres", "--"]).arg(program).args(args);
        c
    } else {
        let mut c = Command::new("su");
        c.args(["-s", "/bin/sh", "postgres", "-c"]).arg(command_line(program, args));
        c
    };
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", command_line(program, args)))
}

fn find_program(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .chain(fallbacks.iter().map(PathBuf::from))
        .find(|candidate| candidate.is_file())
}

/// The command as a shell would need it.
fn command_line(program: &Path, args: &[OsString]) -> String {
    std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(|arg| sh_quote(&arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn sh_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Whether the effective user is root.
fn running_as_root() -> std::result::Result<bool, String> {
    if !cfg!(unix) {
        return Ok(false);
    }
    Ok(user_id(None)? == 0)
}

/// `id -u [user]`.
fn user_id(user: Option<&str>) -> std::result::Result<u32, String> {
    let out = Command::new("id")
        .arg("-u")
        .args(user)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `id -u`: {e}"))?;
    if !out.status.success() {
        return Err(match user {
            Some(user) => format!(
                "running as root, and initdb refuses to run as root, but there is no `{user}` user to run it as"
            ),
            None => format!("`id -u` failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|e| format!("unexpected output of `id -u`: {e}"))
}

#[cfg(unix)]
fn chown_to_postgres(dir: &Path) -> std::result::Result<(), String> {
    let uid = user_id(Some("postgres"))?;
    std::os::unix::fs::chown(dir, Some(uid), None)
        .map_err(|e| format!("cannot chown {} to postgres: {e}", dir.display()))
}

#[cfg(not(unix))]
fn chown_to_postgres(_dir: &Path) -> std::result::Result<(), String> {
    Ok(())
}

/// Runs blocking work (processes, files) off the runtime's threads.
async fn blocking<T, F>(work: F) -> std::result::Result<T, String>
where
    F: FnOnce() -> std::result::Result<T, String> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| format!("a blocking task failed: {e}"))?
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn database_url_defaults_when_unset_or_empty() {
        assert_eq!(database_url_from(None), "postgres://postgres@127.0.0.1:5432/postgres");
        assert_eq!(database_url_from(Some(OsString::new())), DEFAULT_DATABASE_URL);
        assert_eq!(database_url_from(Some("postgres://u@db:6543/app".into())), "postgres://u@db:6543/app");
    }

    #[test]
    fn test_database_url_replaces_the_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "t1"),
            "postgresql://u:p@h/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h:5432", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(with_database("postgres://u@h?connect_timeout=3", "t1"), "postgres://u@h/t1?connect_timeout=3");
        assert_eq!(
            with_database("host=localhost user=postgres dbname=x", "t1"),
            "host=localhost user=postgres dbname=x dbname=t1"
        );
    }

    #[test]
    fn test_database_urls_parse_with_the_new_name() {
        for url in
            ["postgres://postgres@127.0.0.1:5432/postgres", "postgres://u@h?application_name=a", "host=h dbname=x"]
        {
            let config = tokio_postgres::Config::from_str(&with_database(url, "orm_test_1_2_3")).unwrap();
            assert_eq!(config.get_dbname(), Some("orm_test_1_2_3"), "{url}");
        }
    }

    #[test]
    fn names_are_unique_identifiers() {
        let (a, b) = (unique_name(), unique_name());
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("orm_test_{}_", std::process::id())), "{a}");
        assert!(a.len() <= 63, "{a}");
        assert!(a.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{a}");
        assert_eq!(quote_ident(&a), format!("\"{a}\""));
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn no_server_message_says_how_to_get_one() {
        let message = no_server_message("postgres://me:secret@127.0.0.1:59999/postgres", "connection refused", None);
        assert!(message.contains("postgres://me:***@127.0.0.1:59999/postgres"), "{message}");
        assert!(!message.contains("secret"), "{message}");
        assert!(message.contains("connection refused"), "{message}");
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert!(message.contains("docker compose up -d"), "{message}");
        assert!(message.contains("install PostgreSQL"), "{message}");
        assert!(message.contains("orm-throwaway-pg"), "{message}");

        let message = no_server_message(DEFAULT_DATABASE_URL, "refused", Some("initdb failed: disk full"));
        assert!(message.contains("initdb failed: disk full"), "{message}");
    }

    #[test]
    fn refused_message_names_the_server() {
        let message = refused_message("postgres://u:pw@h/db", "28P01", "password authentication failed");
        assert!(message.contains("postgres://u:***@h/db"), "{message}");
        assert!(message.contains("28P01: password authentication failed"), "{message}");
    }

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(sh_quote("/usr/lib/postgresql/15/bin/pg_ctl"), "/usr/lib/postgresql/15/bin/pg_ctl");
        assert_eq!(sh_quote("-p 5 -k /tmp/x"), "'-p 5 -k /tmp/x'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
    }

    #[test]
    fn versions_sort_numerically() {
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("main"), None);
        assert!(parse_version("16") > parse_version("9.6"));
    }

    #[test]
    fn finds_binaries_in_path_first_then_newest_version() {
        let root = std::env::temp_dir().join(format!("orm-testing-unit-{}-{}", std::process::id(), unique_name()));
        let fake = |dir: &Path| {
            fs::create_dir_all(dir).unwrap();
            fs::write(dir.join(exe("initdb")), "").unwrap();
            fs::write(dir.join(exe("pg_ctl")), "").unwrap();
        };
        let versions = root.join("lib");
        fake(&versions.join("9.6/bin"));
        fake(&versions.join("16/bin"));
        fake(&versions.join("13/bin"));
        fs::create_dir_all(versions.join("17/bin")).unwrap(); // no binaries
        fs::create_dir_all(versions.join("notaversion/bin")).unwrap();
        let in_path = root.join("path-bin");
        fake(&in_path);
        let empty = root.join("empty");
        fs::create_dir_all(&empty).unwrap();

        let path = std::env::join_paths([&empty, &in_path]).unwrap();
        assert_eq!(find_bin_dir(Some(&path), std::slice::from_ref(&versions)), Some(in_path.clone()));
        let path = std::env::join_paths([&empty]).unwrap();
        assert_eq!(find_bin_dir(Some(&path), std::slice::from_ref(&versions)), Some(versions.join("16/bin")));
        assert_eq!(find_bin_dir(None, &[root.join("missing")]), None);
        assert_eq!(find_bin_dir(Some(&path), &[]), None);

        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn error_chain_includes_sources() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let error = Error::Connection(Box::new(io));
        assert_eq!(error_chain(&error), "connection to the database failed: connection refused");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_and_a_bad_url_is_a_config_error() {
        let port = TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
        let probe = probe(&format!("postgres://postgres@127.0.0.1:{port}/postgres")).await.unwrap();
        assert!(matches!(probe, Probe::Unreachable(_)), "{probe:?}");

        let error = super::probe("postgres://h:notaport/db").await.unwrap_err();
        assert!(matches!(error, Error::Config(ref m) if m.contains("cannot parse database URL")), "{error}");
    }
}
