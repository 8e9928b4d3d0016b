//! Selects of columns, expressions and whole models into typed tuples:
//! `session.select((Author::name, count(Book::id)))`.

use std::marker::PhantomData;

use crate::error::{Error, Result};
use crate::executor::{RawRow, ValueRow};
use crate::model::{Model, RowReader};
use crate::query::expr::{Column, Expr, Expression, Order};
use crate::query::scope::{HasModel, InScope, Push, Rooted};
use crate::query::{join_clauses, Locking};
use crate::relation::Relation;
use crate::session::{Handle, Session};
use crate::statement::{self, Distinct, JoinKind, SetOp, Source};
use crate::value::{SqlValue, Value};

/// A whole model in a select, read back as a [`Handle`] through the identity
/// map: `session.select((Author::ENTITY, count(Book::id)))`.
pub struct Entity<M>(PhantomData<fn() -> M>);

impl<M> Entity<M> {
    /// The marker of model `M`.
    pub const fn new() -> Self {
        Entity(PhantomData)
    }
}

impl<M> Default for Entity<M> {
    fn default() -> Self {
        Entity::new()
    }
}

impl<M> Clone for Entity<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Entity<M> {}

impl<M> std::fmt::Debug for Entity<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::any::type_name::<M>())
    }
}

/// What a select returns: a column, an expression, an [`Entity`], or a
/// tuple of them (up to 8), read into `Output`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be selected",
    label = "select a column, an expression, `Model::ENTITY`, or a tuple of them"
)]
pub trait Selection {
    /// What one row reads back as.
    type Output: Send;
    /// The models used.
    type Sources;
    /// Whether reading a row needs the session (a whole model does, to go
    /// through the identity map); rows of other selections stream straight
    /// into the result.
    const NEEDS_SESSION: bool;
    /// Appends the select items.
    fn push_items(self, items: &mut Vec<statement::Expr>);
    /// Reads one row's values, in item order; `session` is `Some` when
    /// [`NEEDS_SESSION`](Selection::NEEDS_SESSION) is set. The error is
    /// boxed to keep this per-row result small.
    ///
    /// # Errors
    /// [`Error::DecodeColumn`] or [`Error::Decode`] when a value does not fit.
    fn read(session: Option<&mut Session>, row: &mut ResultRow<'_>) -> Result<Self::Output, Box<Error>>;
}

/// The values of one result row, read left to right.
pub struct ResultRow<'a> {
    row: &'a mut dyn RawRow,
    /// The number of columns read.
    position: usize,
}

impl std::fmt::Debug for ResultRow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultRow").field("position", &self.position).finish_non_exhaustive()
    }
}

impl<'a> ResultRow<'a> {
    pub(crate) fn new(row: &'a mut dyn RawRow) -> Self {
        ResultRow { row, position: 0 }
    }

    #[inline]
    pub(crate) fn next<T: SqlValue>(&mut self) -> Result<T, Box<Error>> {
        self.position += 1;
        T::read(self.row, self.position - 1).map_err(|value| decode_column_error::<T>(self.position, &value))
    }
}

/// The error of a result value that does not fit `T`.
#[cold]
fn decode_column_error<T>(position: usize, value: &Value) -> Box<Error> {
    Box::new(Error::DecodeColumn { position, sql_type: value.sent(), rust_type: std::any::type_name::<T>() })
}

impl<M, T: SqlValue> Selection for Column<M, T> {
    type Output = T;
    type Sources = crate::query::expr::Src<M>;
    const NEEDS_SESSION: bool = false;
    fn push_items(self, items: &mut Vec<statement::Expr>) {
        items.push(self.into_expr().node);
    }
    #[inline]
    fn read(_: Option<&mut Session>, row: &mut ResultRow<'_>) -> Result<T, Box<Error>> {
        row.next()
    }
}

impl<T: SqlValue, S> Selection for Expr<T, S> {
    type Output = T;
    type Sources = S;
    const NEEDS_SESSION: bool = false;
    fn push_items(self, items: &mut Vec<statement::Expr>) {
        items.push(self.node);
    }
    #[inline]
    fn read(_: Option<&mut Session>, row: &mut ResultRow<'_>) -> Result<T, Box<Error>> {
        row.next()
    }
}

