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

pub use crate::relation::{ColumnMarker, Join, Links, Many, One, References, Relation, RelationKind, RelationMeta};

/// The table of model `T`, as a function pointer for `RelationMeta::target`.
pub fn table_of<T: Model>() -> &'static TableMeta {
    T::TABLE
}

/// The type id of `T`, as a function pointer for `RelationMeta::target_type`.
pub fn type_id_of<T: 'static>() -> std::any::TypeId {
    std::any::TypeId::of::<T>()
}

/// The positions of the foreign-key column of `M` that references `T`, and
/// of the column of `T` it references. Compiles only if `M` has exactly one
/// such foreign key (the marker `K` is inferred from the one impl).
pub const fn foreign_key_of<M: References<T, K>, T, K>() -> (usize, usize) {
    (M::COLUMN, M::TARGET_COLUMN)
}
