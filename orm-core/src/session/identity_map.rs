//! One arena per model: the objects a session owns, their state, and the
//! primary key -> handle map. No I/O here.

use std::any::{Any, TypeId};
use std::collections::hash_map::Entry;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::loader::{sort_key_of, MemoryOrder, SortKey};
use crate::model::{Model, RowReader};
use crate::relation::Links;
use crate::session::chunked::Chunked;
use crate::session::unit_of_work::{restore_version, undo_database_values};
use crate::value::Value;

/// A reference to an object owned by a [`Session`](crate::Session): `Copy`,
/// 16 bytes, valid in the session that returned it.
///
/// It holds the object's slot and its session's id. Session ids are 64 bits
/// and never reused, so a handle kept from a dropped session is never taken
/// for one of another session; a 32-bit id would make the handle 8 bytes but
/// could wrap in a long-running process.
///
/// Read through `session[handle]`, write through `&mut session[handle]`.
pub struct Handle<T> {
    pub(crate) index: u32,
    pub(crate) session: u64,
    marker: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    pub(crate) fn new(index: u32, session: u64) -> Self {
        Handle { index, session, marker: PhantomData }
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Handle<T> {}

impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index && self.session == other.session
    }
}

impl<T> Eq for Handle<T> {}

impl<T> std::hash::Hash for Handle<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.index.hash(state);
        self.session.hash(state);
    }
}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let model = std::any::type_name::<T>().rsplit("::").next().unwrap_or("?");
        write!(f, "Handle<{model}>({})", self.index)
    }
}

/// Where an object stands in the unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectState {
    /// Added, not yet inserted.
    Pending,
    /// Has a row in the database (as far as this session knows).
    Persistent,
    /// Marked for deletion; the DELETE goes out at the next flush.
    Deleted,
    /// Its row was deleted, or it was expunged: the session no longer tracks it.
    Detached,
}

#[derive(Debug)]
pub(crate) struct Slot<T> {
    pub(crate) object: Option<T>,
    pub(crate) state: ObjectState,
    /// The query result that last loaded it (0: none), whose other objects
    /// are its siblings for batched lazy loading.
    pub(crate) group: u32,
    /// Expired (`Session::expire`): the next read of its row replaces its
    /// values, and `get` goes to the database.
    pub(crate) expired: bool,
}

/// What a flush in the open transaction did to a slot, so that a rollback
/// can undo it in memory.
#[derive(Debug)]
pub(crate) enum Undo {
    /// The row was inserted. A rollback gives the object back what it held
    /// before the database filled its values in
    /// ([`undo_database_values`](crate::session::unit_of_work::undo_database_values)):
    /// the key `new` gives it when the database gave it its key
    /// (`database_key`; an upsert keeps the key it was given), and unset
    /// for the columns it left to their server defaults
    /// (`left_to_defaults`, bits by column). `displaced` is the slot whose
    /// entry in the key map the insert replaced.
    Inserted {
        database_key: bool,
        left_to_defaults: u64,
        displaced: Option<u32>,
    },
    Updated(Vec<Value>),
    /// The session deleted the row: a rollback marks it for deletion again.
    Deleted,
    /// A statement deleted the row without the session asking for it (a
    /// cascade, a bulk delete), or set a column its field cannot hold: a
    /// rollback makes the object persistent again, as its row is. A
    /// cascading deletion is pending again after a failed flush and
    /// cascades once more; marking the object for deletion would delete
    /// its row twice. Inserted in the same transaction, it is never
    /// inserted now, as an object inserted then deleted.
    Detached,
    /// A statement of the session's (an upsert) wrote this row and the
    /// session took it in: a rollback takes it out again.
    Merged,
    /// A cascade or a bulk UPDATE set this column; it held `old`, and the
    /// snapshot held `old_snapshot` (an unflushed change keeps its own).
    Assigned {
        column: usize,
        old: Value,
        old_snapshot: Option<Value>,
    },
}