impl<M: Model> Selection for Entity<M> {
    type Output = Handle<M>;
    type Sources = crate::query::expr::Src<M>;
    const NEEDS_SESSION: bool = true;
    fn push_items(self, items: &mut Vec<statement::Expr>) {
        items.extend(statement::columns_of(M::TABLE, &statement::Name::Borrowed(M::TABLE.name)));
    }
    fn read(session: Option<&mut Session>, row: &mut ResultRow<'_>) -> Result<Handle<M>, Box<Error>> {
        let Some(session) = session else {
            return Err(Box::new(Error::InvalidStatement {
                model: M::TABLE.model,
                reason: "a whole model is read through a session".into(),
            }));
        };
        let object = M::from_row(&mut RowReader::at(M::TABLE, row.row, row.position)).map_err(Box::new)?;
        row.position += M::TABLE.columns.len();
        let index = session.merge_object::<M>(object, 0);
        Ok(Handle::new(index, session.id))
    }
}

macro_rules! selection_tuple {
    ($($t:ident)+) => {
        impl<$($t: Selection),+> Selection for ($($t,)+) {
            type Output = ($($t::Output,)+);
            type Sources = selection_tuple!(@sources $($t)+);
            const NEEDS_SESSION: bool = $($t::NEEDS_SESSION)||+;
            #[allow(non_snake_case)]
            fn push_items(self, items: &mut Vec<statement::Expr>) {
                let ($($t,)+) = self;
                $($t.push_items(items);)+
            }
            #[allow(unused_mut)]
            #[inline]
            fn read(mut session: Option<&mut Session>, row: &mut ResultRow<'_>) -> Result<Self::Output, Box<Error>> {
                Ok(($($t::read(session.as_deref_mut(), row)?,)+))
            }
        }
    };
    (@sources $first:ident) => { $first::Sources };
    (@sources $first:ident $($rest:ident)+) => { ($first::Sources, selection_tuple!(@sources $($rest)+)) };
}

selection_tuple!(A);
selection_tuple!(A B);
selection_tuple!(A B C);
selection_tuple!(A B C D);
selection_tuple!(A B C D E);
selection_tuple!(A B C D E G);
selection_tuple!(A B C D E G H);
selection_tuple!(A B C D E G H J);

/// The select's runner: a session to run it on, or [`Detached`] for a
/// subquery or a statement run later.
#[derive(Debug)]
pub struct Detached;

/// A SELECT of `Sel` reading from the models in `F`, built with `join`,
/// `filter`, `group_by`, `having`, `distinct`, `order_by`, `limit`,
/// locking and set operations. From a session (`session.select(..)`) it
/// runs with `all`, `first`, `one`, `count` and `exists`; from
/// [`select`](crate::query::select()) it is a subquery.
///
/// The FROM clause starts at the model of the first item; every other model
/// used must be joined, or the query does not compile.
#[must_use = "a select does nothing until it is run"]
pub struct Select<Sel, F, R = Detached> {
    runner: R,
    /// The model the FROM clause starts at, for messages.
    root: &'static str,
    pub(crate) select: statement::Select,
    marker: PhantomData<fn() -> (Sel, F)>,
}

impl<Sel, F, R: std::fmt::Debug> std::fmt::Debug for Select<Sel, F, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Select").field("runner", &self.runner).field("select", &self.select).finish()
    }
}

/// A select of one column, used inside another statement.
#[derive(Debug, Clone)]
pub struct Subquery<T, S> {
    pub(crate) select: statement::Select,
    marker: PhantomData<fn() -> (T, S)>,
}

/// Starts a select that is not bound to a session: a subquery, or a part of
/// a `union`. `select(Book::author_id).filter(Book::price.gt(price))`.
pub fn select<Sel>(selection: Sel) -> Select<Sel, (<Sel::Sources as Rooted>::Root,)>
where
    Sel: Selection,
    Sel::Sources: Rooted,
    <Sel::Sources as Rooted>::Root: Model,
{
    Select::new(Detached, selection)
}

