//! Flush: turns the arenas' new, changed and deleted objects into batched
//! INSERT, UPDATE and DELETE statements, parents before children.
//!
//! See `docs/design/session.md` for why a flush journals what it did.

use std::any::{Any, TypeId};

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::executor::{BoxFuture, Connection, CopyRows, CopySource, KeyReservation, Rows, ValueRow};
use crate::loader::KeyValue;
use crate::metadata::{sort_by_dependency, ColumnMeta, TableMeta};
use crate::model::{Hook, Model, RowReader};
use crate::session::chunked::Chunked;
use crate::session::flush_links::{before_delete, resolve_foreign_keys, write_memberships, Models};
use crate::session::identity_map::{Arena, ObjectState, Slot, Undo};
use crate::session::relations::PendingLinks;
use crate::session::texts::StatementTexts;
use crate::statement::{self, Expr, Source, Statement};
use crate::value::SqlType;
use crate::value::Value;
use rustc_hash::FxHashSet;

/// A column with its position in the model's columns.
pub(crate) type IndexedColumn = (usize, &'static ColumnMeta);

/// The fewest new objects of one table that a flush writes with COPY
/// instead of an INSERT. Below it the round trip that reserves their keys
/// costs about what COPY saves. Against one multi-row INSERT by hand (the
/// standard benchmark's users), the flush took 1.28–1.36x with COPY and
/// 1.19–1.21x with the INSERT at 1,000 rows, 1.10–1.17x and 1.21x at 2,000,
/// 1.02–1.12x and 1.23–1.26x at 3,000.
const COPY_MIN_ROWS: usize = 3_000;

/// Whether a flush writes `rows` new objects of `table` (plain inserts, not
/// upserts) with COPY: then it sends two statements, the reservation of
/// their keys and the COPY, where an INSERT is one. That takes enough rows
/// for COPY to be faster, and a table whose only column the database fills
/// is a generated integer key (or none): anything else would have to be
/// read back. A COPY the connection cannot make falls back to the INSERT,
/// after the reservation.
pub(crate) fn copies(table: &TableMeta, rows: usize) -> bool {
    let mut read_back = table.columns.iter().filter(|c| TableMeta::is_read_back(c));
    let only_a_sequence_key = match (read_back.next(), read_back.next()) {
        (None, _) => true,
        (Some(key), None) => key.primary_key && key.generated && key.sql_type.is_integer(),
        _ => false,
    };
    rows >= COPY_MIN_ROWS && only_a_sequence_key
}

/// An arena with its model type erased, so that a session can hold one per
/// model and flush them all.
pub(crate) trait Tracked: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn table(&self) -> &'static TableMeta;
    fn has_changes(&self) -> bool;
    /// Whether each work list holds anything: a flush calls only the
    /// `flush_*` that have work, as each boxes a future.
    fn has_new(&self) -> bool;
    fn has_dirty(&self) -> bool;
    fn has_deleted(&self) -> bool;
    fn flush_inserts<'a>(
        &'a mut self,
        conn: &'a mut dyn Connection,
        dialect: &'static dyn Dialect,
        texts: &'a StatementTexts,
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
    /// Whether this model's changes are new objects only, written by one
    /// plain INSERT (see [`is_one_insert`]).
    fn is_one_insert(&self) -> bool;
    /// Drops borrowed-but-unchanged objects from the dirty list.
    fn forget_unchanged(&mut self);
    /// The transaction committed: its flushes can no longer be undone.
    fn forget_flushes(&mut self);
    /// Expires every persistent object (`Session::expire_all`).
    fn expire_all(&mut self);
    /// Undoes, in memory, the flushes journaled after the first `to` entries.
    fn undo_flushes(&mut self, to: usize);
    /// The number of journaled flush entries, for a savepoint's mark.
    fn journal_len(&self) -> usize;
    fn discard_changes(&mut self, session: u64) -> Result<()>;
    /// The number of slots: objects added later get slots from here on.
    fn slot_count(&self) -> u32;
    /// Drops the new objects in slots below `below` (`Arena::discard_new`).
    fn discard_new(&mut self, below: u32);
    /// Whether the object is pending or persistent (still tracked).
    fn is_live(&self, index: u32) -> bool;
    /// The value of a column of a persistent object.
    fn persistent_value(&self, index: u32, column: usize) -> Option<Value>;
    /// Sets a column, as a write through `&mut session[h]`.
    fn set_value(&mut self, index: u32, column: usize, value: Value) -> Result<()>;
    /// The values of a column of the objects marked for deletion.
    fn deleted_values(&self, column: usize) -> Vec<Value>;
    /// Detaches the loaded objects of `rows`, rows of `table`'s columns the
    /// database deleted (a cascade, a bulk delete). `table` may be another
    /// model's of the same table: objects are then matched by the key's
    /// column names and values as read, and a model that does not map
    /// every key column has none.
    fn detach_rows(&mut self, table: &'static TableMeta, rows: &Rows) -> Result<()>;
    /// Sets the column named `column` to NULL in loaded objects whose value
    /// is one of `keys`, as the database just did (children of a deleted
    /// parent). A model that does not map the column has none; one whose
    /// field cannot hold NULL has its objects detached.
    fn nullify(&mut self, column: &str, keys: &FxHashSet<KeyValue>) -> Result<()>;
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
    fn has_new(&self) -> bool {
        !self.pending.is_empty()
    }
    fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }
    fn has_deleted(&self) -> bool {
        !self.deleted.is_empty()
    }
    fn flush_inserts<'a>(
        &'a mut self,
        conn: &'a mut dyn Connection,
        dialect: &'static dyn Dialect,
        texts: &'a StatementTexts,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.insert_pending(conn, dialect, texts))
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
    fn is_one_insert(&self) -> bool {
        let table = T::TABLE;
        // A table with nothing to send inserts one row at a time.
        let sends_columns = table.columns.iter().any(|c| !TableMeta::is_server_filled(c));
        let is_new = |&i: &u32| {
            let slot = &self.slots[i as usize];
            slot.state == ObjectState::Pending && slot.object.is_some()
        };
        // Counted only where there may be enough of them for a COPY, and
        // only as far as enough.
        let copied = self.pending.len() >= COPY_MIN_ROWS
            && copies(table, self.pending.iter().filter(|i| is_new(i)).take(COPY_MIN_ROWS).count());
        self.dirty.is_empty()
            && self.deleted.is_empty()
            && self.upserts.is_empty()
            && sends_columns
            && self.pending.iter().any(is_new)
            && !copied
    }
    fn forget_unchanged(&mut self) {
        Arena::forget_unchanged(self)
    }
    fn expire_all(&mut self) {
        Arena::expire_all(self)
    }
    fn forget_flushes(&mut self) {
        self.journal.clear();
        self.upserts.clear();
    }
    fn undo_flushes(&mut self, to: usize) {
        Arena::undo_flushes(self, to)
    }
    fn journal_len(&self) -> usize {
        self.journal.len()
    }
    fn discard_changes(&mut self, session: u64) -> Result<()> {
        Arena::discard_changes(self, session)
    }
    fn slot_count(&self) -> u32 {
        self.slots.len() as u32
    }
    fn discard_new(&mut self, below: u32) {
        Arena::discard_new(self, below)
    }
    fn is_live(&self, index: u32) -> bool {
        matches!(self.state(index), Some(ObjectState::Pending | ObjectState::Persistent))
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
    fn detach_rows(&mut self, table: &'static TableMeta, rows: &Rows) -> Result<()> {
        let same_columns = |a: &ColumnMeta, b: &ColumnMeta| a.name == b.name && a.sql_type == b.sql_type;
        let own = table.columns.len() == T::TABLE.columns.len()
            && table.columns.iter().zip(T::TABLE.columns).all(|(a, b)| same_columns(a, b));
        if own {
            // Decoded as a load decodes them: a field type may change the
            // value it reads (a key folded to lower case).
            for values in rows.iter() {
                let key = T::from_row(&mut RowReader::new(T::TABLE, &mut ValueRow::new(values)))?.key();
                if let Some(&index) = self.keys().get(&key) {
                    self.detach(index);
                }
            }
            return Ok(());
        }
        let key_columns: Vec<(usize, usize)> = table
            .primary_key()
            .map(|(at, column)| T::TABLE.position_of(column.name).map(|mine| (at, mine)))
            .collect::<Option<_>>()
            .unwrap_or_default();
        if key_columns.is_empty() || rows.is_empty() {
            return Ok(());
        }
        let deleted: FxHashSet<Vec<KeyValue>> =
            rows.iter().filter_map(|row| key_columns.iter().map(|&(at, _)| KeyValue::of(&row[at])).collect()).collect();
        let key_of = |o: &T| {
            key_columns.iter().map(|&(_, c)| KeyValue::from_value(o.column_value(c))).collect::<Option<Vec<_>>>()
        };
        let held = |slot: &Slot<T>| slot.object.as_ref().and_then(key_of).is_some_and(|k| deleted.contains(&k));
        let gone: Vec<u32> = (0..self.slots.len() as u32).filter(|&i| held(&self.slots[i as usize])).collect();
        for index in gone {
            self.detach(index);
        }
        Ok(())
    }
    fn nullify(&mut self, column: &str, keys: &FxHashSet<KeyValue>) -> Result<()> {
        let Some(column) = T::TABLE.position_of(column) else { return Ok(()) };
        let holds_key = |o: &T| KeyValue::from_value(o.column_value(column)).is_some_and(|k| keys.contains(&k));
        for index in 0..self.slots.len() as u32 {
            let slot = &self.slots[index as usize];
            if slot.state != ObjectState::Persistent || !slot.object.as_ref().is_some_and(holds_key) {
                continue;
            }
            if T::TABLE.columns[column].nullable {
                self.assign(index, column, Value::Null)?;
            } else {
                // Its field cannot hold the row's NULL: the object no
                // longer stands for the row.
                self.detach(index);
            }
        }
        Ok(())
    }
}

impl<T: Model> Arena<T> {
    /// Detaches object `index`, held by the identity map, whose row a
    /// statement deleted (`Undo::Detached`).
    fn detach(&mut self, index: u32) {
        let Some(key) = self.object(index).map(Model::key) else { return };
        // Only the object the identity map holds for the key: one already
        // detached keeps its state.
        if self.keys().get(&key) == Some(&index) {
            self.keys().remove(&key);
            let slot = &mut self.slots[index as usize];
            // One the session was to delete is to be deleted again after a
            // rollback.
            let undo = if slot.state == ObjectState::Deleted { Undo::Deleted } else { Undo::Detached };
            slot.state = ObjectState::Detached;
            self.journal.push((index, undo));
            // Off the deletions: its row is gone (the undo puts it back).
            self.deleted.retain(|&i| i != index);
        }
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
    texts: &StatementTexts,
) -> Result<()> {
    let children: Vec<TypeId> = links.foreign_keys.iter().map(|f| f.child.model).collect();
    let written: Vec<usize> = (0..models.arenas.len())
        .filter(|&i| models.arenas[i].has_changes() || children.contains(&models.arenas[i].model))
        .collect();
    // Sorted only when there is something to sort: for one model, the sort's
    // lists were three allocations of the flush's few dozen.
    let order = if written.len() < 2 {
        written
    } else {
        let tables: Vec<&'static TableMeta> = written.iter().map(|&i| models.arenas[i].table()).collect();
        // Each sorted table back to an arena written, each arena once: two
        // models may map one table, and the first of them was found twice.
        let mut unsorted = written;
        sort_by_dependency(&tables)
            .into_iter()
            .filter_map(|t| {
                let at = unsorted.iter().position(|&i| models.arenas[i].table().name == t.name)?;
                Some(unsorted.remove(at))
            })
            .collect()
    };
    for &i in &order {
        let model = models.arenas[i].model;
        resolve_foreign_keys(models, links, model)?;
        if models.arenas[i].has_new() {
            models.arenas[i].flush_inserts(conn, dialect, texts).await?;
        }
        resolve_foreign_keys(models, links, model)?;
        if models.arenas[i].has_dirty() {
            models.arenas[i].flush_updates(conn, dialect).await?;
        }
    }
    // A cycle across tables (A references B, B references A): the keys of
    // tables written first are known only now; post-update them.
    for &i in &order {
        let model = models.arenas[i].model;
        if links.foreign_keys.iter().any(|f| f.child.model == model) {
            resolve_foreign_keys(models, links, model)?;
            if models.arenas[i].has_dirty() {
                models.arenas[i].flush_updates(conn, dialect).await?;
            }
        }
    }
    write_memberships(models, links, conn, dialect).await?;
    for &i in order.iter().rev() {
        if !models.arenas[i].has_deleted() {
            continue;
        }
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

/// Whether the flush will send exactly one statement: an INSERT of one
/// model's new objects, not an upsert, that only the database can refuse.
/// `COMMIT` may then go out with it. Updates and deletes never qualify: their
/// results are checked after they ran (a stale version), and a failed check
/// must roll back what they wrote.
/// Returns the model's position in `models`.
pub(crate) fn is_one_insert(models: &Models<'_>, links: &PendingLinks) -> Option<usize> {
    let mut changed = models.arenas.iter().enumerate().filter(|(_, m)| m.has_changes());
    match (changed.next(), changed.next()) {
        (Some((i, only)), None) if links.is_empty() && only.is_one_insert() => Some(i),
        _ => None,
    }
}

/// Returns the slots of a work list still in `state`, in slot order, without
/// duplicates. The list itself is kept until the work is done (the caller
/// clears it on success), so that a flush that fails, or is dropped half
/// way, loses nothing.
fn work_of<T: Model>(
    list: &mut Vec<u32>,
    arena_slots: &crate::session::chunked::Chunked<crate::session::identity_map::Slot<T>>,
    state: ObjectState,
) -> Vec<u32> {
    list.sort_unstable();
    list.dedup();
    let mut work = list.clone();
    work.retain(|&i| arena_slots[i as usize].state == state && arena_slots[i as usize].object.is_some());
    work
}

impl<T: Model> Arena<T> {
    /// Sets a column of a persistent object to what the database now holds
    /// (a cascade, a bulk UPDATE): not a change to flush, and undone if the
    /// transaction rolls back.
    fn assign(&mut self, index: u32, column: usize, value: Value) -> Result<()> {
        let slot = &mut self.slots[index as usize];
        let Some(object) = slot.object.as_mut() else { return Ok(()) };
        let old = object.column_value(column);
        if old == value {
            return Ok(());
        }
        object.set_column_value(column, value.clone())?;
        let old_snapshot =
            self.snapshots.get_mut(&index).map(|snapshot| std::mem::replace(&mut snapshot[column], value));
        self.journal.push((index, Undo::Assigned { column, old, old_snapshot }));
        Ok(())
    }

    /// Copies `columns` from rows of every column of `T` (an UPDATE's
    /// RETURNING) into the loaded objects with the same keys.
    pub(crate) fn assign_rows(&mut self, rows: Rows, columns: &[usize]) -> Result<()> {
        self.merge_rows(rows, columns, false).map(drop)
    }

    /// As [`assign_rows`](Arena::assign_rows), adding the rows whose keys
    /// the session does not hold as persistent objects; returns every row's
    /// slot.
    pub(crate) fn merge_written(&mut self, rows: Rows, columns: &[usize]) -> Result<Vec<u32>> {
        self.merge_rows(rows, columns, true)
    }

    fn merge_rows(&mut self, rows: Rows, columns: &[usize], add_new: bool) -> Result<Vec<u32>> {
        let mut slots = Vec::with_capacity(rows.len());
        for values in rows.iter() {
            let fresh = T::from_row(&mut RowReader::new(T::TABLE, &mut ValueRow::new(values)))?;
            match self.find(&fresh.key()) {
                Some(index) => {
                    for &column in columns {
                        self.assign(index, column, fresh.column_value(column))?;
                    }
                    slots.push(index);
                }
                None if add_new => {
                    let index = self.merge_loaded(fresh, 0);
                    self.journal.push((index, Undo::Merged));
                    slots.push(index);
                }
                None => {}
            }
        }
        Ok(slots)
    }

    fn object_at(&self, index: u32) -> &T {
        // Work lists only keep slots that hold an object (`work_of`).
        self.slots[index as usize].object.as_ref().expect("work list slot holds an object")
    }

    async fn insert_pending(
        &mut self,
        conn: &mut dyn Connection,
        dialect: &'static dyn Dialect,
        texts: &StatementTexts,
    ) -> Result<()> {
        let work = work_of(&mut self.pending, &self.slots, ObjectState::Pending);
        let (upserts, inserts): (Vec<u32>, Vec<u32>) = if self.upserts.is_empty() {
            (Vec::new(), work)
        } else {
            work.into_iter().partition(|i| self.upserts.contains(i))
        };
        if !upserts.is_empty() {
            self.check_upsert_keys(&upserts, &inserts)?;
        }
        self.insert_rows(&inserts, false, conn, dialect, texts).await?;
        self.insert_rows(&upserts, true, conn, dialect, texts).await?;
        self.pending.clear();
        Ok(())
    }

    /// Refuses upserts whose key another object of the session holds: one
    /// added with that key, or the row's object loaded after the upsert.
    /// Both would write one row and stay two objects, one of them holding
    /// values the row does not. (A key the database fills is never sent by
    /// an INSERT: an added object cannot take an upserted key then.)
    fn check_upsert_keys(&mut self, upserts: &[u32], inserts: &[u32]) -> Result<()> {
        let keys_sent = T::TABLE.primary_key().all(|(_, c)| !TableMeta::is_server_filled(c));
        let added: rustc_hash::FxHashSet<T::Key> =
            inserts.iter().filter(|_| keys_sent).map(|&i| self.object_at(i).key()).collect();
        for &index in upserts {
            let key = self.object_at(index).key();
            let loaded = self.find(&key).is_some_and(|held| held != index);
            if loaded || added.contains(&key) {
                let holder = if loaded { "loaded after the upsert" } else { "added with `add`" };
                return Err(Error::InvalidStatement {
                    model: T::TABLE.model,
                    reason: format!(
                        "the upserted key {key:?} is held by another object of the session too ({holder}): two \
                         objects would write one row; upsert one object per key"
                    ),
                });
            }
        }
        Ok(())
    }

    /// INSERTs the objects at `work`, or COPYs them when there are many
    /// (see [`copies`]). An upsert sends every column, the key included,
    /// and updates the row that has the key already (`ON CONFLICT (key) DO
    /// UPDATE SET <every other column>`).
    async fn insert_rows(
        &mut self,
        work: &[u32],
        upsert: bool,
        conn: &mut dyn Connection,
        dialect: &'static dyn Dialect,
        texts: &StatementTexts,
    ) -> Result<()> {
        if work.is_empty() {
            return Ok(());
        }
        self.run_hooks(work, Hook::BeforeInsert);
        let table = T::TABLE;
        let inserted: Vec<IndexedColumn> =
            table.columns.iter().enumerate().filter(|(_, c)| upsert || !TableMeta::is_server_filled(c)).collect();
        let mut returned: Vec<IndexedColumn> =
            table.columns.iter().enumerate().filter(|(_, c)| !upsert && TableMeta::is_read_back(c)).collect();
        let matching = RowMatch::of(table, &returned);
        if matching == RowMatch::ByKey {
            // The key was sent: read it back to tell the rows apart.
            let missing: Vec<IndexedColumn> =
                table.primary_key().filter(|(c, _)| !returned.iter().any(|(r, _)| r == c)).collect();
            returned.extend(missing);
        }
        if upsert {
            // An unset `Defaulted` column is left out of the upsert, so that
            // an existing row keeps its value and a new one takes the default:
            // one statement per set of unset columns.
            let mut groups: Vec<(Vec<usize>, Vec<u32>)> = Vec::new();
            for &index in work {
                let unset = self.unset_defaults(index);
                match groups.iter_mut().find(|(u, _)| *u == unset) {
                    Some((_, group)) => group.push(index),
                    None => groups.push((unset, vec![index])),
                }
            }
            for (unset, group) in groups {
                let sent: Vec<IndexedColumn> = inserted.iter().copied().filter(|(c, _)| !unset.contains(c)).collect();
                let on_conflict = Some(upsert_on_key(table, &unset));
                // Boxed: with this arm's lists beside the INSERT's future,
                // every flush's INSERT future was 1,144 bytes, above glibc's
                // thread cache (at most 1,032), and took the allocator's
                // slow path; without them it is 968.
                let upserted =
                    self.insert_chunks(&group, &sent, &returned, matching, on_conflict, conn, dialect, texts);
                Box::pin(upserted).await?;
            }
        } else {
            let copied = copies(table, work.len())
                && self.copy_rows(work, conn, dialect).await.map_err(|e| e.with_model(table.model))?;
            if !copied {
                self.insert_chunks(work, &inserted, &returned, matching, None, conn, dialect, texts).await?;
            }
        }
        self.run_hooks(work, Hook::AfterInsert);
        Ok(())
    }

    /// The columns of object `index` whose `Defaulted` field is unset.
    fn unset_defaults(&self, index: u32) -> Vec<usize> {
        let object = self.object_at(index);
        (0..T::TABLE.columns.len())
            .filter(|&c| {
                TableMeta::takes_default_for_null(&T::TABLE.columns[c]) && object.column_value(c) == Value::Null
            })
            .collect()
    }

    /// INSERTs the objects of `work` with the columns `inserted`: all rows
    /// in one statement; a table with nothing to send inserts `DEFAULT
    /// VALUES`, one row at a time. A plain INSERT's text comes from
    /// `texts`, rendered once per model and shape, and the objects lend it
    /// their values ([`LentValues`]); an upsert's is rendered each time
    /// (its columns depend on the objects).
    #[allow(clippy::too_many_arguments)]
    async fn insert_chunks(
        &mut self,
        work: &[u32],
        inserted: &[IndexedColumn],
        returned: &[IndexedColumn],
        matching: RowMatch,
        on_conflict: Option<statement::OnConflict>,
        conn: &mut dyn Connection,
        dialect: &'static dyn Dialect,
        texts: &StatementTexts,
    ) -> Result<()> {
        let table = T::TABLE;
        let rows_per_statement = if inserted.is_empty() { 1 } else { work.len() };
        for chunk in work.chunks(rows_per_statement) {
            let shape = InsertShape::of(chunk.len());
            let statement =
                |values, on_conflict| insert_statement(table, inserted, values, returned, on_conflict, shape);
            let result = match &on_conflict {
                Some(on_conflict) => {
                    let objects: Vec<&T> = chunk.iter().map(|&i| self.object_at(i)).collect();
                    let values = insert_values(&objects, inserted, shape);
                    let sql = dialect.render(statement(values, Some(on_conflict.clone())));
                    run_insert(conn, &sql.text, &sql.params, returned, shape).await
                }
                None => {
                    // Rendered with placeholders: the text does not depend on the values.
                    let render = || dialect.render(statement(vec![Value::Null; inserted.len()], None)).text;
                    let text = texts.insert(TypeId::of::<T>(), shape, render);
                    let lent = LentValues::new(&mut self.slots, chunk, inserted, shape);
                    run_insert(conn, &text, &lent.values, returned, shape).await
                }
            };
            result
                .and_then(|rows| self.apply_inserted(chunk, returned, matching, rows))
                .map_err(|e| e.with_model(table.model))?;
        }
        Ok(())
    }

    /// Writes the objects of `work` with one COPY of every column (see
    /// [`copies`]), their generated key, if any, reserved first in one
    /// query, and moves them into the identity map. Returns `false`, having
    /// written nothing, when the key has no sequence or the connection
    /// cannot take every value as its column's type: the caller INSERTs
    /// them then.
    async fn copy_rows(
        &mut self,
        work: &[u32],
        conn: &mut dyn Connection,
        dialect: &'static dyn Dialect,
    ) -> Result<bool> {
        let table = T::TABLE;
        // `copies` lets through a generated integer key as the only column
        // read back, or none.
        let key: Option<IndexedColumn> = table.columns.iter().enumerate().find(|(_, c)| TableMeta::is_read_back(c));
        let reserve = key.map(|(_, meta)| {
            let count = i64::try_from(work.len()).unwrap_or(i64::MAX);
            let reserve =
                statement::ReserveKeys { table: table.name, column: meta.name, sql_type: meta.sql_type, count };
            dialect.render(Statement::ReserveKeys(reserve))
        });
        let keys = key.zip(reserve.as_ref()).map(|((column, _), sql)| KeyReservation {
            sql: &sql.text,
            params: &sql.params,
            column,
        });
        let columns = table.columns.iter().map(|c| c.name).collect();
        let copy = dialect.render(Statement::CopyIn(statement::CopyIn { table: table.name, columns }));
        let described = dialect.render(Statement::Select(Box::new(statement::select_table(table))));
        let mut rows = ObjectRows { arena: self, work, key, keys: Vec::new(), applied: false };
        let copied =
            conn.copy_in(CopyRows { sql: &copy.text, columns: &described.text, keys, rows: &mut rows }).await?;
        if copied && !rows.applied {
            // A connection that wrote the rows without calling `rows_sent`
            // would leave the objects pending, and off every work list.
            rows.rows_sent()?;
        }
        Ok(copied)
    }

    /// Runs `hook` on each object of `work`.
    fn run_hooks(&mut self, work: &[u32], hook: Hook) {
        for &index in work {
            if let Some(object) = self.slots[index as usize].object.as_mut() {
                object.run_hook(hook);
            }
        }
    }

    /// Sets the server-filled columns of freshly inserted objects and moves
    /// them into the identity map.
    fn apply_inserted(
        &mut self,
        chunk: &[u32],
        returned: &[IndexedColumn],
        matching: RowMatch,
        rows: Rows,
    ) -> Result<()> {
        if !returned.is_empty() && rows.len() != chunk.len() {
            return Err(Error::ResultShape {
                what: format!("the rows of an INSERT of `{}` objects", T::TABLE.model),
                expected: chunk.len(),
                returned: rows.len(),
            });
        }
        let keys: Vec<Vec<Value>> = match matching {
            RowMatch::ByKey => chunk.iter().map(|&i| T::key_values(&self.object_at(i).key())).collect(),
            RowMatch::ByGeneratedKey(_) | RowMatch::Nothing | RowMatch::InArrayOrder => Vec::new(),
        };
        let values = match matching.row_order(&rows, returned, &keys)? {
            None => rows.values,
            Some(order) => reordered(rows.values, returned.len(), &order),
        };
        let mut values = values.into_iter();
        let database_key = returned.iter().any(|(_, c)| c.primary_key && TableMeta::is_server_filled(c));
        let defaults = server_defaults(returned);
        // Room made once, not grown (and rehashed) object by object.
        self.keys().reserve(chunk.len());
        self.journal.reserve(chunk.len());
        for &index in chunk {
            let slot = &mut self.slots[index as usize];
            let object = slot.object.as_mut().expect("work list slot holds an object");
            // Most tables have no such column: no call per row for them.
            let left_to_defaults = if defaults == 0 { 0 } else { unset_among(object, defaults) };
            let set = returned
                .iter()
                .try_for_each(|&(column, _)| object.set_column_value(column, values.next().unwrap_or_default()));
            if let Err(e) = set {
                // Still pending: no value of a row the flush rolls back.
                undo_database_values(object, database_key, left_to_defaults);
                return Err(e);
            }
            slot.state = ObjectState::Persistent;
            let key = object.key();
            // A COPY's keys enter before the database took its rows: one
            // may be a loaded object's, whose row the COPY then collides
            // with. Undoing the insert gives that object its entry back.
            let displaced = self.keys().insert(key, index);
            self.journal.push((index, Undo::Inserted { database_key, left_to_defaults, displaced }));
        }
        Ok(())
    }

    /// Sends the UPDATEs of the changed objects: one statement for all the
    /// objects whose changed columns are the same (see [`update_batch`](Arena::update_batch)).
    async fn update_dirty(&mut self, conn: &mut dyn Connection, dialect: &'static dyn Dialect) -> Result<()> {
        let work = work_of(&mut self.dirty, &self.slots, ObjectState::Persistent);
        let changed_objects: Vec<u32> = work.iter().copied().filter(|&i| self.is_changed(i)).collect();
        self.run_hooks(&changed_objects, Hook::BeforeUpdate);
        let version = T::TABLE.version_column();
        let mut batches: Vec<(Vec<usize>, Vec<u32>)> = Vec::new();
        for index in work {
            // Cloned, not taken: a flush dropped half way must not lose it.
            let Some(old) = self.snapshots.get(&index) else { continue };
            let current = self.object_at(index).column_values();
            let changed: Vec<usize> = (0..current.len()).filter(|&c| current[c] != old[c]).collect();
            if changed.is_empty() {
                continue;
            }
            if let Some(&c) = changed.iter().find(|&&c| T::TABLE.columns[c].primary_key) {
                return Err(Error::KeyChanged { model: T::TABLE.model, field: T::TABLE.columns[c].field });
            }
            let sent: Vec<usize> = changed.into_iter().filter(|&c| Some(c) != version).collect();
            match batches.iter_mut().find(|(columns, _)| *columns == sent) {
                Some((_, objects)) => objects.push(index),
                None => batches.push((sent, vec![index])),
            }
        }
        for (columns, objects) in batches {
            self.update_batch(&columns, &objects, conn, dialect).await.map_err(|e| e.with_model(T::TABLE.model))?;
        }
        self.dirty.clear();
        self.run_hooks(&changed_objects, Hook::AfterUpdate);
        Ok(())
    }

    /// Whether an object differs from its snapshot.
    fn is_changed(&self, index: u32) -> bool {
        match (&self.slots[index as usize].object, self.snapshots.get(&index)) {
            (Some(object), Some(old)) => object.column_values() != *old,
            _ => false,
        }
    }

    /// One UPDATE of `columns` for every object of `work`, whatever their
    /// number: their keys and new values travel as one array per column.
    ///
    /// A versioned model (`#[orm(version)]`) also sets its version column to
    /// the snapshot's value plus one and matches each row only if it still
    /// holds the snapshot's value. A row that did not match is stale: the
    /// error names every stale key, and nothing of the batch is taken as
    /// written (the flush fails and rolls back). On success each field of a
    /// version gets its new value.
    async fn update_batch(
        &mut self,
        columns: &[usize],
        work: &[u32],
        conn: &mut dyn Connection,
        dialect: &'static dyn Dialect,
    ) -> Result<()> {
        let table = T::TABLE;
        let version = table.version_column();
        let mut new_versions = Vec::with_capacity(work.len());
        if let Some(v) = version {
            for &index in work {
                new_versions.push(next_version::<T>(v, &self.last_seen(index, v))?);
            }
        }
        let mut extra: Vec<(&'static str, SqlType, Vec<Value>)> = columns
            .iter()
            .map(|&c| {
                let meta = &table.columns[c];
                (meta.name, meta.sql_type, work.iter().map(|&i| self.object_at(i).column_value(c)).collect())
            })
            .collect();
        if let Some(v) = version {
            extra.push((NEW_VERSION, table.columns[v].sql_type, new_versions.clone()));
        }
        let (rows, matches) = self.keyed_rows(work, extra);
        let mut set: Vec<(&'static str, Expr)> = columns
            .iter()
            .map(|&c| {
                let meta = &table.columns[c];
                let sent = Expr::column(statement::ROWS, meta.name);
                // `Unset` again: back to the default.
                let value =
                    if TableMeta::takes_default_for_null(meta) { statement::or_default(sent, meta) } else { sent };
                (meta.name, value)
            })
            .collect();
        if let Some(v) = version {
            set.push((table.columns[v].name, Expr::column(statement::ROWS, NEW_VERSION)));
        }
        // `onupdate` columns the update does not set itself.
        let onupdate: Vec<usize> = (0..table.columns.len())
            .filter(|c| table.columns[*c].onupdate.is_some() && !columns.contains(c) && Some(*c) != version)
            .collect();
        set.extend(
            onupdate.iter().filter_map(|&c| Some((table.columns[c].name, Expr::Verbatim(table.columns[c].onupdate?)))),
        );
        // Read back: those, and the columns that may have taken their default.
        let read_back: Vec<usize> = onupdate
            .iter()
            .copied()
            .chain(columns.iter().copied().filter(|&c| TableMeta::takes_default_for_null(&table.columns[c])))
            .collect();
        // The key, to tell which rows matched.
        let mut returning: Vec<Expr> = statement::key_columns(table, table.name).collect();
        returning.extend(read_back.iter().map(|&c| Expr::column(table.name, table.columns[c].name)));
        let update = statement::Update { table: table.name, set, from: Some(rows), filter: Some(matches), returning };
        let sql = dialect.render(Statement::Update(Box::new(update)));
        let returned = conn.query(&sql.text, &sql.params).await?;
        self.expect_keys("update", work, &returned)?;
        let read_back_values = self.returned_by_key(&returned, read_back.len());
        for (i, &index) in work.iter().enumerate() {
            let Some(old) = self.snapshots.remove(&index) else { continue };
            // Journaled first: should setting the field fail, the undo still
            // finds the snapshot.
            self.journal.push((index, Undo::Updated(old)));
            if let (Some(v), Some(new)) = (version, new_versions.get(i)) {
                let object = self.slots[index as usize].object.as_mut().expect("work list slot holds an object");
                object.set_column_value(v, new.clone())?;
            }
            let key = key_form(&T::key_values(&self.object_at(index).key()));
            if let Some(values) = read_back_values.get(&key) {
                for (&column, value) in read_back.iter().zip(values) {
                    self.assign(index, column, value.clone())?;
                }
            }
        }
        Ok(())
    }

    /// The last `extra` values of each returned row, by the row's key (its
    /// first values).
    fn returned_by_key(
        &self,
        returned: &Rows,
        extra: usize,
    ) -> rustc_hash::FxHashMap<Vec<Option<KeyValue>>, Vec<Value>> {
        if extra == 0 {
            return Default::default();
        }
        let width = returned.width.max(1);
        let key_len = width - extra;
        returned.values.chunks(width).map(|row| (key_form(&row[..key_len]), row[key_len..].to_vec())).collect()
    }

    /// The rows that identify the objects of `work` in a batched statement,
    /// `AS u (key.., extra.., [orm_version])`, and the condition that
    /// matches them to the table's rows: the key as the session last saw it,
    /// and for a versioned model the version it last saw.
    fn keyed_rows(&self, work: &[u32], extra: Vec<(&'static str, SqlType, Vec<Value>)>) -> (Source, Expr) {
        let table = T::TABLE;
        let mut arrays: Vec<(&'static str, SqlType, Vec<Value>)> = table
            .primary_key()
            .map(|(c, meta)| (meta.name, meta.sql_type, work.iter().map(|&i| self.last_seen(i, c)).collect()))
            .collect();
        let mut matches = statement::same_key(table, statement::ROWS);
        if let Some(v) = table.version_column() {
            let meta = &table.columns[v];
            arrays.push((OLD_VERSION, meta.sql_type, work.iter().map(|&i| self.last_seen(i, v)).collect()));
            matches.push(Expr::column(table.name, meta.name).equals(Expr::column(statement::ROWS, OLD_VERSION)));
        }
        arrays.extend(extra);
        let typed: Vec<(&'static str, SqlType)> = arrays.iter().map(|(name, ty, _)| (*name, *ty)).collect();
        let values = arrays.into_iter().map(|(_, ty, values)| Value::Array(ty, values)).collect();
        let source = statement::rows_of_arrays(&typed, values).from.expect("rows of arrays read from arrays");
        (source, Expr::all(matches).unwrap_or(Expr::And(Vec::new())))
    }

    /// Checks that the statement returned the key of every object of `work`;
    /// else [`Error::StaleData`] naming the keys that did not match.
    fn expect_keys(&self, action: &'static str, work: &[u32], returned: &Rows) -> Result<()> {
        if returned.len() == work.len() {
            return Ok(());
        }
        let width = returned.width.max(1);
        let key_len = T::TABLE.primary_key().count().min(width);
        let found: rustc_hash::FxHashSet<Vec<Option<KeyValue>>> =
            returned.values.chunks(width).map(|row| key_form(&row[..key_len])).collect();
        let keys = work
            .iter()
            .map(|&i| T::key_values(&self.object_at(i).key()))
            .filter(|key| !found.contains(&key_form(key)))
            .map(|key| key_text(&key))
            .collect();
        Err(Error::StaleData {
            model: T::TABLE.model,
            action,
            expected: work.len() as u64,
            matched: returned.len() as u64,
            keys,
        })
    }

    async fn delete_marked(&mut self, conn: &mut dyn Connection, dialect: &'static dyn Dialect) -> Result<()> {
        let work = work_of(&mut self.deleted, &self.slots, ObjectState::Deleted);
        if work.is_empty() {
            return Ok(());
        }
        if let Some(field) = work.iter().find_map(|&i| self.changed_key_field(i)) {
            return Err(Error::KeyChanged { model: T::TABLE.model, field });
        }
        self.run_hooks(&work, Hook::BeforeDelete);
        self.delete_rows(&work, conn, dialect).await.map_err(|e| e.with_model(T::TABLE.model))?;
        self.deleted.clear();
        self.run_hooks(&work, Hook::AfterDelete);
        for index in work {
            let slot = &mut self.slots[index as usize];
            slot.state = ObjectState::Detached;
            if let Some(key) = slot.object.as_ref().map(T::key) {
                self.keys().remove(&key);
            }
            self.journal.push((index, Undo::Deleted));
        }
        Ok(())
    }

    /// The primary-key field that differs from the snapshot (the row's
    /// key), if one does.
    fn changed_key_field(&self, index: u32) -> Option<&'static str> {
        let (Some(object), Some(old)) = (&self.slots[index as usize].object, self.snapshots.get(&index)) else {
            return None;
        };
        T::TABLE.primary_key().find(|(c, _)| object.column_value(*c) != old[*c]).map(|(_, meta)| meta.field)
    }

    /// Deletes the rows in one statement whatever their number and key:
    /// `DELETE .. USING <arrays of keys> .. RETURNING key`. A versioned row
    /// is deleted only if it still holds the version the session last saw
    /// (the snapshot's, if the object was changed since), so a row someone
    /// else updated is `StaleData`, as for an UPDATE, naming the stale keys.
    async fn delete_rows(&self, work: &[u32], conn: &mut dyn Connection, dialect: &'static dyn Dialect) -> Result<()> {
        let table = T::TABLE;
        let (rows, matches) = self.keyed_rows(work, Vec::new());
        let delete = statement::Delete {
            table: table.name,
            using: Some(rows),
            filter: Some(matches),
            returning: statement::key_columns(table, table.name).collect(),
        };
        let sql = dialect.render(Statement::Delete(Box::new(delete)));
        let returned = conn.query(&sql.text, &sql.params).await?;
        self.expect_keys("delete", work, &returned)
    }

    /// The value of column `column` as the database held it when the
    /// session last read or wrote the row: the snapshot's, if there is one.
    fn last_seen(&self, index: u32, column: usize) -> Value {
        match self.snapshots.get(&index) {
            Some(old) => old[column].clone(),
            None => self.object_at(index).column_value(column),
        }
    }
}

/// The names the old and new version take in a batched statement's rows.
const OLD_VERSION: &str = "orm_old_version";
const NEW_VERSION: &str = "orm_new_version";

/// The columns among `returned` whose server default an INSERT takes where
/// the object left them unset (`Defaulted::Unset`, `None`), as bits by
/// column; the key is not one of them. Columns past the 64th are not
/// counted: a rollback leaves them the values the database gave.
fn server_defaults(returned: &[IndexedColumn]) -> u64 {
    returned
        .iter()
        .filter(|(column, meta)| *column < 64 && meta.default.is_some() && !meta.primary_key)
        .fold(0, |bits, (column, _)| bits | 1 << column)
}

/// Those of the `defaults` columns that `object` leaves unset, to the
/// database.
fn unset_among<T: Model>(object: &T, defaults: u64) -> u64 {
    columns_in(defaults).filter(|&c| object.column_value(c) == Value::Null).fold(0, |bits, c| bits | 1 << c)
}

/// The columns whose bits are set in `bits`.
fn columns_in(bits: u64) -> impl Iterator<Item = usize> {
    (0..64).filter(move |&c| bits & 1 << c != 0)
}

/// Gives `object` back what it held before an INSERT filled in its values:
/// the key `new` gives it when the database gave it its key, and unset for
/// the columns it had left to their defaults.
pub(crate) fn undo_database_values<T: Model>(object: &mut T, database_key: bool, left_to_defaults: u64) {
    if database_key {
        object.reset_database_key();
    }
    for column in columns_in(left_to_defaults) {
        // NULL is how such a field says unset (`Defaulted::Unset`, `None`).
        let _ = object.set_column_value(column, Value::Null);
    }
}

/// The value of an integer key, for putting generated keys in order.
fn integer_key(value: &Value) -> i64 {
    match *value {
        Value::I16(n) => i64::from(n),
        Value::I32(n) => i64::from(n),
        Value::I64(n) => n,
        _ => i64::MAX,
    }
}

/// A key in a form that can be hashed and that equals the key PostgreSQL
/// returns for it (see [`KeyValue::of`]).
fn key_form(values: &[Value]) -> Vec<Option<KeyValue>> {
    values.iter().map(KeyValue::of).collect()
}

/// A key as the user wrote it, for messages: `7`, `(7, chess)`.
pub(crate) fn key_text(values: &[Value]) -> String {
    let text = |value: &Value| match value {
        Value::I16(n) => n.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::Text(s) => s.clone(),
        #[cfg(feature = "uuid")]
        Value::Uuid(u) => u.to_string(),
        other => format!("{other:?}"),
    };
    match values {
        [one] => text(one),
        many => format!("({})", many.iter().map(text).collect::<Vec<_>>().join(", ")),
    }
}

/// How an INSERT gives its rows and sends back what it returns. With the
/// model (the columns sent and returned), it decides the statement's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum InsertShape {
    /// One row, a parameter per column, as a one-row INSERT by hand: no
    /// arrays to build, and a plan without `unnest`.
    OneRow,
    /// Any number of rows, one array parameter per column (rendered by
    /// PostgreSQL as `INSERT .. SELECT .. FROM unnest($1::text[], ..)`):
    /// one statement text whatever the number of rows, and no parameter
    /// limit.
    Arrays,
}

impl InsertShape {
    /// The shape of an INSERT of `rows` rows.
    pub(crate) fn of(rows: usize) -> InsertShape {
        if rows == 1 {
            InsertShape::OneRow
        } else {
            InsertShape::Arrays
        }
    }

    /// Whether an INSERT in this shape sends the columns `returned` back as
    /// one row of arrays ([`statement::Insert::returning_as_arrays`]): the
    /// driver's `Row` per row returned cost about 860 instructions, more
    /// than encoding the row's parameters. Not for a column that is an
    /// array already: `array_agg` of arrays makes a two-dimensional array,
    /// which needs them all the same length.
    fn returns_arrays(self, returned: &[IndexedColumn]) -> bool {
        self == InsertShape::Arrays
            && !returned.is_empty()
            && returned.iter().all(|(_, c)| !matches!(c.sql_type, SqlType::Array(_)))
    }

    /// The rows an INSERT in this shape returned, one per row inserted.
    pub(crate) fn returned_rows(self, rows: Rows, returned: &[IndexedColumn]) -> Result<Rows> {
        if self.returns_arrays(returned) {
            unnest_arrays(rows, || "the values an INSERT returned".to_owned())
        } else {
            Ok(rows)
        }
    }

    /// Pushes onto `parameters` the parameter of one column of `count`
    /// objects, object `i`'s value taken by `value_of(i)`: the one object's
    /// value, or the array of all of them. The array is pushed first and
    /// filled in place, one value as soon as it is taken, so that when
    /// taking one panics (a `SqlValue::lend` of the user's), those taken
    /// before it are in `parameters` for its owner to give back.
    fn push_parameter(
        self,
        column: &ColumnMeta,
        parameters: &mut Vec<Value>,
        count: usize,
        mut value_of: impl FnMut(usize) -> Value,
    ) {
        match self {
            InsertShape::OneRow => parameters.push(if count > 0 { value_of(0) } else { Value::Null }),
            InsertShape::Arrays => {
                parameters.push(Value::Array(column.sql_type, Vec::with_capacity(count)));
                let Some(Value::Array(_, array)) = parameters.last_mut() else { unreachable!("just pushed") };
                for i in 0..count {
                    array.push(value_of(i));
                }
            }
        }
    }
}

/// The rows that one row of arrays, one per column, holds, as SQL's
/// `unnest` would give them: row `i` of the result is element `i` of each
/// array (the opposite of [`statement::rows_of_arrays`]). An aggregate of no rows is NULL:
/// no rows. `what` names the result in an error (a count of rows, of
/// arrays, or of elements that is not the one expected), and is only
/// called for one.
fn unnest_arrays(rows: Rows, what: impl Fn() -> String) -> Result<Rows> {
    let width = rows.width;
    let shape_error = |expected: usize, returned: usize| Error::ResultShape { what: what(), expected, returned };
    if rows.values.len() != width {
        return Err(shape_error(1, rows.len()));
    }
    let arrays = rows.values.iter().filter(|v| matches!(v, Value::Array(..) | Value::Null)).count();
    if arrays != width {
        return Err(shape_error(width, arrays));
    }
    let columns: Vec<Vec<Value>> = rows
        .values
        .into_iter()
        .map(|value| match value {
            Value::Array(_, elements) => elements,
            _ => Vec::new(),
        })
        .collect();
    let count = columns.first().map_or(0, Vec::len);
    if let Some(other) = columns.iter().find(|c| c.len() != count) {
        return Err(shape_error(count, other.len()));
    }
    if width == 1 {
        return Ok(Rows { width, values: columns.into_iter().next().unwrap_or_default() });
    }
    let mut columns: Vec<_> = columns.into_iter().map(Vec::into_iter).collect();
    let mut values = Vec::with_capacity(count * width);
    for _ in 0..count {
        values.extend(columns.iter_mut().map(|c| c.next().unwrap_or_default()));
    }
    Ok(Rows { width, values })
}

/// The rows of `values` (`width` values each) in `order`: row `order[i]`
/// first.
fn reordered(values: Vec<Value>, width: usize, order: &[usize]) -> Vec<Value> {
    let mut values: Vec<Option<Value>> = values.into_iter().map(Some).collect();
    let mut rows = Vec::with_capacity(values.len());
    for &row in order {
        for offset in 0..width {
            rows.push(values.get_mut(row * width + offset).and_then(Option::take).unwrap_or_default());
        }
    }
    rows
}

/// Runs an INSERT in `shape` with its parameters: a query when it returns
/// `returned`, whose rows come back one per row inserted.
async fn run_insert(
    conn: &mut dyn Connection,
    text: &str,
    params: &[Value],
    returned: &[IndexedColumn],
    shape: InsertShape,
) -> Result<Rows> {
    if returned.is_empty() {
        conn.execute(text, params).await.map(|_| Rows::default())
    } else {
        shape.returned_rows(conn.query(text, params).await?, returned)
    }
}

/// The parameters of the INSERT of the objects at `work`, lent by the
/// objects ([`Model::lend_column_value`]): copying them cost an allocation
/// and a free per text, a sixth of `add` + `commit` of a new user. The values go
/// back to the objects when this is dropped, so that an INSERT that fails,
/// or whose future is dropped half way, leaves them as they were; so does
/// a `SqlValue::lend` that panics half way through the lending.
struct LentValues<'a, T: Model> {
    slots: &'a mut Chunked<Slot<T>>,
    work: &'a [u32],
    columns: &'a [IndexedColumn],
    shape: InsertShape,
    /// As [`insert_values`] makes them.
    values: Vec<Value>,
}

impl<'a, T: Model> LentValues<'a, T> {
    fn new(slots: &'a mut Chunked<Slot<T>>, work: &'a [u32], columns: &'a [IndexedColumn], shape: InsertShape) -> Self {
        let values = Vec::with_capacity(columns.len());
        let mut lent = LentValues { slots, work, columns, shape, values };
        // Each value goes into `values` as soon as it is lent
        // (`push_parameter`): what a panicking `lend` leaves lent, the drop
        // gives back. Work lists only keep slots that hold an object
        // (`work_of`).
        for &(column, meta) in columns {
            let slots = &mut *lent.slots;
            shape.push_parameter(meta, &mut lent.values, work.len(), |i| {
                let object = slots[work[i] as usize].object.as_mut();
                object.map(|o| o.lend_column_value(column)).unwrap_or_default()
            });
        }
        lent
    }

    /// Gives the objects, in order, their values of `column` back.
    fn give_back(&mut self, column: usize, values: impl IntoIterator<Item = Value>) {
        for (&index, value) in self.work.iter().zip(values) {
            if let Some(object) = self.slots[index as usize].object.as_mut() {
                object.take_back_column_value(column, value);
            }
        }
    }
}

impl<T: Model> Drop for LentValues<'_, T> {
    fn drop(&mut self) {
        let columns = self.columns;
        for (&(column, _), value) in columns.iter().zip(std::mem::take(&mut self.values)) {
            match (self.shape, value) {
                (InsertShape::Arrays, Value::Array(_, values)) => self.give_back(column, values),
                (_, value) => self.give_back(column, [value]),
            }
        }
    }
}

/// The rows of a COPY of the objects at `work`, each lent by its object
/// only while the connection writes it, as [`LentValues`] lends an INSERT's
/// parameters: moved out (copying them was a quarter of the client's work
/// in a 10,000-row insert) and given back at once. In the generated key's
/// column, the object's own value (of the key's type, what `new` gives it)
/// stands in for the reserved key, which the connection writes over it
/// ([`KeyReservation`]). The keys become the objects' once
/// the rows are sent, while the database takes them
/// ([`rows_sent`](CopySource::rows_sent)): if the COPY fails after all, the
/// flush fails, and undoing it takes them back out of the identity map.
struct ObjectRows<'a, T: Model> {
    arena: &'a mut Arena<T>,
    work: &'a [u32],
    key: Option<IndexedColumn>,
    /// The reserved keys, in the order of `work`.
    keys: Vec<Value>,
    /// Whether `rows_sent` moved the objects into the identity map.
    applied: bool,
}

impl<T: Model> CopySource for ObjectRows<'_, T> {
    fn width(&self) -> usize {
        T::TABLE.columns.len()
    }

    fn row_count(&self) -> usize {
        self.work.len()
    }

    fn each_row(&mut self, row: &mut dyn FnMut(&[Value]) -> bool) {
        let width = self.width();
        let mut values = Vec::with_capacity(width);
        for &index in self.work {
            // Work lists only keep slots that hold an object (`work_of`).
            let Some(object) = self.arena.slots[index as usize].object.as_mut() else { continue };
            let lent = LentRow { object, values: &mut values };
            // `extend` of an exact-size iterator counts each value in as it
            // is written, so a `lend` that panics leaves those before it in
            // the row; the test `a_lend_that_panics_in_a_copy_leaves_every_
            // object_its_values` fails otherwise. A `push` per value cost 16
            // instructions more a row.
            let (object, row_values) = (&mut *lent.object, &mut *lent.values);
            row_values.extend((0..width).map(|column| object.lend_column_value(column)));
            let more = row(lent.values);
            lent.give_back();
            if !more {
                break;
            }
        }
    }

    /// The keys in increasing order, so that objects take increasing keys
    /// in the order they were added, as an INSERT gives them.
    fn take_keys(&mut self, reserved: Rows) -> Result<Option<&[Value]>> {
        let what = || format!("the keys reserved for new `{}` objects", T::TABLE.model);
        let mut keys = unnest_arrays(reserved, what)?.values;
        if keys.len() != self.work.len() {
            return Err(Error::ResultShape { what: what(), expected: self.work.len(), returned: keys.len() });
        }
        if keys.iter().any(|key| matches!(key, Value::Null)) {
            return Ok(None);
        }
        keys.sort_unstable_by_key(integer_key);
        self.keys = keys;
        Ok(Some(&self.keys))
    }

    fn rows_sent(&mut self) -> Result<()> {
        let returned: Vec<IndexedColumn> = self.key.into_iter().collect();
        let matching = RowMatch::of(T::TABLE, &returned);
        let keys = Rows { width: 1, values: std::mem::take(&mut self.keys) };
        self.applied = true;
        self.arena.apply_inserted(self.work, &returned, matching, keys)
    }
}

/// One object's row of a COPY, lent while the connection writes it. The
/// values go back to the object when this is dropped: once the row is
/// written, and also when a `SqlValue::lend` or the writer panics half way.
struct LentRow<'a, T: Model> {
    object: &'a mut T,
    /// The row's values so far, in column order.
    values: &'a mut Vec<Value>,
}

impl<T: Model> LentRow<'_, T> {
    /// Gives the row back once it is written: what dropping it does, but
    /// in line in the COPY's loop (out of line, through the drop, it cost
    /// 19 instructions more a row).
    #[inline]
    fn give_back(mut self) {
        self.give_back_values();
        // Only references are left: nothing to free.
        std::mem::forget(self);
    }

    #[inline(always)]
    fn give_back_values(&mut self) {
        for (column, value) in self.values.drain(..).enumerate() {
            self.object.take_back_column_value(column, value);
        }
    }
}

impl<T: Model> Drop for LentRow<'_, T> {
    fn drop(&mut self) {
        self.give_back_values();
    }
}

