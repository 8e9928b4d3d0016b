//! A pooled connection: prepares each statement once per connection (its
//! own statement cache, [`PooledClient::statements`]), logs it through
//! `tracing`, and decodes rows into [`Value`]s.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use futures_util::future::{maybe_done, Either};
use futures_util::TryStreamExt;
use futures_util::{FutureExt, SinkExt};
use orm_core::{BoxFuture, Connection, CopyRows, CopySource, Error, RawRow, Result, RowFn, Rows, Value};
use tokio_postgres::types::Type;

use crate::engine::EngineState;
use crate::error::{from_pg, is_connection_lost};
use crate::pool::{Pooled, PooledClient, Prepared};
use crate::row::PgRow;
use crate::types::{binary_copy, check_params, Param};

/// A connection checked out of an [`Engine`](crate::Engine)'s pool.
pub struct PgConnection {
    client: Option<Pooled>,
    engine: Arc<EngineState>,
    /// What goes out with the next statement.
    pending: Pending,
    /// Lent by `Engine::connect`, for statements outside a session:
    /// whoever holds it may leave a transaction open (`note_transaction`).
    lent: bool,
}

/// `BEGIN` before the next statement (`defer_begin`), `COMMIT` after it
/// (`defer_commit`), in the same round trip. Atomic so that a statement's
/// future, which borrows the connection, takes each when it sends it.
#[derive(Debug, Default)]
struct Pending {
    begin: AtomicBool,
    commit: AtomicBool,
}

/// What went out with a statement: the transaction began with it, ended
/// with it, or both, in which case the statement ran alone (`autocommit`).
#[derive(Debug, Default, Clone, Copy)]
struct Sent {
    begin: bool,
    commit: bool,
    autocommit: bool,
}

impl std::fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConnection").finish_non_exhaustive()
    }
}

impl PgConnection {
    pub(crate) fn new(client: Pooled, engine: Arc<EngineState>) -> Self {
        PgConnection { client: Some(client), engine, pending: Pending::default(), lent: false }
    }

    /// A connection for statements outside a session (`Engine::connect`).
    pub(crate) fn lent(client: Pooled, engine: Arc<EngineState>) -> Self {
        let mut conn = PgConnection::new(client, engine);
        conn.lent = true;
        conn
    }

    /// Marks a lent connection that runs `sql` as possibly left in a
    /// transaction, for the pool to end it before lending it again: any
    /// batch (it may hold `BEGIN`), and a statement that starts one.
    fn note_transaction(&mut self, sql: &str, batch: bool) {
        if self.lent && (batch || starts_transaction(sql)) {
            self.pooled().may_be_in_transaction = true;
        }
    }

    fn pooled(&mut self) -> &mut PooledClient {
        self.client.as_mut().expect("the client is present until drop")
    }

    fn client(&self) -> &tokio_postgres::Client {
        &self.client.as_ref().expect("the client is present until drop").client
    }

    /// Converts a driver error; a lost connection also invalidates the
    /// connections opened before it.
    fn error(&self, error: tokio_postgres::Error) -> Error {
        if is_connection_lost(&error) {
            self.engine.invalidation.connection_lost();
        }
        from_pg(error)
    }

    /// Runs a query, handing each row to `each` as it arrives. A statement
    /// whose cached plan a schema change broke is prepared again and run
    /// once more (see [`retry_stale_plan`]).
    async fn run_query_each(
        &mut self,
        sql: &str,
        params: &[Value],
        mut each: impl FnMut(&mut dyn RawRow) -> Result<()> + Send,
    ) -> Result<usize> {
        self.note_transaction(sql, false);
        let started = self.engine.statement_started();
        let (mut result, sent) = self.query_each_once(sql, params, &mut each).await;
        if let Err(first) = result {
            result = match self.may_run_again(first, sent) {
                Ok(first) => retry_stale_plan(first, self.query_each_once(sql, params, &mut each).await.0),
                Err(e) => Err(e),
            };
        }
        self.log_sent(sql, params, started, &result, sent);
        result
    }

