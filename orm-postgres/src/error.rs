//! tokio-postgres and pool errors -> [`orm_core::Error`].

use std::time::Duration;

use deadpool_postgres::PoolError;
use orm_core::{DbError, Error};

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

/// Converts a pool checkout error. Opening a connection fails as
/// [`Error::Connection`] naming the cause (refused, unreachable, a missing
/// password, a refused TLS request), except for what the server answered
/// with a SQLSTATE (a wrong password, an unknown database), which keeps it.
pub(crate) fn from_pool(error: PoolError, waited: Duration) -> Error {
    match error {
        PoolError::Timeout(_) => Error::PoolTimeout { waited },
        PoolError::Backend(e) if e.as_db_error().is_some() && !is_connection_lost(&e) => from_pg(e),
        PoolError::Backend(e) => Error::Connection(Box::new(e)),
        other => Error::Connection(Box::new(other)),
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