/// The parameters of the INSERT of `objects` in `shape`, one per column of
/// `columns`: the value of the one object, or the array of every object's.
pub(crate) fn insert_values<T: Model>(objects: &[&T], columns: &[IndexedColumn], shape: InsertShape) -> Vec<Value> {
    let mut parameters = Vec::with_capacity(columns.len());
    for &(column, meta) in columns {
        shape.push_parameter(meta, &mut parameters, objects.len(), |i| objects[i].column_value(column));
    }
    parameters
}

/// The INSERT into `table` of the rows that `values` give (see
/// [`insert_values`]), one per column of `columns`, returning `returned`.
/// A column with a server default takes it where the row holds NULL (the
/// object left it `None` or `Unset`). With no columns, one row of defaults.
pub(crate) fn insert_statement(
    table: &'static TableMeta,
    columns: &[IndexedColumn],
    values: Vec<Value>,
    returned: &[IndexedColumn],
    on_conflict: Option<statement::OnConflict>,
    shape: InsertShape,
) -> Statement {
    let source = if columns.is_empty() {
        statement::InsertSource::DefaultValues
    } else {
        let mut rows = match shape {
            InsertShape::OneRow => statement::Select {
                items: values.into_iter().zip(columns).map(|(v, (_, c))| Expr::TypedValue(v, c.sql_type)).collect(),
                ..statement::Select::default()
            },
            // In array order, so that generated keys follow it (see `RowMatch`).
            InsertShape::Arrays => {
                let typed: Vec<(&'static str, SqlType)> = columns.iter().map(|(_, c)| (c.name, c.sql_type)).collect();
                statement::rows_of_arrays_in_order(&typed, values)
            }
        };
        // A NULL sent for a column with a server default takes the default
        // where the INSERT reads the column back, so that the object learns
        // it. The session's upsert reads nothing back: it writes the NULL
        // its object holds, on a new row as on the row it updates.
        for (item, (index, column)) in rows.items.iter_mut().zip(columns) {
            if returned.iter().any(|(r, _)| r == index) {
                let sent = std::mem::replace(item, Expr::Bare(column.name));
                *item = statement::or_default(sent, column);
            }
        }
        statement::InsertSource::Select(Box::new(rows))
    };
    Statement::Insert(Box::new(statement::Insert {
        table: table.name,
        columns: columns.iter().map(|(_, c)| c.name).collect(),
        source,
        on_conflict,
        returning: returned.iter().map(|(_, c)| Expr::Bare(c.name)).collect(),
        returning_as_arrays: shape.returns_arrays(returned),
    }))
}

/// How the rows an INSERT returns are matched to the objects sent: never by
/// the order they come back in, which PostgreSQL does not promise (what
/// SQLAlchemy's `sort_by_parameter_order` is for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowMatch {
    /// Nothing is read back.
    Nothing,
    /// By the generated integer key at this position of the returned
    /// columns: the rows are inserted in array order (`ORDER BY` a row
    /// number), so the identity hands out increasing keys in that order;
    /// sorting the returned rows by key restores it.
    ByGeneratedKey(usize),
    /// By the primary key, which was sent (and is read back for this).
    ByKey,
    /// In array order: the key is filled by the database but cannot be
    /// ordered (a uuid default). PostgreSQL returns the rows of one INSERT
    /// in the order it inserts them today, but does not promise it.
    InArrayOrder,
}

