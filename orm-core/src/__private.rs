//! Items only generated code uses. Not part of the public API.

pub use crate::error::Result;

/// The error of `RowReader::read`.
pub type ReadError = Box<crate::error::Error>;
pub use crate::metadata::{ColumnMeta, Constraint, ForeignKeyMeta, ReferentialAction, TableMeta};
pub use crate::model::{decode, Hook, Hooks, Model, RowReader};
pub use crate::query::expr::Column;
pub use crate::value::{EnumType, ForeignKeyType, SqlType, SqlValue, Value};

/// Compiles only if a field of type `F` may reference `column`: called by
/// generated code with the span of the `foreign_key = Model::column` path.
pub const fn check_foreign_key<F: ForeignKeyType<K>, M, K>(column: Column<M, K>) -> Column<M, K> {
    column
}

/// Column `N` of a model is its primary key (a single-column key) or
/// unique: a foreign key may reference it. Implemented by the derive.
#[diagnostic::on_unimplemented(
    message = "a foreign key must reference the primary key or a unique column of `{Self}`",
    label = "neither the primary key nor unique",
    note = "reference the key of `{Self}`, or add `#[orm(unique)]` to the referenced column"
)]
pub trait KeyColumn<const N: usize> {}

/// Compiles only if column `N` of `M` can be referenced by a foreign key:
/// called by generated code with the span of the referenced column.
pub const fn check_key_column<M: KeyColumn<N>, const N: usize>() {}

/// Compiles only if a field of type `T` can leave its column to a server
/// default: called by generated code with the span of the field's type.
pub const fn check_takes_default<T: crate::value::TakesDefault>() {}

/// Compiles only if `T` maps to a SQL type: called by generated code with the
/// span of the field's type.
pub const fn check_sql_value<T: SqlValue>() {}

pub use crate::relation::{
    ColumnMarker, Join, Links, Many, One, References, Relation, RelationKind, RelationMeta, ToMany, ToOne,
};

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

/// Compiles only if `T` is a model: called by generated code with the span
/// of a relationship's target or `secondary` model.
pub const fn check_model<T: Model>() {}

/// Implemented by the columns of model `M`.
#[diagnostic::on_unimplemented(
    message = "expected a column of `{M}`, found `{Self}`",
    label = "not a column of `{M}`",
    note = "`order_by` and the `foreign_key` of a relationship whose foreign key is on the target name a column \
            of the target, `{M}::<column>`"
)]
pub trait ColumnOf<M> {}

impl<M, T> ColumnOf<M> for Column<M, T> {}

/// Compiles only if `column` is a column of `M`: called by generated code,
/// with the span of the path, for an `order_by` or `foreign_key` that must
/// name a column of the relationship's target.
pub const fn check_column_of<M, C: ColumnOf<M>>(column: &C) {
    let _ = column;
}

/// Implemented by the relationships of any model to `M`: what
/// `back_populates` must name on the target of a relationship of `M`.
#[diagnostic::on_unimplemented(
    message = "`back_populates` must name a relationship to `{M}`, found `{Self}`",
    label = "not a relationship back to `{M}`",
    note = "name the field of the target whose type is `One<{M}>` or `Many<{M}>` and that has \
            `#[relationship(..)]`, or remove `back_populates`"
)]
pub trait BackPopulates<M> {}

impl<T, M, C> BackPopulates<M> for Relation<T, M, C> {}

/// Compiles only if `relation` is a relationship to `M`: called by generated
/// code for `back_populates = field` of a relationship of `M`, as
/// `check_back_populates::<M, _>(Target::field)`, with the span of `field`.
pub const fn check_back_populates<M, R: BackPopulates<M>>(relation: R) {
    // A const fn cannot drop a value of a generic type; `Relation` is `Copy`.
    core::mem::forget(relation);
}

/// Fails to compile unless relationship `theirs` of `target` has
/// `back_populates = ours`: the two sides of a back-populated pair must name
/// each other. Called by generated code with the span of `back_populates`.
pub const fn check_points_back(target: &TableMeta, theirs: &str, ours: &str) {
    let mut i = 0;
    while i < target.relations.len() {
        let relation = &target.relations[i];
        if str_eq(relation.name, theirs) {
            match relation.back_populates {
                Some(back) if str_eq(back, ours) => return,
                _ => panic!(
                    "`back_populates` must name a relationship whose own `back_populates` names this one: add \
                     `back_populates = <this field>` to the other side"
                ),
            }
        }
        i += 1;
    }
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Relationship `index` of `M`, to `T`: what a generated relationship
/// constant holds. Called with the span of the target, so that a target that
/// is not a model is reported like every other use of it, once.
pub const fn relation<M: Model, T: Model, C>(index: usize) -> Relation<M, T, C> {
    Relation::new(index)
}

/// `RowReader::read` as a function of any reader lifetime, for the
/// generated column helpers' `fn` pointers.
#[inline]
pub fn read_column<T: SqlValue>(row: &mut RowReader<'_>) -> Result<T, ReadError> {
    row.read()
}