impl<Sel, F, R> Select<Sel, F, R> {
    pub(crate) fn new(runner: R, selection: Sel) -> Self
    where
        Sel: Selection,
        Sel::Sources: Rooted,
        <Sel::Sources as Rooted>::Root: Model,
    {
        let root = <<Sel::Sources as Rooted>::Root as Model>::TABLE;
        let mut select = statement::Select { from: Some(Source::table(root)), ..Default::default() };
        selection.push_items(&mut select.items);
        Select { runner, root: root.model, select, marker: PhantomData }
    }

    fn retype<F2>(self) -> Select<Sel, F2, R> {
        Select { runner: self.runner, root: self.root, select: self.select, marker: PhantomData }
    }

    /// Joins the target of a relationship that starts at a model of the
    /// query (`INNER JOIN`).
    pub fn join<A: Model, B: Model, C, P>(mut self, relation: Relation<A, B, C>) -> Select<Sel, F::Output, R>
    where
        F: HasModel<A, P> + Push<B>,
    {
        self.select.joins.extend(join_clauses(A::TABLE, A::TABLE.name, relation.meta(), JoinKind::Inner, None));
        self.retype()
    }

    /// As [`join`](Select::join), with a `LEFT OUTER JOIN`: the joined
    /// model's columns are NULL where nothing matched, so read them into
    /// `Option` fields of the selection.
    pub fn outer_join<A: Model, B: Model, C, P>(mut self, relation: Relation<A, B, C>) -> Select<Sel, F::Output, R>
    where
        F: HasModel<A, P> + Push<B>,
    {
        self.select.joins.extend(join_clauses(A::TABLE, A::TABLE.name, relation.meta(), JoinKind::LeftOuter, None));
        self.retype()
    }

    /// Makes an outer model usable inside this subquery without adding it
    /// to its FROM clause: a correlated subquery.
    pub fn correlate<M>(self) -> Select<Sel, F::Output, R>
    where
        F: Push<M>,
    {
        self.retype()
    }

    /// Keeps the rows for which `predicate` holds; filters are joined with AND.
    pub fn filter<S: InScope<F, I>, I>(mut self, predicate: Expr<bool, S>) -> Self {
        push_and(&mut self.select.filter, predicate.node);
        self
    }

    /// `GROUP BY expr`; call again for more terms.
    pub fn group_by<E: Expression, I>(mut self, expr: E) -> Self
    where
        E::Sources: InScope<F, I>,
    {
        self.select.group_by.push(expr.into_expr().node);
        self
    }

    /// Keeps the groups for which `predicate` holds.
    pub fn having<S: InScope<F, I>, I>(mut self, predicate: Expr<bool, S>) -> Self {
        push_and(&mut self.select.having, predicate.node);
        self
    }

    /// `SELECT DISTINCT`: each distinct row once.
    pub fn distinct(mut self) -> Self {
        self.select.distinct = Distinct::Rows;
        self
    }

    /// `SELECT DISTINCT ON (expr)`: the first row of each group of equal
    /// `expr` (sort by `expr` first).
    pub fn distinct_on<E: Expression, I>(mut self, expr: E) -> Self
    where
        E::Sources: InScope<F, I>,
    {
        match &mut self.select.distinct {
            Distinct::On(exprs) => exprs.push(expr.into_expr().node),
            other => *other = Distinct::On(vec![expr.into_expr().node]),
        }
        self
    }

    /// Sorts by an expression of any model in the query.
    pub fn order_by<S: InScope<F, I>, I>(mut self, order: Order<S>) -> Self {
        self.select.order_by.push(order.term);
        self
    }

    /// Returns at most `n` rows.
    pub fn limit(mut self, n: i64) -> Self {
        self.select.limit = Some(statement::Expr::Value(Value::I64(n)));
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: i64) -> Self {
        self.select.offset = Some(statement::Expr::Value(Value::I64(n)));
        self
    }

    /// `UNION` with another select of the same row type (duplicates removed).
    ///
    /// Set operations apply in the order they are called. `order_by`,
    /// `limit` and `offset` apply to the whole result, and `order_by` must
    /// name items of the select list; filters, joins and groups given after
    /// a set operation apply to this select's own rows only, so give them
    /// first.
    pub fn union<Sel2: Selection<Output = Sel::Output>, F2>(self, other: Select<Sel2, F2>) -> Self
    where
        Sel: Selection,
    {
        self.compound(SetOp::Union, other.select)
    }

