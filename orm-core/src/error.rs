//! The one error type of the crate.

use std::fmt;
use std::time::Duration;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, as variants a caller can match.
///
/// ```
/// # use orm_core::Error;
/// fn explain(e: &Error) -> &'static str {
///     match e {
///         Error::NotFound { .. } => "no such row",
///         Error::UniqueViolation(_) => "already taken",
///         e if e.is_retryable() => "try again",
///         _ => "failed",
///     }
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query that needed a row found none (`one()`).
    #[error("no `{model}` row matched the query")]
    NotFound {
        /// The model queried.
        model: &'static str,
    },
    /// A query that needed exactly one row found more (`one()`).
    #[error("expected one `{model}` row, the query matched several")]
    MultipleRows {
        /// The model queried.
        model: &'static str,
    },
    /// A UNIQUE or PRIMARY KEY constraint was violated.
    #[error("unique constraint violated: {0}")]
    UniqueViolation(Box<DbError>),
    /// A FOREIGN KEY constraint was violated.
    #[error("foreign key constraint violated: {0}")]
    ForeignKeyViolation(Box<DbError>),
    /// A CHECK constraint was violated.
    #[error("check constraint violated: {0}")]
    CheckViolation(Box<DbError>),
    /// A NOT NULL constraint was violated.
    #[error("not-null constraint violated: {0}")]
    NotNullViolation(Box<DbError>),
    /// Any other error reported by the database.
    #[error("database error: {0}")]
    Database(Box<DbError>),
    /// An UPDATE or DELETE matched fewer rows than the session expected: the
    /// row was deleted or changed by someone else since it was loaded.
    #[error(
        "stale data: expected to {action} {expected} `{model}` row(s), the database matched {matched}; stale keys: {}",
        keys.join(", ")
    )]
    StaleData {
        /// The model.
        model: &'static str,
        /// `update` or `delete`.
        action: &'static str,
        /// Rows the session expected to match.
        expected: u64,
        /// Rows the database matched.
        matched: u64,
        /// The keys of the rows that did not match, as text.
        keys: Vec<String>,
    },
    /// No connection became free within `pool_timeout`.
    #[error("timed out after {waited:?} waiting for a pooled connection")]
    PoolTimeout {
        /// The configured `pool_timeout`.
        waited: Duration,
    },
    /// The connection to the database could not be made (a refused or
    /// unreachable server, a failed authentication or TLS handshake), or was
    /// lost (a closed socket, a backend the server terminated). Retryable.
    #[error("connection to the database failed: {}", error_chain(&**.0))]
    Connection(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The driver refused a statement or a value before the database saw it.
    #[error("the database driver rejected the statement: {}", error_chain(&**.0))]
    Driver(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A column value did not fit the field it was read into.
    #[error("cannot read `{model}.{field}`: the database sent {sql_type}, the field is `{rust_type}`")]
    Decode {
        /// The model.
        model: &'static str,
        /// The field.
        field: &'static str,
        /// What the database sent.
        sql_type: std::borrow::Cow<'static, str>,
        /// The Rust type of the field.
        rust_type: &'static str,
    },
    /// A value of a select or raw query did not fit the type it was read into.
    #[error("cannot read column {position} of the result: the database sent {sql_type}, expected `{rust_type}`")]
    DecodeColumn {
        /// The column's position, from 1.
        position: usize,
        /// What the database sent.
        sql_type: std::borrow::Cow<'static, str>,
        /// The Rust type asked for.
        rust_type: &'static str,
    },
    /// A statement parameter does not fit the type the database expects.
    #[error("parameter ${position} must be of SQL type {expected}, the value is {sent}")]
    ParameterType {
        /// The parameter's position, from 1.
        position: usize,
        /// The SQL type the database expects.
        expected: String,
        /// The value sent: its Rust type for raw SQL, else its SQL kind.
        sent: String,
    },
    /// A relationship was read before it was loaded.
    #[error("`{model}.{relationship}` is not loaded: load it with `Session::load` or an eager option")]
    NotLoaded {
        /// The model.
        model: &'static str,
        /// The relationship.
        relationship: &'static str,
    },
    /// The engine configuration (URL or pool options) is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The flush that runs before a query (autoflush) failed; the query was
    /// not sent. The pending changes stay pending: fix the object named in
    /// the cause, expunge it, roll back, or query inside
    /// [`Session::no_autoflush`](crate::Session::no_autoflush).
    #[error("the autoflush before the query failed (the query was not sent): {0}")]
    Autoflush(#[source] Box<Error>),
    /// A handle of another session was used.
    #[error("the `{model}` handle belongs to session {handle_session}, not to this session ({session})")]
    ForeignHandle {
        /// The model.
        model: &'static str,
        /// The session the handle came from.
        handle_session: u64,
        /// The session it was used with.
        session: u64,
    },
    /// The handle's object left the session (expunged, deleted, or added
    /// and then rolled back).
    #[error("the `{model}` handle refers to an object this session no longer holds")]
    StaleHandle {
        /// The model.
        model: &'static str,
    },
    /// The primary key of an object the database holds was changed.
    #[error(
        "the primary key `{model}.{field}` of a persistent object changed; put it back (or refresh the object), or \
         delete the object and add a new one"
    )]
    KeyChanged {
        /// The model.
        model: &'static str,
        /// The key field.
        field: &'static str,
    },
    /// A related object was detached from its parent, but its foreign key
    /// cannot be NULL.
    #[error(
        "cannot detach a `{model}`: its foreign key `{field}` is not nullable; make it `Option<_>` or use \
         `cascade = \"delete-orphan\"`"
    )]
    NotNullableForeignKey {
        /// The child model.
        model: &'static str,
        /// The foreign-key field.
        field: &'static str,
    },
    /// The savepoint was released or rolled back already, or belongs to
    /// another session.
    #[error("the savepoint was released, rolled back, or belongs to another session")]
    SavepointClosed,
    /// A result did not have the shape its reader expects.
    #[error("{what}: expected {expected}, the database returned {returned}")]
    ResultShape {
        /// What was read (`a `Book` row's columns`).
        what: String,
        /// What the reader expects.
        expected: usize,
        /// What came back.
        returned: usize,
    },
    /// A table a statement reads changed (`ALTER TABLE .. ALTER COLUMN ..
    /// TYPE`) since the statement was prepared on this connection, inside a
    /// transaction, which the failure aborted. Outside a transaction the
    /// statement is prepared again and run by itself; here, roll back and
    /// run the transaction again (retryable).
    #[error(
        "a table changed since this statement was prepared on this connection, and the transaction it ran in is \
         aborted: roll back and retry ({0})"
    )]
    SchemaChanged(Box<DbError>),
    /// A migration could not be applied or reverted, or an applied one
    /// changed or went missing.
    #[error("migration {version} {reason}")]
    Migration {
        /// The migration's version (`0002_add_bio`).
        version: String,
        /// What happened.
        reason: String,
    },
    /// The live database differs from the models
    /// ([`SchemaReport::into_result`](crate::SchemaReport::into_result)).
    #[error("{0}")]
    SchemaMismatch(Box<crate::SchemaReport>),
    /// COMMIT was sent, and its answer never came (the connection was lost,
    /// or the commit's future was dropped): the transaction may or may not
    /// have been committed. The session closed the connection and kept the
    /// objects with the values the transaction wrote, expired, so that the
    /// next query shows what the database holds. Check before retrying: a
    /// retry may apply the changes twice. An expired object is not tracked
    /// for changes until a query reloads it: change objects after that query.
    /// New objects whose INSERT went out with the COMMIT (a commit whose
    /// flush is a single INSERT) leave the session: their keys are unknown.
    #[error("the outcome of the commit is unknown: {reason}; check what the database holds before retrying")]
    CommitOutcomeUnknown {
        /// What happened after COMMIT was sent.
        reason: String,
    },
    /// A statement of the open transaction was cancelled (its future
    /// dropped: a timeout, a `select!`) before its answer came. It may have
    /// run, failed, or still be running, so the session rolled the
    /// transaction back: what the session had flushed is pending again, and
    /// what other statements of the transaction wrote (`execute`, bulk
    /// updates and deletes) is gone. Reported by the session's next call.
    #[error("the transaction was rolled back: one of its statements was cancelled before its answer came")]
    TransactionInterrupted,
    /// A statement the ORM refuses to build, because it would be ignored in
    /// part or break the identity map.
    #[error("invalid statement for `{model}`: {reason}")]
    InvalidStatement {
        /// The model.
        model: &'static str,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether this is [`Error::UniqueViolation`] (also through an
    /// [`Error::Autoflush`]).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Autoflush(cause) => cause.is_unique_violation(),
            other => matches!(other, Error::UniqueViolation(_)),
        }
    }

    /// The database error behind a constraint or database variant (also
    /// through an [`Error::Autoflush`]).
    pub fn db_error(&self) -> Option<&DbError> {
        match self {
            Error::Autoflush(cause) => cause.db_error(),
            Error::UniqueViolation(e)
            | Error::ForeignKeyViolation(e)
            | Error::CheckViolation(e)
            | Error::NotNullViolation(e)
            | Error::Database(e)
            | Error::SchemaChanged(e) => Some(e),
            _ => None,
        }
    }

    /// The name of the violated constraint, if the database named one.
    pub fn constraint(&self) -> Option<&str> {
        self.db_error().and_then(|e| e.constraint.as_deref())
    }

    /// Whether running the same transaction again may succeed: SQLSTATE
    /// class 40, transaction rollback (a serialization failure, a deadlock),
    /// a lost or refused connection (the pool replaces it), and a
    /// transaction rolled back after a cancelled statement.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connection(_) | Error::SchemaChanged(_) | Error::TransactionInterrupted => true,
            Error::Autoflush(cause) => cause.is_retryable(),
            other => other.db_error().is_some_and(|e| e.code.starts_with("40")),
        }
    }

    /// Records the model whose statement failed, for the message.
    pub(crate) fn with_model(mut self, model: &'static str) -> Self {
        if let Some(e) = self.db_error_mut() {
            e.model.get_or_insert(model);
        }
        self
    }

    fn db_error_mut(&mut self) -> Option<&mut DbError> {
        match self {
            Error::UniqueViolation(e)
            | Error::ForeignKeyViolation(e)
            | Error::CheckViolation(e)
            | Error::NotNullViolation(e)
            | Error::Database(e) => Some(e),
            _ => None,
        }
    }
}

