//! A pooled connection: prepares each statement once per connection (the
//! pool's statement cache), logs it through `tracing`, and decodes rows into
//! [`Value`]s.

use std::sync::Arc;
use std::time::Instant;

use futures_util::TryStreamExt;
use orm_core::{BoxFuture, Connection, CopyRows, Error, Result, RowFn, Rows, Value};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use crate::engine::EngineState;
use crate::error::{from_pg, is_connection_lost};
use crate::types::{accepts, check_params, ColumnKind, Param, RawValue};

/// A connection checked out of an [`Engine`](crate::Engine)'s pool.
pub struct PgConnection {
    client: Option<deadpool_postgres::Object>,
    engine: Arc<EngineState>,
    /// `BEGIN` goes out with the next statement (`defer_begin`).
    begin_pending: bool,
}

impl std::fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConnection").finish_non_exhaustive()
    }
}

impl PgConnection {
    pub(crate) fn new(client: deadpool_postgres::Object, engine: Arc<EngineState>) -> Self {
        PgConnection { client: Some(client), engine, begin_pending: false }
    }

    fn client(&self) -> &deadpool_postgres::Object {
        self.client.as_ref().expect("the client is present until drop")
    }

    /// Converts a driver error; a lost connection also invalidates the
    /// connections opened before it.
    fn error(&self, error: tokio_postgres::Error) -> Error {
        if is_connection_lost(&error) {
            self.engine.invalidation.connection_lost();
        }
        from_pg(error)
    }

    /// Runs a query, decoding each row and handing it to `each` as it
    /// arrives. A statement whose cached plan a schema change broke is
    /// prepared again and run once more (see [`retry_stale_plan`]).
    async fn run_query_each(
        &mut self,
        sql: &str,
        params: &[Value],
        mut each: impl FnMut(&mut Vec<Value>) -> Result<()> + Send,
    ) -> Result<usize> {
        let started = self.engine.statement_started();
        let began = self.begin_pending;
        let mut result = self.query_each_once(sql, params, &mut each).await;
        if let Err(first) = result {
            result = match first {
                first if is_stale_plan(&first) => {
                    self.client().statement_cache.clear();
                    retry_stale_plan(first, self.query_each_once(sql, params, &mut each).await)
                }
                other => Err(other),
            };
        }
        self.log_begin(began);
        self.log(sql, params, started, &result);
        result
    }

    async fn query_each_once(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut (impl FnMut(&mut Vec<Value>) -> Result<()> + Send),
    ) -> Result<usize> {
        let statement = self.client().prepare_cached(sql).await.map_err(|e| self.error(e))?;
        check_params(statement.params(), params)?;
        // Column types are looked at once per statement, not once per value.
        let columns: Vec<(ColumnKind, &Type)> =
            statement.columns().iter().map(|c| (ColumnKind::of(c.type_()), c.type_())).collect();
        let begin = self.take_begin();
        let client = self.client();
        let (began, stream) =
            futures_util::future::join(begin_if(client, begin), client.query_raw(&statement, params.iter().map(Param)))
                .await;
        began.map_err(|e| self.error(e))?;
        let stream = stream.map_err(|e| self.error(e))?;
        futures_util::pin_mut!(stream);
        let mut row_values = Vec::with_capacity(columns.len());
        while let Some(row) = stream.try_next().await.map_err(|e| self.error(e))? {
            for (i, (kind, ty)) in columns.iter().enumerate() {
                let RawValue(raw) = row.try_get(i).map_err(|e| self.error(e))?;
                row_values.push(kind.decode_or_unreadable(ty, raw));
            }
            each(&mut row_values)?;
        }
        Ok(columns.len())
    }

