//! Queries of one model through a session: `session.query::<Movie>()`.

pub mod expr;
pub mod render;

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::loader::{push_collection_order, LoadNode, Strategy};
use crate::metadata::TableMeta;
use crate::model::{Model, RowReader};
use crate::query::expr::{Expr, Order};
use crate::query::render::Sql;
use crate::relation::{Join, Relation, RelationMeta};
use crate::session::{Handle, Session};
use crate::value::Value;

/// A SELECT of model `T`, built with `filter`, `join`, `order_by`, `limit`,
/// `offset` and eager `load` options, run with `all`, `first`, `one`,
/// `count` or `exists`.
///
/// Every run autoflushes first, so the query sees the session's pending
/// changes; rows already in the identity map come back as the same handles,
/// and a row reached twice through a join comes back once.
#[derive(Debug)]
#[must_use = "a query does nothing until it is run with `all`, `first`, `one`, `count` or `exists`"]
pub struct Query<'s, T: Model> {
    session: &'s mut Session,
    filters: Vec<Expr>,
    joins: Vec<JoinClause>,
    order: Vec<Order>,
    limit: Option<i64>,
    offset: Option<i64>,
    loads: Vec<LoadNode>,
    marker: std::marker::PhantomData<fn() -> T>,
}

/// A join along a relationship, for filtering on the joined model.
#[derive(Debug, Clone, Copy)]
struct JoinClause {
    owner: &'static TableMeta,
    relation: &'static RelationMeta,
    outer: bool,
}

impl<'s, T: Model> Query<'s, T> {
    pub(crate) fn new(session: &'s mut Session) -> Self {
        Query {
            session,
            filters: Vec::new(),
            joins: Vec::new(),
            order: Vec::new(),
            limit: None,
            offset: None,
            loads: Vec::new(),
            marker: Default::default(),
        }
    }

    /// Keeps the rows matching `predicate`; several filters are joined with AND.
    pub fn filter(mut self, predicate: Expr) -> Self {
        self.filters.push(predicate);
        self
    }

    /// Joins the target of a relationship (`INNER JOIN`), so that filters
    /// can use its columns: `.join(Movie::actors).filter(Actor::name.eq(..))`.
    /// The relationship may start at `T` or at a model joined before. Each
    /// object comes back once, and `limit` and `one` count objects, not
    /// joined rows; sort only by `T`'s own columns.
    pub fn join<A: Model, B: Model>(mut self, relation: Relation<A, B>) -> Self {
        self.joins.push(JoinClause { owner: A::TABLE, relation: relation.meta(), outer: false });
        self
    }

    /// As [`join`](Query::join), with a `LEFT OUTER JOIN`.
    pub fn outer_join<A: Model, B: Model>(mut self, relation: Relation<A, B>) -> Self {
        self.joins.push(JoinClause { owner: A::TABLE, relation: relation.meta(), outer: true });
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

    /// Loads a relationship of the results eagerly:
    /// `.load(Movie::actors.selectin())`, nestable with `then`.
    pub fn load<X: Model>(mut self, option: crate::loader::Load<T, X>) -> Self {
        self.loads.push(option.node);
        self
    }

    /// Appends `FROM <table> WHERE ..`, the part every form shares. With
    /// joins, the filters select keys in a subquery, so that a row reached
    /// through several joined rows counts once for `limit` and `one`:
    /// `WHERE (key) IN (SELECT key FROM <table> <joins> WHERE ..)`.
    fn push_from_where(&self, sql: &mut Sql<'_>) {
        let table = T::TABLE;
        sql.push(" FROM ").ident(table.name);
        if self.joins.is_empty() {
            sql.where_all(&self.filters);
            return;
        }
        let push_key = |sql: &mut Sql<'_>| {
            sql.push("(").list(table.primary_key(), |s, (_, c)| {
                s.qualified(table.name, c.name);
            });
            sql.push(")");
        };
        sql.push(" WHERE ");
        push_key(sql);
        sql.push(" IN (SELECT ");
        push_key(sql);
        sql.push(" FROM ").ident(table.name);
        for join in &self.joins {
            let kind = if join.outer { " LEFT OUTER JOIN " } else { " JOIN " };
            push_join(sql, kind, join.owner, join.owner.name, join.relation, None);
        }
        sql.where_all(&self.filters);
        sql.push(")");
    }