impl RowMatch {
    fn of(table: &TableMeta, returned: &[IndexedColumn]) -> RowMatch {
        if returned.is_empty() {
            return RowMatch::Nothing;
        }
        let generated = returned.iter().position(|(_, c)| c.primary_key && c.generated && c.sql_type.is_integer());
        match generated {
            Some(position) => RowMatch::ByGeneratedKey(position),
            // A key the database fills that is not an increasing integer (a
            // uuid default) cannot be ordered; a key that was sent can be
            // looked up.
            None if table.primary_key().all(|(_, c)| !TableMeta::is_server_filled(c)) => RowMatch::ByKey,
            None => RowMatch::InArrayOrder,
        }
    }

    /// For each of the objects sent, in order, the index of its returned
    /// row; `None` when row `i` is object `i`'s. `keys` are the objects'
    /// keys, for [`RowMatch::ByKey`].
    fn row_order(self, rows: &Rows, returned: &[IndexedColumn], keys: &[Vec<Value>]) -> Result<Option<Vec<usize>>> {
        let count = rows.len();
        let width = rows.width.max(1);
        match self {
            RowMatch::Nothing | RowMatch::InArrayOrder => Ok(None),
            RowMatch::ByGeneratedKey(position) => {
                let key = |&row: &usize| integer_key(&rows.values[row * width + position]);
                // They usually come back in order already.
                if (0..count).is_sorted_by_key(|row| key(&row)) {
                    return Ok(None);
                }
                let mut order: Vec<usize> = (0..count).collect();
                order.sort_by_key(key);
                Ok(Some(order))
            }
            RowMatch::ByKey => {
                let key_positions: Vec<usize> =
                    returned.iter().enumerate().filter(|(_, (_, c))| c.primary_key).map(|(i, _)| i).collect();
                let row_of: rustc_hash::FxHashMap<Vec<Option<KeyValue>>, usize> = (0..count)
                    .map(|row| {
                        let key = key_positions.iter().map(|&p| KeyValue::of(&rows.values[row * width + p])).collect();
                        (key, row)
                    })
                    .collect();
                keys.iter()
                    .map(|key| {
                        row_of.get(&key_form(key)).copied().ok_or_else(|| Error::ResultShape {
                            what: "rows of an INSERT matching the keys sent".into(),
                            expected: keys.len(),
                            returned: row_of.len(),
                        })
                    })
                    .collect::<Result<_>>()
                    .map(Some)
            }
        }
    }
}

