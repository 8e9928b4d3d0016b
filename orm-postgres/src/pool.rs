//! Engine options -> a deadpool-postgres pool with SQLAlchemy's QueuePool
//! meaning. No policy of its own beyond the translation.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use orm_core::{Error, Result};
use tokio_postgres::NoTls;

/// Pool options, named and defaulted as SQLAlchemy's `create_engine` names them.
#[derive(Debug, Clone)]
pub(crate) struct PoolOptions {
    /// Connections kept open while idle.
    pub(crate) pool_size: usize,
    /// Connections opened beyond `pool_size` under load, closed when returned.
    pub(crate) max_overflow: usize,
    /// How long a checkout waits for a free connection.
    pub(crate) pool_timeout: Duration,
    /// Connections older than this are closed instead of reused.
    pub(crate) pool_recycle: Option<Duration>,
    /// Test each connection with a round trip before handing it out.
    pub(crate) pre_ping: bool,
    /// Statements slower than this are logged at WARN.
    pub(crate) slow_statement: Option<Duration>,
    /// Log parameter values with the statements (off: only their number).
    pub(crate) log_parameters: bool,
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

/// Parses the URL and builds the pool. Does no I/O.
pub(crate) fn build(url: &str, options: &PoolOptions, invalidation: Arc<Invalidation>) -> Result<Pool> {
    let config = tokio_postgres::Config::from_str(url)
        .map_err(|e| Error::Config(format!("cannot parse database URL `{}`: {e}", redact(url))))?;
    if options.pool_size == 0 {
        return Err(Error::Config("pool_size must be at least 1".into()));
    }
    let recycling_method = if options.pre_ping { RecyclingMethod::Verified } else { RecyclingMethod::Fast };
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method });
    let max_age = options.pool_recycle;
    let builder = Pool::builder(manager)
        .max_size(options.pool_size + options.max_overflow)
        .wait_timeout(Some(options.pool_timeout))
        .runtime(Runtime::Tokio1)
        .pre_recycle(deadpool_postgres::Hook::sync_fn(move |_, metrics| {
            if max_age.is_some_and(|max_age| metrics.age() > max_age) {
                Err(HookError::message("connection older than pool_recycle"))
            } else if invalidation.is_invalid(metrics.created) {
                Err(HookError::message("connection opened before a connection was lost"))
            } else {
                Ok(())
            }
        }));
    builder.build().map_err(|e| Error::Config(format!("cannot build the connection pool: {e}")))
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
}
