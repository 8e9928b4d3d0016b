//! A pooled connection: prepares each statement once per connection (the
//! pool's statement cache), logs it through `tracing`, and decodes rows into
//! [`Value`]s.

use std::sync::Arc;
use std::time::Instant;

use futures_util::TryStreamExt;
use orm_core::{BoxFuture, Connection, Error, Result, RowFn, Rows, Value};
use tokio_postgres::types::Type;

use crate::engine::EngineState;
use crate::error::from_pg;
use crate::types::{check_params, ColumnKind, Param, RawValue};

/// A connection checked out of an [`Engine`](crate::Engine)'s pool.
pub struct PgConnection {
    client: Option<deadpool_postgres::Object>,
    engine: Arc<EngineState>,
}

impl std::fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConnection").finish_non_exhaustive()
    }
}

impl PgConnection {
    pub(crate) fn new(client: deadpool_postgres::Object, engine: Arc<EngineState>) -> Self {
        PgConnection { client: Some(client), engine }
    }

    fn client(&self) -> &deadpool_postgres::Object {
        self.client.as_ref().expect("the client is present until drop")
    }

    /// Runs a query, decoding each row into `row_values` and handing the
    /// row to `each` as it arrives.
    async fn run_query_each(
        &mut self,
        sql: &str,
        params: &[Value],
        mut each: impl FnMut(&mut Vec<Value>) -> Result<()> + Send,
    ) -> Result<usize> {
        let started = self.engine.statement_started();
        let statement = self.client().prepare_cached(sql).await.map_err(from_pg)?;
        check_params(statement.params(), params)?;
        // Column types are looked at once per statement, not once per value.
        let columns: Vec<(ColumnKind, &Type)> =
            statement.columns().iter().map(|c| (ColumnKind::of(c.type_()), c.type_())).collect();
        let stream = self.client().query_raw(&statement, params.iter().map(Param)).await.map_err(from_pg)?;
        futures_util::pin_mut!(stream);
        let mut row_values = Vec::with_capacity(columns.len());
        while let Some(row) = stream.try_next().await.map_err(from_pg)? {
            for (i, (kind, ty)) in columns.iter().enumerate() {
                let RawValue(raw) = row.try_get(i).map_err(from_pg)?;
                row_values.push(kind.decode(ty, raw).map_err(Error::Driver)?);
            }
            each(&mut row_values)?;
        }
        log(sql, params.len(), started);
        Ok(columns.len())
    }

    async fn run_execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let started = self.engine.statement_started();
        let statement = self.client().prepare_cached(sql).await.map_err(from_pg)?;
        check_params(statement.params(), params)?;
        let count = self.client().execute_raw(&statement, params.iter().map(Param)).await.map_err(from_pg)?;
        log(sql, params.len(), started);
        Ok(count)
    }

    async fn run_batch(&mut self, sql: &str) -> Result<()> {
        let started = self.engine.statement_started();
        self.client().batch_execute(sql).await.map_err(from_pg)?;
        log(sql, 0, started);
        Ok(())
    }
}

/// SQLAlchemy's `echo=True`: every statement at DEBUG on target `orm::sql`.
fn log(sql: &str, params: usize, started: Instant) {
    tracing::debug!(target: "orm::sql", sql, params, elapsed_us = started.elapsed().as_micros() as u64);
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

    fn abandon(mut self: Box<Self>) {
        let Some(client) = self.client.take() else { return };
        match tokio::runtime::Handle::try_current() {
            // Roll back in the background, then return the connection.
            Ok(runtime) => {
                runtime.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        drop(deadpool_postgres::Object::take(client));
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
    /// Returns the connection to the pool, or closes it when the pool already
    /// keeps `pool_size` idle connections (QueuePool's overflow).
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if self.engine.idle_connections() >= self.engine.options.pool_size {
                drop(deadpool_postgres::Object::take(client));
            }
        }
    }
}
