//! Changing relationships in memory: `link` and `unlink` keep both sides of a
//! back-populated pair in step at once, set foreign keys (now, or at flush
//! when the parent's key is not known yet) and record many-to-many membership
//! changes for the next flush.

use std::any::TypeId;

use crate::error::{Error, Result};
use crate::metadata::TableMeta;
use crate::model::Model;
use crate::relation::{Cardinality, Join, Relation, RelationMeta};
use crate::session::identity_map::{stale_handle, ObjectState};
use crate::session::{Handle, Session};
use crate::value::Value;

use rustc_hash::FxHashSet;

/// A reference to a slot of some model's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SlotRef {
    pub(crate) model: TypeId,
    pub(crate) index: u32,
}

impl SlotRef {
    fn of<T: Model>(index: u32) -> Self {
        SlotRef { model: TypeId::of::<T>(), index }
    }
}

/// A foreign key to fill in at flush, once the parent has its key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingForeignKey {
    pub(crate) child: SlotRef,
    pub(crate) column: usize,
    pub(crate) parent: SlotRef,
    pub(crate) parent_column: usize,
}

/// A row of a secondary table to insert (`add`) or delete at flush: column
/// `columns[i]` of the secondary holds key column `keys[i]` of object
/// `objects[i]`. Stored with the secondary's columns in ascending order, so
/// that the same row reached from either side is the same change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MembershipChange {
    pub(crate) secondary: fn() -> &'static TableMeta,
    pub(crate) columns: [usize; 2],
    pub(crate) keys: [usize; 2],
    pub(crate) objects: [SlotRef; 2],
    pub(crate) add: bool,
}

impl MembershipChange {
    /// The change of the secondary row linking `left` (through the owner's
    /// side of `join`) and `right`; `None` if `join` has no secondary.
    fn new(join: Join, left: SlotRef, right: SlotRef, add: bool) -> Option<Self> {
        let Join::Secondary { secondary, local, to_local, to_remote, remote } = join else { return None };
        let mut change = MembershipChange {
            secondary,
            columns: [to_local, to_remote],
            keys: [local, remote],
            objects: [left, right],
            add,
        };
        if to_local > to_remote {
            change.columns.reverse();
            change.keys.reverse();
            change.objects.reverse();
        }
        Some(change)
    }

    /// Whether both changes are about the same secondary row.
    pub(crate) fn same_row(&self, other: &MembershipChange) -> bool {
        self.row() == other.row()
    }

    /// The secondary row: its table, columns and objects.
    fn row(&self) -> MembershipRow {
        ((self.secondary)().name, self.columns, self.objects)
    }
}

/// A secondary row: its table's name, its columns and their objects.
type MembershipRow = (&'static str, [usize; 2], [SlotRef; 2]);

/// Relationship changes not yet written.
#[derive(Debug, Default)]
pub(crate) struct PendingLinks {
    pub(crate) foreign_keys: Vec<PendingForeignKey>,
    pub(crate) memberships: Vec<MembershipChange>,
    /// Membership changes written by this transaction's flushes, to redo
    /// after a rollback.
    pub(crate) flushed_memberships: Vec<MembershipChange>,
    /// Foreign keys filled in by this transaction's flushes, to fill in
    /// again (from the parents' new keys) after a rollback.
    pub(crate) resolved_foreign_keys: Vec<PendingForeignKey>,
    /// The rows (and directions) of `memberships`, so that linking the
    /// 100,000th object does not scan the others; rebuilt by
    /// [`reindex`](PendingLinks::reindex) after the lists change wholesale.
    membership_index: FxHashSet<(MembershipRow, bool)>,
    /// The (child, column) of `foreign_keys`, likewise.
    foreign_key_index: FxHashSet<(SlotRef, usize)>,
    /// The relationships (object, relationship index) whose links `link`
    /// or `unlink` changed since the last flush: a load leaves their
    /// loaded links alone, since the rows it reads do not show the change
    /// (autoflush off). A flush that writes moves them to
    /// `flushed_changed`; one with nothing to write, a commit and a
    /// rollback empty it.
    pub(crate) changed: FxHashSet<(SlotRef, usize)>,
    /// The entries of `changed` that this transaction's flushes wrote: a
    /// rollback makes their changes pending again, and them changed again.
    flushed_changed: Vec<(SlotRef, usize)>,
}

/// How long the lists of what this transaction's flushes wrote were at a
/// point (a savepoint), so that what was written after it can be undone.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FlushedMark {
    memberships: usize,
    foreign_keys: usize,
    changed: usize,
}

