//! INSERT of many rows in one statement, with `ON CONFLICT` (upsert), and
//! the session's `upsert` of one object at flush.

use crate::error::Result;
use crate::executor::Rows;
use crate::metadata::{ColumnMeta, TableMeta};
use crate::model::Model;
use crate::query::expr::{Column, Expr};
use crate::query::Assignment;
use crate::session::{insert_statement, insert_values, Handle, InsertShape, ObjectState, Session};
use crate::statement::{self, OnConflict};

/// The columns of a unique constraint of `M`, for `on_conflict`: a column,
/// or a tuple of columns.
pub trait ConflictTarget<M> {
    /// The column names.
    fn columns(self) -> Vec<&'static str>;
}

impl<M, T> ConflictTarget<M> for Column<M, T> {
    fn columns(self) -> Vec<&'static str> {
        vec![self.name()]
    }
}

impl<M, A, B> ConflictTarget<M> for (Column<M, A>, Column<M, B>) {
    fn columns(self) -> Vec<&'static str> {
        vec![self.0.name(), self.1.name()]
    }
}

impl<M, A, B, C> ConflictTarget<M> for (Column<M, A>, Column<M, B>, Column<M, C>) {
    fn columns(self) -> Vec<&'static str> {
        vec![self.0.name(), self.1.name(), self.2.name()]
    }
}

impl<M, T> Column<M, T> {
    /// In an upsert's `do_update`, the value the INSERT tried to write to
    /// this column (`excluded.column`).
    pub fn excluded(self) -> Expr<T> {
        Expr::from_node(statement::Expr::Excluded(self.name()))
    }
}

/// An INSERT of many objects of `T` in one statement, from
/// [`Session::insert_many`], run with [`run`](InsertMany::run).
#[derive(Debug)]
#[must_use = "an insert does nothing until it is run with `run`"]
pub struct InsertMany<'s, T: Model> {
    session: &'s mut Session,
    objects: Vec<T>,
    on_conflict: Option<OnConflict>,
}

impl<T: Model> InsertMany<'_, T> {
    /// Rows that would break the unique constraint on `target` are left out
    /// (`ON CONFLICT (..) DO NOTHING`); they get no handle.
    pub fn on_conflict_do_nothing(mut self, target: impl ConflictTarget<T>) -> Self {
        self.on_conflict = Some(OnConflict { target: target.columns(), set: Vec::new() });
        self
    }

    /// Rows that would break the unique constraint on `target` update the
    /// row already there instead: `.on_conflict_do_update(Book::isbn,
    /// [Book::price.set(Book::price.excluded())])`.
    pub fn on_conflict_do_update(
        mut self,
        target: impl ConflictTarget<T>,
        assignments: impl IntoIterator<Item = Assignment<T>>,
    ) -> Self {
        let set = assignments.into_iter().map(|a| (T::TABLE.columns[a.column].name, a.value)).collect();
        self.on_conflict = Some(OnConflict { target: target.columns(), set });
        self
    }

    /// Sends the INSERT (one statement for all rows; for a model with
    /// nothing to send but defaults, one per row) in the session's
    /// transaction, after an autoflush. Returns a handle per row inserted or
    /// updated, through the identity map: an object the session already
    /// holds gets the row's values and keeps its handle.
    ///
    /// # Errors
    /// A database error, such as a unique violation without `on_conflict`.
    pub async fn run(self) -> Result<Vec<Handle<T>>> {
        let table = T::TABLE;
        let sent: Vec<(usize, &ColumnMeta)> =
            table.columns.iter().enumerate().filter(|(_, c)| !TableMeta::is_server_filled(c)).collect();
        let every_column: Vec<(usize, &ColumnMeta)> = table.columns.iter().enumerate().collect();
        let session = self.session;
        let rows = if sent.is_empty() {
            // Nothing to send: a row of defaults per object, as a flush
            // inserts them (`DEFAULT VALUES` is one row).
            let mut rows = Rows { width: every_column.len(), values: Vec::new() };
            for _ in &self.objects {
                let insert = insert_statement(
                    table,
                    &sent,
                    Vec::new(),
                    &every_column,
                    self.on_conflict.clone(),
                    InsertShape::OneRow,
                );
                let row = session.write_statement(insert).await.map_err(|e| e.with_model(table.model))?;
                rows.values.extend(row.values);
            }
            rows
        } else {
            let objects: Vec<&T> = self.objects.iter().collect();
            let shape = InsertShape::Arrays;
            let values = insert_values(&objects, &sent, shape);
            let insert = insert_statement(table, &sent, values, &every_column, self.on_conflict, shape);
            let rows = session.write_statement(insert).await.map_err(|e| e.with_model(table.model))?;
            shape.returned_rows(rows, &every_column)?
        };
        let every: Vec<usize> = (0..table.columns.len()).collect();
        let slots = session.merge_written::<T>(rows, &every)?;
        Ok(slots.into_iter().map(|i| Handle::new(i, session.id)).collect())
    }
}

