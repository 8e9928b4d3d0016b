//! SQL written by hand, run on the session's own connection inside its
//! transaction (SQLAlchemy's `text()` and `from_statement`).

use crate::error::{Error, Result};
use crate::model::Model;
use crate::query::select::ResultRow;
use crate::session::{Handle, Session};
use crate::value::{SqlValue, Value};

/// The parameters of a raw statement: `()`, or a tuple of values of column
/// types, bound to `$1`, `$2`, .. in order; never spliced into the text.
pub trait Params {
    /// The values with the names of their Rust types, in order.
    fn into_params(self) -> Vec<(Value, &'static str)>;
}

impl Params for () {
    fn into_params(self) -> Vec<(Value, &'static str)> {
        Vec::new()
    }
}

/// One parameter of a raw statement: a value of a column type, or a `&str`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a statement parameter",
    label = "not a value of a column type"
)]
pub trait Param {
    /// The value to bind.
    fn into_value(self) -> Value;
}

impl<T: SqlValue> Param for T {
    fn into_value(self) -> Value {
        self.to_value()
    }
}

impl Param for &str {
    fn into_value(self) -> Value {
        Value::Text(self.to_owned())
    }
}

/// What one row of a raw query reads into: a value of a column type, or a
/// tuple of them (up to 8).
pub trait FromRow: Sized {
    /// The number of columns a row must have.
    const WIDTH: usize;
    /// Reads one row's values, left to right.
    ///
    /// # Errors
    /// [`Error::DecodeColumn`] when a value does not fit.
    fn from_row(row: &mut ResultRow<'_>) -> Result<Self>;
}

impl<T: SqlValue> FromRow for T {
    const WIDTH: usize = 1;
    fn from_row(row: &mut ResultRow<'_>) -> Result<Self> {
        Ok(row.next()?)
    }
}

macro_rules! tuples {
    ($($t:ident)+) => {
        impl<$($t: Param),+> Params for ($($t,)+) {
            #[allow(non_snake_case)]
            fn into_params(self) -> Vec<(Value, &'static str)> {
                let ($($t,)+) = self;
                vec![$(($t.into_value(), std::any::type_name::<$t>()),)+]
            }
        }
        impl<$($t: SqlValue),+> FromRow for ($($t,)+) {
            const WIDTH: usize = [$(stringify!($t)),+].len();
            fn from_row(row: &mut ResultRow<'_>) -> Result<Self> {
                Ok(($(row.next::<$t>()?,)+))
            }
        }
    };
}

tuples!(A);
tuples!(A B);
tuples!(A B C);
tuples!(A B C D);
tuples!(A B C D E);
tuples!(A B C D E G);
tuples!(A B C D E G H);
tuples!(A B C D E G H J);

/// Binds parameters, keeping their Rust type names for error messages.
fn bind(params: impl Params) -> (Vec<Value>, Vec<&'static str>) {
    params.into_params().into_iter().unzip()
}

/// Names the Rust type of a parameter the database refused.
fn name_parameter(error: Error, types: &[&'static str]) -> Error {
    match error {
        Error::ParameterType { position, expected, sent } => {
            let sent = types.get(position - 1).map_or(sent, |t| format!("a `{t}`"));
            Error::ParameterType { position, expected, sent }
        }
        other => other,
    }
}

impl Session {
    /// Runs a statement written in SQL, with `$1`, `$2`, .. bound to
    /// `params`, on the session's connection inside its transaction (opened
    /// if needed), after an autoflush. Returns the number of rows affected.
    ///
    /// ```no_run
    /// # async fn demo(session: &mut orm_core::Session) -> orm_core::Result<()> {
    /// let n = session.execute("UPDATE books SET stock = stock - 1 WHERE id = $1", (7,)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A database error; [`Error::ParameterType`] naming the parameter's
    /// position, the SQL type expected and the Rust type given.
    pub async fn execute(&mut self, sql: &str, params: impl Params) -> Result<u64> {
        let (params, types) = bind(params);
        self.prepare_write().await?;
        self.connection().await?;
        self.awaiting_statement = self.in_transaction;
        let result = self.conn.as_deref_mut().expect("just checked out").execute(sql, &params).await;
        self.awaiting_statement = false;
        self.settle(result).await.map_err(|e| name_parameter(e, &types))
    }

    /// Runs a query written in SQL, as [`execute`](Session::execute), and
    /// reads each row into `R`: a value, or a tuple of values.
    ///
    /// # Errors
    /// As [`execute`](Session::execute); [`Error::DecodeColumn`] when a value
    /// does not fit.
    pub async fn query_sql<R: FromRow>(&mut self, sql: &str, params: impl Params) -> Result<Vec<R>> {
        let rows = self.raw_rows(sql, params).await?;
        if !rows.is_empty() && rows.width != R::WIDTH {
            return Err(Error::ResultShape {
                what: format!("the columns `{}` reads", std::any::type_name::<R>()),
                expected: R::WIDTH,
                returned: rows.width,
            });
        }
        rows.iter()
            .map(|values| R::from_row(&mut ResultRow::new(&mut crate::executor::ValueRow::new(values))))
            .collect()
    }

    /// Runs a query written in SQL that returns every column of `T`, in
    /// column order, and merges the rows into the identity map (SQLAlchemy's
    /// `from_statement`): rows already loaded come back as the same handles.
    ///
    /// # Errors
    /// As [`execute`](Session::execute); [`Error::Decode`] when a value does
    /// not fit its field.
    pub async fn from_statement<T: Model>(&mut self, sql: &str, params: impl Params) -> Result<Vec<Handle<T>>> {
        let (params, types) = bind(params);
        self.prepare_write().await?;
        let slots = self.fetch_objects_sql::<T>(sql, &params).await.map_err(|e| name_parameter(e, &types))?;
        Ok(slots.into_iter().map(|i| self.handle(i)).collect())
    }

    async fn raw_rows(&mut self, sql: &str, params: impl Params) -> Result<crate::executor::Rows> {
        let (params, types) = bind(params);
        self.prepare_write().await?;
        self.run_sql(sql, &params).await.map_err(|e| name_parameter(e, &types))
    }
}