    /// `UNION ALL`: duplicates kept.
    pub fn union_all<Sel2: Selection<Output = Sel::Output>, F2>(self, other: Select<Sel2, F2>) -> Self
    where
        Sel: Selection,
    {
        self.compound(SetOp::UnionAll, other.select)
    }

    /// `INTERSECT`: rows in both.
    pub fn intersect<Sel2: Selection<Output = Sel::Output>, F2>(self, other: Select<Sel2, F2>) -> Self
    where
        Sel: Selection,
    {
        self.compound(SetOp::Intersect, other.select)
    }

    /// `EXCEPT`: rows of this select that the other does not return.
    pub fn except<Sel2: Selection<Output = Sel::Output>, F2>(self, other: Select<Sel2, F2>) -> Self
    where
        Sel: Selection,
    {
        self.compound(SetOp::Except, other.select)
    }

    /// The statement, for rendering by a dialect (to log or inspect it).
    pub fn into_statement(self) -> statement::Statement {
        statement::Statement::Select(Box::new(self.select))
    }

    fn compound(mut self, op: SetOp, other: statement::Select) -> Self {
        self.select.compound.push((op, other));
        self
    }
}

impl<Sel, F, R> Locking for Select<Sel, F, R> {
    fn lock_mut(&mut self) -> &mut Option<statement::Lock> {
        &mut self.select.lock
    }
}

impl<Sel: Selection, F> Select<Sel, F, Detached> {
    /// This select of one column as a subquery, for
    /// [`in_subquery`](crate::query::expr::Expression::in_subquery) and
    /// [`exists`](crate::query::functions::exists).
    pub fn subquery(self) -> Subquery<Sel::Output, Sel::Sources> {
        Subquery { select: self.select, marker: PhantomData }
    }

    /// This select of one value as an expression (a scalar subquery), for a
    /// select list or a filter.
    pub fn scalar(self) -> Expr<Sel::Output> {
        Expr::from_node(statement::Expr::Subquery(Box::new(self.select)))
    }
}

impl<Sel: Selection, F> Select<Sel, F, &mut Session> {
    /// Returns every row.
    ///
    /// # Errors
    /// A database error, or a decode error naming the column.
    pub async fn all<I>(self) -> Result<Vec<Sel::Output>>
    where
        Sel::Sources: InScope<F, I>,
    {
        let session = self.runner;
        let width = self.select.items.len();
        if self.select.lock.is_some() {
            // A lock lasts as long as the transaction that took it.
            session.begin().await?;
        }
        let statement = statement::Statement::Select(Box::new(self.select));
        if !Sel::NEEDS_SESSION {
            let sql = session.render(statement);
            let mut out = Vec::new();
            let mut read = |row: &mut dyn RawRow| -> Result<()> {
                check_width(width, row.width())?;
                if out.is_empty() {
                    // Sized from the last run of the same statement: growing
                    // the result row by row costs about 5 % of a large read.
                    out.reserve(row.rows_hint());
                }
                out.push(Sel::read(None, &mut ResultRow::new(row))?);
                Ok(())
            };
            session.stream_sql(&sql, &mut read).await?;
            return Ok(out);
        }
        let mut out = Vec::new();
        let rows = session.fetch_statement(statement).await?;
        if !rows.is_empty() {
            check_width(width, rows.width)?;
        }
        out.reserve(rows.len());
        for values in rows.iter() {
            out.push(Sel::read(Some(&mut *session), &mut ResultRow::new(&mut ValueRow::new(values)))?);
        }
        Ok(out)
    }

    /// Returns the first row, if any.
    ///
    /// # Errors
    /// As [`all`](Select::all).
    pub async fn first<I>(mut self) -> Result<Option<Sel::Output>>
    where
        Sel::Sources: InScope<F, I>,
    {
        self.select.limit = Some(statement::Expr::Value(Value::I64(1)));
        Ok(self.all().await?.into_iter().next())
    }

