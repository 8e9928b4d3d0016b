//! SQL functions and aggregates (SQLAlchemy's `func`), typed as PostgreSQL types their results:
//! `count` is `i64`; `sum` of an `i32` column is `Option<i64>` (NULL over no
//! rows); `avg` of an integer and `sum` or `avg` of a `numeric` are
//! `Option<Decimal>`; `min` and `max` of `T` are `Option<T>`.

#[cfg(feature = "chrono")]
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
#[cfg(feature = "rust_decimal")]
use rust_decimal::Decimal;

use crate::query::expr::{Expr, Expression, Operand, Text};
use crate::query::Subquery;
use crate::statement::{self, Function};

pub use crate::query::expr::{escape_like, value};
pub use crate::statement::TimeUnit;

fn call<T, S>(function: Function, args: Vec<statement::Expr>) -> Expr<T, S> {
    Expr::from_node(statement::Expr::Call { function, args })
}

/// `count(expr)`: the rows where `expr` is not NULL.
pub fn count<E: Expression>(expr: E) -> Expr<i64, E::Sources> {
    call(Function::Count, vec![expr.into_expr().node])
}

/// `count(*)`: every row.
pub fn count_all() -> Expr<i64> {
    call(Function::Count, Vec::new())
}

/// `count(DISTINCT expr)`
pub fn count_distinct<E: Expression>(expr: E) -> Expr<i64, E::Sources> {
    call(Function::CountDistinct, vec![expr.into_expr().node])
}

/// A type `sum` and `avg` accept, with the types PostgreSQL gives back.
#[diagnostic::on_unimplemented(
    message = "cannot sum or average `{Self}`: `sum` and `avg` take numeric expressions",
    label = "not a number"
)]
pub trait Summable {
    /// The type of `sum`.
    type Sum;
    /// The type of `avg`.
    type Avg;
}

macro_rules! summable {
    ($($ty:ty => $sum:ty, $avg:ty;)*) => {$(
        impl Summable for $ty {
            type Sum = Option<$sum>;
            type Avg = Option<$avg>;
        }
        impl Summable for Option<$ty> {
            type Sum = Option<$sum>;
            type Avg = Option<$avg>;
        }
    )*};
}

summable! {
    f32 => f32, f64;
    f64 => f64, f64;
}

// PostgreSQL averages integers (and sums `bigint`s) as `numeric`.
#[cfg(feature = "rust_decimal")]
summable! {
    i16 => i64, Decimal;
    i32 => i64, Decimal;
    i64 => Decimal, Decimal;
    Decimal => Decimal, Decimal;
}

/// `sum(expr)`
pub fn sum<E: Expression>(expr: E) -> Expr<<E::Value as Summable>::Sum, E::Sources>
where
    E::Value: Summable,
{
    call(Function::Sum, vec![expr.into_expr().node])
}

/// `avg(expr)`
pub fn avg<E: Expression>(expr: E) -> Expr<<E::Value as Summable>::Avg, E::Sources>
where
    E::Value: Summable,
{
    call(Function::Avg, vec![expr.into_expr().node])
}

/// A type with an order, for `min` and `max`; `T` and `Option<T>` both
/// give `Option<T>`.
#[diagnostic::on_unimplemented(message = "`{Self}` has no order: `min` and `max` take numbers, text, dates and times")]
pub trait Nullable {
    /// The nullable form.
    type Option;
}

macro_rules! nullable {
    ($($ty:ty),*) => {$(
        impl Nullable for $ty {
            type Option = Option<$ty>;
        }
        impl Nullable for Option<$ty> {
            type Option = Option<$ty>;
        }
    )*};
}

// Not bool, bytea or jsonb: PostgreSQL has no min or max of them.
nullable!(i16, i32, i64, f32, f64, String);
#[cfg(feature = "rust_decimal")]
nullable!(Decimal);
#[cfg(feature = "chrono")]
nullable!(NaiveDate, NaiveTime, NaiveDateTime, DateTime<Utc>);

/// `min(expr)`
pub fn min<E: Expression>(expr: E) -> Expr<<E::Value as Nullable>::Option, E::Sources>
where
    E::Value: Nullable,
{
    call(Function::Min, vec![expr.into_expr().node])
}

/// `max(expr)`
pub fn max<E: Expression>(expr: E) -> Expr<<E::Value as Nullable>::Option, E::Sources>
where
    E::Value: Nullable,
{
    call(Function::Max, vec![expr.into_expr().node])
}

