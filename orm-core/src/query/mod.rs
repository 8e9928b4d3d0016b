//! Queries of one model through a session: `session.query::<Movie>()`.

pub mod expr;
pub mod render;

use crate::error::{Error, Result};
use crate::model::Model;
use crate::query::expr::{Expr, Order};
use crate::query::render::Sql;
use crate::session::{Handle, Session};
use crate::value::Value;

/// A SELECT of model `T`, built with `filter`, `order_by`, `limit` and
/// `offset`, run with `all`, `first`, `one`, `count` or `exists`.
///
/// Every run autoflushes first, so the query sees the session's pending
/// changes; rows already in the identity map come back as the same handles.
#[derive(Debug)]
#[must_use = "a query does nothing until it is run with `all`, `first`, `one`, `count` or `exists`"]
pub struct Query<'s, T: Model> {
    session: &'s mut Session,
    filters: Vec<Expr>,
    order: Vec<Order>,
    limit: Option<i64>,
    offset: Option<i64>,
    marker: std::marker::PhantomData<fn() -> T>,
}

impl<'s, T: Model> Query<'s, T> {
    pub(crate) fn new(session: &'s mut Session) -> Self {
        Query { session, filters: Vec::new(), order: Vec::new(), limit: None, offset: None, marker: Default::default() }
    }

    /// Keeps the rows matching `predicate`; several filters are joined with AND.
    pub fn filter(mut self, predicate: Expr) -> Self {
        self.filters.push(predicate);
        self
    }

    /// Sorts by a column: `.order_by(Movie::title.asc())`.
    pub fn order_by(mut self, order: Order) -> Self {
        self.order.push(order);
        self
    }

    /// Returns at most `n` rows.
    pub fn limit(mut self, n: i64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: i64) -> Self {
        self.offset = Some(n);
        self
    }

    /// Renders `SELECT <columns> FROM <table> WHERE .. ORDER BY .. LIMIT .. OFFSET ..`.
    fn select(&self, limit: Option<i64>) -> Sql<'static> {
        let table = T::TABLE;
        let mut sql = Sql::new(self.session.dialect());
        sql.push("SELECT ").columns(table).push(" FROM ").ident(table.name);
        sql.where_all(&self.filters).order_by(&self.order);
        if let Some(n) = limit {
            sql.push(" LIMIT ").param(Value::I64(n));
        }
        if let Some(n) = self.offset {
            sql.push(" OFFSET ").param(Value::I64(n));
        }
        sql
    }

    async fn run(self, limit: Option<i64>) -> Result<Vec<Handle<T>>> {
        let sql = self.select(limit);
        let rows = self.session.fetch(&sql).await?;
        self.session.load_rows(rows)
    }

    /// Returns every matching row.
    ///
    /// # Errors
    /// A database error, or [`Error::Decode`].
    pub async fn all(self) -> Result<Vec<Handle<T>>> {
        let limit = self.limit;
        self.run(limit).await
    }

    /// Returns the first matching row, if any.
    ///
    /// # Errors
    /// As [`all`](Query::all).
    pub async fn first(self) -> Result<Option<Handle<T>>> {
        Ok(self.run(Some(1)).await?.into_iter().next())
    }

    /// Returns the one matching row.
    ///
    /// # Errors
    /// [`Error::NotFound`] if no row matches, [`Error::MultipleRows`] if more
    /// than one does; otherwise as [`all`](Query::all).
    pub async fn one(self) -> Result<Handle<T>> {
        let limit = Some(self.limit.map_or(2, |n| n.min(2)));
        let model = T::TABLE.model;
        match self.run(limit).await?[..] {
            [one] => Ok(one),
            [] => Err(Error::NotFound { model }),
            _ => Err(Error::MultipleRows { model }),
        }
    }

    /// Counts the matching rows (honouring `limit` and `offset`).
    ///
    /// # Errors
    /// A database error.
    pub async fn count(self) -> Result<i64> {
        let mut sql = Sql::new(self.session.dialect());
        let inner = self.select(self.limit);
        sql.push("SELECT count(*) FROM (").push(&inner.text).push(") AS q");
        sql.params = inner.params;
        self.scalar(sql).await
    }

    /// Whether any row matches.
    ///
    /// # Errors
    /// A database error.
    pub async fn exists(self) -> Result<bool> {
        let mut sql = Sql::new(self.session.dialect());
        let inner = self.select(Some(1));
        sql.push("SELECT EXISTS (").push(&inner.text).push(")");
        sql.params = inner.params;
        self.scalar(sql).await
    }

    async fn scalar<V: crate::value::SqlValue>(self, sql: Sql<'_>) -> Result<V> {
        let rows = self.session.fetch(&sql).await?;
        let value = rows.values.into_iter().next().unwrap_or(Value::Null);
        V::from_value(value).map_err(|v| Error::Decode {
            model: T::TABLE.model,
            field: "<aggregate>",
            sql_type: v.describe(),
            rust_type: std::any::type_name::<V>(),
        })
    }
}
