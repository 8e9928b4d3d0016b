//! Queries through a session: `session.query::<Movie>()` loads whole
//! objects; `session.select(..)` reads columns, expressions and models into
//! tuples. Both are typed by the models they read from (see [`scope`]).

pub mod expr;
pub mod functions;
pub mod insert;
mod joined;
pub mod scope;
pub mod select;
pub(crate) mod shape;

use std::any::TypeId;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::loader::{collection_order, LoadNode};
use crate::metadata::TableMeta;
use crate::model::Model;
use crate::query::expr::{Column, Expr, Expression, Operand, Order};
use crate::query::joined::{joined_plan, JoinedStep};
use crate::query::scope::{HasModel, InScope, Push};
use crate::relation::{Join, Relation, RelationMeta};
use crate::session::{Handle, Session};
use crate::statement::{
    self, key_columns, JoinClause, JoinKind, Lock, LockStrength, LockWait, Name, OrderTerm, Source, Statement,
};
use crate::value::{Bind, Value};

pub use insert::{ConflictTarget, InsertMany};
pub use select::{select, Entity, Selection, Subquery};

/// A query of whole objects of model `T`, reading from the models in `F`
/// (`T` and the models joined), built with `filter`, `join`, `order_by`,
/// `limit`, `offset`, locking and eager `load` options, run with `all`,
/// `first`, `one`, `count`, `exists` or `page`, or turned into one
/// `UPDATE` or `DELETE` with `update` and `delete`.
///
/// Every run autoflushes first, so the query sees the session's pending
/// changes; rows already in the identity map come back as the same handles,
/// and a row reached twice through a join comes back once.
#[derive(Debug)]
#[must_use = "a query does nothing until it is run with `all`, `first`, `one`, `count` or `exists`"]
pub struct Query<'s, T: Model, F = (T,)> {
    session: &'s mut Session,
    filters: Vec<statement::Expr>,
    joins: Vec<JoinStep>,
    order: Vec<OrderTerm>,
    limit: Option<i64>,
    offset: Option<i64>,
    lock: Option<Lock>,
    loads: Vec<LoadNode>,
    marker: std::marker::PhantomData<fn() -> (T, F)>,
}

/// A join along a relationship, for filtering and sorting on the joined model.
#[derive(Debug, Clone, Copy)]
struct JoinStep {
    owner: &'static TableMeta,
    relation: &'static RelationMeta,
    kind: JoinKind,
}

/// The text of a plain query: the one the engine keeps for its shape, or
/// rendered for this run only.
enum PlainText {
    Kept(Arc<str>),
    Rendered(String),
}

impl std::ops::Deref for PlainText {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            PlainText::Kept(text) => text,
            PlainText::Rendered(text) => text,
        }
    }
}

/// The SELECT of every column of `table`'s rows, with `filters` (joined
/// with AND), sorted by `order`, paged by `limit` and `offset`, locked by
/// `lock`: a plain query's whole statement, and a joined one's start.
fn plain_select(
    table: &'static TableMeta,
    filters: Vec<statement::Expr>,
    order: Vec<OrderTerm>,
    limit: Option<i64>,
    offset: Option<i64>,
    lock: Option<Lock>,
) -> statement::Select {
    let name = Name::Borrowed(table.name);
    statement::Select {
        items: statement::columns_of(table, &name).collect(),
        from: Some(Source::table(table)),
        filter: statement::Expr::all(filters),
        order_by: order,
        limit: limit.map(|n| statement::Expr::Value(Value::I64(n))),
        offset: offset.map(|n| statement::Expr::Value(Value::I64(n))),
        lock,
        ..Default::default()
    }
}

/// The names the sort values of a joined query take in its key subquery.
const SORT_ALIASES: [&str; 8] = ["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"];

impl<'s, T: Model> Query<'s, T> {
    pub(crate) fn new(session: &'s mut Session) -> Self {
        Query {
            session,
            filters: Vec::new(),
            joins: Vec::new(),
            order: Vec::new(),
            limit: None,
            offset: None,
            lock: None,
            loads: Vec::new(),
            marker: std::marker::PhantomData,
        }
    }
}

