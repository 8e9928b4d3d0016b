//! The backend-neutral description of a SQL statement.
//!
//! The core builds every statement it sends as a [`Statement`] tree; a
//! backend crate turns the tree into its SQL text and parameters through
//! [`Dialect::render`](crate::Dialect::render). Nothing here is spelled in
//! any database's syntax: a second backend adds a renderer, not a change to
//! the session, the loaders or the query builder. Why a tree of our own
//! rather than sea-query is in `docs/design/statements.md`.

use std::borrow::Cow;

use crate::metadata::{ColumnMeta, TableMeta};
use crate::value::{SqlType, Value};

/// A table name or alias: static for tables, built for generated aliases.
pub type Name = Cow<'static, str>;

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// A query.
    Select(Box<Select>),
    /// An INSERT.
    Insert(Box<Insert>),
    /// An UPDATE.
    Update(Box<Update>),
    /// A DELETE.
    Delete(Box<Delete>),
    /// Transaction control, sent without parameters.
    Transaction(Transaction),
    /// The start of a bulk load of rows into a table; the rows follow in
    /// the database's own format (see [`Connection::copy_in`](crate::Connection::copy_in)).
    CopyIn(CopyIn),
    /// The next values of the sequence that fills a key column.
    ReserveKeys(ReserveKeys),
}

/// `COPY table (columns) FROM STDIN`: rows written with the bulk-load
/// protocol instead of an INSERT, every column given (no defaults, nothing
/// returned).
#[derive(Debug, Clone, PartialEq)]
pub struct CopyIn {
    /// The table's name.
    pub table: &'static str,
    /// The columns each row gives, in order.
    pub columns: Vec<&'static str>,
}

/// Takes `count` values of the sequence behind a generated key column, so
/// that rows can be written with their keys already known (a [`CopyIn`]).
/// Returns one row: an array of the values, of the key's type, in no
/// particular order; `NULL`s for a column without a sequence of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ReserveKeys {
    /// The table's name.
    pub table: &'static str,
    /// The key column.
    pub column: &'static str,
    /// The key's type, which the values are given as.
    pub sql_type: SqlType,
    /// How many values.
    pub count: i64,
}

/// Transaction control statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transaction {
    /// Starts a transaction.
    Begin,
    /// Commits it.
    Commit,
    /// Rolls it back.
    Rollback,
    /// Opens savepoint number `n`.
    Savepoint(u32),
    /// Releases savepoint `n`, keeping its work.
    Release(u32),
    /// Rolls back to savepoint `n`, which stays open.
    RollbackTo(u32),
    /// Rolls back to savepoint `n` and ends it.
    RollbackToAndRelease(u32),
}

/// The rendered form of a statement: its text and the values of its
/// parameters, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sql {
    /// The SQL text.
    pub text: String,
    /// The values of the parameters.
    pub params: Vec<Value>,
}

/// `SELECT`, with everything a query can carry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Select {
    /// Common table expressions (`WITH`).
    pub with: Vec<Cte>,
    /// `DISTINCT` or `DISTINCT ON`.
    pub distinct: Distinct,
    /// The select list.
    pub items: Vec<Expr>,
    /// The first source of `FROM` (none: a select of expressions only).
    pub from: Option<Source>,
    /// The joins that follow it.
    pub joins: Vec<JoinClause>,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// `GROUP BY`.
    pub group_by: Vec<Expr>,
    /// `HAVING`.
    pub having: Option<Expr>,
    /// `UNION` and friends, applied in order to this select.
    pub compound: Vec<(SetOp, Select)>,
    /// `ORDER BY`.
    pub order_by: Vec<OrderTerm>,
    /// `LIMIT`.
    pub limit: Option<Expr>,
    /// `OFFSET`.
    pub offset: Option<Expr>,
    /// `FOR UPDATE` and friends.
    pub lock: Option<Lock>,
}

/// Whether a select removes duplicate rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Distinct {
    /// Keeps every row.
    #[default]
    All,
    /// `DISTINCT`
    Rows,
    /// `DISTINCT ON (..)`: the first row of each group of equal values.
    On(Vec<Expr>),
}

/// A common table expression: `name (columns) AS (query)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cte {
    /// Its name.
    pub name: Name,
    /// The names of its columns.
    pub columns: Vec<Name>,
    /// Its query; a recursive one refers to `name` in a compound part.
    pub query: Box<Select>,
    /// `WITH RECURSIVE`.
    pub recursive: bool,
}

