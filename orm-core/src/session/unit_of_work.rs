//! Flush: turns the arenas' new, changed and deleted objects into batched
//! INSERT, UPDATE and DELETE statements, parents before children.
//!
//! See `docs/design/session.md` for why a flush journals what it did.

use std::any::{Any, TypeId};

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::executor::{BoxFuture, Connection, Rows};
use crate::metadata::{sort_by_dependency, ColumnMeta, TableMeta};
use crate::model::{Model, RowReader};
use crate::query::render::{self, Sql};
use crate::session::flush_links::{before_delete, resolve_foreign_keys, write_memberships, Models};
use crate::session::identity_map::{Arena, ObjectState, Undo};
use crate::session::relations::PendingLinks;
use crate::value::Value;

/// A column with its position in the model's columns.
type IndexedColumn = (usize, &'static ColumnMeta);

/// An arena with its model type erased, so that a session can hold one per
/// model and flush them all.
pub(crate) trait Tracked: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn table(&self) -> &'static TableMeta;
    fn has_changes(&self) -> bool;
    fn flush_inserts<'a>(
        &'a mut self,
        conn: &'a mut dyn Connection,
        dialect: &'static dyn Dialect,
    ) -> BoxFuture<'a, Result<()>>;
    fn flush_updates<'a>(
        &'a mut self,
        conn: &'a mut dyn Connection,
        dialect: &'static dyn Dialect,
    ) -> BoxFuture<'a, Result<()>>;
    fn flush_deletes<'a>(
        &'a mut self,
        conn: &'a mut dyn Connection,
        dialect: &'static dyn Dialect,
    ) -> BoxFuture<'a, Result<()>>;
    /// Drops borrowed-but-unchanged objects from the dirty list.
    fn forget_unchanged(&mut self);
    /// The transaction committed: its flushes can no longer be undone.
    fn forget_flushes(&mut self);
    fn undo_flushes(&mut self);
    fn discard_changes(&mut self, session: u32) -> Result<()>;
    /// The value of a column of a persistent object.
    fn persistent_value(&self, index: u32, column: usize) -> Option<Value>;
    /// Sets a column, as a write through `&mut session[h]`.
    fn set_value(&mut self, index: u32, column: usize, value: Value) -> Result<()>;
    /// The values of a column of the objects marked for deletion.
    fn deleted_values(&self, column: usize) -> Vec<Value>;
    /// Detaches the loaded objects of rows the database deleted (a cascade).
    fn detach_rows(&mut self, rows: Rows) -> Result<()>;
    /// Sets column `column` to NULL in loaded objects whose value is in
    /// `keys`, as the database just did (children of a deleted parent).
    fn nullify(&mut self, column: usize, keys: &[Value]) -> Result<()>;
}

impl<T: Model> Tracked for Arena<T> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn table(&self) -> &'static TableMeta {
        T::TABLE
    }
    fn has_changes(&self) -> bool {
        Arena::has_changes(self)
    }
    fn flush_inserts<'a>(
        &'a mut self,
        conn: &'a mut dyn Connection,
        dialect: &'static dyn Dialect,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.insert_pending(conn, dialect))
    }
    fn flush_updates<'a>(
        &'a mut self,
        conn: &'a mut dyn Connection,
        dialect: &'static dyn Dialect,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.update_dirty(conn, dialect))
    }
    fn flush_deletes<'a>(
        &'a mut self,
        conn: &'a mut dyn Connection,
        dialect: &'static dyn Dialect,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.delete_marked(conn, dialect))
    }
    fn forget_unchanged(&mut self) {
        Arena::forget_unchanged(self)
    }
    fn forget_flushes(&mut self) {
        self.journal.clear();
    }
    fn undo_flushes(&mut self) {
        Arena::undo_flushes(self)
    }
    fn discard_changes(&mut self, session: u32) -> Result<()> {
        Arena::discard_changes(self, session)
    }
    fn persistent_value(&self, index: u32, column: usize) -> Option<Value> {
        let slot = self.slots.get(index as usize)?;
        let object = slot.object.as_ref().filter(|_| slot.state == ObjectState::Persistent)?;
        Some(object.column_value(column))
    }
    fn set_value(&mut self, index: u32, column: usize, value: Value) -> Result<()> {
        match self.object_mut(index) {
            Some(object) => object.set_column_value(column, value),
            None => Ok(()),
        }
    }
    fn deleted_values(&self, column: usize) -> Vec<Value> {
        let mut work = self.deleted.clone();
        work.sort_unstable();
        work.dedup();
        work.into_iter()
            .filter(|&i| self.slots[i as usize].state == ObjectState::Deleted)
            .filter_map(|i| self.object(i).map(|o| o.column_value(column)))
            .collect()
    }
    fn detach_rows(&mut self, rows: Rows) -> Result<()> {
        let count = rows.len();
        let mut reader = RowReader::new(T::TABLE, rows.values.into_iter());
        for _ in 0..count {
            let key = T::from_row(&mut reader)?.key();
            reader.next_row();
            if let Some(index) = self.by_key.remove(&key) {
                let slot = &mut self.slots[index as usize];
                slot.state = ObjectState::Detached;
                self.journal.push((index, Undo::Deleted));
            }
        }
        Ok(())
    }
    fn nullify(&mut self, column: usize, keys: &[Value]) -> Result<()> {
        for slot in &mut self.slots {
            let Some(object) = slot.object.as_mut() else { continue };
            if slot.state == ObjectState::Persistent && keys.contains(&object.column_value(column)) {
                object.set_column_value(column, Value::Null)?;
                if let Some(old) = &mut slot.snapshot {
                    old[column] = Value::Null;
                }
            }
        }
        Ok(())
    }
}