impl PendingLinks {
    pub(crate) fn is_empty(&self) -> bool {
        self.foreign_keys.is_empty() && self.memberships.is_empty()
    }

    /// Where the lists of what was flushed end now.
    pub(crate) fn flushed_mark(&self) -> FlushedMark {
        FlushedMark {
            memberships: self.flushed_memberships.len(),
            foreign_keys: self.resolved_foreign_keys.len(),
            changed: self.flushed_changed.len(),
        }
    }

    /// After a flush wrote every pending change: the changed links are the
    /// database's now, until a rollback.
    pub(crate) fn flushed(&mut self) {
        self.flushed_changed.extend(self.changed.drain());
    }

    /// After a commit (or one whose outcome is unknown, taken as written):
    /// what the flushes wrote can no longer be undone, and the links show
    /// the database.
    pub(crate) fn forget_flushed(&mut self) {
        self.flushed_memberships.clear();
        self.resolved_foreign_keys.clear();
        self.flushed_changed.clear();
        self.changed.clear();
    }

    /// Forgets what was flushed after `mark`, and every pending change:
    /// a rollback to a savepoint undid them in the database and in memory.
    pub(crate) fn discard_since(&mut self, mark: FlushedMark) {
        self.flushed_memberships.truncate(mark.memberships);
        self.resolved_foreign_keys.truncate(mark.foreign_keys);
        self.flushed_changed.truncate(mark.changed);
        self.memberships.clear();
        self.foreign_keys.clear();
        self.changed.clear();
        self.reindex();
    }

    /// Puts the membership changes, foreign keys and changed links written
    /// after `mark` back into the pending lists, after a rollback (to a
    /// savepoint, or of the transaction with the default mark).
    pub(crate) fn undo_flushed_since(&mut self, mark: FlushedMark) {
        let from = mark.memberships.min(self.flushed_memberships.len());
        let flushed: Vec<_> = self.flushed_memberships.drain(from..).collect();
        self.memberships.splice(0..0, flushed);
        let from = mark.foreign_keys.min(self.resolved_foreign_keys.len());
        let resolved: Vec<_> = self.resolved_foreign_keys.drain(from..).collect();
        self.foreign_keys.splice(0..0, resolved);
        let from = mark.changed.min(self.flushed_changed.len());
        self.changed.extend(self.flushed_changed.drain(from..));
        // A written change and a newer opposite one (unlink, flush, link again)
        // cancel out, as they would have had they met before the flush.
        self.cancel_opposites();
        self.reindex();
    }

    /// Rebuilds the indexes after `memberships` or `foreign_keys` were
    /// changed other than through the methods below (a flush, an undo).
    pub(crate) fn reindex(&mut self) {
        self.membership_index = self.memberships.iter().map(|m| (m.row(), m.add)).collect();
        self.foreign_key_index = self.foreign_keys.iter().map(|f| (f.child, f.column)).collect();
    }

    fn record_membership(&mut self, change: Option<MembershipChange>) {
        let Some(change) = change else { return };
        let row = change.row();
        // An add and a remove of the same pair cancel out.
        if self.membership_index.remove(&(row, !change.add)) {
            if let Some(i) = self.memberships.iter().position(|m| m.same_row(&change) && m.add != change.add) {
                self.memberships.remove(i);
                return;
            }
        }
        if self.membership_index.insert((row, change.add)) {
            self.memberships.push(change);
        }
    }