/// Something rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A table, under an alias or its own name.
    Table {
        /// The table's name.
        name: &'static str,
        /// The alias (`None`: the table's own name).
        alias: Option<Name>,
    },
    /// A subquery (or the name of a CTE, as a table with no alias).
    Subquery {
        /// The query.
        query: Box<Select>,
        /// Its alias.
        alias: Name,
    },
    /// Rows made of arrays of equal length, one array per column: row `i`
    /// holds element `i` of each array.
    Arrays {
        /// One [`Value::Array`] per column with the element type.
        arrays: Vec<(Value, SqlType)>,
        /// The alias of the rows.
        alias: Name,
        /// The names of the columns.
        columns: Vec<&'static str>,
        /// A last column numbering the rows from 1, under this name.
        ordinality: Option<&'static str>,
    },
}

impl Source {
    /// The table `table` under its own name.
    pub fn table(table: &TableMeta) -> Source {
        Source::Table { name: table.name, alias: None }
    }
}

/// `JOIN source ON condition`.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinClause {
    /// Inner or left outer.
    pub kind: JoinKind,
    /// What is joined.
    pub source: Source,
    /// The join condition.
    pub on: Expr,
}

/// The kind of a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// `JOIN`
    Inner,
    /// `LEFT OUTER JOIN`
    LeftOuter,
}

/// A set operation between two selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// `UNION`
    Union,
    /// `UNION ALL`
    UnionAll,
    /// `INTERSECT`
    Intersect,
    /// `EXCEPT`
    Except,
}

/// One `ORDER BY` term.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderTerm {
    /// What to sort by.
    pub expr: Expr,
    /// Descending.
    pub descending: bool,
    /// Where NULLs go (`None`: the database's default).
    pub nulls: Option<Nulls>,
}

/// Where NULLs sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nulls {
    /// `NULLS FIRST`
    First,
    /// `NULLS LAST`
    Last,
}

/// A row lock taken by a select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    /// How strong.
    pub strength: LockStrength,
    /// What to do with rows locked by others.
    pub wait: LockWait,
    /// The table whose rows are locked (`None`: every table read).
    pub of: Option<&'static str>,
}

/// The strength of a row lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockStrength {
    /// `FOR UPDATE`
    Update,
    /// `FOR SHARE`
    Share,
}

/// What a locking select does with rows locked by another transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockWait {
    /// Waits for them.
    Wait,
    /// Fails at once (`NOWAIT`).
    NoWait,
    /// Leaves them out (`SKIP LOCKED`).
    SkipLocked,
}

/// `INSERT INTO table (columns) <source> [ON CONFLICT ..] [RETURNING ..]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    /// The table's name.
    pub table: &'static str,
    /// The columns given values.
    pub columns: Vec<&'static str>,
    /// Where the rows come from.
    pub source: InsertSource,
    /// What to do with a row that violates a unique constraint.
    pub on_conflict: Option<OnConflict>,
    /// Columns to send back.
    pub returning: Vec<Expr>,
    /// Sends the `returning` columns back as one row of arrays, one per
    /// column, each in the order of the rows inserted (`WITH orm_inserted
    /// AS (INSERT ..) SELECT array_agg(..) FROM orm_inserted`): one row to
    /// read instead of one per row inserted.
    pub returning_as_arrays: bool,
}

/// The rows of an INSERT.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertSource {
    /// One row of defaults.
    DefaultValues,
    /// The rows of a select.
    Select(Box<Select>),
}

/// `ON CONFLICT (target) DO NOTHING | DO UPDATE SET ..`.
#[derive(Debug, Clone, PartialEq)]
pub struct OnConflict {
    /// The columns of the unique constraint (empty: any constraint, for
    /// `DO NOTHING` only).
    pub target: Vec<&'static str>,
    /// The columns to set, from [`Expr::Excluded`] or any expression; empty
    /// means `DO NOTHING`.
    pub set: Vec<(&'static str, Expr)>,
}

/// `UPDATE table SET .. [FROM ..] WHERE .. [RETURNING ..]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The table's name.
    pub table: &'static str,
    /// The assignments.
    pub set: Vec<(&'static str, Expr)>,
    /// Rows the assignments and the filter may read (one row per object of
    /// a batched update).
    pub from: Option<Source>,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// Columns to send back.
    pub returning: Vec<Expr>,
}

/// `DELETE FROM table [USING ..] WHERE .. [RETURNING ..]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    /// The table's name.
    pub table: &'static str,
    /// Rows the filter may read (one row per object of a batched delete).
    pub using: Option<Source>,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// Columns to send back.
    pub returning: Vec<Expr>,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// Text concatenation.
    Concat,
}

/// A function or aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `count(x)`; `count(*)` with no argument.
    Count,
    /// `count(DISTINCT x)`
    CountDistinct,
    /// `sum(x)`
    Sum,
    /// `avg(x)`
    Avg,
    /// `min(x)`
    Min,
    /// `max(x)`
    Max,
    /// Lowercase text.
    Lower,
    /// Uppercase text.
    Upper,
    /// The number of characters of a text.
    Length,
    /// The first argument that is not NULL.
    Coalesce,
    /// The current time with time zone, at the start of the transaction.
    Now,
    /// Truncates a time to a unit (`DateTrunc(unit)`).
    DateTrunc(TimeUnit),
    /// A field of a date or time, as a number.
    Extract(TimeUnit),
}