/// `ON CONFLICT (key) DO UPDATE SET` every other column to the value sent.
fn upsert_on_key(table: &TableMeta, left_out: &[usize]) -> statement::OnConflict {
    let set = table.columns.iter().enumerate().filter(|(i, c)| !c.primary_key && !left_out.contains(i));
    statement::OnConflict {
        target: table.primary_key().map(|(_, c)| c.name).collect(),
        set: set.map(|(_, c)| (c.name, Expr::Excluded(c.name))).collect(),
    }
}

/// The value the version column `column` takes at an UPDATE: `old` plus one.
/// It wraps around at the type's maximum, since the check only compares for
/// equality.
fn next_version<T: Model>(column: usize, old: &Value) -> Result<Value> {
    match *old {
        Value::I16(n) => Ok(Value::I16(n.wrapping_add(1))),
        Value::I32(n) => Ok(Value::I32(n.wrapping_add(1))),
        Value::I64(n) => Ok(Value::I64(n.wrapping_add(1))),
        // The derive only accepts integer fields; a hand-written `Model` may not.
        ref other => Err(Error::InvalidStatement {
            model: T::TABLE.model,
            reason: format!(
                "the version column `{}` holds a `{}` value, expected an integer",
                T::TABLE.columns[column].field,
                other.describe()
            ),
        }),
    }
}