    /// Returns the one row.
    ///
    /// # Errors
    /// [`Error::NotFound`] for no row, [`Error::MultipleRows`] for several.
    pub async fn one<I>(mut self) -> Result<Sel::Output>
    where
        Sel::Sources: InScope<F, I>,
    {
        // Two rows are enough to tell one from several; a smaller limit stays.
        if !matches!(self.select.limit, Some(statement::Expr::Value(Value::I64(n))) if n < 2) {
            self.select.limit = Some(statement::Expr::Value(Value::I64(2)));
        }
        let model = self.root;
        let mut rows = self.all().await?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            0 => Err(Error::NotFound { model }),
            _ => Err(Error::MultipleRows { model }),
        }
    }

    /// Counts the rows this select returns.
    ///
    /// # Errors
    /// A database error.
    pub async fn count<I>(self) -> Result<i64>
    where
        Sel::Sources: InScope<F, I>,
    {
        let session = self.runner;
        if self.select.lock.is_some() {
            session.begin().await?;
        }
        let counted = statement::Select {
            items: vec![statement::Expr::Call { function: statement::Function::Count, args: Vec::new() }],
            from: Some(Source::Subquery { query: Box::new(self.select), alias: "q".into() }),
            ..Default::default()
        };
        session.scalar(statement::Statement::Select(Box::new(counted))).await
    }

    /// Whether the select returns any row.
    ///
    /// # Errors
    /// A database error.
    pub async fn exists<I>(self) -> Result<bool>
    where
        Sel::Sources: InScope<F, I>,
    {
        let session = self.runner;
        if self.select.lock.is_some() {
            session.begin().await?;
        }
        let exists = statement::Select {
            items: vec![statement::Expr::Exists { query: Box::new(self.select), negated: false }],
            ..Default::default()
        };
        session.scalar(statement::Statement::Select(Box::new(exists))).await
    }
}

fn check_width(expected: usize, returned: usize) -> Result<()> {
    if expected == returned {
        Ok(())
    } else {
        Err(Error::ResultShape { what: "the columns of a select".into(), expected, returned })
    }
}

pub(crate) fn push_and(slot: &mut Option<statement::Expr>, predicate: statement::Expr) {
    *slot = Some(match slot.take() {
        None => predicate,
        Some(statement::Expr::And(mut all)) => {
            all.push(predicate);
            statement::Expr::And(all)
        }
        Some(first) => statement::Expr::And(vec![first, predicate]),
    });
}

impl Session {
    /// Starts a select of columns, expressions or whole models, run on this
    /// session after an autoflush:
    /// `session.select((Author::name, count(Book::id))).join(Author::books).group_by(Author::name).all()`.
    pub fn select<Sel>(&mut self, selection: Sel) -> Select<Sel, (<Sel::Sources as Rooted>::Root,), &mut Session>
    where
        Sel: Selection,
        Sel::Sources: Rooted,
        <Sel::Sources as Rooted>::Root: Model,
    {
        Select::new(self, selection)
    }
}

/// A second copy of model `M` in one query, told apart by `N`: a
/// self-referential parent and child side by side.
///
/// ```ignore
/// let boss = Alias::<Employee, 1>::new();
/// session.select((Employee::name, boss.col(Employee::name))).join_as(Employee::manager, boss)
/// ```
pub struct Alias<M, const N: usize>(PhantomData<fn() -> M>);

impl<M, const N: usize> std::fmt::Debug for Alias<M, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Alias<{}, {N}>", std::any::type_name::<M>())
    }
}

impl<M, const N: usize> Clone for Alias<M, N> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, const N: usize> Copy for Alias<M, N> {}

impl<M, const N: usize> Default for Alias<M, N> {
    fn default() -> Self {
        Alias::new()
    }
}

impl<M, const N: usize> Alias<M, N> {
    /// The alias.
    pub const fn new() -> Self {
        Alias(PhantomData)
    }
}

impl<M: Model, const N: usize> Alias<M, N> {
    /// The SQL name of the alias: the table's name and `N`.
    pub fn name(self) -> String {
        format!("{}_{N}", M::TABLE.name)
    }

    /// A column of the aliased copy.
    pub fn col<T>(self, column: Column<M, T>) -> Expr<T, crate::query::expr::Src<Self>> {
        Expr::from_node(statement::Expr::column(self.name(), column.name()))
    }
}

