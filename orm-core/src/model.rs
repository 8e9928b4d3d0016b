//! The contract that `#[derive(Model)]` implements.

use std::fmt::Debug;
use std::hash::Hash;

use crate::error::{Error, Result};
use crate::executor::RawRow;
use crate::loader::KeyValue;
use crate::metadata::TableMeta;
use crate::relation::Links;
use crate::value::{SqlType, SqlValue, Value};

/// A struct mapped to a table. Implement it with `#[derive(Model)]`, not by
/// hand: the derive keeps the metadata, the column order and the row mapping
/// in step.
///
/// Columns are addressed by their position in `TABLE.columns`; rows are read
/// in that order, so decoding never looks a column up by name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a model",
    label = "this type does not derive `Model`",
    note = "add `#[derive(Model)]` to `{Self}`, or point the relationship at a model"
)]
pub trait Model: Sized + Send + Sync + 'static {
    /// The primary key: the key field's type, or a tuple for a composite key.
    type Key: Clone + Eq + Hash + Debug + Send + Sync + 'static;

    /// The table this model maps to.
    const TABLE: &'static TableMeta;

    /// The whole model as an item of a select, read back as a handle:
    /// `session.select((Author::ENTITY, func::count(Book::id)))`.
    const ENTITY: crate::query::Entity<Self> = crate::query::Entity::new();

    /// Returns the primary key of this object.
    fn key(&self) -> Self::Key;

    /// Returns the values of a key, one per primary-key column in field order.
    fn key_values(key: &Self::Key) -> Vec<Value>;

    /// Builds an object from one row holding every column, in column order.
    ///
    /// # Errors
    /// [`Error::Decode`] when a value does not fit its field.
    fn from_row(row: &mut RowReader<'_>) -> Result<Self>;

    /// Returns the value of column `index` (a position in `TABLE.columns`).
    fn column_value(&self, index: usize) -> Value;

    /// Sets column `index` from a database value.
    ///
    /// # Errors
    /// [`Error::Decode`] when the value does not fit the field.
    fn set_column_value(&mut self, index: usize, value: Value) -> Result<()>;

    /// Returns the related handles of relationship `relation` (a position in
    /// `TABLE.relations`), or `None` for a position the model does not have.
    fn links(&self, relation: usize) -> Option<&Links> {
        let _ = relation;
        None
    }

    /// Lends the related handles of relationship `relation` for writing, by
    /// the session with id `session`.
    fn links_mut(&mut self, relation: usize, session: u64) -> Option<&mut Links> {
        let _ = (relation, session);
        None
    }

    /// Moves the value of column `index` out for a statement's parameters
    /// (see [`SqlValue::lend`]); [`take_back_column_value`](Model::take_back_column_value)
    /// gives it back. Copies by default.
    fn lend_column_value(&mut self, index: usize) -> Value {
        self.column_value(index)
    }

    /// Takes back the value of column `index` that
    /// [`lend_column_value`](Model::lend_column_value) moved out.
    fn take_back_column_value(&mut self, index: usize, value: Value) {
        let _ = (index, value);
    }

    /// Returns the values of all columns, in column order.
    fn column_values(&self) -> Vec<Value> {
        (0..Self::TABLE.columns.len()).map(|i| self.column_value(i)).collect()
    }

    /// Gives the key fields the database fills (a generated key, a key with
    /// a server default) the value `new` gives them (without `new`, a
    /// generated key's zero): an insert that was rolled back leaves no key
    /// of a row that is not there. Nothing for a key the application gives,
    /// or a server default's key of a model without `new`. Called by the
    /// session's undo.
    #[doc(hidden)]
    fn reset_database_key(&mut self) {}

    /// Runs one of the model's [`Hooks`]; nothing unless the model has
    /// `#[orm(hooks)]`. Called by the flush.
    #[doc(hidden)]
    fn run_hook(&mut self, hook: Hook) {
        let _ = hook;
    }
}

/// The moments of a flush a model can act on, through [`Hooks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// Before the INSERT that writes a new object.
    BeforeInsert,
    /// After it, with the keys and defaults the database filled in.
    AfterInsert,
    /// Before the UPDATE of a changed object; changes made here are written.
    BeforeUpdate,
    /// After it.
    AfterUpdate,
    /// Before the DELETE of an object.
    BeforeDelete,
    /// After it.
    AfterDelete,
}

