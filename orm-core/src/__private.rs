//! Items only generated code uses. Not part of the public API.

pub use crate::error::Result;
pub use crate::metadata::{ColumnMeta, ForeignKeyMeta, TableMeta};
pub use crate::model::{decode, Model, RowReader};
pub use crate::query::expr::Column;
pub use crate::value::{ForeignKeyType, SqlValue, Value};

/// Compiles only if a field of type `F` may reference `column`: called by
/// generated code with the span of the `foreign_key = Model::column` path.
pub const fn check_foreign_key<F: ForeignKeyType<K>, M, K>(column: Column<M, K>) -> Column<M, K> {
    column
}

/// Compiles only if `T` maps to a SQL type: called by generated code with the
/// span of the field's type.
pub const fn check_sql_value<T: SqlValue>() {}
