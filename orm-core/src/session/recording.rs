//! Recording the statements a session sends, for tests that count round
//! trips (`assert_statements!`) or read what was sent.

use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::executor::{BoxFuture, Connection, CopyRows, RowFn, Rows};
use crate::value::Value;

/// The texts of the statements sent while recording; `None` when stopped.
pub(crate) type StatementLog = Arc<Mutex<Option<Vec<String>>>>;

/// A connection that writes each statement's text into a log, then runs it.
#[derive(Debug)]
pub(crate) struct Recording {
    inner: Box<dyn Connection>,
    log: StatementLog,
    /// `COMMIT` goes out after the next statement (`defer_commit`).
    commit_pending: bool,
}

impl Recording {
    pub(crate) fn wrap(inner: Box<dyn Connection>, log: StatementLog) -> Box<dyn Connection> {
        Box::new(Recording { inner, log, commit_pending: false })
    }

    fn record(&mut self, sql: &str) {
        let commit = std::mem::take(&mut self.commit_pending);
        if let Ok(mut log) = self.log.lock() {
            if let Some(statements) = log.as_mut() {
                statements.push(sql.to_owned());
                if commit {
                    statements.push("COMMIT".to_owned());
                }
            }
        }
    }
}

impl Connection for Recording {
    fn query<'a>(&'a mut self, sql: &'a str, params: &'a [Value]) -> BoxFuture<'a, Result<Rows>> {
        self.record(sql);
        self.inner.query(sql, params)
    }

    fn query_each<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
        row: &'a mut RowFn<'_>,
    ) -> BoxFuture<'a, Result<()>> {
        self.record(sql);
        self.inner.query_each(sql, params, row)
    }

    fn execute<'a>(&'a mut self, sql: &'a str, params: &'a [Value]) -> BoxFuture<'a, Result<u64>> {
        self.record(sql);
        self.inner.execute(sql, params)
    }

    fn batch_execute<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<()>> {
        self.record(sql);
        self.inner.batch_execute(sql)
    }

    fn copy_in<'a>(&'a mut self, copy: CopyRows<'a>) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let CopyRows { sql, columns, keys, rows } = copy;
            // The reservation goes out before the COPY, whatever follows
            // (unless the connection fails before it).
            if let Some(keys) = keys {
                self.record(keys.sql);
            }
            // Reborrowed for the inner call alone, which `record` outlives.
            let result = self.inner.copy_in(CopyRows { sql, columns, keys, rows: &mut *rows }).await;
            // A COPY the connection declined was never sent; one that
            // failed is logged whether or not it went out.
            if !matches!(result, Ok(false)) {
                self.record(sql);
            }
            result
        })
    }

    fn defer_begin(&mut self) -> bool {
        let deferred = self.inner.defer_begin();
        if deferred {
            self.record("BEGIN");
        }
        deferred
    }

    fn defer_commit(&mut self) -> bool {
        self.commit_pending = self.inner.defer_commit();
        self.commit_pending
    }

    fn cancel_deferred_commit(&mut self) -> bool {
        self.commit_pending = false;
        let cancelled = self.inner.cancel_deferred_commit();
        if cancelled {
            // Recorded with the statement it was to follow, which failed
            // before it was sent.
            if let Ok(mut log) = self.log.lock() {
                if let Some(statements) = log.as_mut().filter(|s| s.last().is_some_and(|l| l == "COMMIT")) {
                    statements.pop();
                }
            }
        }
        cancelled
    }

    fn abandon(self: Box<Self>) {
        self.inner.abandon();
    }

    fn close(self: Box<Self>) {
        self.inner.close();
    }
}

/// Fails the test when `$body` makes `$session` send more than `$n`
/// statements (BEGIN and COMMIT count), listing what it sent: an N+1 loop
/// fails in a test, not in production. Evaluates to the body's value.
///
/// ```no_run
/// # async fn demo(mut session: orm_core::Session) -> orm_core::Result<()> {
/// // BEGIN, then the UPDATE.
/// let count = orm_core::assert_statements!(session, 2, {
///     session.execute("UPDATE books SET stock = 0", ()).await?
/// });
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! assert_statements {
    ($session:expr, $n:expr, $body:block) => {{
        $session.record_statements();
        let value = $body;
        let sent = $session.recorded_statements();
        let limit: usize = $n;
        if sent.len() > limit {
            panic!("expected at most {} statement(s), the block sent {}:\n  {}", limit, sent.len(), sent.join("\n  "));
        }
        value
    }};
}