/// The slots of one query result, in the order its rows came. The new
/// objects of a load take consecutive slots, so a result is mostly one run
/// of slots, two numbers whatever its size; it becomes a list only when it
/// also brings back objects held elsewhere in the arena.
#[derive(Debug)]
pub(crate) enum Members {
    Run(Range<u32>),
    List(Vec<u32>),
}

impl Default for Members {
    fn default() -> Self {
        Members::Run(0..0)
    }
}

impl Members {
    /// Adds a slot: inline when it extends the run, as a load's new
    /// objects do.
    #[inline]
    fn push(&mut self, index: u32) {
        match self {
            Members::Run(run) if run.start < run.end && run.end == index && index < u32::MAX => run.end = index + 1,
            _ => self.push_other(index),
        }
    }

    #[inline(never)]
    fn push_other(&mut self, index: u32) {
        match self {
            Members::Run(run) if run.start == run.end && index < u32::MAX => *run = index..index + 1,
            Members::Run(run) => *self = Members::List(run.clone().chain([index]).collect()),
            Members::List(list) => list.push(index),
        }
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let (run, list) = match self {
            Members::Run(run) => (run.clone(), &[][..]),
            Members::List(list) => (0..0, list.as_slice()),
        };
        run.chain(list.iter().copied())
    }
}

/// The objects of one model.
#[derive(Debug)]
pub(crate) struct Arena<T: Model> {
    pub(crate) slots: Chunked<Slot<T>>,
    /// The primary key -> slot map of the objects in slots below
    /// `unkeyed`; read and written through [`keys`](Arena::keys). Keys come
    /// from the database, so a fast non-keyed hash is safe enough and makes
    /// a loaded `get` a few nanoseconds.
    by_key: FxHashMap<T::Key, u32>,
    /// Slots from here on hold loaded objects whose keys are not in
    /// `by_key` yet ([`add_loaded`](Arena::add_loaded)); the map's first use
    /// puts them in. Many sessions load and are dropped without a lookup,
    /// and entering the keys was about 100 of the 160 instructions the
    /// identity map spent on each loaded object.
    unkeyed: u32,
    /// The column values as last loaded or flushed of the objects borrowed
    /// for writing, by slot, taken on the first mutable borrow. Beside the
    /// slots, not in them: most objects never have one, and an `Option<Vec>`
    /// in each slot cost 24 bytes per object.
    pub(crate) snapshots: FxHashMap<u32, Vec<Value>>,
    /// Slots to INSERT, UPDATE (if changed) or DELETE at the next flush.
    /// May hold duplicates and stale entries: a flush checks each slot's state.
    pub(crate) pending: Vec<u32>,
    pub(crate) dirty: Vec<u32>,
    pub(crate) deleted: Vec<u32>,
    /// Pending slots to insert as upserts ([`Session::upsert`](crate::Session::upsert)),
    /// kept until commit or rollback.
    pub(crate) upserts: rustc_hash::FxHashSet<u32>,
    /// What this transaction's flushes changed, oldest first.
    pub(crate) journal: Vec<(u32, Undo)>,
    /// The slots of each query result, by group number (group 0 is unused).
    pub(crate) groups: Vec<Members>,
}

impl<T: Model> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            slots: Chunked::default(),
            by_key: FxHashMap::default(),
            unkeyed: 0,
            snapshots: FxHashMap::default(),
            pending: Vec::new(),
            dirty: Vec::new(),
            deleted: Vec::new(),
            upserts: Default::default(),
            journal: Vec::new(),
            groups: first_groups(),
        }
    }
}

/// Group 0 (unused), with room for the groups of the next queries:
/// grown from one, the list was reallocated by the first query of every
/// session.
fn first_groups() -> Vec<Members> {
    let mut groups = Vec::with_capacity(4);
    groups.push(Members::default());
    groups
}

impl<T: Model> Arena<T> {
    /// The number of slots, which is the index of the next one.
    #[inline]
    fn slot_count(&self) -> u32 {
        u32::try_from(self.slots.len()).unwrap_or(u32::MAX)
    }