/// Writes every change of every model: inserts and updates parents first,
/// then secondary rows, then deletes children first. Foreign keys to parents
/// inserted in this flush are filled in just before their children are
/// written; a self-reference is filled in after its own table's insert and
/// sent as an UPDATE (a post-update).
pub(crate) async fn flush(
    models: &mut Models<'_>,
    links: &mut PendingLinks,
    conn: &mut dyn Connection,
    dialect: &'static dyn Dialect,
) -> Result<()> {
    let children: Vec<TypeId> = links.foreign_keys.iter().map(|f| f.child.model).collect();
    let tables: Vec<&'static TableMeta> = models
        .arenas
        .iter()
        .zip(models.ids)
        .filter(|(m, id)| m.has_changes() || children.contains(id))
        .map(|(m, _)| m.table())
        .collect();
    let order: Vec<usize> = sort_by_dependency(&tables)
        .into_iter()
        .filter_map(|t| models.arenas.iter().position(|m| m.table().name == t.name))
        .collect();
    for &i in &order {
        let model = models.ids[i];
        resolve_foreign_keys(models, links, model)?;
        models.arenas[i].flush_inserts(conn, dialect).await?;
        resolve_foreign_keys(models, links, model)?;
        models.arenas[i].flush_updates(conn, dialect).await?;
    }
    write_memberships(models, links, conn, dialect).await?;
    for &i in order.iter().rev() {
        let table = models.arenas[i].table();
        let deleted: Vec<Vec<Value>> = (0..table.columns.len()).map(|c| models.arenas[i].deleted_values(c)).collect();
        if !table.relations.is_empty() && deleted.first().is_some_and(|d| !d.is_empty()) {
            before_delete(models, table, &|c| deleted[c].clone(), conn, dialect)
                .await
                .map_err(|e| e.with_model(table.model))?;
        }
        models.arenas[i].flush_deletes(conn, dialect).await?;
    }
    Ok(())
}

/// Takes a work list, in slot order, without duplicates, keeping only the
/// slots still in `state`.
fn take_work<T: Model>(
    list: &mut Vec<u32>,
    arena_slots: &[crate::session::identity_map::Slot<T>],
    state: ObjectState,
) -> Vec<u32> {
    let mut work = std::mem::take(list);
    work.sort_unstable();
    work.dedup();
    work.retain(|&i| arena_slots[i as usize].state == state && arena_slots[i as usize].object.is_some());
    work
}

impl<T: Model> Arena<T> {
    fn object_at(&self, index: u32) -> &T {
        // Work lists only keep slots that hold an object (`take_work`).
        self.slots[index as usize].object.as_ref().expect("work list slot holds an object")
    }

    async fn insert_pending(&mut self, conn: &mut dyn Connection, dialect: &'static dyn Dialect) -> Result<()> {
        let work = take_work(&mut self.pending, &self.slots, ObjectState::Pending);
        let table = T::TABLE;
        let (returned, inserted): (Vec<IndexedColumn>, Vec<IndexedColumn>) =
            table.columns.iter().enumerate().partition(|(_, c)| TableMeta::is_server_filled(c));
        // All rows in one statement; a table with nothing to send inserts
        // `DEFAULT VALUES`, one row at a time.
        let rows_per_statement = if inserted.is_empty() { 1 } else { work.len().max(1) };
        let insert_columns: Vec<&ColumnMeta> = inserted.iter().map(|(_, c)| *c).collect();
        let returning: Vec<&ColumnMeta> = returned.iter().map(|(_, c)| *c).collect();
        for (n, chunk) in work.chunks(rows_per_statement).enumerate() {
            let arrays = inserted
                .iter()
                .map(|(column, meta)| {
                    let values = chunk.iter().map(|&i| self.object_at(i).column_value(*column)).collect();
                    Value::Array(meta.sql_type, values)
                })
                .collect();
            let sql = render::insert(dialect, table, &insert_columns, &returning, arrays);
            let result = if returning.is_empty() {
                conn.execute(&sql.text, &sql.params).await.map(|_| Rows::default())
            } else {
                conn.query(&sql.text, &sql.params).await
            };
            let applied = result.and_then(|rows| self.apply_inserted(chunk, &returned, rows));
            if let Err(e) = applied {
                self.pending.extend_from_slice(&work[n * rows_per_statement..]);
                return Err(e.with_model(table.model));
            }
        }
        Ok(())
    }