impl Session {
    /// Starts an INSERT of many objects in one statement, with an optional
    /// `ON CONFLICT` clause (an upsert). Unlike [`add`](Session::add), it is
    /// sent when run, not at the next flush.
    pub fn insert_many<T: Model>(&mut self, objects: impl IntoIterator<Item = T>) -> InsertMany<'_, T> {
        InsertMany { session: self, objects: objects.into_iter().collect(), on_conflict: None }
    }

    /// Adds an object to be written at the next flush whether or not its
    /// key exists yet (SQLAlchemy's `merge`, without its SELECT): when the
    /// session holds the key, the object's columns are copied onto the one
    /// it holds (an UPDATE of what changed) and its handle comes back;
    /// otherwise the flush sends `INSERT .. ON CONFLICT (key) DO UPDATE`
    /// with every column, the key included (so set the key: a generated
    /// key left at 0 is inserted as 0). A deletion of the same key, not yet
    /// flushed, is cancelled; two upserts of one key before a flush become
    /// one row. Columns the database fills are not read back for an upsert,
    /// so it writes the object as it is: `None` is NULL, even in a column
    /// with a server default, where [`add`](Session::add) would write and
    /// read back the default.
    /// The flush refuses ([`Error::InvalidStatement`](crate::Error::InvalidStatement))
    /// an upsert whose key another object holds by then: one added with
    /// [`add`](Session::add), or the row's object loaded after the upsert.
    ///
    /// # Errors
    /// [`Error::Decode`](crate::Error::Decode) if a value does not fit (only
    /// with a custom `SqlValue` that refuses its own values).
    pub fn upsert<T: Model>(&mut self, object: T) -> Result<Handle<T>> {
        let key = object.key();
        let arena = self.arena_mut::<T>();
        // The key the session holds (a deletion of it is cancelled: the row
        // stays, with the new values), or an upsert of it not flushed yet.
        let held = arena
            .keys()
            .get(&key)
            .copied()
            .filter(|&i| matches!(arena.slots[i as usize].state, ObjectState::Persistent | ObjectState::Deleted));
        let pending = || {
            arena.upserts.iter().copied().find(|&i| {
                let slot = &arena.slots[i as usize];
                slot.state == ObjectState::Pending && slot.object.as_ref().is_some_and(|o| o.key() == key)
            })
        };
        let Some(index) = held.or_else(pending) else {
            let mut object = object;
            crate::session::reset_links(&mut object, crate::relation::Links::empty(), self.id);
            let arena = self.arena_mut::<T>();
            let index = arena.add(object);
            arena.upserts.insert(index);
            return Ok(Handle::new(index, self.id));
        };
        let slot = &mut arena.slots[index as usize];
        if slot.state == ObjectState::Deleted {
            slot.state = ObjectState::Persistent;
        }
        let target = arena.object_mut(index).ok_or_else(|| crate::Error::StaleHandle { model: T::TABLE.model })?;
        crate::session::copy_columns(&object, target)?;
        Ok(Handle::new(index, self.id))
    }
}