    /// Runs a query once; returns what went out with it.
    async fn query_each_once(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut (impl FnMut(&mut dyn RawRow) -> Result<()> + Send),
    ) -> (Result<usize>, Sent) {
        let prepared = match self.prepare(sql, params).await {
            Ok(prepared) => prepared,
            Err(e) => return (Err(e), Sent::default()),
        };
        let this = &*self;
        let rows = async {
            let statement = &prepared.statement;
            // Boxed: the driver's future takes about 1 KB. Inline, it made
            // the statement's own boxed future 1,584 bytes, above glibc's
            // thread cache (at most 1,032), so that every statement went
            // through the allocator's slow path for large chunks. Boxed
            // alone, the driver's fits the cache, and the statement's is
            // 648 bytes.
            let stream = Box::pin(this.client().query_raw(statement, params.iter().map(Param)))
                .await
                .map_err(|e| this.error(e))?;
            futures_util::pin_mut!(stream);
            let rows_hint = prepared.rows.load(Ordering::Relaxed);
            let mut count = 0;
            while let Some(row) = stream.try_next().await.map_err(|e| this.error(e))? {
                each(&mut PgRow::new(&row, &prepared.columns, rows_hint))?;
                count += 1;
            }
            prepared.rows.store(count, Ordering::Relaxed);
            Ok(prepared.columns.len())
        };
        this.pipelined(rows).await
    }