impl<'s, T: Model, F> Query<'s, T, F> {
    fn retype<F2>(self) -> Query<'s, T, F2> {
        Query {
            session: self.session,
            filters: self.filters,
            joins: self.joins,
            order: self.order,
            limit: self.limit,
            offset: self.offset,
            lock: self.lock,
            loads: self.loads,
            marker: std::marker::PhantomData,
        }
    }

    /// Keeps the rows matching `predicate`, which may use `T` and the joined
    /// models; several filters are joined with AND.
    pub fn filter<S: InScope<F, I>, I>(mut self, predicate: Expr<bool, S>) -> Self {
        self.filters.push(predicate.node);
        self
    }

    /// Joins the target of a relationship (`INNER JOIN`), so that filters
    /// and sorting can use its columns:
    /// `.join(Movie::actors).filter(Actor::name.eq(..))`. The relationship
    /// must start at `T` or at a model joined before. Each object comes back
    /// once, and `limit` and `one` count objects, not joined rows.
    pub fn join<A: Model, B: Model, C, P>(mut self, relation: Relation<A, B, C>) -> Query<'s, T, F::Output>
    where
        F: HasModel<A, P> + Push<B>,
    {
        self.joins.push(JoinStep { owner: A::TABLE, relation: relation.meta(), kind: JoinKind::Inner });
        self.retype()
    }

    /// As [`join`](Query::join), with a `LEFT OUTER JOIN`.
    pub fn outer_join<A: Model, B: Model, C, P>(mut self, relation: Relation<A, B, C>) -> Query<'s, T, F::Output>
    where
        F: HasModel<A, P> + Push<B>,
    {
        self.joins.push(JoinStep { owner: A::TABLE, relation: relation.meta(), kind: JoinKind::LeftOuter });
        self.retype()
    }

    /// Sorts by an expression of `T` or of a joined model:
    /// `.order_by(Movie::title.asc())`. Sorting by a joined model's column
    /// sorts each object by its smallest value (largest, descending).
    pub fn order_by<S: InScope<F, I>, I>(mut self, order: Order<S>) -> Self {
        self.order.push(order.term);
        self
    }

    /// Keyset pagination: the rows after `value` in `column`'s ascending
    /// order, sorted by it. Pass the last value of the previous page.
    pub fn after<V>(mut self, column: Column<T, V>, value: impl Bind<V>) -> Self {
        let column = column.into_expr().node;
        self.filters.push(statement::Expr::binary(
            statement::BinaryOp::Gt,
            column.clone(),
            statement::Expr::Value(value.into_value()),
        ));
        // First, so that it decides the order (and the keyset) whatever
        // was sorted before.
        self.order.insert(0, ascending(column));
        self
    }

    /// The matching objects and every object reachable from them along a
    /// self-referential relationship, at any depth, in one statement (a
    /// recursive CTE): `.filter(Employee::name.eq("Ada")).recursive(Employee::reports)`
    /// is Ada and everyone below her. Filters and joins given before choose
    /// where the walk starts; those given after apply to every object found.
    pub fn recursive<C>(mut self, relation: Relation<T, T, C>) -> Query<'s, T> {
        const TREE: &str = "orm_tree";
        let table = T::TABLE;
        let name = Name::Borrowed(table.name);
        let seed = statement::Select {
            items: statement::columns_of(table, &name).collect(),
            from: Some(Source::table(table)),
            filter: self.key_filter(),
            ..Default::default()
        };
        let step = statement::Select {
            items: statement::columns_of(table, &name).collect(),
            from: Some(Source::Table { name: TREE, alias: None }),
            joins: join_clauses(table, TREE, relation.meta(), JoinKind::Inner, None),
            ..Default::default()
        };
        let mut walk = seed;
        // UNION, not UNION ALL: a cycle in the data ends the walk.
        walk.compound.push((statement::SetOp::Union, step));
        let tree = statement::Cte {
            name: Name::Borrowed(TREE),
            columns: table.columns.iter().map(|c| Name::Borrowed(c.name)).collect(),
            query: Box::new(walk),
            recursive: true,
        };
        let keys = statement::Select {
            with: vec![tree],
            items: key_columns(table, TREE).collect(),
            from: Some(Source::Table { name: TREE, alias: None }),
            ..Default::default()
        };
        self.filters = vec![statement::Expr::InSubquery {
            expr: Box::new(key_tuple(table, table.name)),
            query: Box::new(keys),
            negated: false,
        }];
        self.joins.clear();
        self.retype()
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

    /// The filters, with the joins as a key subquery:
    /// `(key) IN (SELECT key FROM t JOIN .. WHERE ..)`.
    fn key_filter(&self) -> Option<statement::Expr> {
        if self.joins.is_empty() {
            return statement::Expr::all(self.filters.clone());
        }
        let keys = self.key_select(Vec::new());
        Some(statement::Expr::InSubquery {
            expr: Box::new(key_tuple(T::TABLE, T::TABLE.name)),
            query: Box::new(keys),
            negated: false,
        })
    }

    /// `SELECT key, extra.. FROM t JOIN .. WHERE ..`
    fn key_select(&self, extra: Vec<statement::Expr>) -> statement::Select {
        let table = T::TABLE;
        let mut items: Vec<statement::Expr> = key_columns(table, table.name).collect();
        items.extend(extra);
        let mut joins = Vec::new();
        for join in &self.joins {
            joins.extend(join_clauses(join.owner, join.owner.name, join.relation, join.kind, None));
        }
        statement::Select {
            items,
            from: Some(Source::table(table)),
            joins,
            filter: statement::Expr::all(self.filters.clone()),
            ..Default::default()
        }
    }

    /// The SELECT of `T`'s rows, filtered, sorted and limited. With joins,
    /// it joins `(SELECT key, min(sort value).. GROUP BY key) AS k`, so that
    /// an object comes once, is sorted by its joined rows, and is counted
    /// once by `limit`. `sort_columns` also selects the sort values (for the
    /// outer query of a joined eager load).
    fn parent_select(&mut self, limit: Option<i64>, sort_columns: bool) -> Result<statement::Select> {
        let table = T::TABLE;
        if self.joins.is_empty() {
            // Taken, not cloned: `run` consumes the query.
            let (filters, order) = (std::mem::take(&mut self.filters), std::mem::take(&mut self.order));
            return Ok(plain_select(table, filters, order, limit, self.offset, self.lock));
        }
        let mut select = plain_select(table, Vec::new(), Vec::new(), limit, self.offset, self.lock);
        if self.order.len() > SORT_ALIASES.len() {
            return Err(Error::InvalidStatement {
                model: table.model,
                reason: format!("a joined query sorts by at most {} terms", SORT_ALIASES.len()),
            });
        }
        let sort_values = self.order.iter().zip(SORT_ALIASES).map(|(term, label)| {
            let function = if term.descending { statement::Function::Max } else { statement::Function::Min };
            let value = statement::Expr::Call { function, args: vec![term.expr.clone()] };
            statement::Expr::Labeled { expr: Box::new(value), label }
        });
        let mut keys = self.key_select(sort_values.collect());
        keys.group_by = key_columns(table, table.name).collect();
        select.joins.push(JoinClause {
            kind: JoinKind::Inner,
            source: Source::Subquery { query: Box::new(keys), alias: Name::Borrowed("k") },
            on: statement::Expr::all(statement::same_key(table, "k")).unwrap_or(statement::Expr::And(Vec::new())),
        });
        select.order_by = self
            .order
            .iter()
            .zip(SORT_ALIASES)
            .map(|(term, alias)| OrderTerm { expr: statement::Expr::column("k", alias), ..term.clone() })
            .collect();
        if sort_columns {
            select.items.extend(SORT_ALIASES[..self.order.len()].iter().map(|a| statement::Expr::column("k", a)));
        }
        if let Some(lock) = &mut select.lock {
            lock.of = Some(table.name);
        }
        Ok(select)
    }

    /// The statement that loads `T`, with the joined eager loads.
    ///
    /// When something limits the parent rows (`limit`, `offset`, a lock, or
    /// joins that choose them), they are chosen first in a subquery and the
    /// eager joins only add their related rows; otherwise the joins go
    /// straight onto `T`'s table. The rows are sorted only as far as the
    /// loader needs: by the query's `order_by`, and by the collections whose
    /// order it cannot reproduce in memory
    /// ([`MemoryOrder`](crate::loader::MemoryOrder)). The loader does not
    /// need a parent's rows next to each other.
    fn select(&mut self, limit: Option<i64>, joined: &[JoinedStep]) -> Result<statement::Select> {
        if joined.is_empty() {
            return self.parent_select(limit, false);
        }
        let table = T::TABLE;
        let name = Name::Borrowed(table.name);
        let mut items: Vec<statement::Expr> = statement::columns_of(table, &name).collect();
        let mut joins = Vec::new();
        for step in joined {
            let alias = Name::Owned(step.alias.clone());
            items.extend(statement::columns_of(step.target, &alias));
            joins.extend(join_clauses(
                step.owner,
                &step.owner_alias,
                step.relation,
                JoinKind::LeftOuter,
                Some(&step.alias),
            ));
        }
        let mut order_by: Vec<OrderTerm> = if self.joins.is_empty() {
            self.order.clone()
        } else {
            let sorted = self.order.iter().zip(SORT_ALIASES);
            sorted
                .map(|(term, alias)| OrderTerm { expr: statement::Expr::column(table.name, alias), ..term.clone() })
                .collect()
        };
        for step in joined.iter().filter(|step| step.order.is_none()) {
            order_by.extend(collection_order(step.target, &step.alias, step.relation));
        }
        let mut select = statement::Select { items, joins, order_by, ..Default::default() };
        if limit.is_none() && self.offset.is_none() && self.lock.is_none() && self.joins.is_empty() {
            select.from = Some(Source::table(table));
            select.filter = statement::Expr::all(std::mem::take(&mut self.filters));
        } else {
            let parents = self.parent_select(limit, true)?;
            select.from = Some(Source::Subquery { query: Box::new(parents), alias: name });
        }
        Ok(select)
    }

    async fn run(mut self, limit: Option<i64>) -> Result<Vec<Handle<T>>> {
        let joined = joined_plan(T::TABLE, &self.loads);
        let slots = if joined.is_empty() && self.joins.is_empty() && self.lock.is_none() {
            let (text, params) = self.plain_sql(limit)?;
            self.session.fetch_objects_sql::<T>(&text, &params).await?
        } else {
            let select = self.select(limit, &joined)?;
            if self.lock.is_some() {
                self.session.begin().await?;
            }
            let statement = Statement::Select(Box::new(select));
            // Rows of one table are distinct by key (joins without eager
            // loading select the keys grouped); joined loads repeat a root per
            // related row, and return each root once.
            if joined.is_empty() {
                self.session.fetch_objects::<T>(statement).await?
            } else {
                self.session.load_joined::<T>(statement, &joined).await?
            }
        };
        self.session.run_selectin(&slots, &self.loads, true).await?;
        Ok(slots.into_iter().map(|i| Handle::new(i, self.session.id)).collect())
    }

    /// The text and parameters of a plain query (no joins, no lock, no
    /// joined eager load): the engine's text for the query's shape when it
    /// keeps one ([`shape`](self::shape)). Otherwise the statement is
    /// rendered, and its text kept for the shape once a second rendering,
    /// with each value replaced by its place in the walk, shows that the
    /// statement binds the values in the walk's order. Not async, so that
    /// `run`'s future holds none of this across its awaits.
    fn plain_sql(&mut self, limit: Option<i64>) -> Result<(PlainText, Vec<Value>)> {
        let offset = self.offset;
        let shape = shape::Shape::of(TypeId::of::<T>(), &self.filters, &self.order, limit.is_some(), offset.is_some());
        let texts = self.session.statement_texts();
        if let Some(shape) = &shape {
            if let Some(text) = texts.query(shape.tokens()) {
                let (filters, order) = (std::mem::take(&mut self.filters), std::mem::take(&mut self.order));
                return Ok((PlainText::Kept(text), shape::parameters(filters, order, limit, offset)));
            }
        }
        let probe = shape.as_ref().filter(|_| texts.keeps_more_queries()).map(|_| {
            let places = shape::placed(&self.filters, &self.order, limit.is_some(), offset.is_some());
            let probe = plain_select(T::TABLE, places.filters, places.order, places.limit, places.offset, None);
            (self.session.render(Statement::Select(Box::new(probe))), places.count)
        });
        let select = self.parent_select(limit, false)?;
        let sql = self.session.render(Statement::Select(Box::new(select)));
        if let (Some(shape), Some((probe, count))) = (shape, probe) {
            // One parameter per value, as the probe had.
            if shape::binds_in_walk_order(&probe.params, count) && sql.params.len() == probe.params.len() {
                let text: Arc<str> = sql.text.into();
                self.session.statement_texts().keep_query(shape.tokens(), text.clone());
                return Ok((PlainText::Kept(text), sql.params));
            }
        }
        Ok((PlainText::Rendered(sql.text), sql.params))
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
        let statement = self.count_statement();
        self.session.scalar(statement).await
    }

    fn count_statement(&self) -> Statement {
        let mut keys = self.key_select(Vec::new());
        keys.distinct = statement::Distinct::Rows;
        keys.limit = self.limit.map(|n| statement::Expr::Value(Value::I64(n)));
        keys.offset = self.offset.map(|n| statement::Expr::Value(Value::I64(n)));
        Statement::Select(Box::new(statement::Select {
            items: vec![statement::Expr::Call { function: statement::Function::Count, args: Vec::new() }],
            from: Some(Source::Subquery { query: Box::new(keys), alias: Name::Borrowed("q") }),
            ..Default::default()
        }))
    }

    /// Whether any row matches.
    ///
    /// # Errors
    /// A database error.
    pub async fn exists(self) -> Result<bool> {
        let mut keys = self.key_select(Vec::new());
        keys.items.clear();
        let exists = statement::Select {
            items: vec![statement::Expr::Exists { query: Box::new(keys), negated: false }],
            ..Default::default()
        };
        self.session.scalar(Statement::Select(Box::new(exists))).await
    }

    /// One page of the results and the total number of matching objects:
    /// page `number` (from 1) of `per_page` objects. Two statements.
    ///
    /// # Errors
    /// A database error.
    pub async fn page(mut self, number: i64, per_page: i64) -> Result<Page<T>> {
        let offset = (number.max(1) - 1).checked_mul(per_page.max(1)).ok_or_else(|| Error::InvalidStatement {
            model: T::TABLE.model,
            reason: format!("page {number} of {per_page} objects is out of range"),
        })?;
        (self.limit, self.offset) = (None, None);
        let statement = self.count_statement();
        let total = self.session.scalar(statement).await?;
        let items = self.limit(per_page).offset(offset).all().await?;
        Ok(Page { items, total, number, per_page })
    }

    /// Sets columns of every matching row in one `UPDATE .. WHERE`, and of
    /// the matching objects the session holds, without a round trip per
    /// object (SQLAlchemy's `synchronize_session`): `query.update([Book::price.set(Book::price * rate)])`.
    /// Returns the number of rows updated. Runs in the session's
    /// transaction, after an autoflush.
    ///
    /// # Errors
    /// A database error; [`Error::Decode`] if a returned value does not fit.
    pub async fn update(self, assignments: impl IntoIterator<Item = Assignment<T>>) -> Result<u64> {
        let assignments: Vec<Assignment<T>> = assignments.into_iter().collect();
        self.check_bulk("update")?;
        if let Some(a) = assignments.iter().find(|a| T::TABLE.columns[a.column].primary_key) {
            return Err(Error::InvalidStatement {
                model: T::TABLE.model,
                reason: format!("a bulk update cannot change the primary key `{}`", T::TABLE.columns[a.column].field),
            });
        }
        if assignments.iter().any(|a| mentions_excluded(&a.value)) {
            return Err(Error::InvalidStatement {
                model: T::TABLE.model,
                reason: "`excluded` is the row an upsert tried to insert; a bulk update has none".into(),
            });
        }
        let mut set: Vec<(&'static str, statement::Expr)> =
            assignments.iter().map(|a| (T::TABLE.columns[a.column].name, a.value.clone())).collect();
        // `onupdate` columns the statement does not set itself.
        for (index, column) in T::TABLE.columns.iter().enumerate() {
            if let (Some(sql), false) = (column.onupdate, assignments.iter().any(|a| a.column == index)) {
                set.push((column.name, statement::Expr::Verbatim(sql)));
            }
        }
        let update = statement::Update {
            table: T::TABLE.name,
            set,
            from: None,
            filter: self.key_filter(),
            returning: statement::columns_of(T::TABLE, &Name::Borrowed(T::TABLE.name)).collect(),
        };
        let mut columns: Vec<usize> = assignments.iter().map(|a| a.column).collect();
        columns.extend(T::TABLE.columns.iter().enumerate().filter(|(_, c)| c.onupdate.is_some()).map(|(i, _)| i));
        let rows = self.session.write_statement(Statement::Update(Box::new(update))).await?;
        let count = rows.len() as u64;
        self.session.assign_rows::<T>(rows, &columns)?;
        Ok(count)
    }

    /// Deletes every matching row in one `DELETE .. WHERE`; the matching
    /// objects the session holds become detached, those of other models of
    /// the same table too. Returns the number of
    /// rows deleted. Cascades of relationships are the database's (`ON
    /// DELETE`), as with SQLAlchemy's bulk delete.
    ///
    /// # Errors
    /// A database error.
    pub async fn delete(self) -> Result<u64> {
        self.check_bulk("delete")?;
        let delete = statement::Delete {
            table: T::TABLE.name,
            using: None,
            filter: self.key_filter(),
            returning: statement::columns_of(T::TABLE, &Name::Borrowed(T::TABLE.name)).collect(),
        };
        let rows = self.session.write_statement(Statement::Delete(Box::new(delete))).await?;
        let count = rows.len() as u64;
        self.session.detach_rows::<T>(&rows)?;
        Ok(count)
    }
}