/// A unit of time, for [`Function::DateTrunc`] and [`Function::Extract`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// Years.
    Year,
    /// Months.
    Month,
    /// Days.
    Day,
    /// Hours.
    Hour,
    /// Minutes.
    Minute,
    /// Seconds.
    Second,
}

impl TimeUnit {
    /// The unit's name, lowercase (`"month"`).
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Year => "year",
            TimeUnit::Month => "month",
            TimeUnit::Day => "day",
            TimeUnit::Hour => "hour",
            TimeUnit::Minute => "minute",
            TimeUnit::Second => "second",
        }
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column of a table or alias.
    Column {
        /// The table name or alias.
        table: Name,
        /// The column.
        name: &'static str,
    },
    /// A column without a table (in `SET` or `RETURNING`).
    Bare(&'static str),
    /// Every column of a source (`alias.*`).
    AllColumns(Name),
    /// A select item under a name of its own (`expr AS label`).
    Labeled {
        /// The item.
        expr: Box<Expr>,
        /// Its name in the result.
        label: &'static str,
    },
    /// A bound parameter.
    Value(Value),
    /// A bound parameter cast to a type, whatever its value (a `NULL`
    /// included): the text does not depend on the value.
    TypedValue(Value, SqlType),
    /// SQL written by the model's author (a server default); never user input.
    Verbatim(&'static str),
    /// `lhs op rhs`
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left side.
        lhs: Box<Expr>,
        /// Right side.
        rhs: Box<Expr>,
    },
    /// `expr [NOT] LIKE pattern [ESCAPE '\']`, case-insensitive if asked.
    Like {
        /// The text.
        expr: Box<Expr>,
        /// The pattern.
        pattern: Box<Expr>,
        /// Case-insensitive.
        case_insensitive: bool,
    },
    /// `expr IS [NOT] NULL`
    IsNull {
        /// The operand.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `expr` equals an element of one array parameter.
    InArray {
        /// The operand.
        expr: Box<Expr>,
        /// A [`Value::Array`].
        array: Value,
    },
    /// `expr [NOT] IN (query)`; `expr` may be a [`Expr::Tuple`].
    InSubquery {
        /// The operand.
        expr: Box<Expr>,
        /// The query.
        query: Box<Select>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `[NOT] EXISTS (query)`
    Exists {
        /// The query.
        query: Box<Select>,
        /// `NOT EXISTS`.
        negated: bool,
    },
    /// A query returning one value.
    Subquery(Box<Select>),
    /// `expr BETWEEN low AND high`
    Between {
        /// The operand.
        expr: Box<Expr>,
        /// Lower bound.
        low: Box<Expr>,
        /// Upper bound.
        high: Box<Expr>,
    },
    /// A function call.
    Call {
        /// The function.
        function: Function,
        /// Its arguments.
        args: Vec<Expr>,
    },
    /// `CASE WHEN .. THEN .. ELSE .. END`
    Case {
        /// The conditions and their results, in order.
        whens: Vec<(Expr, Expr)>,
        /// The result when no condition holds (`None`: NULL).
        otherwise: Option<Box<Expr>>,
    },
    /// A time interval, in microseconds.
    Interval(i64),
    /// `(a, b, ..)`
    Tuple(Vec<Expr>),
    /// The value an upsert tried to insert into a column.
    Excluded(&'static str),
    /// All of these (`TRUE` when empty).
    And(Vec<Expr>),
    /// Any of these (`FALSE` when empty).
    Or(Vec<Expr>),
    /// `NOT expr`
    Not(Box<Expr>),
}

impl Expr {
    /// Column `name` of `table` (a table name or alias).
    pub fn column(table: impl Into<Name>, name: &'static str) -> Expr {
        Expr::Column { table: table.into(), name }
    }

    /// `lhs op rhs`
    pub fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
    }

    /// `self = rhs`
    pub fn equals(self, rhs: Expr) -> Expr {
        Expr::binary(BinaryOp::Eq, self, rhs)
    }

    /// `self` equals an element of `array`.
    pub fn in_array(self, array: Value) -> Expr {
        Expr::InArray { expr: Box::new(self), array }
    }

    /// All of `exprs`; `None` when there are none.
    pub fn all(mut exprs: Vec<Expr>) -> Option<Expr> {
        match exprs.len() {
            0 => None,
            1 => exprs.pop(),
            _ => Some(Expr::And(exprs)),
        }
    }
}

/// Every column of `table` qualified with `alias`, in column order.
pub fn columns_of<'t>(table: &'t TableMeta, alias: &Name) -> impl Iterator<Item = Expr> + 't {
    let alias = alias.clone();
    table.columns.iter().map(move |c| Expr::Column { table: alias.clone(), name: c.name })
}

