//! The async seam between the core and a database driver.
//!
//! A dialect crate (such as `orm-postgres`) implements [`Connector`] for its
//! engine and [`Connection`] for a pooled connection; the [`Session`](crate::Session)
//! talks to the database only through these two traits.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use crate::dialect::Dialect;
use crate::error::Result;
use crate::session::StatementTexts;
use crate::value::Value;

/// What [`Connection::query_each`] calls with each row.
pub type RowFn<'f> = dyn FnMut(&mut dyn RawRow) -> Result<()> + Send + 'f;

/// Declares the typed reads of [`RawRow`], one per built-in field type.
macro_rules! typed_reads {
    ($($method:ident: $ty:ty;)*) => {$(
        #[doc = concat!("Reads column `column` as a `", stringify!($ty), "`: `Ok(None)` for NULL, ")]
        #[doc = "`Err` with the column's [`Value`] when it is not decoded as that type here (the caller"]
        #[doc = "converts the value, or reports it). The default always hands back the value."]
        #[inline]
        fn $method(&mut self, column: usize) -> std::result::Result<Option<$ty>, Value> {
            Err(self.value(column))
        }
    )*};
}

/// One row of a result as the driver received it, read column by column.
///
/// The typed reads decode a column straight from the driver's bytes into a
/// field, without a [`Value`] in between; a driver overrides those it can.
/// Columns are numbered from 0; reading past the last one gives NULL.
pub trait RawRow {
    /// The number of columns.
    fn width(&self) -> usize;

    /// How many rows the statement returned when it last ran (0: unknown),
    /// so that a reader can make room for them at the first row: growing
    /// the identity map and a result row by row cost about a third of a
    /// large load, and 4 % of a load of 100 rows.
    fn rows_hint(&self) -> usize {
        0
    }

    /// Whether column `column` is NULL (or past the last column).
    fn is_null(&self, column: usize) -> bool;

    /// Decodes column `column` into a [`Value`] (NULL past the last column).
    fn value(&mut self, column: usize) -> Value;

    typed_reads! {
        read_bool: bool;
        read_i16: i16;
        read_i32: i32;
        read_i64: i64;
        read_f32: f32;
        read_f64: f64;
        read_text: String;
    }
}

/// The [`RawRow`] of a row of collected [`Rows`].
#[derive(Debug)]
pub struct ValueRow<'a> {
    values: &'a [Value],
}

impl<'a> ValueRow<'a> {
    /// A row holding `values`, one per column.
    pub fn new(values: &'a [Value]) -> Self {
        ValueRow { values }
    }
}

impl RawRow for ValueRow<'_> {
    fn width(&self) -> usize {
        self.values.len()
    }

    fn is_null(&self, column: usize) -> bool {
        self.values.get(column).is_none_or(|v| *v == Value::Null)
    }

    fn value(&mut self, column: usize) -> Value {
        self.values.get(column).cloned().unwrap_or_default()
    }
}

/// A boxed future that can move between threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The rows of a result: every value of every row, row after row, in one
/// allocation.
#[derive(Debug, Default)]
pub struct Rows {
    /// The number of columns of each row.
    pub width: usize,
    /// `width` values per row.
    pub values: Vec<Value>,
}

impl Rows {
    /// Returns the number of rows.
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values of each row, row after row.
    pub fn iter(&self) -> std::slice::Chunks<'_, Value> {
        self.values.chunks(self.width.max(1))
    }
}

/// Rows for [`Connection::copy_in`], with the statements the dialect
/// rendered for them.
pub struct CopyRows<'a> {
    /// The statement that starts the load ([`Statement::CopyIn`](crate::statement::Statement::CopyIn)).
    pub sql: &'a str,
    /// A query of the same columns of the same table, in the same order:
    /// never run, only prepared, so that the connection learns the
    /// columns' types as the database has them.
    pub columns: &'a str,
    /// The query that reserves the rows' generated keys, when their table
    /// has one.
    pub keys: Option<KeyReservation<'a>>,
    /// The rows, lent one at a time.
    pub rows: &'a mut dyn CopySource,
}

impl std::fmt::Debug for CopyRows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyRows")
            .field("sql", &self.sql)
            .field("keys", &self.keys.as_ref().map(|k| k.sql))
            .field("rows", &self.rows.row_count())
            .finish()
    }
}

/// The query that reserves the keys of a COPY's rows
/// ([`Statement::ReserveKeys`](crate::statement::Statement::ReserveKeys)),
/// and the column they go in.
///
/// The connection sends it before anything of the COPY, whether or not
/// the COPY follows, and writes the rows while the database answers: in
/// each row, the key column holds a value of the key's type that stands in
/// for the key. It hands the answer to [`CopySource::take_keys`], and
/// writes the keys it returns over those values, row by row, before it
/// sends the rows.
#[derive(Debug, Clone, Copy)]
pub struct KeyReservation<'a> {
    /// The query's text.
    pub sql: &'a str,
    /// Its parameters.
    pub params: &'a [Value],
    /// The key's column, counted from 0.
    pub column: usize,
}

/// The rows of a COPY, handed to the connection one at a time: a large
/// flush holds the rows as the connection encodes them, not a second list
/// of its objects' values beside them.
pub trait CopySource: Send {
    /// The number of values in each row: one per column.
    fn width(&self) -> usize;