impl<T: Model, F> Query<'_, T, F> {
    /// A bulk statement applies to every matching row: `limit`, `offset`
    /// and `order_by` would be silently ignored, so they are refused (as
    /// SQLAlchemy does).
    fn check_bulk(&self, action: &str) -> Result<()> {
        if self.limit.is_some() || self.offset.is_some() || !self.order.is_empty() || self.lock.is_some() {
            return Err(Error::InvalidStatement {
                model: T::TABLE.model,
                reason: format!(
                    "a bulk {action} applies to every matching row; remove limit, offset, order_by and locks"
                ),
            });
        }
        Ok(())
    }
}

/// Whether an expression reads `excluded` (an upsert's proposed row).
fn mentions_excluded(expr: &statement::Expr) -> bool {
    use statement::Expr as E;
    match expr {
        E::Excluded(_) => true,
        E::Binary { lhs, rhs, .. } => mentions_excluded(lhs) || mentions_excluded(rhs),
        E::Call { args, .. } | E::Tuple(args) | E::And(args) | E::Or(args) => args.iter().any(mentions_excluded),
        E::Case { whens, otherwise } => {
            whens.iter().any(|(c, v)| mentions_excluded(c) || mentions_excluded(v))
                || otherwise.as_deref().is_some_and(mentions_excluded)
        }
        E::Not(inner) | E::Labeled { expr: inner, .. } => mentions_excluded(inner),
        E::Like { expr, pattern, .. } => mentions_excluded(expr) || mentions_excluded(pattern),
        E::IsNull { expr, .. } | E::InArray { expr, .. } | E::InSubquery { expr, .. } => mentions_excluded(expr),
        E::Between { expr, low, high } => [expr, low, high].iter().any(|e| mentions_excluded(e)),
        _ => false,
    }
}