    async fn run_execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        self.note_transaction(sql, false);
        let started = self.engine.statement_started();
        let (mut result, sent) = self.execute_once(sql, params).await;
        if let Err(first) = result {
            result = match self.may_run_again(first, sent) {
                Ok(first) => retry_stale_plan(first, self.execute_once(sql, params).await.0),
                Err(e) => Err(e),
            };
        }
        self.log_sent(sql, params, started, &result, sent);
        result
    }

    /// Runs a statement once; returns what went out with it.
    async fn execute_once(&mut self, sql: &str, params: &[Value]) -> (Result<u64>, Sent) {
        let prepared = match self.prepare(sql, params).await {
            Ok(prepared) => prepared,
            Err(e) => return (Err(e), Sent::default()),
        };
        let this = &*self;
        let statement = &prepared.statement;
        // Boxed, as in `query_each_once`.
        let count = async {
            Box::pin(this.client().execute_raw(statement, params.iter().map(Param))).await.map_err(|e| this.error(e))
        };
        this.pipelined(count).await
    }

    /// Prepares `sql` (once per connection) and checks the parameters
    /// against the types the server expects.
    async fn prepare(&mut self, sql: &str, params: &[Value]) -> Result<Arc<Prepared>> {
        let prepared = self.prepared_entry(sql).await?;
        check_params(prepared.statement.params(), params)?;
        Ok(prepared)
    }

    /// The statement of `sql`, prepared on this connection, the first time
    /// only.
    async fn prepared(&mut self, sql: &str) -> Result<tokio_postgres::Statement> {
        Ok(self.prepared_entry(sql).await?.statement.clone())
    }

    /// As [`prepared`](Self::prepared), with what each run of it needs.
    async fn prepared_entry(&mut self, sql: &str) -> Result<Arc<Prepared>> {
        if let Some(prepared) = self.pooled().statements.get(sql) {
            return Ok(prepared.clone());
        }
        // Boxed: the driver's preparation is a large future, and every
        // statement's future would otherwise carry it, and move it.
        let prepared = Box::pin(self.client().prepare(sql)).await;
        let prepared = Arc::new(Prepared::new(prepared.map_err(|e| self.error(e))?));
        self.pooled().statements.insert(sql.into(), prepared.clone());
        Ok(prepared)
    }

    /// Runs `statement`, with the pending `BEGIN` and `COMMIT` if there are
    /// any ([`pipeline`](Self::pipeline)); returns what went out with it.
    fn pipelined<'a, T: Send + 'a>(
        &'a self,
        statement: impl Future<Output = Result<T>> + Send + 'a,
    ) -> impl Future<Output = (Result<T>, Sent)> + Send + 'a {
        if !self.pending.begin.load(Ordering::Relaxed) && !self.pending.commit.load(Ordering::Relaxed) {
            // A read, or a statement inside a transaction: the statement alone.
            Either::Left(statement.map(|result| (result, Sent::default())))
        } else {
            // Boxed: the three futures take several times the room of the
            // statement's alone, which every statement's future would carry.
            Either::Right(Box::pin(self.pipeline(statement)))
        }
    }

    /// Runs `statement` with the pending `BEGIN` before it and the pending
    /// `COMMIT` after it, all sent before any answer is awaited:
    /// tokio-postgres sends a request when its future is first polled. The
    /// statement's rows are read while `COMMIT` waits, since its answer comes
    /// after them. A statement that fails before it is sent (a parameter
    /// that does not encode) leaves `COMMIT` pending: committing without it
    /// would commit the rest of the transaction. Returns what went out with
    /// the statement.
    async fn pipeline<T>(&self, statement: impl Future<Output = Result<T>>) -> (Result<T>, Sent) {
        let client = self.client();
        let begin = self.pending.begin.swap(false, Ordering::Relaxed);
        // A transaction that is this one statement goes without BEGIN and
        // COMMIT: PostgreSQL runs a lone statement in a transaction of its
        // own, committed at its end, whose deferred checks still fail the
        // statement. Two messages, and two answers, fewer.
        let autocommit = begin && self.pending.commit.load(Ordering::Relaxed);
        let began = maybe_done(send_if(client, begin && !autocommit, "BEGIN"));
        let statement = maybe_done(statement);
        futures_util::pin_mut!(began, statement);
        // One poll each, in order, sends BEGIN and then the statement.
        std::future::poll_fn(|cx| {
            let _ = began.as_mut().poll(cx);
            let _ = statement.as_mut().poll(cx);
            Poll::Ready(())
        })
        .await;
        // Done already means it never reached the server, which answers
        // nothing this fast.
        let was_sent = statement.as_mut().output_mut().is_none();
        if autocommit && !was_sent {
            // Nothing went out: the transaction has not begun.
            self.pending.begin.store(true, Ordering::Relaxed);
        }
        let commit = was_sent && self.pending.commit.swap(false, Ordering::Relaxed);
        let committed = maybe_done(send_if(client, commit && !autocommit, "COMMIT"));
        futures_util::pin_mut!(committed);
        futures_util::future::join3(began.as_mut(), statement.as_mut(), committed.as_mut()).await;
        let sent = Sent { begin: begin && (was_sent || !autocommit), commit, autocommit: autocommit && was_sent };
        let outputs = (began.take_output(), statement.take_output(), committed.take_output());
        let (Some(began), Some(result), Some(committed)) = outputs else {
            unreachable!("joined futures are done");
        };
        let result = began.map_err(|e| self.error(e)).and(result).and_then(|value| {
            committed.map_err(|e| self.error(e))?;
            Ok(value)
        });
        (result, sent)
    }

    /// After a statement failed with `first`: `Ok(first)` when it may run
    /// again, its cached plan gone stale (see [`retry_stale_plan`]), else
    /// the error to return. A `COMMIT` sent with it ended the transaction
    /// (rolled back). If the transaction began with this statement, `BEGIN`
    /// and `COMMIT` go out again with the retry; if it began earlier, its
    /// earlier statements are lost, and the caller must retry the whole
    /// transaction ([`Error::SchemaChanged`]).
    fn may_run_again(&mut self, first: Error, sent: Sent) -> std::result::Result<Error, Error> {
        if !is_stale_plan(&first) {
            return Err(first);
        }
        self.pooled().statements.clear();
        if sent.commit {
            if !sent.begin {
                return Err(schema_changed(first));
            }
            *self.pending.begin.get_mut() = true;
            *self.pending.commit.get_mut() = true;
        }
        Ok(first)
    }

    /// Writes rows with binary COPY (see [`Connection::copy_in`]), or
    /// returns `false` when a value does not fit its column's type or no
    /// key could be reserved. The rows are written while the database
    /// reserves their keys, and the source's `rows_sent` runs while it
    /// takes them: the client's work and the database's overlap.
    async fn run_copy_in(&mut self, copy: CopyRows<'_>) -> Result<bool> {
        let CopyRows { sql, columns, keys, rows } = copy;
        let types = self.column_types(columns).await?;
        let mut write = || match types.len() == rows.width() {
            true => binary_copy(&mut *rows, &types, keys.is_some()),
            false => Ok(None),
        };
        let (reserved, data) = match keys {
            Some(keys) => {
                let (reserved, data) = while_awaiting(self.query(keys.sql, keys.params), write).await;
                (Some(reserved?), data)
            }
            None => (None, write()),
        };
        let Some(mut data) = data.map_err(Error::Driver)? else {
            // Perhaps learned before the table changed: afresh next time.
            self.pooled().statements.remove(columns);
            return Ok(false);
        };
        if let (Some(keys), Some(reserved)) = (keys, reserved) {
            let Some(reserved) = rows.take_keys(reserved)? else { return Ok(false) };
            if !data.put_keys(keys.column, reserved).map_err(Error::Driver)? {
                return Ok(false);
            }
        }
        let started = self.engine.statement_started();
        let (result, sent) = self.copy_once(sql, data.bytes, rows).await;
        if result.is_err() {
            // The types may be what failed it (the column changed since they
            // were learned): the next COPY learns them afresh.
            self.pooled().statements.remove(columns);
        }
        self.log_sent(sql, &[], started, &result, sent);
        result.map(|_| true)
    }

    /// The types the database gives the query `columns`, learned by
    /// preparing it, once per connection as every statement.
    async fn column_types(&mut self, columns: &str) -> Result<Vec<Type>> {
        let described = self.prepared(columns).await?;
        Ok(described.columns().iter().map(|c| c.type_().clone()).collect())
    }

    /// Starts the COPY (with the pending `BEGIN`), sends `data`, runs the
    /// source's `rows_sent` while the database takes it, and waits for the
    /// database; returns the number of rows, and what went out with it.
    async fn copy_once(&mut self, sql: &str, data: bytes::BytesMut, rows: &mut dyn CopySource) -> (Result<u64>, Sent) {
        /// The size of each message the rows go in.
        const CHUNK: usize = 64 * 1024;
        let statement = match self.prepared(sql).await {
            Ok(statement) => statement,
            Err(e) => return (Err(e), Sent::default()),
        };
        let this = &*self;
        let copy = async {
            let sink = this.client().copy_in::<_, bytes::Bytes>(&statement).await.map_err(|e| this.error(e))?;
            // Dropped before `finish` (an error, a cancelled flush), the
            // sink aborts the COPY: nothing of it is written.
            futures_util::pin_mut!(sink);
            let mut data = data.freeze();
            while !data.is_empty() {
                let chunk = data.split_to(data.len().min(CHUNK));
                sink.feed(chunk).await.map_err(|e| this.error(e))?;
            }
            let (finished, done) = while_awaiting(sink.finish(), || rows.rows_sent()).await;
            let count = finished.map_err(|e| this.error(e))?;
            done.map(|()| count)
        };
        this.pipelined(copy).await
    }

    async fn run_batch(&mut self, sql: &str) -> Result<()> {
        self.note_transaction(sql, true);
        let started = self.engine.statement_started();
        let this = &*self;
        let batch = async { this.client().batch_execute(sql).await.map_err(|e| this.error(e)) };
        let (result, sent) = this.pipelined(batch).await;
        self.log_sent(sql, &[], started, &result, sent);
        result
    }

    /// Logs a statement, with the `BEGIN` and `COMMIT` that went out with
    /// it as lines of their own, at DEBUG (their time is the statement's).
    fn log_sent<T>(&self, sql: &str, params: &[Value], started: Option<Instant>, result: &Result<T>, sent: Sent) {
        if sent.autocommit {
            tracing::debug!(target: "orm::sql", "a transaction of one statement: run alone, without BEGIN and COMMIT");
        } else if sent.begin {
            tracing::debug!(target: "orm::sql", sql = "BEGIN", params = 0usize, "sent with the next statement");
        }
        self.log(sql, params, started, result);
        if sent.commit && !sent.autocommit {
            tracing::debug!(target: "orm::sql", sql = "COMMIT", params = 0usize, "sent with the last statement");
        }
    }

    /// SQLAlchemy's `echo`: every statement on target `orm::sql`, at DEBUG;
    /// a failed one at INFO with its error; one slower than the engine's
    /// `slow_statement` threshold at WARN. Parameter values only when the
    /// engine opts in (`log_parameters`), their number otherwise.
    fn log<T>(&self, sql: &str, params: &[Value], started: Option<Instant>, result: &Result<T>) {
        let elapsed = started.map(|started| started.elapsed());
        let elapsed_us = elapsed.map(|e| u64::try_from(e.as_micros()).unwrap_or(u64::MAX));
        let options = &self.engine.options;
        let values = options.log_parameters.then_some(params).map(tracing::field::debug);
        let params = params.len();
        match result {
            Err(error) => {
                tracing::info!(target: "orm::sql", sql, params, values, elapsed_us, %error, "statement failed");
            }
            Ok(_) if options.slow_statement.is_some_and(|slow| elapsed.is_some_and(|e| e >= slow)) => {
                tracing::warn!(target: "orm::sql", sql, params, values, elapsed_us, "slow statement");
            }
            Ok(_) => tracing::debug!(target: "orm::sql", sql, params, values, elapsed_us),
        }
    }
}