    fn push_limit(&self, sql: &mut Sql<'_>, limit: Option<i64>) {
        if let Some(n) = limit {
            sql.push(" LIMIT ").param(Value::I64(n));
        }
        if let Some(n) = self.offset {
            sql.push(" OFFSET ").param(Value::I64(n));
        }
    }

    /// Renders the SELECT of `T`'s columns, with the joined eager loads.
    fn select(&self, limit: Option<i64>) -> Sql<'static> {
        let table = T::TABLE;
        let joined = joined_plan(table, &self.loads);
        let mut sql = Sql::new(self.session.dialect());
        sql.push("SELECT ").columns(table);
        for step in &joined {
            sql.push(", ").columns_as(step.target, &step.alias);
        }
        if joined.is_empty() {
            self.push_from_where(&mut sql);
            sql.order_by(&self.order);
            self.push_limit(&mut sql, limit);
            return sql;
        }
        // The parent rows are chosen (and limited) first; the joins only add
        // their related rows.
        sql.push(" FROM (SELECT ").columns(table);
        self.push_from_where(&mut sql);
        sql.order_by(&self.order);
        self.push_limit(&mut sql, limit);
        sql.push(") AS ").ident(table.name);
        for step in &joined {
            push_join(&mut sql, " LEFT OUTER JOIN ", step.owner, &step.owner_alias, step.relation, Some(&step.alias));
        }
        sql.order_by(&self.order);
        sql.push(if self.order.is_empty() { " ORDER BY " } else { ", " });
        sql.list(table.primary_key(), |s, (_, c)| {
            s.qualified(table.name, c.name);
        });
        for step in &joined {
            sql.push(", ");
            push_collection_order(&mut sql, step.target, &step.alias, step.relation);
        }
        sql
    }

    async fn run(self, limit: Option<i64>) -> Result<Vec<Handle<T>>> {
        let sql = self.select(limit);
        let joined = joined_plan(T::TABLE, &self.loads);
        let slots = if joined.is_empty() {
            self.session.fetch_objects::<T>(&sql).await?
        } else {
            let rows = self.session.fetch(&sql).await?;
            self.session.load_joined_rows::<T>(rows, &joined)?
        };
        let slots = dedupe(slots);
        self.session.run_selectin(&slots, &self.loads).await?;
        Ok(slots.into_iter().map(|i| Handle::new(i, self.session.id)).collect())
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

    /// Counts the matching rows of `T` (honouring `limit` and `offset`; a row
    /// reached twice through a join counts once).
    ///
    /// # Errors
    /// A database error.
    pub async fn count(self) -> Result<i64> {
        let table = T::TABLE;
        let mut sql = Sql::new(self.session.dialect());
        sql.push("SELECT count(*) FROM (SELECT DISTINCT ");
        sql.list(table.primary_key(), |s, (_, c)| {
            s.qualified(table.name, c.name);
        });
        self.push_from_where(&mut sql);
        self.push_limit(&mut sql, self.limit);
        sql.push(") AS q");
        self.scalar(sql).await
    }

    /// Whether any row matches.
    ///
    /// # Errors
    /// A database error.
    pub async fn exists(self) -> Result<bool> {
        let mut sql = Sql::new(self.session.dialect());
        sql.push("SELECT EXISTS (SELECT 1");
        self.push_from_where(&mut sql);
        sql.push(")");
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

fn dedupe(slots: Vec<u32>) -> Vec<u32> {
    let mut seen = HashSet::with_capacity(slots.len());
    slots.into_iter().filter(|s| seen.insert(*s)).collect()
}

/// Appends `<kind> target [AS alias] ON ..` for one relationship, through the
/// secondary table for many-to-many. The owner is known as `owner_alias`.
fn push_join(
    sql: &mut Sql<'_>,
    kind: &str,
    owner: &TableMeta,
    owner_alias: &str,
    relation: &RelationMeta,
    alias: Option<&str>,
) {
    let target = (relation.target)();
    let target_alias = alias.unwrap_or(target.name);
    let (local, remote) = match relation.join {
        Join::ForeignKeyHere { local, remote } | Join::ForeignKeyThere { local, remote } => (local, remote),
        Join::Secondary { secondary, local, to_local, to_remote, remote } => {
            let secondary = secondary();
            let secondary_alias = alias.map_or_else(|| secondary.name.to_owned(), |a| format!("{a}_s"));
            sql.push(kind).ident(secondary.name);
            if alias.is_some() {
                sql.push(" AS ").ident(&secondary_alias);
            }
            sql.push(" ON ").qualified(&secondary_alias, secondary.columns[to_local].name).push(" = ");
            sql.qualified(owner_alias, owner.columns[local].name);
            sql.push(kind).ident(target.name);
            if alias.is_some() {
                sql.push(" AS ").ident(target_alias);
            }
            sql.push(" ON ").qualified(target_alias, target.columns[remote].name).push(" = ");
            sql.qualified(&secondary_alias, secondary.columns[to_remote].name);
            return;
        }
    };
    sql.push(kind).ident(target.name);
    if alias.is_some() {
        sql.push(" AS ").ident(target_alias);
    }
    sql.push(" ON ").qualified(target_alias, target.columns[remote].name).push(" = ");
    sql.qualified(owner_alias, owner.columns[local].name);
}

/// One joined eager load, in the order its columns appear in a row.
#[derive(Debug, Clone)]
pub(crate) struct JoinedStep {
    pub(crate) owner: &'static TableMeta,
    pub(crate) owner_alias: String,
    pub(crate) relation: &'static RelationMeta,
    pub(crate) target: &'static TableMeta,
    pub(crate) alias: String,
    /// The step whose objects own this step's (`None`: the query's model).
    pub(crate) parent: Option<usize>,
    pub(crate) node: LoadNode,
}

/// Flattens the joined options (and joined options nested under them) into
/// the order of their columns.
fn joined_plan(root: &'static TableMeta, loads: &[LoadNode]) -> Vec<JoinedStep> {
    fn walk(
        owner: &'static TableMeta,
        owner_alias: String,
        parent: Option<usize>,
        nodes: &[LoadNode],
        steps: &mut Vec<JoinedStep>,
    ) {
        for node in nodes.iter().filter(|n| n.strategy == Strategy::Joined) {
            let relation = &owner.relations[node.relation];
            let target = (node.joined.target)();
            let alias = format!("j{}", steps.len() + 1);
            steps.push(JoinedStep {
                owner,
                owner_alias: owner_alias.clone(),
                relation,
                target,
                alias: alias.clone(),
                parent,
                node: node.clone(),
            });
            let index = steps.len() - 1;
            walk(target, alias, Some(index), &node.nested, steps);
        }
    }
    let mut steps = Vec::new();
    walk(root, root.name.to_owned(), None, loads, &mut steps);
    steps
}

impl Session {
    /// Decodes rows of `T`'s columns followed by each joined step's columns,
    /// linking every related object to its owner in the same row.
    pub(crate) fn load_joined_rows<T: Model>(&mut self, rows: Rows, steps: &[JoinedStep]) -> Result<Vec<u32>> {
        let count = rows.len();
        let group = self.new_group::<T>();
        let mut values = rows.values;
        let mut reader = RowReader::new(T::TABLE, values.drain(..));
        let mut roots = Vec::with_capacity(count);
        let mut reset: HashSet<(usize, u32)> = HashSet::new();
        for _ in 0..count {
            let root = T::from_row(&mut reader)?;
            reader.next_row();
            let root = self.merge_object::<T>(root, group);
            roots.push(root);
            let mut objects: Vec<Option<u32>> = Vec::with_capacity(steps.len());
            for (i, step) in steps.iter().enumerate() {
                reader.switch_table(step.target);
                let child = (step.node.joined.decode)(self, &mut reader)?;
                reader.next_row();
                let owner = match step.parent {
                    None => Some(root),
                    Some(p) => objects[p],
                };
                if let Some(owner) = owner {
                    if reset.insert((i, owner)) {
                        (step.node.joined.reset)(self, owner, step.node.relation);
                    }
                    if let Some(child) = child {
                        (step.node.joined.attach)(self, owner, step.node.relation, child);
                    }
                }
                objects.push(child);
            }
            reader.switch_table(T::TABLE);
        }
        Ok(roots)
    }
}

use crate::executor::Rows;