/// One page of a query's results, from [`Query::page`].
#[derive(Debug)]
pub struct Page<T> {
    /// The objects of this page.
    pub items: Vec<Handle<T>>,
    /// How many objects match in all.
    pub total: i64,
    /// The page number, from 1.
    pub number: i64,
    /// The page size.
    pub per_page: i64,
}

impl<T> Page<T> {
    /// The number of pages.
    pub fn pages(&self) -> i64 {
        if self.per_page <= 0 {
            0
        } else {
            self.total.div_euclid(self.per_page) + i64::from(self.total.rem_euclid(self.per_page) != 0)
        }
    }
}

/// `column = value` in a bulk UPDATE or an upsert, from [`Column::set`].
#[derive(Debug, Clone)]
pub struct Assignment<M> {
    pub(crate) column: usize,
    pub(crate) value: statement::Expr,
    marker: std::marker::PhantomData<fn() -> M>,
}

impl<M, T> Column<M, T> {
    /// Assigns `value` (a value, or an expression of this model's columns)
    /// to this column, for [`Query::update`] and upserts.
    pub fn set<O: Operand<T, K>, K, I>(self, value: O) -> Assignment<M>
    where
        O::Sources: InScope<(M,), I>,
    {
        Assignment { column: self.index(), value: value.into_operand(), marker: std::marker::PhantomData }
    }
}