/// `lower(text)`
pub fn lower<E: Expression>(expr: E) -> Expr<E::Value, E::Sources>
where
    E::Value: Text,
{
    call(Function::Lower, vec![expr.into_expr().node])
}

/// `upper(text)`
pub fn upper<E: Expression>(expr: E) -> Expr<E::Value, E::Sources>
where
    E::Value: Text,
{
    call(Function::Upper, vec![expr.into_expr().node])
}

/// The number of characters of a text (`Option<i32>` for a nullable one).
pub fn length<E: Expression>(expr: E) -> Expr<<E::Value as Text>::Length, E::Sources>
where
    E::Value: Text,
{
    call(Function::Length, vec![expr.into_expr().node])
}

/// `coalesce(expr, fallback)`: `expr` unless it is NULL, else `fallback`.
pub fn coalesce<T, E, O, K>(expr: E, fallback: O) -> Expr<T, (E::Sources, O::Sources)>
where
    E: Expression<Value = Option<T>>,
    O: Operand<T, K>,
{
    call(Function::Coalesce, vec![expr.into_expr().node, fallback.into_operand()])
}

/// The current time, at the start of the transaction (`now()`).
#[cfg(feature = "chrono")]
pub fn now() -> Expr<DateTime<Utc>> {
    call(Function::Now, Vec::new())
}

/// Timestamp types, for `date_trunc` and `extract`.
#[diagnostic::on_unimplemented(message = "`{Self}` is not a timestamp type")]
pub trait Timestamp {}
#[cfg(feature = "chrono")]
impl Timestamp for NaiveDateTime {}
#[cfg(feature = "chrono")]
impl Timestamp for DateTime<Utc> {}
#[cfg(feature = "chrono")]
impl Timestamp for Option<NaiveDateTime> {}
#[cfg(feature = "chrono")]
impl Timestamp for Option<DateTime<Utc>> {}

/// Truncates a timestamp to `unit`: `date_trunc('month', ts)`.
pub fn date_trunc<E: Expression>(unit: TimeUnit, expr: E) -> Expr<E::Value, E::Sources>
where
    E::Value: Timestamp,
{
    call(Function::DateTrunc(unit), vec![expr.into_expr().node])
}

/// A field of a timestamp as a number: `extract(year FROM ts)`.
#[cfg(feature = "rust_decimal")]
pub fn extract<E: Expression>(unit: TimeUnit, expr: E) -> Expr<Option<Decimal>, E::Sources>
where
    E::Value: Timestamp,
{
    call(Function::Extract(unit), vec![expr.into_expr().node])
}

/// `CASE WHEN condition THEN value .. ELSE .. END`, built with
/// [`case_when`] then [`Case::when`] and [`Case::otherwise`].
#[derive(Debug)]
pub struct Case<T, S> {
    whens: Vec<(statement::Expr, statement::Expr)>,
    marker: std::marker::PhantomData<fn() -> (T, S)>,
}

/// Starts a `CASE`: `case_when(Book::stock.eq(0), value(1)).otherwise(0)`.
/// The first result sets the type: a column, an expression, or a value
/// wrapped in [`value`] (a bare `1` could be an `i32` or an `Option<i32>`).
pub fn case_when<T, C, O, K>(condition: Expr<bool, C>, then: O) -> Case<T, (C, O::Sources)>
where
    O: Operand<T, K>,
{
    Case { whens: vec![(condition.node, then.into_operand())], marker: std::marker::PhantomData }
}

impl<T, S> Case<T, S> {
    /// Another branch.
    pub fn when<C, O: Operand<T, K>, K>(mut self, condition: Expr<bool, C>, then: O) -> Case<T, (S, (C, O::Sources))> {
        self.whens.push((condition.node, then.into_operand()));
        Case { whens: self.whens, marker: std::marker::PhantomData }
    }

    /// The result when no branch holds, ending the `CASE`.
    pub fn otherwise<O: Operand<T, K>, K>(self, value: O) -> Expr<T, (S, O::Sources)> {
        Expr::from_node(statement::Expr::Case { whens: self.whens, otherwise: Some(Box::new(value.into_operand())) })
    }
}

/// `EXISTS (query)`
pub fn exists<T, S>(query: Subquery<T, S>) -> Expr<bool> {
    Expr::from_node(statement::Expr::Exists { query: Box::new(query.select), negated: false })
}

/// `NOT EXISTS (query)`
pub fn not_exists<T, S>(query: Subquery<T, S>) -> Expr<bool> {
    Expr::from_node(statement::Expr::Exists { query: Box::new(query.select), negated: true })
}