    /// Cancels an add and a remove of the same secondary row, wherever they
    /// stand in the list (after an undo puts written changes back in front
    /// of newer ones), keeping the order of the rest.
    fn cancel_opposites(&mut self) {
        let mut kept: Vec<Option<MembershipChange>> = Vec::with_capacity(self.memberships.len());
        let mut position: rustc_hash::FxHashMap<(MembershipRow, bool), usize> = Default::default();
        for change in std::mem::take(&mut self.memberships) {
            let row = change.row();
            if let Some(i) = position.remove(&(row, !change.add)) {
                kept[i] = None;
                continue;
            }
            position.insert((row, change.add), kept.len());
            kept.push(Some(change));
        }
        self.memberships = kept.into_iter().flatten().collect();
    }

    fn has_pending_foreign_key(&self, child: SlotRef, column: usize) -> bool {
        self.foreign_key_index.contains(&(child, column))
    }

    fn push_foreign_key(&mut self, pending: PendingForeignKey) {
        self.forget_foreign_key(pending.child, pending.column);
        self.foreign_key_index.insert((pending.child, pending.column));
        self.foreign_keys.push(pending);
    }

    fn forget_foreign_key(&mut self, child: SlotRef, column: usize) {
        if self.foreign_key_index.remove(&(child, column)) {
            self.foreign_keys.retain(|p| !(p.child == child && p.column == column));
        }
    }
}

/// The position of the relationship of `T` that mirrors `meta`.
fn back_relation<T: Model>(meta: &RelationMeta) -> Option<usize> {
    let name = meta.back_populates?;
    T::TABLE.relations.iter().position(|r| r.name == name)
}

impl Session {
    fn live<T: Model>(&self, handle: Handle<T>) -> Result<u32> {
        match self.state(handle) {
            Some(ObjectState::Pending | ObjectState::Persistent) => Ok(handle.index),
            _ => Err(self.handle_error(handle)),
        }
    }

    /// Runs `change` on the links of relationship `relation` of object
    /// `index` of `T`, if that object holds them.
    fn with_links<T: Model, R>(
        &mut self,
        index: u32,
        relation: usize,
        change: impl FnOnce(&mut crate::relation::Links) -> R,
    ) -> Option<R> {
        let session = self.id;
        let links = self.arena_mut::<T>().object_links_mut(index, relation, session)?;
        let answer = change(links);
        if links.take_changed() {
            self.links.changed.insert((SlotRef::of::<T>(index), relation));
        }
        Some(answer)
    }

    /// Whether a load must leave relationship `relation` of object `index`
    /// of `T` as it is: `link` or `unlink` changed its loaded links since
    /// the last flush (autoflush off), and the rows read do not show that.
    /// Unloaded links (never loaded, or refreshed since) take the rows, and
    /// from then on show the database: their mark is dropped.
    pub(crate) fn keeps_changed_links<T: Model>(&mut self, index: u32, relation: usize) -> bool {
        let key = (SlotRef::of::<T>(index), relation);
        if self.links.changed.is_empty() || !self.links.changed.contains(&key) {
            return false;
        }
        if self.links_loaded::<T>(index, relation) {
            return true;
        }
        self.links.changed.remove(&key);
        false
    }

    /// Like `with_links`, but only when the links are loaded: an unloaded
    /// side is read from the database, after an autoflush, when loaded.
    fn with_loaded_links<T: Model, R>(
        &mut self,
        index: u32,
        relation: usize,
        change: impl FnOnce(&mut crate::relation::Links) -> R,
    ) -> Option<R> {
        self.with_links::<T, Option<R>>(index, relation, |links| links.is_loaded().then(|| change(links))).flatten()
    }