/// Row locks for a query run in the session's transaction (which it opens):
/// `.for_update()`, `.for_share()`, then `.nowait()` or `.skip_locked()`.
pub trait Locking: Sized {
    #[doc(hidden)]
    fn lock_mut(&mut self) -> &mut Option<Lock>;

    /// `FOR UPDATE`: locks the rows read until the transaction ends.
    fn for_update(mut self) -> Self {
        self.lock_mut().get_or_insert_with(|| lock(LockStrength::Update)).strength = LockStrength::Update;
        self
    }

    /// `FOR SHARE`: blocks writers of the rows read until the transaction ends.
    fn for_share(mut self) -> Self {
        self.lock_mut().get_or_insert_with(|| lock(LockStrength::Share)).strength = LockStrength::Share;
        self
    }

    /// Fails at once on a row another transaction holds (`NOWAIT`); implies
    /// `for_update` unless `for_share` was asked.
    fn nowait(mut self) -> Self {
        self.lock_mut().get_or_insert_with(|| lock(LockStrength::Update)).wait = LockWait::NoWait;
        self
    }

    /// Leaves out rows another transaction holds (`SKIP LOCKED`), as a job
    /// queue does; implies `for_update` unless `for_share` was asked.
    fn skip_locked(mut self) -> Self {
        self.lock_mut().get_or_insert_with(|| lock(LockStrength::Update)).wait = LockWait::SkipLocked;
        self
    }
}