/// An error and its sources as one line, each source that does not repeat
/// the text before it after a `: ` (a driver's "invalid configuration:
/// host missing").
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

/// What the database said about a failed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    /// The SQLSTATE code (`23505`).
    pub code: String,
    /// The primary message.
    pub message: String,
    /// The detail line (`Key (name)=(x) already exists.`).
    pub detail: Option<String>,
    /// The table involved.
    pub table: Option<String>,
    /// The column involved.
    pub column: Option<String>,
    /// The constraint involved.
    pub constraint: Option<String>,
    /// The model whose statement failed, when the session knows it.
    pub model: Option<&'static str>,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(model) = self.model {
            write!(f, " (model `{model}`")?;
            if let Some(table) = &self.table {
                write!(f, ", table `{table}`")?;
            }
            if let Some(constraint) = &self.constraint {
                write!(f, ", constraint `{constraint}`")?;
            }
            f.write_str(")")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

/// Unboxes an error (row decoding boxes its errors to keep results small).
impl From<Box<Error>> for Error {
    fn from(error: Box<Error>) -> Error {
        *error
    }
}

/// Turns `Err(NotFound)` into `Ok(None)` (as diesel's `OptionalExtension`).
pub trait OptionalExt<T> {
    /// Maps [`Error::NotFound`] to `Ok(None)`.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExt<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cause whose `Display` leaves the detail to its own source, as
    /// tokio-postgres' errors do ("invalid configuration" / "host missing").
    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("invalid configuration")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn driver_and_connection_errors_show_the_whole_cause() {
        let cause = || Box::new(Outer(std::io::Error::other("host missing")));
        assert_eq!(
            Error::Driver(cause()).to_string(),
            "the database driver rejected the statement: invalid configuration: host missing"
        );
        let connection = Error::Connection(cause());
        assert_eq!(connection.to_string(), "connection to the database failed: invalid configuration: host missing");
        assert!(connection.is_retryable());
        assert!(std::error::Error::source(&connection).is_some(), "the cause stays reachable as the source");
    }
}