    pub(crate) fn push(&mut self, object: T, state: ObjectState) -> u32 {
        self.key_loaded();
        let index = self.slot_count();
        self.slots.push(Slot { object: Some(object), state, group: 0, expired: false });
        self.unkeyed = index.saturating_add(1);
        index
    }

    /// The primary key -> slot map, with the keys of every loaded object
    /// in it.
    pub(crate) fn keys(&mut self) -> &mut FxHashMap<T::Key, u32> {
        self.key_loaded();
        &mut self.by_key
    }

    /// Enters the keys of the objects [`add_loaded`](Arena::add_loaded)
    /// left out of the map.
    #[inline]
    fn key_loaded(&mut self) {
        if self.unkeyed < self.slot_count() {
            self.enter_loaded_keys();
        }
    }

    #[inline(never)]
    fn enter_loaded_keys(&mut self) {
        let end = self.slot_count();
        self.by_key.reserve((end - self.unkeyed) as usize);
        for index in self.unkeyed..end {
            if let Some(object) = &self.slots[index as usize].object {
                self.by_key.insert(object.key(), index);
            }
        }
        self.unkeyed = end;
    }

    /// Whether a load could leave its keys out of the map: nothing is in
    /// it or waiting to enter it, and the key is an integer.
    fn may_defer_keys(&self) -> bool {
        self.by_key.is_empty() && self.unkeyed == self.slot_count() && is_integer::<T::Key>()
    }

    /// Adds a loaded object as [`merge_loaded`](Arena::merge_loaded) does.
    /// While `run` lasts, its key is left out of the map: the run began
    /// with no key in it, each key since was greater than the one before,
    /// so none can repeat, and no other object has been added or keyed
    /// since its last one. Anything else ends the run, and the keys left
    /// out enter the map before the object merges. Inline: the run's next
    /// object; out of line, the rest.
    #[inline(always)]
    pub(crate) fn add_loaded(&mut self, object: T, group: u32, run: &mut KeyRun) -> u32 {
        if let KeyRun::On { start, end, last } = run {
            let len = self.slot_count();
            match integer_key(&object.key()) {
                Some(key) if key > *last && *end == len && self.unkeyed == *start && len < u32::MAX => {
                    (*last, *end) = (key, len + 1);
                    self.slots.push(Slot {
                        object: Some(object),
                        state: ObjectState::Persistent,
                        group,
                        expired: false,
                    });
                    self.join_group(len, group);
                    return len;
                }
                _ => {}
            }
        }
        self.add_loaded_other(object, group, run)
    }

    /// [`add_loaded`](Arena::add_loaded) of a load's first object, which
    /// may start the run, and of an object that ends it or comes after.
    #[inline(never)]
    fn add_loaded_other(&mut self, object: T, group: u32, run: &mut KeyRun) -> u32 {
        if let KeyRun::Unstarted = run {
            if self.may_defer_keys() {
                let len = self.slot_count();
                *run = KeyRun::On { start: len, end: len, last: i64::MIN };
                return self.add_loaded(object, group, run);
            }
        }
        *run = KeyRun::Ended;
        self.merge_loaded(object, group)
    }

    pub(crate) fn add(&mut self, object: T) -> u32 {
        let index = self.push(object, ObjectState::Pending);
        self.pending.push(index);
        index
    }

    /// Makes room for `additional` objects about to be added.
    pub(crate) fn reserve_new(&mut self, additional: usize) {
        self.slots.reserve(additional);
        self.pending.reserve(additional);
    }

    /// Starts a group of siblings: the objects of one query result.
    pub(crate) fn new_group(&mut self) -> u32 {
        self.groups.push(Members::default());
        u32::try_from(self.groups.len() - 1).unwrap_or(0)
    }