/// The key columns of `table`, qualified with `alias`, in field order.
pub fn key_columns<'t>(table: &'t TableMeta, alias: &'static str) -> impl Iterator<Item = Expr> + 't {
    table.primary_key().map(move |(_, c)| Expr::column(alias, c.name))
}

/// `table.key = other.key` for every key column: `other` holds rows of the
/// same key (a key subquery, rows made of arrays).
pub fn same_key(table: &TableMeta, other: &'static str) -> Vec<Expr> {
    table.primary_key().map(|(_, c)| Expr::column(table.name, c.name).equals(Expr::column(other, c.name))).collect()
}

/// `COALESCE(sent, <server default>)` when `column` has a server default,
/// so that a `NULL` sent for it writes the default; else `sent`.
pub fn or_default(sent: Expr, column: &ColumnMeta) -> Expr {
    match column.default {
        Some(default) => Expr::Call { function: Function::Coalesce, args: vec![sent, Expr::Verbatim(default)] },
        None => sent,
    }
}

/// `key columns = key values`, for one row of `table`, unqualified.
pub fn key_filter(table: &TableMeta, key: Vec<Value>) -> Option<Expr> {
    let terms = table.primary_key().zip(key).map(|((_, c), v)| Expr::Bare(c.name).equals(Expr::Value(v))).collect();
    Expr::all(terms)
}

/// A select of every column of `table` from `table`.
pub fn select_table(table: &TableMeta) -> Select {
    let name: Name = Name::Borrowed(table.name);
    Select { items: columns_of(table, &name).collect(), from: Some(Source::table(table)), ..Select::default() }
}

/// The alias of the rows made of arrays (`rows_of_arrays`). Names starting
/// with `orm_` are the ORM's: a table or column must not take them.
pub const ROWS: &str = "orm_rows";

/// `SELECT orm_rows.a, .. FROM <arrays> AS orm_rows (a, b)`: one row per
/// array element, one array per column. `columns` pairs each column's name
/// with its type.
pub fn rows_of_arrays(columns: &[(&'static str, SqlType)], arrays: Vec<Value>) -> Select {
    let alias = Name::Borrowed(ROWS);
    Select {
        items: columns.iter().map(|&(name, _)| Expr::column(alias.clone(), name)).collect(),
        from: Some(Source::Arrays {
            arrays: arrays.into_iter().zip(columns).map(|(array, &(_, ty))| (array, ty)).collect(),
            alias,
            columns: columns.iter().map(|&(name, _)| name).collect(),
            ordinality: None,
        }),
        ..Select::default()
    }
}

/// `operand`, column `column` of `table`, matched against `keys` (sent as
/// one array of `key_type`), in a form whose plan is good for any number
/// of keys, whether PostgreSQL plans for the keys sent (a custom plan) or
/// for any keys (the generic plan it may switch to after five runs of a
/// prepared statement):
/// - the model declares an index that the column leads: `= ANY($1)`,
///   which PostgreSQL answers from the index (a bitmap scan) in both plans;
///   a join against the keys as rows hashed the whole table instead, 2x
///   the time of loading 1,000 posts of 10,000;
/// - it declares none: `IN (SELECT unnest($1))`, whose keys PostgreSQL
///   hashes in both plans, where a generic plan of `= ANY` compares every
///   row with the whole key array (64 ms against 4 ms, measured); the join
///   against the same rows hashed the table's rows instead, 2–4 % slower.
pub(crate) fn matching_keys(
    table: &TableMeta,
    column: usize,
    operand: Expr,
    key_type: SqlType,
    keys: Vec<Value>,
) -> Expr {
    let keys = Value::Array(key_type, keys);
    if table.leads_an_index(column) {
        return operand.in_array(keys);
    }
    let rows = rows_of_arrays(&[(table.columns[column].name, key_type)], vec![keys]);
    Expr::InSubquery { expr: Box::new(operand), query: Box::new(rows), negated: false }
}

/// As [`rows_of_arrays`], read in array order: `ORDER BY` a row number, so
/// that an INSERT of them takes generated keys in that order.
pub fn rows_of_arrays_in_order(columns: &[(&'static str, SqlType)], arrays: Vec<Value>) -> Select {
    const ROW_NUMBER: &str = "orm_row";
    let mut select = rows_of_arrays(columns, arrays);
    if let Some(Source::Arrays { ordinality, alias, .. }) = &mut select.from {
        *ordinality = Some(ROW_NUMBER);
        let row = Expr::column(alias.clone(), ROW_NUMBER);
        select.order_by.push(OrderTerm { expr: row, descending: false, nulls: None });
    }
    select
}