/// Does `work` while `future` is under way: polls it once, which sends its
/// request, lets the connection's task write that out, then does `work`
/// and awaits the answer. The client's work then overlaps the database's.
async fn while_awaiting<F: Future, R>(future: F, work: impl FnOnce() -> R) -> (F::Output, R) {
    let future = maybe_done(future);
    futures_util::pin_mut!(future);
    std::future::poll_fn(|cx| {
        let _ = future.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await;
    // On a runtime of one thread, the connection's task runs only when
    // this one yields.
    tokio::task::yield_now().await;
    let done = work();
    future.as_mut().await;
    let Some(output) = future.take_output() else { unreachable!("an awaited future is done") };
    (output, done)
}

/// Sends `sql` (`BEGIN`, `COMMIT`) when `send`.
async fn send_if(
    client: &tokio_postgres::Client,
    send: bool,
    sql: &str,
) -> std::result::Result<(), tokio_postgres::Error> {
    if send {
        client.batch_execute(sql).await
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

/// Whether `sql` begins with `BEGIN` or `START` (`START TRANSACTION`).
fn starts_transaction(sql: &str) -> bool {
    let first_word = sql.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
    first_word.eq_ignore_ascii_case("begin") || first_word.eq_ignore_ascii_case("start")
}

/// The result of running a statement again after its cached plan went
/// stale. Outside a transaction the new plan simply runs. Inside one, the
/// first failure aborted the transaction (the retry gets SQLSTATE 25P02):
/// that is [`Error::SchemaChanged`], for the caller to roll back and retry.
fn retry_stale_plan<T>(first: Error, retry: Result<T>) -> Result<T> {
    match retry {
        Err(e) if e.db_error().is_some_and(|e| e.code == "25P02") => Err(schema_changed(first)),
        other => other,
    }
}

/// A stale plan that failed a transaction: [`Error::SchemaChanged`].
fn schema_changed(first: Error) -> Error {
    match first {
        Error::Database(cause) => Error::SchemaChanged(cause),
        other => other,
    }
}

impl Connection for PgConnection {
    fn query<'a>(&'a mut self, sql: &'a str, params: &'a [Value]) -> BoxFuture<'a, Result<Rows>> {
        Box::pin(async move {
            let mut values = Vec::new();
            let mut collect = |row: &mut dyn RawRow| {
                values.extend((0..row.width()).map(|column| row.value(column)));
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
        Box::pin(self.run_query_each(sql, params, row).map(|width| width.map(drop)))
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
        *self.pending.begin.get_mut() = true;
        // BEGIN goes out with the next statement.
        self.note_transaction("BEGIN", false);
        true
    }

    fn defer_commit(&mut self) -> bool {
        *self.pending.commit.get_mut() = true;
        true
    }

    fn cancel_deferred_commit(&mut self) -> bool {
        std::mem::take(self.pending.commit.get_mut())
    }

    fn close(mut self: Box<Self>) {
        if let Some(client) = self.client.take() {
            drop(Pooled::take(client));
        }
    }

    fn abandon(mut self: Box<Self>) {
        let Some(client) = self.client.take() else { return };
        match tokio::runtime::Handle::try_current() {
            // Roll back in the background, then return the connection.
            Ok(runtime) => {
                let engine = self.engine.clone();
                runtime.spawn(async move {
                    if client.client.batch_execute("ROLLBACK").await.is_err() {
                        drop(Pooled::take(client));
                    } else {
                        drop(client);
                        engine.close_overflow();
                    }
                });
            }
            // No runtime to roll back on: close the connection, which ends
            // the transaction on the server.
            Err(_) => drop(Pooled::take(client)),
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::{starts_transaction, while_awaiting};

    #[test]
    fn a_statement_that_opens_a_transaction_is_told_by_its_first_word() {
        for opens in ["BEGIN", "  begin;", "START TRANSACTION ISOLATION LEVEL SERIALIZABLE", "Begin\n"] {
            assert!(starts_transaction(opens), "{opens:?}");
        }
        for other in ["SELECT 1", "beginning", "COMMIT", "", "-- BEGIN"] {
            assert!(!starts_transaction(other), "{other:?}");
        }
    }

    #[tokio::test]
    async fn the_work_runs_once_the_request_is_out_and_before_its_answer_is_awaited() {
        let (request, requested) = oneshot::channel::<()>();
        let (answer, answered) = oneshot::channel::<u32>();
        let written = Arc::new(AtomicBool::new(false));
        // Stands in for the connection's task, which writes out what a
        // statement's first poll queued.
        let connection = tokio::spawn({
            let written = written.clone();
            async move {
                requested.await.unwrap();
                written.store(true, Ordering::Relaxed);
            }
        });
        let statement = async move {
            request.send(()).unwrap();
            answered.await.unwrap()
        };
        let work = || {
            let seen = written.load(Ordering::Relaxed);
            // Awaited before the work, the answer would never come.
            answer.send(7).unwrap();
            seen
        };
        let overlapped = tokio::time::timeout(Duration::from_secs(5), while_awaiting(statement, work));
        let (answer, request_was_written) = overlapped.await.expect("the work runs before the answer is awaited");
        assert_eq!(answer, 7);
        assert!(request_was_written, "the connection's task ran before the work");
        connection.await.unwrap();
    }
}