    /// Reads the columns of a joined `T` and merges them as
    /// [`merge_loaded`](Arena::merge_loaded) does, in no group; `None` (the
    /// values skipped) when the outer join matched nothing. With the slot
    /// comes the row's key in `order`: from the values the database holds,
    /// which an object the map keeps with a change of its own may not.
    pub(crate) fn merge_joined(
        &mut self,
        row: &mut RowReader<'_>,
        order: Option<MemoryOrder>,
        run: &mut KeyRun,
    ) -> Result<Option<(u32, SortKey)>> {
        let unmatched = T::TABLE.primary_key().all(|(i, _)| row.is_null(i));
        if unmatched {
            row.skip(T::TABLE.columns.len());
            return Ok(None);
        }
        let object = T::from_row(row)?;
        // Taken from the row's object, not the one the map may keep.
        let key = sort_key_of(order, &object);
        Ok(Some((self.add_loaded(object, 0, run), key)))
    }

    /// Returns the slot of a loaded row, adding it if the key is new, and
    /// puts it in `group`. An object already in the map is kept as it is,
    /// pending changes included.
    pub(crate) fn merge_loaded(&mut self, object: T, group: u32) -> u32 {
        self.key_loaded();
        let next = self.slot_count();
        let index = match self.by_key.entry(object.key()) {
            Entry::Occupied(slot) => {
                let index = *slot.get();
                let slot = &mut self.slots[index as usize];
                if slot.expired && !self.snapshots.contains_key(&index) {
                    // Expired: the row just read replaces what it held. An
                    // object changed since it was expired keeps its change.
                    slot.object = Some(object);
                }
                slot.expired = false;
                // Group 0 (a joined load) does not take an object out of its group.
                if group != 0 {
                    slot.group = group;
                }
                index
            }
            Entry::Vacant(vacant) => {
                vacant.insert(next);
                let slot = Slot { object: Some(object), state: ObjectState::Persistent, group, expired: false };
                self.slots.push(slot);
                self.unkeyed = next.saturating_add(1);
                next
            }
        };
        self.join_group(index, group);
        index
    }

    /// Puts the object at `index` in the members of `group` (group 0, a
    /// joined load's, has none).
    #[inline]
    fn join_group(&mut self, index: u32, group: u32) {
        if group != 0 {
            if let Some(members) = self.groups.get_mut(group as usize) {
                members.push(index);
            }
        }
    }

    /// The persistent objects loaded by the same query as `index` (itself
    /// included) for which `keep` holds.
    pub(crate) fn siblings(&self, index: u32, keep: impl Fn(&T) -> bool) -> Vec<u32> {
        let group = self.slots.get(index as usize).map_or(0, |s| s.group);
        let members = self.groups.get(group as usize).filter(|_| group != 0);
        members
            .into_iter()
            .flat_map(Members::iter)
            .filter(|&i| {
                let slot = &self.slots[i as usize];
                slot.group == group && slot.state == ObjectState::Persistent && slot.object.as_ref().is_some_and(&keep)
            })
            .chain(std::iter::once(index))
            .collect::<std::collections::BTreeSet<u32>>()
            .into_iter()
            .collect()
    }

    /// Makes room for `additional` more objects about to be loaded: slots
    /// in the first chunk, which would otherwise double (later chunks never
    /// move), and, unless the load can leave their keys out
    /// ([`add_loaded`](Arena::add_loaded)), keys in the identity map,
    /// which would otherwise be rehashed as it grows.
    pub(crate) fn reserve(&mut self, additional: usize) {
        if !self.may_defer_keys() {
            self.keys().reserve(additional);
        }
        self.slots.reserve(additional);
    }

    /// The slot of the object the map holds under `key`, and its state.
    pub(crate) fn held(&mut self, key: &T::Key) -> Option<(u32, ObjectState)> {
        let index = *self.keys().get(key)?;
        Some((index, self.slots[index as usize].state))
    }

    pub(crate) fn find(&mut self, key: &T::Key) -> Option<u32> {
        self.held(key).filter(|&(_, state)| state == ObjectState::Persistent).map(|(index, _)| index)
    }