    async fn run_execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let started = self.engine.statement_started();
        let began = self.begin_pending;
        let mut result = self.execute_once(sql, params).await;
        if let Err(first) = result {
            result = match first {
                first if is_stale_plan(&first) => {
                    self.client().statement_cache.clear();
                    retry_stale_plan(first, self.execute_once(sql, params).await)
                }
                other => Err(other),
            };
        }
        self.log_begin(began);
        self.log(sql, params, started, &result);
        result
    }

    async fn execute_once(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let statement = self.client().prepare_cached(sql).await.map_err(|e| self.error(e))?;
        check_params(statement.params(), params)?;
        let begin = self.take_begin();
        let client = self.client();
        let (began, count) = futures_util::future::join(
            begin_if(client, begin),
            client.execute_raw(&statement, params.iter().map(Param)),
        )
        .await;
        began.map_err(|e| self.error(e))?;
        count.map_err(|e| self.error(e))
    }

    /// Writes rows with binary COPY (see [`Connection::copy_in`]), or
    /// returns `false` when a value does not fit its column's type.
    async fn run_copy_in(&mut self, copy: CopyRows<'_>) -> Result<bool> {
        let Some(types) = self.copy_types(&copy).await? else { return Ok(false) };
        let started = self.engine.statement_started();
        let began = self.begin_pending;
        let result = self.copy_once(copy.sql, &types, copy.rows).await;
        if result.is_err() {
            // The types may be what failed it (the column changed since they
            // were learned): the next COPY learns them afresh.
            self.client().statement_cache.remove(copy.columns, &[]);
        }
        self.log_begin(began);
        self.log(copy.sql, &[], started, &result);
        result.map(|_| true)
    }

    /// The types of the columns `copy` writes, as the database has them,
    /// learned by preparing the query of its columns (once per connection,
    /// as every statement), if every value fits its column. Binary COPY
    /// takes each value in its column's own format, where an INSERT would
    /// cast: a value of another type (an `i32` for a `bigint` column)
    /// leaves the rows to an INSERT.
    async fn copy_types(&mut self, copy: &CopyRows<'_>) -> Result<Option<Vec<Type>>> {
        let described = self.client().prepare_cached(copy.columns).await.map_err(|e| self.error(e))?;
        let types: Vec<Type> = described.columns().iter().map(|c| c.type_().clone()).collect();
        let fits = types.len() == copy.rows.width
            && copy
                .rows
                .values
                .chunks(types.len().max(1))
                .all(|row| row.iter().zip(&types).all(|(v, t)| accepts(v, t)));
        if !fits {
            // Perhaps learned before the table changed: afresh next time.
            self.client().statement_cache.remove(copy.columns, &[]);
            return Ok(None);
        }
        Ok(Some(types))
    }

    /// Starts the COPY (with `BEGIN`, if due), streams the rows, and waits
    /// for the database to take them; returns their number.
    async fn copy_once(&mut self, sql: &str, types: &[Type], rows: &Rows) -> Result<u64> {
        let statement = self.client().prepare_cached(sql).await.map_err(|e| self.error(e))?;
        let begin = self.take_begin();
        let client = self.client();
        let (began, sink) =
            futures_util::future::join(begin_if(client, begin), client.copy_in::<_, bytes::Bytes>(&statement)).await;
        began.map_err(|e| self.error(e))?;
        let sink = sink.map_err(|e| self.error(e))?;
        // Dropped before `finish` (an error, a cancelled flush), the writer
        // aborts the COPY: nothing of it is written.
        let writer = BinaryCopyInWriter::new(sink, types);
        futures_util::pin_mut!(writer);
        let mut params = Vec::with_capacity(types.len());
        for row in rows.values.chunks(types.len().max(1)) {
            params.extend(row.iter().map(Param));
            writer.as_mut().write_raw(params.drain(..)).await.map_err(|e| self.error(e))?;
        }
        writer.finish().await.map_err(|e| self.error(e))
    }

    /// Whether `BEGIN` is due with this statement; it is then sent.
    fn take_begin(&mut self) -> bool {
        std::mem::take(&mut self.begin_pending)
    }

    async fn run_batch(&mut self, sql: &str) -> Result<()> {
        let started = self.engine.statement_started();
        let sql: std::borrow::Cow<'_, str> =
            if self.take_begin() { format!("BEGIN;\n{sql}").into() } else { sql.into() };
        let sql = sql.as_ref();
        let result = self.client().batch_execute(sql).await.map_err(|e| self.error(e));
        self.log(sql, &[], started, &result);
        result
    }

    /// Logs the `BEGIN` that went out with a statement, as its own line
    /// (its time is the statement's).
    fn log_begin(&self, began: bool) {
        if began {
            tracing::debug!(target: "orm::sql", sql = "BEGIN", params = 0usize, "sent with the next statement");
        }
    }

    /// SQLAlchemy's `echo`: every statement on target `orm::sql`, at DEBUG;
    /// a failed one at INFO with its error; one slower than the engine's
    /// `slow_statement` threshold at WARN. Parameter values only when the
    /// engine opts in (`log_parameters`), their number otherwise.
    fn log<T>(&self, sql: &str, params: &[Value], started: Instant, result: &Result<T>) {
        let elapsed = started.elapsed();
        let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let options = &self.engine.options;
        let values = options.log_parameters.then_some(params).map(tracing::field::debug);
        let params = params.len();
        match result {
            Err(error) => {
                tracing::info!(target: "orm::sql", sql, params, values, elapsed_us, %error, "statement failed");
            }
            Ok(_) if options.slow_statement.is_some_and(|slow| elapsed >= slow) => {
                tracing::warn!(target: "orm::sql", sql, params, values, elapsed_us, "slow statement");
            }
            Ok(_) => tracing::debug!(target: "orm::sql", sql, params, values, elapsed_us),
        }
    }
}