    /// The number of rows.
    fn row_count(&self) -> usize;

    /// Calls `row` with the values of each row in turn, `width` values
    /// each, and stops at the first call that returns `false` (a value
    /// the connection cannot write: the rows then go to an INSERT).
    fn each_row(&mut self, row: &mut dyn FnMut(&[Value]) -> bool);

    /// Takes the answer to the [`KeyReservation`] and returns the keys, one
    /// per row, in the rows' order; `None` when there was nothing to
    /// reserve from (the column has no sequence of its own): the COPY is
    /// then not sent, and the rows go to an INSERT.
    fn take_keys(&mut self, reserved: Rows) -> Result<Option<&[Value]>>;

    /// Called once every row has been handed to the connection, before the
    /// database's answer is awaited: what the source does here runs while
    /// the database takes the rows. An error here is the COPY's.
    fn rows_sent(&mut self) -> Result<()>;
}

/// One database connection, checked out of a pool.
pub trait Connection: Send + Debug {
    /// Runs a statement that returns rows. Parameters are `$1`, `$2`, ...
    fn query<'a>(&'a mut self, sql: &'a str, params: &'a [Value]) -> BoxFuture<'a, Result<Rows>>;

    /// Runs a statement that returns rows and hands each row to `row` as it
    /// arrives, without collecting the result first.
    ///
    /// The default collects with [`query`](Connection::query); a driver
    /// overrides it to stream.
    fn query_each<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
        row: &'a mut RowFn<'_>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let rows = self.query(sql, params).await?;
            for values in rows.iter() {
                row(&mut ValueRow::new(values))?;
            }
            Ok(())
        })
    }

    /// Runs a statement and returns the number of rows it affected.
    fn execute<'a>(&'a mut self, sql: &'a str, params: &'a [Value]) -> BoxFuture<'a, Result<u64>>;

    /// Runs one or more statements without parameters (`BEGIN`, DDL).
    fn batch_execute<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Writes rows with the database's bulk-load protocol (PostgreSQL's
    /// binary `COPY .. FROM STDIN`): all of them in one statement, which
    /// fails as a whole, their keys reserved first when `copy.keys` says
    /// how. Returns whether it wrote them: `false`, having sent nothing but
    /// the reservation, when it cannot write every value exactly as its
    /// column takes it (a value of another type than the column's, or no
    /// such protocol), or when there was nothing to reserve keys from: the
    /// caller then INSERTs the rows. A connection that returns `true`
    /// calls the source's [`rows_sent`](CopySource::rows_sent) while it
    /// awaits the COPY's answer.
    ///
    /// There is no default: a connection that always answered `false`
    /// would cost every large flush a wasted reservation, and a wrapper that
    /// forgot to pass the call on would go unnoticed.
    fn copy_in<'a>(&'a mut self, copy: CopyRows<'a>) -> BoxFuture<'a, Result<bool>>;

    /// Asks the connection to send `BEGIN` together with the next statement,
    /// in the same round trip, instead of on its own. Returns `false` if it
    /// cannot (the default): the caller then sends `BEGIN` itself.
    fn defer_begin(&mut self) -> bool {
        false
    }

    /// Asks the connection to send `COMMIT` right after the next statement,
    /// in the same round trip, and to answer that statement only once
    /// `COMMIT` is answered: a refused `COMMIT` is the statement's error, and
    /// a statement the database refuses rolls the transaction back
    /// (PostgreSQL answers the `COMMIT` of a failed transaction with
    /// `ROLLBACK`). A statement that fails before it is sent keeps `COMMIT`
    /// waiting ([`cancel_deferred_commit`](Connection::cancel_deferred_commit));
    /// once sent, `COMMIT` follows it whatever the client makes of its rows,
    /// and the transaction is over when the statement returns. When `BEGIN` is
    /// pending too, the transaction is that one statement, and a driver may
    /// run it alone, in the database's own implicit transaction. Returns
    /// `false` if it cannot (the default): the caller then sends `COMMIT`
    /// itself.
    fn defer_commit(&mut self) -> bool {
        false
    }

    /// Cancels a `COMMIT` asked for with [`defer_commit`](Connection::defer_commit)
    /// that has not gone out: the statements since failed before they were
    /// sent (a parameter that does not encode), or none was sent. Returns
    /// whether there was one; the transaction is then still open.
    fn cancel_deferred_commit(&mut self) -> bool {
        false
    }

    /// Gives the connection up while a transaction is open on it: the
    /// transaction must be rolled back before anyone else uses the
    /// connection. Called from `Drop`, so it must not block.
    fn abandon(self: Box<Self>);

    /// Closes the connection instead of returning it to the pool: its state
    /// is unknown (a COMMIT without an answer).
    fn close(self: Box<Self>);
}

/// Something that hands out connections: an engine over a pool.
pub trait Connector: Send + Sync + Debug {
    /// The SQL dialect of the connections.
    fn dialect(&self) -> &'static dyn Dialect;

    /// Checks a connection out of the pool, connecting if needed.
    fn connect(&self) -> BoxFuture<'_, Result<Box<dyn Connection>>>;

    /// The statement texts the sessions of this connector render once and
    /// then reuse (a flush's INSERT of each model).
    fn statement_texts(&self) -> &StatementTexts;
}
