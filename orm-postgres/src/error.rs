//! tokio-postgres and pool errors -> [`orm_core::Error`].

use std::time::Duration;

use deadpool_postgres::PoolError;
use orm_core::{DbError, Error};

/// Converts a driver error, keeping the SQLSTATE, constraint and table.
pub(crate) fn from_pg(error: tokio_postgres::Error) -> Error {
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
    if error.is_closed() || std::error::Error::source(&error).is_some_and(|s| s.is::<std::io::Error>()) {
        return Error::Connection(Box::new(error));
    }
    Error::Driver(Box::new(error))
}

/// Converts a pool checkout error.
pub(crate) fn from_pool(error: PoolError, waited: Duration) -> Error {
    match error {
        PoolError::Timeout(_) => Error::PoolTimeout { waited },
        PoolError::Backend(e) => from_pg(e),
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