    /// Relates `from` to `to` through `relation`, as SQLAlchemy's
    /// `movie.actors.append(actor)` or `stuntman.actor = actor`.
    ///
    /// The mirrored relationship (`back_populates`) follows at once, without
    /// a round trip; foreign keys are set now if the parent has its key, else
    /// at flush; a many-to-many link inserts a secondary row at flush. Linking
    /// a scalar relationship replaces its previous object.
    ///
    /// # Errors
    /// [`Error::ForeignHandle`] or [`Error::StaleHandle`] if either handle is not a live object of this
    /// session, or a replaced object's foreign key cannot be set to NULL.
    pub fn link<M: Model, T: Model, C>(
        &mut self,
        from: Handle<M>,
        relation: Relation<M, T, C>,
        to: Handle<T>,
    ) -> Result<()> {
        let (from, to) = (self.live(from)?, self.live(to)?);
        let meta = relation.meta();
        match meta.join {
            Join::ForeignKeyHere { local, remote } => {
                let previous = self.with_links::<M, _>(from, relation.index(), |l| {
                    let previous = l.indices().first().copied();
                    l.set(vec![to]);
                    previous
                });
                if let (Some(Some(old)), Some(back)) = (previous, back_relation::<T>(meta)) {
                    if old != to {
                        self.with_loaded_links::<T, _>(old, back, |l| l.remove(from));
                    }
                }
                let moving = self.references_other::<M, T>(from, local, to, remote);
                self.assign_foreign_key::<M, T>(from, local, to, remote)?;
                if let Some(back) = back_relation::<T>(meta) {
                    if moving {
                        self.detach_from_others::<T>(back, from, to);
                    }
                    self.attach_back::<T, M>(to, back, from)?;
                }
            }
            Join::ForeignKeyThere { local, remote } => {
                if meta.is_scalar() {
                    let previous = self.with_links::<M, _>(from, relation.index(), |l| l.indices().first().copied());
                    if let Some(Some(old)) = previous {
                        if old != to {
                            self.orphan::<M, T>(from, meta, old)?;
                        }
                    }
                    self.with_links::<M, _>(from, relation.index(), |l| l.set(vec![to]));
                } else {
                    self.with_links::<M, _>(from, relation.index(), |l| l.insert(to));
                }
                if self.references_other::<T, M>(to, remote, from, local) {
                    // The child moves from another parent, loaded or not.
                    self.detach_from_others::<M>(relation.index(), to, from);
                }
                self.assign_foreign_key::<T, M>(to, remote, from, local)?;
                if let Some(back) = back_relation::<T>(meta) {
                    self.with_links::<T, _>(to, back, |l| l.set(vec![from]));
                }
            }
            Join::Secondary { .. } => {
                let added = self.with_links::<M, _>(from, relation.index(), |l| l.insert(to)).unwrap_or(false);
                if added {
                    if let Some(back) = back_relation::<T>(meta) {
                        self.with_loaded_links::<T, _>(to, back, |l| l.insert(from));
                    }
                    let change = MembershipChange::new(meta.join, SlotRef::of::<M>(from), SlotRef::of::<T>(to), true);
                    self.links.record_membership(change);
                }
            }
        }
        Ok(())
    }