/// Sends `BEGIN` first when `begin`: polled before the statement it is joined
/// with, so that both go out before either answer is awaited (tokio-postgres
/// pipelines requests in the order they are sent).
async fn begin_if(client: &tokio_postgres::Client, begin: bool) -> std::result::Result<(), tokio_postgres::Error> {
    if begin {
        client.batch_execute("BEGIN").await
    } else {
        Ok(())
    }
}

/// Whether `error` is PostgreSQL's "cached plan must not change result
/// type": a table the prepared statement reads changed (`ALTER TABLE ..
/// ALTER COLUMN .. TYPE`) since it was prepared on this connection.
fn is_stale_plan(error: &Error) -> bool {
    error.db_error().is_some_and(|e| e.code == "0A000" && e.message.contains("cached plan"))
}

/// The result of running a statement again after its cached plan went
/// stale. Outside a transaction the new plan simply runs. Inside one, the
/// first failure aborted the transaction (the retry gets SQLSTATE 25P02):
/// that is [`Error::SchemaChanged`], for the caller to roll back and retry.
fn retry_stale_plan<T>(first: Error, retry: Result<T>) -> Result<T> {
    match retry {
        Err(e) if e.db_error().is_some_and(|e| e.code == "25P02") => match first {
            Error::Database(cause) => Err(Error::SchemaChanged(cause)),
            other => Err(other),
        },
        other => other,
    }
}

impl Connection for PgConnection {
    fn query<'a>(&'a mut self, sql: &'a str, params: &'a [Value]) -> BoxFuture<'a, Result<Rows>> {
        Box::pin(async move {
            let mut values = Vec::new();
            let mut collect = |row: &mut Vec<Value>| {
                values.append(row);
                Ok(())
            };
            let width = self.run_query_each(sql, params, &mut collect).await?;
            Ok(Rows { width, values })
        })
    }

    fn query_each<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
        row: &'a mut RowFn<'_>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.run_query_each(sql, params, |values: &mut Vec<Value>| row(values.drain(..))).await?;
            Ok(())
        })
    }

    fn execute<'a>(&'a mut self, sql: &'a str, params: &'a [Value]) -> BoxFuture<'a, Result<u64>> {
        Box::pin(self.run_execute(sql, params))
    }

    fn batch_execute<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.run_batch(sql))
    }

    fn copy_in<'a>(&'a mut self, copy: CopyRows<'a>) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.run_copy_in(copy))
    }

    fn defer_begin(&mut self) -> bool {
        self.begin_pending = true;
        true
    }

    fn close(mut self: Box<Self>) {
        if let Some(client) = self.client.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }

    fn abandon(mut self: Box<Self>) {
        let Some(client) = self.client.take() else { return };
        match tokio::runtime::Handle::try_current() {
            // Roll back in the background, then return the connection.
            Ok(runtime) => {
                let engine = self.engine.clone();
                runtime.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        drop(deadpool_postgres::Object::take(client));
                    } else {
                        drop(client);
                        engine.close_overflow();
                    }
                });
            }
            // No runtime to roll back on: close the connection, which ends
            // the transaction on the server.
            Err(_) => drop(deadpool_postgres::Object::take(client)),
        }
    }
}

impl Drop for PgConnection {
    /// Returns the connection to the pool, then closes idle connections
    /// beyond `pool_size` (QueuePool's overflow).
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(client);
            self.engine.close_overflow();
        }
    }
}