    /// Sets the server-filled columns of freshly inserted objects and moves
    /// them into the identity map.
    fn apply_inserted(&mut self, chunk: &[u32], returned: &[IndexedColumn], rows: Rows) -> Result<()> {
        if !returned.is_empty() && rows.len() != chunk.len() {
            return Err(Error::Session(format!(
                "INSERT into `{}` returned {} rows for {} objects",
                T::TABLE.name,
                rows.len(),
                chunk.len()
            )));
        }
        let mut values = rows.values.into_iter();
        for &index in chunk {
            let slot = &mut self.slots[index as usize];
            let object = slot.object.as_mut().expect("work list slot holds an object");
            for (column, _) in returned {
                object.set_column_value(*column, values.next().unwrap_or(Value::Null))?;
            }
            slot.state = ObjectState::Persistent;
            self.by_key.insert(object.key(), index);
            self.journal.push((index, Undo::Inserted));
        }
        Ok(())
    }

    async fn update_dirty(&mut self, conn: &mut dyn Connection, dialect: &'static dyn Dialect) -> Result<()> {
        let work = take_work(&mut self.dirty, &self.slots, ObjectState::Persistent);
        for (n, &index) in work.iter().enumerate() {
            if let Err(e) = self.update_one(index, conn, dialect).await {
                self.dirty.extend_from_slice(&work[n..]);
                return Err(e.with_model(T::TABLE.model));
            }
        }
        Ok(())
    }

    /// Sends one UPDATE of the columns that differ from the snapshot.
    async fn update_one(&mut self, index: u32, conn: &mut dyn Connection, dialect: &'static dyn Dialect) -> Result<()> {
        let table = T::TABLE;
        let Some(old) = self.slots[index as usize].snapshot.take() else { return Ok(()) };
        let current = self.object_at(index).column_values();
        let changed: Vec<usize> = (0..current.len()).filter(|&c| current[c] != old[c]).collect();
        if changed.is_empty() {
            return Ok(());
        }
        let result = match changed.iter().find(|&&c| table.columns[c].primary_key) {
            Some(&c) => Err(Error::Session(format!(
                "the primary key `{}.{}` of a persistent object changed; delete it and add a new one instead",
                table.model, table.columns[c].field
            ))),
            None => {
                let mut sql = Sql::new(dialect);
                sql.push("UPDATE ").ident(table.name).push(" SET ");
                sql.list(&changed, |s, &c| {
                    s.ident(table.columns[c].name).push(" = ").param(current[c].clone());
                });
                let key = table.primary_key().map(|(c, _)| old[c].clone()).collect();
                sql.where_key(table, key);
                conn.execute(&sql.text, &sql.params).await.and_then(|n| expect_rows::<T>("update", 1, n))
            }
        };
        match result {
            Ok(()) => self.journal.push((index, Undo::Updated(old))),
            Err(e) => {
                self.slots[index as usize].snapshot = Some(old);
                return Err(e);
            }
        }
        Ok(())
    }

    async fn delete_marked(&mut self, conn: &mut dyn Connection, dialect: &'static dyn Dialect) -> Result<()> {
        let work = take_work(&mut self.deleted, &self.slots, ObjectState::Deleted);
        if work.is_empty() {
            return Ok(());
        }
        let result = self.delete_rows(&work, conn, dialect).await;
        if let Err(e) = result {
            self.deleted = work;
            return Err(e.with_model(T::TABLE.model));
        }
        for index in work {
            let slot = &mut self.slots[index as usize];
            slot.state = ObjectState::Detached;
            if let Some(object) = &slot.object {
                self.by_key.remove(&object.key());
            }
            self.journal.push((index, Undo::Deleted));
        }
        Ok(())
    }

    /// Deletes the rows: one `= ANY($1)` statement for a single-column key,
    /// one statement per row for a composite key.
    async fn delete_rows(&self, work: &[u32], conn: &mut dyn Connection, dialect: &'static dyn Dialect) -> Result<()> {
        let table = T::TABLE;
        let key_columns: Vec<IndexedColumn> = table.primary_key().collect();
        if let [(column, meta)] = key_columns[..] {
            let keys = work.iter().map(|&i| self.object_at(i).column_value(column)).collect();
            let mut sql = Sql::new(dialect);
            sql.push("DELETE FROM ")
                .ident(table.name)
                .push(" WHERE ")
                .any(meta.name, Value::Array(meta.sql_type, keys));
            let n = conn.execute(&sql.text, &sql.params).await?;
            return expect_rows::<T>("delete", work.len() as u64, n);
        }
        for &index in work {
            let mut sql = Sql::new(dialect);
            sql.push("DELETE FROM ").ident(table.name);
            sql.where_key(table, T::key_values(&self.object_at(index).key()));
            let n = conn.execute(&sql.text, &sql.params).await?;
            expect_rows::<T>("delete", 1, n)?;
        }
        Ok(())
    }
}

fn expect_rows<T: Model>(action: &'static str, expected: u64, matched: u64) -> Result<()> {
    if expected == matched {
        Ok(())
    } else {
        Err(Error::StaleData { model: T::TABLE.model, action, expected, matched })
    }
}