    /// Undoes a [`link`](Session::link): removes `to` from `from`'s
    /// relationship and from the mirrored one. A child that leaves its parent
    /// gets a NULL foreign key, or is deleted when the parent's relationship
    /// has `delete-orphan`; a many-to-many unlink deletes the secondary row at
    /// flush.
    ///
    /// # Errors
    /// [`Error::ForeignHandle`] or [`Error::StaleHandle`] if either handle is not a live object of this
    /// session, or a foreign key that must become NULL is not nullable.
    pub fn unlink<M: Model, T: Model, C>(
        &mut self,
        from: Handle<M>,
        relation: Relation<M, T, C>,
        to: Handle<T>,
    ) -> Result<()> {
        let (from, to) = (self.live(from)?, self.live(to)?);
        let meta = relation.meta();
        let removed = self.with_links::<M, _>(from, relation.index(), |l| l.remove(to)).unwrap_or(false);
        // The links may not be loaded: the keys tell whether the two are related.
        let removed = removed
            || match meta.join {
                Join::ForeignKeyHere { local, remote } => self.references::<M, T>(from, local, to, remote),
                Join::ForeignKeyThere { local, remote } => self.references::<T, M>(to, remote, from, local),
                Join::Secondary { .. } => !self.links_loaded::<M>(from, relation.index()),
            };
        match meta.join {
            Join::ForeignKeyHere { local, .. } => {
                if let Some(back) = back_relation::<T>(meta) {
                    self.with_loaded_links::<T, _>(to, back, |l| l.remove(from));
                }
                if removed {
                    self.clear_foreign_key::<M>(from, local)?;
                }
            }
            Join::ForeignKeyThere { .. } => {
                if removed {
                    self.orphan::<M, T>(from, meta, to)?;
                }
            }
            Join::Secondary { .. } => {
                if let Some(back) = back_relation::<T>(meta) {
                    self.with_loaded_links::<T, _>(to, back, |l| l.remove(from));
                }
                if removed {
                    let change = MembershipChange::new(meta.join, SlotRef::of::<M>(from), SlotRef::of::<T>(to), false);
                    self.links.record_membership(change);
                }
            }
        }
        Ok(())
    }

    /// The child `child` of parent `parent` (of relationship `meta`, foreign
    /// key on the child) left it: delete it (delete-orphan) or clear its key.
    fn orphan<M: Model, T: Model>(&mut self, parent: u32, meta: &RelationMeta, child: u32) -> Result<()> {
        if let Some(back) = back_relation::<T>(meta) {
            self.with_links::<T, _>(child, back, |l| l.remove(parent));
        }
        if let Join::ForeignKeyThere { local, remote } = meta.join {
            // Only a child that still belongs to this parent is orphaned; one
            // that moved to another parent keeps its new key.
            if !self.references::<T, M>(child, remote, parent, local) {
                return Ok(());
            }
        }
        if meta.delete_orphan {
            return self.arena_mut::<T>().mark_deleted(child);
        }
        if let Join::ForeignKeyThere { remote, .. } = meta.join {
            self.clear_foreign_key::<T>(child, remote)?;
        }
        Ok(())
    }

    /// Puts `child` into the mirrored relationship `back` of `parent`: a
    /// collection gains it; a scalar (one-to-one) replaces, and orphans, the
    /// previous child.
    fn attach_back<T: Model, M: Model>(&mut self, parent: u32, back: usize, child: u32) -> Result<()> {
        let back_meta = &T::TABLE.relations[back];
        if !back_meta.is_scalar() {
            self.with_loaded_links::<T, _>(parent, back, |l| l.insert(child));
            return Ok(());
        }
        let previous = self.with_links::<T, _>(parent, back, |l| {
            let previous = l.indices().first().copied();
            l.set(vec![child]);
            previous
        });
        match previous {
            Some(Some(old)) if old != child => self.orphan::<T, M>(parent, back_meta, old),
            _ => Ok(()),
        }
    }

    /// Whether column `column` of `child` holds (or will hold, at flush) the
    /// key column `parent_column` of `parent`.
    fn references<C: Model, P: Model>(&self, child: u32, column: usize, parent: u32, parent_column: usize) -> bool {
        let (child_ref, parent_ref) = (SlotRef::of::<C>(child), SlotRef::of::<P>(parent));
        if self.links.has_pending_foreign_key(child_ref, column) {
            return self
                .links
                .foreign_keys
                .iter()
                .any(|f| f.child == child_ref && f.column == column && f.parent == parent_ref);
        }
        let value = self.object(Handle::<C>::new(child, self.id)).map(|c| c.column_value(column));
        let key = self.object(Handle::<P>::new(parent, self.id)).map(|p| p.column_value(parent_column));
        matches!((value, key), (Some(v), Some(k)) if v != Value::Null && v == k)
    }