    /// Expires a persistent object: its pending changes are dropped, and the
    /// next read of its row replaces its values.
    pub(crate) fn expire(&mut self, index: u32) {
        let Some(slot) = self.slots.get_mut(index as usize) else { return };
        if slot.state != ObjectState::Persistent || slot.object.is_none() {
            return;
        }
        slot.expired = true;
        // The fields get back the values last read: a change made later is
        // diffed from them, not from the change dropped here. Each value
        // was read from its very field: it fits.
        let _ = self.restore_snapshot(index);
    }

    /// Puts the values of object `index`'s snapshot (those its row held
    /// when it was last read or written) back into its fields, and drops
    /// the snapshot: its changes since are gone.
    fn restore_snapshot(&mut self, index: u32) -> Result<()> {
        let Some(old) = self.snapshots.remove(&index) else { return Ok(()) };
        let Some(object) = self.slots.get_mut(index as usize).and_then(|s| s.object.as_mut()) else { return Ok(()) };
        for (column, value) in old.into_iter().enumerate() {
            object.set_column_value(column, value)?;
        }
        Ok(())
    }

    /// Expires every persistent object.
    pub(crate) fn expire_all(&mut self) {
        for index in 0..self.slots.len() as u32 {
            self.expire(index);
        }
    }

    pub(crate) fn is_expired(&self, index: u32) -> bool {
        self.slots.get(index as usize).is_some_and(|s| s.expired)
    }

    pub(crate) fn object(&self, index: u32) -> Option<&T> {
        self.slots.get(index as usize)?.object.as_ref()
    }

    /// Lends the object for writing, first taking the snapshot that the next
    /// flush diffs against.
    pub(crate) fn object_mut(&mut self, index: u32) -> Option<&mut T> {
        if index >= self.unkeyed {
            // Its key enters the map as loaded, before the caller can change it.
            self.key_loaded();
        }
        let slot = self.slots.get_mut(index as usize)?;
        let object = slot.object.as_mut()?;
        if slot.state == ObjectState::Persistent {
            if let Entry::Vacant(snapshot) = self.snapshots.entry(index) {
                snapshot.insert(object.column_values());
                self.dirty.push(index);
            }
        }
        Some(object)
    }

    /// The links of a relationship, changed without marking the object
    /// dirty (links are not columns).
    pub(crate) fn object_links_mut(&mut self, index: u32, relation: usize, session: u64) -> Option<&mut Links> {
        self.slots.get_mut(index as usize)?.object.as_mut()?.links_mut(relation, session)
    }

    pub(crate) fn state(&self, index: u32) -> Option<ObjectState> {
        self.slots.get(index as usize).filter(|s| s.object.is_some()).map(|s| s.state)
    }

    pub(crate) fn mark_deleted(&mut self, index: u32) -> Result<()> {
        let slot = self.slots.get_mut(index as usize).filter(|s| s.object.is_some());
        let slot = slot.ok_or_else(|| stale_handle(T::TABLE.model))?;
        match slot.state {
            // Never inserted: forgetting it is the whole deletion.
            ObjectState::Pending => slot.state = ObjectState::Detached,
            ObjectState::Persistent => {
                slot.state = ObjectState::Deleted;
                self.deleted.push(index);
            }
            ObjectState::Deleted | ObjectState::Detached => {}
        }
        Ok(())
    }

    pub(crate) fn expunge(&mut self, index: u32) -> Option<T> {
        let slot = self.slots.get_mut(index as usize)?;
        let object = slot.object.take()?;
        // A key left out of the map stays out: the slot is empty now. A
        // deleted object's key may have gone to another object since.
        if slot.state != ObjectState::Pending && index < self.unkeyed {
            if let Entry::Occupied(entry) = self.by_key.entry(object.key()) {
                if *entry.get() == index {
                    entry.remove();
                }
            }
        }
        slot.state = ObjectState::Detached;
        self.snapshots.remove(&index);
        Some(object)
    }