fn lock(strength: LockStrength) -> Lock {
    Lock { strength, wait: LockWait::Wait, of: None }
}

impl<T: Model, F> Locking for Query<'_, T, F> {
    fn lock_mut(&mut self) -> &mut Option<Lock> {
        &mut self.lock
    }
}

fn ascending(expr: statement::Expr) -> OrderTerm {
    OrderTerm { expr, descending: false, nulls: None }
}

fn key_tuple(table: &'static TableMeta, alias: &'static str) -> statement::Expr {
    let mut columns: Vec<statement::Expr> = key_columns(table, alias).collect();
    if columns.len() == 1 {
        columns.remove(0)
    } else {
        statement::Expr::Tuple(columns)
    }
}

/// The joins of one relationship from `owner` (known as `owner_alias`),
/// through the secondary table for many-to-many, the target under `alias`.
pub(crate) fn join_clauses(
    owner: &TableMeta,
    owner_alias: &str,
    relation: &RelationMeta,
    kind: JoinKind,
    alias: Option<&str>,
) -> Vec<JoinClause> {
    let target = (relation.target)();
    let target_alias: Name = Name::Owned(alias.unwrap_or(target.name).to_owned());
    let source = |table: &'static TableMeta, alias: &Name| Source::Table {
        name: table.name,
        alias: (alias.as_ref() != table.name).then(|| alias.clone()),
    };
    let owner_alias: Name = Name::Owned(owner_alias.to_owned());
    match relation.join {
        Join::ForeignKeyHere { local, remote } | Join::ForeignKeyThere { local, remote } => {
            let on = statement::Expr::column(target_alias.clone(), target.columns[remote].name)
                .equals(statement::Expr::column(owner_alias, owner.columns[local].name));
            vec![JoinClause { kind, source: source(target, &target_alias), on }]
        }
        Join::Secondary { secondary, local, to_local, to_remote, remote } => {
            let secondary = secondary();
            let secondary_alias: Name = alias.map_or(Name::Borrowed(secondary.name), |a| Name::Owned(format!("{a}_s")));
            let to_secondary = statement::Expr::column(secondary_alias.clone(), secondary.columns[to_local].name)
                .equals(statement::Expr::column(owner_alias, owner.columns[local].name));
            let to_target = statement::Expr::column(target_alias.clone(), target.columns[remote].name)
                .equals(statement::Expr::column(secondary_alias.clone(), secondary.columns[to_remote].name));
            vec![
                JoinClause { kind, source: source(secondary, &secondary_alias), on: to_secondary },
                JoinClause { kind, source: source(target, &target_alias), on: to_target },
            ]
        }
    }
}