    /// Whether `child` currently belongs to a parent other than `parent`.
    fn references_other<C: Model, P: Model>(
        &self,
        child: u32,
        column: usize,
        parent: u32,
        parent_column: usize,
    ) -> bool {
        let has_parent = self.links.has_pending_foreign_key(SlotRef::of::<C>(child), column)
            || self.object(Handle::<C>::new(child, self.id)).is_some_and(|c| c.column_value(column) != Value::Null);
        has_parent && !self.references::<C, P>(child, column, parent, parent_column)
    }

    /// Removes `child` from relationship `relation` of every loaded object of
    /// `P` but `keep`: the child moved to `keep`.
    fn detach_from_others<P: Model>(&mut self, relation: usize, child: u32, keep: u32) {
        let session = self.id;
        let mut changed = Vec::new();
        for (index, slot) in self.arena_mut::<P>().slots.iter_mut().enumerate() {
            if index as u32 == keep {
                continue;
            }
            if let Some(links) = slot.object.as_mut().and_then(|o| o.links_mut(relation, session)) {
                if links.is_loaded() && links.remove(child) {
                    links.take_changed();
                    changed.push((SlotRef::of::<P>(index as u32), relation));
                }
            }
        }
        self.links.changed.extend(changed);
    }

    fn links_loaded<T: Model>(&self, index: u32, relation: usize) -> bool {
        self.object(Handle::<T>::new(index, self.id)).and_then(|o| o.links(relation)).is_some_and(|l| l.is_loaded())
    }

    /// Sets column `column` of `child` to the key column `parent_column` of
    /// `parent`: now if the parent is persistent, else at flush.
    fn assign_foreign_key<C: Model, P: Model>(
        &mut self,
        child: u32,
        column: usize,
        parent: u32,
        parent_column: usize,
    ) -> Result<()> {
        let child_ref = SlotRef::of::<C>(child);
        self.links.forget_foreign_key(child_ref, column);
        let arena = self.arena_mut::<P>();
        let key = match arena.state(parent) {
            Some(ObjectState::Persistent) => arena.object(parent).map(|p| p.column_value(parent_column)),
            _ => None,
        };
        match key {
            Some(value) => self.set_column::<C>(child, column, value),
            None => {
                self.links.push_foreign_key(PendingForeignKey {
                    child: child_ref,
                    column,
                    parent: SlotRef::of::<P>(parent),
                    parent_column,
                });
                Ok(())
            }
        }
    }

    fn clear_foreign_key<C: Model>(&mut self, child: u32, column: usize) -> Result<()> {
        self.links.forget_foreign_key(SlotRef::of::<C>(child), column);
        let meta = &C::TABLE.columns[column];
        if !meta.nullable {
            return Err(Error::NotNullableForeignKey { model: C::TABLE.model, field: meta.field });
        }
        self.set_column::<C>(child, column, Value::Null)
    }

    /// Sets one column of an object, as a write through `&mut session[h]`.
    fn set_column<C: Model>(&mut self, index: u32, column: usize, value: Value) -> Result<()> {
        match self.arena_mut::<C>().object_mut(index) {
            Some(object) => object.set_column_value(column, value),
            None => Err(stale_handle(C::TABLE.model)),
        }
    }

    /// Returns the objects related to `from` through `relation`: a
    /// `Vec<Handle<T>>` for a `Many` field, an `Option<Handle<T>>` for a
    /// `One` field.
    ///
    /// # Errors
    /// [`Error::NotLoaded`] naming `Model.relationship` if they have not been
    /// loaded: load them with [`Session::load`] or an eager option first.
    pub fn related<M: Model, T: Model, C: Cardinality>(
        &self,
        from: Handle<M>,
        relation: Relation<M, T, C>,
    ) -> Result<C::Related<T>> {
        let object = self.object(from).ok_or_else(|| self.handle_error(from))?;
        let links = object.links(relation.index()).filter(|l| l.is_loaded());
        let links = links.ok_or(Error::NotLoaded { model: M::TABLE.model, relationship: relation.meta().name })?;
        Ok(C::related(links.indices().iter().map(|&i| Handle::new(i, self.id)).collect()))
    }
}
