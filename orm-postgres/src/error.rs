//! tokio-postgres and pool errors -> [`orm_core::Error`].

use std::fmt;

use deadpool_postgres::{HookError, PoolError, TimeoutType};
use orm_core::{DbError, Error};

use crate::pool::Target;

/// SQLSTATEs of a backend the server ended: `admin_shutdown`,
/// `crash_shutdown`, `cannot_connect_now`.
const CONNECTION_ENDED: [&str; 3] = ["57P01", "57P02", "57P03"];

/// Converts a driver error, keeping the SQLSTATE, constraint and table; a
/// lost connection is [`Error::Connection`].
pub(crate) fn from_pg(error: tokio_postgres::Error) -> Error {
    if is_connection_lost(&error) {
        return Error::Connection(Box::new(error));
    }
    if let Some(db) = error.as_db_error() {
        return classify(DbError {
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            table: db.table().map(str::to_owned),
            column: db.column().map(str::to_owned),
            constraint: db.constraint().map(str::to_owned),
            model: None,
        });
    }
    Error::Driver(Box::new(error))
}

/// Whether `error` means the connection is gone: closed, failed on its
/// socket, or ended by the server.
pub(crate) fn is_connection_lost(error: &tokio_postgres::Error) -> bool {
    error.is_closed()
        || std::error::Error::source(error).is_some_and(|s| s.is::<std::io::Error>())
        || error.code().is_some_and(|code| CONNECTION_ENDED.contains(&code.code()))
}

/// Converts a pool checkout error. Waiting for a free connection is
/// [`Error::PoolTimeout`]; failing to open a new one is
/// [`Error::Connection`] naming the server (a [`ConnectError`]), unless the
/// server answered with an error of its own (authentication, `pg_hba.conf`,
/// an unknown database), which keeps its SQLSTATE.
pub(crate) fn from_pool(error: PoolError, target: &Target) -> Error {
    match error {
        PoolError::Timeout(TimeoutType::Wait) => Error::PoolTimeout { waited: target.pool_timeout },
        PoolError::Timeout(_) => {
            let reason = format!("no answer within {:?} ({})", target.connect_timeout, target.connect_timeout_from);
            connect_error(target, Some(reason), None)
        }
        PoolError::Backend(e) if e.as_db_error().is_some() && !is_connection_lost(&e) => from_pg(e),
        PoolError::Backend(e) => connect_error(target, None, Some(e)),
        PoolError::PostCreateHook(HookError::Backend(e)) => from_pg(e),
        PoolError::PostCreateHook(HookError::Message(message)) => connect_error(target, Some(message.into()), None),
        other => Error::Connection(Box::new(other)),
    }
}

/// A new connection could not be opened: the cause of an
/// [`Error::Connection`], naming the server and the sslmode (never the
/// credentials). The driver's error, if any, is the source.
#[derive(Debug)]
pub(crate) struct ConnectError {
    server: String,
    ssl_mode: String,
    /// What went wrong, when there is no source to say it.
    reason: Option<String>,
    source: Option<tokio_postgres::Error>,
}

/// An [`Error::Connection`] with a [`ConnectError`] for `target`.
fn connect_error(target: &Target, reason: Option<String>, source: Option<tokio_postgres::Error>) -> Error {
    Error::Connection(Box::new(ConnectError {
        server: target.server.clone(),
        ssl_mode: target.ssl_mode.to_string(),
        reason,
        source,
    }))
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot connect to {} (sslmode={})", self.server, self.ssl_mode)?;
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The variant of a database error, by its SQLSTATE code.
fn classify(error: DbError) -> Error {
    let error = Box::new(error);
    match error.code.as_str() {
        "23505" => Error::UniqueViolation(error),
        "23503" => Error::ForeignKeyViolation(error),
        "23514" => Error::CheckViolation(error),
        "23502" => Error::NotNullViolation(error),
        _ => Error::Database(error),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::tls::SslMode;

    fn target() -> Target {
        Target {
            server: "db.example.com:5432".into(),
            ssl_mode: SslMode::VerifyFull,
            pool_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(3),
            connect_timeout_from: "connect_timeout",
        }
    }

    fn cause(error: &Error) -> String {
        match error {
            Error::Connection(cause) => cause.to_string(),
            other => panic!("expected Error::Connection, got {other:?}"),
        }
    }

    #[test]
    fn waiting_for_a_free_connection_is_a_pool_timeout() {
        let err = from_pool(PoolError::Timeout(TimeoutType::Wait), &target());
        assert!(matches!(err, Error::PoolTimeout { waited } if waited == Duration::from_secs(30)), "{err:?}");
    }

    #[test]
    fn opening_a_connection_too_slowly_names_the_server_and_the_limit() {
        let err = from_pool(PoolError::Timeout(TimeoutType::Create), &target());
        assert_eq!(
            cause(&err),
            "cannot connect to db.example.com:5432 (sslmode=verify-full): no answer within 3s (connect_timeout)"
        );
        let err = from_pool(PoolError::PostCreateHook(HookError::message("the on_connect SQL timed out")), &target());
        assert_eq!(
            cause(&err),
            "cannot connect to db.example.com:5432 (sslmode=verify-full): the on_connect SQL timed out"
        );
    }
}