    /// Drops the new objects in slots below `below`: they leave the
    /// session. An upsert already flushed stays one: should the
    /// transaction's flushes be undone, it is upserted again, with its key.
    pub(crate) fn discard_new(&mut self, below: u32) {
        let slots = &mut self.slots;
        self.upserts.retain(|&index| index >= below || slots[index as usize].state != ObjectState::Pending);
        self.pending.retain(|&index| {
            let slot = &mut slots[index as usize];
            if index >= below {
                return true;
            }
            if slot.state == ObjectState::Pending {
                slot.object = None;
                slot.state = ObjectState::Detached;
            }
            false
        });
    }

    /// Replaces a persistent object with freshly loaded values, dropping any
    /// pending changes.
    pub(crate) fn replace(&mut self, index: u32, object: T) {
        if let Some(slot) = self.slots.get_mut(index as usize) {
            slot.object = Some(object);
            slot.expired = false;
            self.snapshots.remove(&index);
        }
    }

    /// Drops the snapshot, and the dirty entry, of every object that was
    /// borrowed for writing but is unchanged, so that it costs no flush.
    pub(crate) fn forget_unchanged(&mut self) {
        let (slots, snapshots) = (&self.slots, &mut self.snapshots);
        self.dirty.retain(|&index| {
            let changed = match (&slots[index as usize].object, snapshots.get(&index)) {
                (Some(object), Some(old)) => object.column_values() != *old,
                _ => false,
            };
            if !changed {
                snapshots.remove(&index);
            }
            changed
        });
    }

    pub(crate) fn has_changes(&self) -> bool {
        !(self.pending.is_empty() && self.dirty.is_empty() && self.deleted.is_empty())
    }

    /// Undoes, in memory, what this transaction's flushes did: inserted rows
    /// become pending again, updates are diffed against the old values again,
    /// deleted rows are marked for deletion again, objects a statement
    /// detached are persistent again.
    pub(crate) fn undo_flushes(&mut self, to: usize) {
        if self.journal.len() > to {
            self.key_loaded();
        }
        // Detached by a cascade in this transaction: if also inserted in it,
        // the row was deleted after its insert, and is never inserted now.
        let mut cascaded = rustc_hash::FxHashSet::default();
        while self.journal.len() > to {
            let Some((index, undo)) = self.journal.pop() else { break };
            let slot = &mut self.slots[index as usize];
            let Some(object) = &slot.object else { continue };
            match undo {
                Undo::Inserted { database_key, left_to_defaults, displaced } => {
                    release_key_entry(&mut self.by_key, object.key(), index, displaced);
                    if slot.state == ObjectState::Deleted || cascaded.contains(&index) {
                        // Deleted since, flushed or not: never inserted now,
                        // forgetting it is the whole deletion (`mark_deleted`).
                        slot.state = ObjectState::Detached;
                        // Off the deletions too, which would otherwise keep
                        // the arena changed (`has_changes`) for good.
                        self.deleted.retain(|&i| i != index);
                    } else {
                        slot.state = ObjectState::Pending;
                        self.pending.push(index);
                    }
                    // Pending again, it is inserted whole: the values a later
                    // flush of the transaction updated from are not its row's.
                    self.snapshots.remove(&index);
                    if let Some(object) = slot.object.as_mut() {
                        undo_database_values(object, database_key, left_to_defaults);
                    }
                }
                Undo::Updated(old) => {
                    if let Some(object) = slot.object.as_mut() {
                        restore_version(object, &old);
                    }
                    self.snapshots.insert(index, old);
                    self.dirty.push(index);
                }
                Undo::Merged => {
                    release_key_entry(&mut self.by_key, object.key(), index, None);
                    slot.state = ObjectState::Detached;
                }
                Undo::Deleted => {
                    self.by_key.insert(object.key(), index);
                    slot.state = ObjectState::Deleted;
                    self.deleted.push(index);
                }
                Undo::Detached => {
                    self.by_key.insert(object.key(), index);
                    slot.state = ObjectState::Persistent;
                    cascaded.insert(index);
                }
                Undo::Assigned { column, old, old_snapshot } => {
                    if let (Some(snapshot), Some(value)) = (self.snapshots.get_mut(&index), old_snapshot) {
                        snapshot[column] = value;
                    }
                    if let Some(object) = slot.object.as_mut() {
                        // The value was read from this very field: it fits.
                        let _ = object.set_column_value(column, old);
                    }
                }
            }
        }
    }