/// Puts the version column of `object` back to its value in `old`, the
/// snapshot of an UPDATE being undone in memory: the UPDATE set the field to
/// one more, and the rolled-back row holds `old`'s value again.
pub(super) fn restore_version<T: Model>(object: &mut T, old: &[Value]) {
    if let Some(column) = T::TABLE.version_column() {
        // The value was read from this very field, so it always fits.
        let _ = object.set_column_value(column, old[column].clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::SqlType;

    const ID: ColumnMeta = ColumnMeta { primary_key: true, generated: true, ..ColumnMeta::new("id", SqlType::Integer) };
    const CODE: ColumnMeta = ColumnMeta { primary_key: true, ..ColumnMeta::new("code", SqlType::Text) };
    const CREATED: ColumnMeta = ColumnMeta { default: Some("now()"), ..ColumnMeta::new("created", SqlType::Integer) };

    #[test]
    fn generated_keys_are_matched_by_order_of_key_not_of_rows() {
        let table =
            TableMeta { model: "Item", name: "items", columns: &[ID, CREATED], relations: &[], constraints: &[] };
        let returned = [(0, &ID), (1, &CREATED)];
        let matching = RowMatch::of(&table, &returned);
        assert_eq!(matching, RowMatch::ByGeneratedKey(0));
        // The database sent the rows back shuffled: keys 12, 10, 11.
        let rows = Rows {
            width: 2,
            values: vec![Value::I32(12), Value::I32(3), Value::I32(10), Value::I32(1), Value::I32(11), Value::I32(2)],
        };
        // Objects 0, 1, 2 were inserted first to last: they got 10, 11, 12.
        assert_eq!(matching.row_order(&rows, &returned, &[]).unwrap(), Some(vec![1, 2, 0]));
    }

    #[test]
    fn returned_rows_are_put_in_the_order_of_the_objects() {
        let values = [1, 10, 2, 20, 3, 30].map(Value::I32).to_vec();
        let rows = reordered(values, 2, &[2, 0, 1]);
        assert_eq!(rows, [3, 30, 1, 10, 2, 20].map(Value::I32));
    }

    #[test]
    fn a_row_of_arrays_becomes_a_row_per_element() {
        let array = |values: [i32; 3]| Value::Array(SqlType::Integer, values.map(Value::I32).to_vec());
        let rows = Rows { width: 2, values: vec![array([10, 11, 12]), array([1, 2, 3])] };
        let rows = unnest_arrays(rows, String::new).unwrap();
        assert_eq!((rows.width, rows.values), (2, [10, 1, 11, 2, 12, 3].map(Value::I32).to_vec()));
        let none = unnest_arrays(Rows { width: 1, values: vec![Value::Null] }, String::new).unwrap();
        assert!(none.is_empty(), "an aggregate of no rows is NULL");
        let ragged = Rows { width: 2, values: vec![array([1, 2, 3]), Value::Array(SqlType::Integer, Vec::new())] };
        assert!(matches!(unnest_arrays(ragged, String::new), Err(Error::ResultShape { expected: 3, returned: 0, .. })));
        let scalar = Rows { width: 2, values: vec![array([1, 2, 3]), Value::I32(4)] };
        assert!(matches!(unnest_arrays(scalar, String::new), Err(Error::ResultShape { expected: 2, returned: 1, .. })));
    }

    #[test]
    fn many_rows_read_back_scalar_columns_as_arrays() {
        const TAGS: ColumnMeta = ColumnMeta::new("tags", SqlType::Array(&SqlType::Integer));
        assert!(InsertShape::Arrays.returns_arrays(&[(0, &ID), (1, &CREATED)]));
        assert!(!InsertShape::OneRow.returns_arrays(&[(0, &ID)]), "one row is read as it is");
        assert!(!InsertShape::Arrays.returns_arrays(&[]), "nothing to read back");
        assert!(!InsertShape::Arrays.returns_arrays(&[(0, &ID), (1, &TAGS)]), "arrays of arrays need one length");
    }

    #[test]
    fn many_rows_are_copied_when_only_a_generated_integer_key_is_read_back() {
        let table = |columns| TableMeta { model: "Item", name: "items", columns, relations: &[], constraints: &[] };
        const NAME: ColumnMeta = ColumnMeta::new("name", SqlType::Text);
        const UUID: ColumnMeta = ColumnMeta {
            primary_key: true,
            default: Some("gen_random_uuid()"),
            ..ColumnMeta::new("id", SqlType::Uuid)
        };
        assert!(copies(&table(&[ID, NAME]), COPY_MIN_ROWS));
        assert!(!copies(&table(&[ID, NAME]), COPY_MIN_ROWS - 1), "fewer rows are one INSERT");
        assert!(copies(&table(&[CODE, NAME]), COPY_MIN_ROWS), "a key that is sent needs nothing read back");
        assert!(!copies(&table(&[ID, CREATED]), COPY_MIN_ROWS), "a server default is read back");
        assert!(!copies(&table(&[UUID, NAME]), COPY_MIN_ROWS), "a uuid key has no sequence");
    }

    #[test]
    fn sent_keys_are_matched_by_value() {
        let table =
            TableMeta { model: "Item", name: "items", columns: &[CODE, CREATED], relations: &[], constraints: &[] };
        let returned = [(1, &CREATED), (0, &CODE)];
        let matching = RowMatch::of(&table, &returned);
        assert_eq!(matching, RowMatch::ByKey);
        let rows = Rows {
            width: 2,
            values: vec![Value::I32(7), Value::Text("b".into()), Value::I32(8), Value::Text("a".into())],
        };
        let keys = [vec![Value::Text("a".into())], vec![Value::Text("b".into())]];
        assert_eq!(matching.row_order(&rows, &returned, &keys).unwrap(), Some(vec![1, 0]));
    }
}