/// Code that runs inside the flush, around the writes of a model's objects
/// (SQLAlchemy's mapper events): set `updated_at` before every UPDATE,
/// check an invariant before INSERT. Implement the methods you need and add
/// `#[orm(hooks)]` to the model.
///
/// Hooks run in the flush's transaction, once per object per flush; a
/// flush that fails and is retried runs them again.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[orm(hooks)]` but does not implement `Hooks`",
    label = "the flush calls these hooks",
    note = "add `impl orm::Hooks for {Self} {{ .. }}` with the hooks you need, or remove `#[orm(hooks)]`"
)]
pub trait Hooks {
    /// Before the INSERT of a new object.
    fn before_insert(&mut self) {}
    /// After the INSERT, with the keys and defaults the database filled in.
    /// It reads the object: a change here would never be written.
    fn after_insert(&self) {}
    /// Before the UPDATE of a changed object: changes made here are written
    /// with the others.
    fn before_update(&mut self) {}
    /// After the UPDATE.
    fn after_update(&self) {}
    /// Before the DELETE.
    fn before_delete(&mut self) {}
    /// After the DELETE.
    fn after_delete(&self) {}

    /// Runs the hook `hook`. Called by generated code.
    #[doc(hidden)]
    fn run(&mut self, hook: Hook) {
        match hook {
            Hook::BeforeInsert => self.before_insert(),
            Hook::AfterInsert => self.after_insert(),
            Hook::BeforeUpdate => self.before_update(),
            Hook::AfterUpdate => self.after_update(),
            Hook::BeforeDelete => self.before_delete(),
            Hook::AfterDelete => self.after_delete(),
        }
    }
}

/// Reads the columns of one model in a result row, in column order, for
/// [`Model::from_row`].
pub struct RowReader<'a> {
    table: &'static TableMeta,
    /// The next column to read, counted from `offset`.
    column: usize,
    /// Where the model's columns start in the row.
    offset: usize,
    row: &'a mut dyn RawRow,
}

impl std::fmt::Debug for RowReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowReader").field("table", &self.table.name).field("column", &self.column).finish()
    }
}

impl<'a> RowReader<'a> {
    /// Reads `row` as a row of `table`, from its first column.
    pub(crate) fn new(table: &'static TableMeta, row: &'a mut dyn RawRow) -> Self {
        Self::at(table, row, 0)
    }

    /// Reads the columns of `table` that start at column `offset` of `row`.
    pub(crate) fn at(table: &'static TableMeta, row: &'a mut dyn RawRow, offset: usize) -> Self {
        RowReader { table, column: 0, offset, row }
    }

    /// Decodes the next column into a field of type `T`.
    ///
    /// The error is boxed to keep this per-value result small (it converts
    /// into [`Error`] with `?`).
    ///
    /// # Errors
    /// [`Error::Decode`] naming the model, field and both types when the value
    /// does not fit `T`, or when the row has fewer columns than the model.
    #[inline]
    pub fn read<T: SqlValue>(&mut self) -> Result<T, Box<Error>> {
        let index = self.column;
        self.column += 1;
        T::read(self.row, self.offset + index).map_err(|value| Box::new(decode_error::<T>(self.table, index, &value)))
    }

    /// Takes the next value as it is (a column that belongs to no model).
    pub(crate) fn raw(&mut self) -> Value {
        self.column += 1;
        self.row.value(self.offset + self.column - 1)
    }

    /// Reads the next columns as those of `table` (a joined model).
    pub(crate) fn switch_table(&mut self, table: &'static TableMeta) {
        self.table = table;
        self.offset += self.column;
        self.column = 0;
    }

    /// Whether column `index` of the table is NULL, read or not.
    pub(crate) fn is_null(&self, index: usize) -> bool {
        self.row.is_null(self.offset + index)
    }

    /// Column `index` of the table, read or not, as a key to match rows
    /// by; an integer column is read as its type, without a `Value`.
    pub(crate) fn key(&mut self, index: usize) -> Option<KeyValue> {
        let at = self.offset + index;
        let sql_type = self.table.columns.get(index).map(|c| c.sql_type);
        let int = match sql_type {
            Some(SqlType::SmallInt) => self.row.read_i16(at).map(|v| v.map(i64::from)),
            Some(SqlType::Integer) => self.row.read_i32(at).map(|v| v.map(i64::from)),
            Some(SqlType::BigInt) => self.row.read_i64(at),
            _ => Err(self.row.value(at)),
        };
        match int {
            Ok(int) => int.map(KeyValue::Int),
            Err(value) => KeyValue::from_value(value),
        }
    }

    /// Skips `n` columns.
    pub(crate) fn skip(&mut self, n: usize) {
        self.column += n;
    }
}

/// Converts a database value into the field type of column `index`.
///
/// # Errors
/// [`Error::Decode`] naming the model, field and both types.
pub fn decode<T: SqlValue>(table: &'static TableMeta, index: usize, value: Value) -> Result<T> {
    T::from_value(value).map_err(|value| decode_error::<T>(table, index, &value))
}

/// The error of a value that does not fit field `index` of type `T`.
#[cold]
fn decode_error<T>(table: &'static TableMeta, index: usize, value: &Value) -> Error {
    let field = table.columns.get(index).map_or("?", |c| c.field);
    Error::Decode { model: table.model, field, sql_type: value.sent(), rust_type: std::any::type_name::<T>() }
}