    /// Throws away every change not yet flushed (call `undo_flushes` first to
    /// throw away flushed ones too): pending objects leave the session, changed fields get their loaded values back, deletions are
    /// cancelled, and relationships are expired (not loaded) so that the
    /// next load reads what the database holds.
    pub(crate) fn discard_changes(&mut self, session: u64) -> Result<()> {
        self.discard_new(u32::MAX);
        for index in std::mem::take(&mut self.dirty) {
            self.restore_snapshot(index)?;
        }
        for index in std::mem::take(&mut self.deleted) {
            let slot = &mut self.slots[index as usize];
            if slot.state == ObjectState::Deleted {
                slot.state = ObjectState::Persistent;
            }
        }
        for object in self.slots.iter_mut().filter_map(|s| s.object.as_mut()) {
            for relation in 0..T::TABLE.relations.len() {
                if let Some(links) = object.links_mut(relation, session) {
                    *links = Links::not_loaded();
                }
            }
        }
        Ok(())
    }
}

/// A load's run of objects whose keys [`Arena::add_loaded`] leaves out of
/// the map, one per load and arena.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) enum KeyRun {
    /// Before the load's first object.
    #[default]
    Unstarted,
    /// Slots `start..end` are the run's, `last` the key of the last.
    On { start: u32, end: u32, last: i64 },
    /// Ended, or could not begin: the load merges.
    Ended,
}

fn is_integer<K: 'static>() -> bool {
    [TypeId::of::<i16>(), TypeId::of::<i32>(), TypeId::of::<i64>()].contains(&TypeId::of::<K>())
}

/// An integer key as an `i64`; `None` for a key of another type.
#[inline]
fn integer_key<K: 'static>(key: &K) -> Option<i64> {
    let key: &dyn Any = key;
    if let Some(&key) = key.downcast_ref::<i32>() {
        return Some(key.into());
    }
    if let Some(&key) = key.downcast_ref::<i64>() {
        return Some(key);
    }
    key.downcast_ref::<i16>().map(|&key| key.into())
}

pub(crate) fn stale_handle(model: &'static str) -> Error {
    Error::StaleHandle { model }
}

/// Takes slot `index`'s entry for `key` out of the key map, giving it back
/// to the slot it `displaced`, if any. An entry another slot holds by now
/// is left alone: the undone write was not the last to claim the key.
fn release_key_entry<K: std::hash::Hash + Eq>(
    by_key: &mut FxHashMap<K, u32>,
    key: K,
    index: u32,
    displaced: Option<u32>,
) {
    if by_key.get(&key) != Some(&index) {
        return;
    }
    match displaced {
        Some(displaced) => by_key.insert(key, displaced),
        None => by_key.remove(&key),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(pushed: &[u32]) -> Members {
        let mut members = Members::default();
        for &index in pushed {
            members.push(index);
        }
        members
    }

    #[test]
    fn new_objects_of_a_load_are_one_run() {
        let run = members(&(7..10_007).collect::<Vec<_>>());
        assert!(matches!(run, Members::Run(ref r) if *r == (7..10_007)), "{run:?}");
        assert!(run.iter().eq(7..10_007));
        assert_eq!(members(&[]).iter().count(), 0);
    }

    #[test]
    fn an_object_held_elsewhere_turns_the_run_into_a_list() {
        for pushed in [&[5, 6, 2, 7][..], &[5, 5], &[3, 9, 10], &[u32::MAX - 1, u32::MAX, 4]] {
            let members = members(pushed);
            assert!(matches!(members, Members::List(_)), "{pushed:?}: {members:?}");
            assert!(members.iter().eq(pushed.iter().copied()), "{pushed:?}");
        }
    }
}