impl<Sel, F, R> Select<Sel, F, R> {
    /// Joins the target of a relationship under an alias, so that a model
    /// can appear twice: `.join_as(Employee::manager, boss)`.
    pub fn join_as<A: Model, B: Model, C, P, const N: usize>(
        mut self,
        relation: Relation<A, B, C>,
        alias: Alias<B, N>,
    ) -> Select<Sel, F::Output, R>
    where
        F: HasModel<A, P> + Push<Alias<B, N>>,
    {
        let name = alias.name();
        self.select.joins.extend(join_clauses(A::TABLE, A::TABLE.name, relation.meta(), JoinKind::Inner, Some(&name)));
        self.retype()
    }
}

/// A common table expression: a select named once and read like a table
/// (`WITH name AS (..)`), told apart from other CTEs by `N`. Its columns
/// are read by position with [`col`](Cte::col), typed from the select:
///
/// ```ignore
/// let totals = Cte::<_, 1>::new("stock", select((Book::author_id, func::sum(Book::stock))).group_by(Book::author_id));
/// session.select((Author::name, totals.col::<1>())).join_cte(&totals, Author::id.eq(totals.col::<0>()))
/// ```
pub struct Cte<Out, const N: usize> {
    name: &'static str,
    select: statement::Select,
    marker: PhantomData<fn() -> Out>,
}

impl<Out, const N: usize> std::fmt::Debug for Cte<Out, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cte").field("name", &self.name).field("select", &self.select).finish()
    }
}

/// The names of a CTE's columns, by position.
const CTE_COLUMNS: [&str; 8] = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"];

/// The type of item `K` of a selection's row.
pub trait Nth<const K: usize> {
    /// The type.
    type Item;
}

macro_rules! nth {
    ($k:literal; $($t:ident),+; $item:ident) => {
        impl<$($t),+> Nth<$k> for ($($t,)+) {
            type Item = $item;
        }
    };
}

nth!(0; A; A);
nth!(0; A, B; A);
nth!(1; A, B; B);
nth!(0; A, B, C; A);
nth!(1; A, B, C; B);
nth!(2; A, B, C; C);
nth!(0; A, B, C, D; A);
nth!(1; A, B, C, D; B);
nth!(2; A, B, C, D; C);
nth!(3; A, B, C, D; D);

impl<Out, const N: usize> Cte<Out, N> {
    /// Names `query` (a select of up to 4 items, read as a tuple) `name`.
    pub fn new<Sel: Selection<Output = Out>, F>(name: &'static str, query: Select<Sel, F>) -> Self {
        Cte { name, select: query.select, marker: PhantomData }
    }

    /// Column `K` (from 0) of the CTE.
    pub fn col<const K: usize>(&self) -> Expr<<Out as Nth<K>>::Item, crate::query::expr::Src<Self>>
    where
        Out: Nth<K>,
    {
        Expr::from_node(statement::Expr::column(self.name, CTE_COLUMNS[K]))
    }

    fn definition(&self) -> statement::Cte {
        // A shorter column list leaves the remaining columns their own names.
        let named = self.select.items.len().min(CTE_COLUMNS.len());
        statement::Cte {
            name: statement::Name::Borrowed(self.name),
            columns: CTE_COLUMNS[..named].iter().map(|c| statement::Name::Borrowed(c)).collect(),
            query: Box::new(self.select.clone()),
            recursive: false,
        }
    }
}

impl<Sel, F, R> Select<Sel, F, R> {
    /// Adds a CTE to the statement (`WITH`) and joins it on `on`, which may
    /// use the CTE's columns and the models already in the query.
    pub fn join_cte<Out, const N: usize, S, I>(
        mut self,
        cte: &Cte<Out, N>,
        on: Expr<bool, S>,
    ) -> Select<Sel, F::Output, R>
    where
        F: Push<Cte<Out, N>>,
        S: InScope<F::Output, I>,
    {
        self.select.with.push(cte.definition());
        self.select.joins.push(statement::JoinClause {
            kind: JoinKind::Inner,
            source: Source::Table { name: cte.name, alias: None },
            on: on.node,
        });
        self.retype()
    }
}
