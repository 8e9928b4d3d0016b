//! Relationship loading: lazy (`Session::load`, batched across the siblings
//! of one query result) and eager (`selectin`, `joined`), all through the
//! identity map. See `docs/design/loading.md`.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::Result;
use crate::executor::BoxFuture;
use crate::model::Model;
use crate::relation::{Cardinality, Join, Relation, SharedSlots};
use crate::session::flush_links::Models;
use crate::session::KeyRun;
use crate::session::{Handle, Session};
use crate::statement::{self, Expr, Name, OrderTerm, Source, Sql, Statement};
use crate::value::Value;

/// How an eager option loads a relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// One extra `SELECT .. WHERE key = ANY($1)` for all parents at once.
    SelectIn,
    /// A `LEFT OUTER JOIN` in the parent query itself.
    Joined,
}

type LoaderFn = for<'s> fn(&'s mut Session, Vec<u32>, usize) -> BoxFuture<'s, Result<Vec<u32>>>;

/// An eager-loading option, untyped: one relationship and the options nested
/// under it.
#[derive(Debug, Clone)]
pub struct LoadNode {
    pub(crate) relation: usize,
    pub(crate) strategy: Strategy,
    pub(crate) select_in: LoaderFn,
    pub(crate) joined: JoinedFns,
    pub(crate) nested: Vec<LoadNode>,
}

/// Reads a joined target's columns into its arena, at the position given
/// ([`JoinedFns::decode`]).
pub(crate) type JoinedDecode = fn(
    &mut Models<'_>,
    usize,
    &mut crate::model::RowReader<'_>,
    Option<MemoryOrder>,
    &mut KeyRun,
) -> Result<Option<(u32, SortKey)>>;

/// The typed steps of joined loading, for one relationship `M -> T`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JoinedFns {
    /// The target's table.
    pub(crate) target: fn() -> &'static crate::metadata::TableMeta,
    /// The position of the target's arena, made if it does not exist yet.
    pub(crate) arena: fn(&mut Models<'_>) -> usize,
    /// Reads the target's columns of one row into the arena at the
    /// position given: its slot and its key in the collection's order
    /// ([`sort_key_of`]); `None` if the join matched nothing.
    pub(crate) decode: JoinedDecode,
    /// Makes room in the target's identity map for as many objects.
    pub(crate) reserve: fn(&mut Models<'_>, usize),
    /// Sets the children of a parent's relationship and marks it loaded.
    pub(crate) set: fn(&mut Session, u32, usize, &SharedSlots, std::ops::Range<usize>),
    /// The children linked from some parents.
    pub(crate) linked: fn(&Session, &[u32], usize) -> Vec<u32>,
}

/// An eager-loading option for a query of `M`, whose relationship leads to
/// `T`: `Movie::actors.selectin()`. Nest with [`Load::then`].
#[derive(Debug, Clone)]
pub struct Load<M, T> {
    pub(crate) node: LoadNode,
    marker: PhantomData<fn() -> (M, T)>,
}

impl<M: Model, T: Model> Load<M, T> {
    /// Loads a relationship of the objects this option loads:
    /// `Movie::actors.selectin().then(Actor::contact_details.selectin())`.
    pub fn then<U: Model>(mut self, nested: Load<T, U>) -> Self {
        self.node.nested.push(nested.node);
        self
    }
}

impl<M: Model, T: Model, C> Relation<M, T, C> {
    fn option(self, strategy: Strategy) -> Load<M, T> {
        Load {
            node: LoadNode {
                relation: self.index(),
                strategy,
                select_in: select_in::<M, T>,
                joined: JoinedFns {
                    target: table_of::<T>,
                    arena: arena_joined::<T>,
                    decode: decode_joined::<T>,
                    reserve: reserve_joined::<T>,
                    set: Session::set_links::<M>,
                    linked: linked_slots::<M>,
                },
                nested: Vec::new(),
            },
            marker: PhantomData,
        }
    }

    /// Eager loading with one extra query: `SELECT .. WHERE key = ANY($1)`
    /// over the keys of every parent, whatever their number.
    pub fn selectin(self) -> Load<M, T> {
        self.option(Strategy::SelectIn)
    }

    /// Eager loading in the parent query itself, with a `LEFT OUTER JOIN`.
    pub fn joined(self) -> Load<M, T> {
        self.option(Strategy::Joined)
    }
}

fn table_of<T: Model>() -> &'static crate::metadata::TableMeta {
    T::TABLE
}

fn select_in<M: Model, T: Model>(
    session: &mut Session,
    parents: Vec<u32>,
    relation: usize,
) -> BoxFuture<'_, Result<Vec<u32>>> {
    Box::pin(async move { session.load_relation::<M, T>(&parents, relation).await })
}

fn decode_joined<T: Model>(
    models: &mut Models<'_>,
    arena: usize,
    row: &mut crate::model::RowReader<'_>,
    order: Option<MemoryOrder>,
    run: &mut KeyRun,
) -> Result<Option<(u32, SortKey)>> {
    models.arena_at::<T>(arena).merge_joined(row, order, run)
}

fn arena_joined<T: Model>(models: &mut Models<'_>) -> usize {
    models.arena_position::<T>()
}

fn reserve_joined<T: Model>(models: &mut Models<'_>, objects: usize) {
    models.arena_mut::<T>().reserve(objects);
}

fn linked_slots<M: Model>(session: &Session, parents: &[u32], relation: usize) -> Vec<u32> {
    let mut children: Vec<u32> = parents
        .iter()
        .filter_map(|&p| session.object::<M>(Handle::new(p, session.id))?.links(relation))
        .flat_map(|links| links.indices().iter().copied())
        .collect();
    children.sort_unstable();
    children.dedup();
    children
}

/// A hashable form of a key value, to match rows to their parents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum KeyValue {
    Int(i64),
    Text(String),
    Other(String),
}

impl KeyValue {
    /// As [`of`](KeyValue::of), taking the value: a text is moved, not
    /// copied, and an integer is not dropped. Dropping a `Value` is a call
    /// whatever its variant, and a selectin load made two per row.
    #[inline]
    pub(crate) fn from_value(value: Value) -> Option<KeyValue> {
        let value = ManuallyDrop::new(value);
        match *value {
            // An integer owns nothing: forgetting it frees nothing.
            Value::I16(v) => Some(KeyValue::Int(i64::from(v))),
            Value::I32(v) => Some(KeyValue::Int(i64::from(v))),
            Value::I64(v) => Some(KeyValue::Int(v)),
            _ => match ManuallyDrop::into_inner(value) {
                Value::Text(v) => Some(KeyValue::Text(v)),
                value => KeyValue::of(&value),
            },
        }
    }

    pub(crate) fn of(value: &Value) -> Option<KeyValue> {
        Some(match value {
            Value::Null => return None,
            Value::I16(v) => KeyValue::Int(i64::from(*v)),
            Value::I32(v) => KeyValue::Int(i64::from(*v)),
            Value::I64(v) => KeyValue::Int(*v),
            Value::Text(v) => KeyValue::Text(v.clone()),
            // A database enum comes back as its label.
            Value::Enum(_, label) => KeyValue::Text((*label).to_owned()),
            // As PostgreSQL gives them back: `1.50` for `1.5` in a
            // `numeric(p, 2)`, microseconds of a timestamp.
            #[cfg(feature = "rust_decimal")]
            Value::Decimal(v) => KeyValue::Other(v.normalize().to_string()),
            #[cfg(feature = "chrono")]
            Value::Timestamp(v) => KeyValue::Int(v.and_utc().timestamp_micros()),
            #[cfg(feature = "chrono")]
            Value::TimestampTz(v) => KeyValue::Int(v.timestamp_micros()),
            other => KeyValue::Other(format!("{other:?}")),
        })
    }
}

/// Owners' numbers by their keys, integers apart: an integer key, the
/// common case, is hashed and compared inline as one word, where a lookup
/// through `KeyValue` cost about 100 instructions a row of a joined load.
#[derive(Debug, Default)]
pub(crate) struct KeyMap {
    ints: FxHashMap<i64, u32>,
    others: FxHashMap<KeyValue, u32>,
}

impl KeyMap {
    pub(crate) fn with_capacity(keys: usize) -> Self {
        KeyMap { ints: FxHashMap::with_capacity_and_hasher(keys, Default::default()), others: FxHashMap::default() }
    }

    /// Inlined for an integer, a lookup per row of a selectin load; the
    /// other kinds, whose hashing kept the whole function out of line
    /// (16 of its 52 instructions saving registers), go through
    /// [`get_other`](KeyMap::get_other).
    #[inline]
    pub(crate) fn get(&self, key: &KeyValue) -> Option<u32> {
        match key {
            KeyValue::Int(n) => self.ints.get(n).copied(),
            other => self.get_other(other),
        }
    }

    #[inline(never)]
    fn get_other(&self, key: &KeyValue) -> Option<u32> {
        self.others.get(key).copied()
    }

    pub(crate) fn insert(&mut self, key: KeyValue, number: u32) {
        match key {
            KeyValue::Int(n) => self.ints.insert(n, number),
            other => self.others.insert(other, number),
        };
    }

    /// The number of `key`, given it by `new` if it has none.
    pub(crate) fn get_or_insert_with(&mut self, key: KeyValue, new: impl FnOnce() -> u32) -> u32 {
        match key {
            KeyValue::Int(n) => *self.ints.entry(n).or_insert_with(new),
            other => *self.others.entry(other).or_insert_with(new),
        }
    }
}

impl Session {
    /// Loads `relation` of `from` and, in the same query, of every sibling
    /// that came from the same query result and has it not loaded yet: a
    /// loop over a result costs two queries, not N+1. Returns the related
    /// objects of `from`; no query if they are loaded already.
    ///
    /// # Errors
    /// A database error, or [`Error::Decode`](crate::Error::Decode).
    pub async fn load<M: Model, T: Model, C: Cardinality>(
        &mut self,
        from: Handle<M>,
        relation: Relation<M, T, C>,
    ) -> Result<C::Related<T>> {
        if let Ok(loaded) = self.related(from, relation) {
            return Ok(loaded);
        }
        let siblings = self.siblings_without::<M>(from.index, relation.index());
        self.load_relation::<M, T>(&siblings, relation.index()).await?;
        self.related(from, relation)
    }

    /// Runs eager options on freshly loaded objects of `M`. `joined`: the
    /// parents were read by the query that joined their joined options in
    /// (the root query, and the targets of joined options under it); under
    /// a selectin option, a joined one runs as selectin.
    pub(crate) async fn run_selectin(&mut self, parents: &[u32], nodes: &[LoadNode], joined: bool) -> Result<()> {
        for node in nodes {
            let (children, read_joined) = match node.strategy {
                // Loaded with the parent query; its selectin children still
                // need running, if it has any.
                Strategy::Joined if joined && node.nested.is_empty() => continue,
                Strategy::Joined if joined => ((node.joined.linked)(self, parents, node.relation), true),
                Strategy::Joined | Strategy::SelectIn => {
                    ((node.select_in)(self, parents.to_vec(), node.relation).await?, false)
                }
            };
            Box::pin(self.run_selectin(&children, &node.nested, read_joined)).await?;
        }
        Ok(())
    }

    /// Loads relationship `relation` of `M` for the objects at `parents`:
    /// one query. Returns the slots of the loaded targets.
    pub(crate) async fn load_relation<M: Model, T: Model>(
        &mut self,
        parents: &[u32],
        relation: usize,
    ) -> Result<Vec<u32>> {
        let meta = &M::TABLE.relations[relation];
        let (local, extra) = match meta.join {
            Join::ForeignKeyHere { local, .. } | Join::ForeignKeyThere { local, .. } => (local, false),
            Join::Secondary { local, .. } => (local, true),
        };
        // Each distinct key of the owners is numbered in the order met and
        // sent once; a target's row finds its owner's collection by it.
        let mut ordinals = KeyMap::with_capacity(parents.len());
        let mut keys: Vec<Value> = Vec::with_capacity(parents.len());
        let owners: Vec<(u32, Option<u32>)> = parents
            .iter()
            .filter_map(|&p| {
                let value = self.object::<M>(Handle::new(p, self.id))?.column_value(local);
                let ordinal = KeyValue::of(&value).map(|key| {
                    ordinals.get_or_insert_with(key, || {
                        keys.push(value);
                        keys.len() as u32 - 1
                    })
                });
                Some((p, ordinal))
            })
            .collect();
        let key_type = M::TABLE.columns[local].sql_type;
        let order = MemoryOrder::of(T::TABLE, meta);
        let distinct_owners = keys.len();
        let loaded = if keys.is_empty() {
            Vec::new()
        } else {
            let select = select_related::<T>(meta, key_type, keys);
            let sql = self.render(Statement::Select(Box::new(select)));
            self.fetch_related::<T>(&sql, meta, extra, order, &ordinals).await?
        };
        let targets = loaded.iter().filter_map(|&(slot, (owner, key))| Some((owner? as usize, key, slot)));
        let collections = group_by_ordinal(targets, distinct_owners, order);
        let shared = collections.shared_slots();
        let mut all_loaded = Vec::with_capacity(loaded.len());
        all_loaded.extend_from_slice(&shared);
        // A row the database matched by a key that `KeyValue` tells apart
        // from the owner's (a case-insensitive text) is in no collection,
        // but loaded all the same: the next level loads its relationships.
        all_loaded.extend(loaded.iter().filter(|(_, (owner, _))| owner.is_none()).map(|&(slot, _)| slot));
        let unmatched = all_loaded.len() > shared.len();
        let runs = collections.runs();
        for (parent, ordinal) in owners {
            let run = ordinal.map_or(0..0, |i| runs[i as usize].clone());
            self.set_links::<M>(parent, relation, &shared, run);
        }
        // Many-to-many: a target linked to several owners came once per
        // owner. Sorting them was 4 % of a three-level selectin load: only
        // here, where an owner's targets are not its own (and an unmatched
        // target may have come in several rows).
        Ok(if extra || unmatched { distinct(all_loaded) } else { all_loaded })
    }

    /// Runs a relationship query and merges its rows as they arrive;
    /// returns each target's slot, the ordinal of its owner's key in
    /// `ordinals` (the key being its column that refers to the owner, or
    /// for a many-to-many the row's last column), and its key in `order`.
    async fn fetch_related<T: Model>(
        &mut self,
        sql: &Sql,
        meta: &crate::relation::RelationMeta,
        extra: bool,
        order: Option<MemoryOrder>,
        ordinals: &KeyMap,
    ) -> Result<Vec<(u32, (Option<u32>, SortKey))>> {
        let match_column = match meta.join {
            Join::ForeignKeyHere { remote, .. } | Join::ForeignKeyThere { remote, .. } => remote,
            Join::Secondary { .. } => 0,
        };
        let read = |object: &T, row: &mut crate::model::RowReader<'_>| {
            // From the object, as the owners' keys are: a field type that
            // changes what it reads (a lowercased e-mail) matches the same.
            let owner = KeyValue::from_value(if extra { row.raw() } else { object.column_value(match_column) });
            (owner.and_then(|key| ordinals.get(&key)), sort_key_of(order, object))
        };
        self.fetch_objects_and::<T, _>(&sql.text, &sql.params, usize::from(extra), read).await
    }
}

/// One target in its owner's collection: its sort key and slot.
pub(crate) type Entry = (SortKey, u32);

/// `slots`, each once.
fn distinct(mut slots: Vec<u32>) -> Vec<u32> {
    slots.sort_unstable();
    slots.dedup();
    slots
}

/// Every owner's collection, owner after owner in one buffer: a `Vec` per
/// owner cost an allocation and a free each (a thousand a load of ten
/// comments per post), and scattered the entries over the heap.
pub(crate) struct Collections {
    entries: Vec<Entry>,
    /// Where each owner's collection starts in `entries`.
    starts: Vec<usize>,
    /// Where each ends: a collection may hold fewer entries than were
    /// counted for it, its repeats left out.
    ends: Vec<usize>,
}

impl Collections {
    /// The collection of owner `owner`.
    pub(crate) fn of(&self, owner: usize) -> &[Entry] {
        &self.entries[self.starts[owner]..self.ends[owner]]
    }

    /// Each owner's collection, in the owners' order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[Entry]> {
        (0..self.starts.len()).map(|owner| self.of(owner))
    }

    /// Every collection's slots, owner after owner, for their links to
    /// share ([`Links::set_run`](crate::relation::Links::set_run)).
    pub(crate) fn shared_slots(&self) -> SharedSlots {
        // Sized first: collected from `flatten`, it grew by doubling, to
        // up to twice the room it needs, which the links keep.
        // Extended collection by collection: through `flatten`, each slot
        // went through `extend`'s slow path, a capacity check apiece.
        let mut slots = Vec::with_capacity(self.iter().map(<[Entry]>::len).sum());
        for collection in self.iter() {
            slots.extend(collection.iter().map(|&(_, slot)| slot));
        }
        std::sync::Arc::new(slots)
    }

    /// Where each owner's collection lies in [`shared_slots`](Self::shared_slots).
    pub(crate) fn runs(&self) -> Vec<std::ops::Range<usize>> {
        let mut at = 0;
        self.iter()
            .map(|collection| {
                at += collection.len();
                at - collection.len()..at
            })
            .collect()
    }
}

/// The targets of each owner, the owner known by its ordinal (below
/// `owners`): the collection of owner `i` is `of(i)`. A collection is in
/// the order the targets came (the database's, when it sorted them), or
/// sorted by `order`. A target met twice under one owner (a link row
/// written twice, two rows sharing the model's key, a joined load's product
/// of two collections) is listed once.
pub(crate) fn group_by_ordinal(
    targets: impl Iterator<Item = (usize, SortKey, u32)> + Clone,
    owners: usize,
    order: Option<MemoryOrder>,
) -> Collections {
    // Counted first, so that each owner's entries have their place:
    // growing lists target by target was 4 % of a three-level load.
    let mut starts = vec![0; owners];
    let mut total = 0;
    for (owner, _, _) in targets.clone() {
        starts[owner] += 1;
        total += 1;
    }
    let mut start = 0;
    for count in &mut starts {
        (*count, start) = (start, start + *count);
    }
    let mut met: FxHashSet<(usize, u32)> = FxHashSet::default();
    if order.is_none() {
        // In the database's order, the (owner, target) pairs met are kept;
        // sorted in memory, a target's repeats end up next to it instead.
        met.reserve(total);
    }
    let mut entries: Vec<Entry> = vec![((false, 0), 0); total];
    let mut ends = starts.clone();
    for (owner, sort_key, slot) in targets {
        if order.is_some() || met.insert((owner, slot)) {
            entries[ends[owner]] = (sort_key, slot);
            ends[owner] += 1;
        }
    }
    if order.is_some() {
        // Stable: targets that tie keep the order they came in. Rows often
        // come in key order (a table read in the order it was written), or
        // in its reverse (a hash join gives the rows that share a hash
        // bucket last in first out): checking is a comparison per target,
        // where sorting ten cost up to 85 instructions per target. Keys
        // strictly in order, either way, have no ties, so no target twice.
        for (&start, end) in starts.iter().zip(&mut ends) {
            let list = &mut entries[start..*end];
            if list.is_sorted_by(|a, b| a.0 < b.0) {
                continue;
            }
            if list.is_sorted_by(|a, b| a.0 > b.0) {
                list.reverse();
                continue;
            }
            list.sort_by_key(|&(key, _)| key);
            *end = start + drop_repeats(list);
        }
    }
    Collections { entries, starts, ends }
}

/// Keeps the first entry of each target in a collection sorted by key, at
/// its front, and returns how many it kept: a target's repeats share its
/// key, so they sit among the entries of equal key just before it (a hash
/// set of the pairs met cost as much as the sort, measured).
fn drop_repeats(list: &mut [Entry]) -> usize {
    // No two keys equal, as in a collection sorted by its targets' own key:
    // nothing repeats, and one comparison per target says so where the
    // search below cost 30 instructions a target.
    if list.windows(2).all(|pair| pair[0].0 != pair[1].0) {
        return list.len();
    }
    let mut kept = 0;
    for i in 0..list.len() {
        let (key, slot) = list[i];
        let repeat = list[..kept].iter().rev().take_while(|&&(k, _)| k == key).any(|&(_, s)| s == slot);
        if !repeat {
            list[kept] = (key, slot);
            kept += 1;
        }
    }
    kept
}

/// The SELECT of the targets of `meta` owned by the keys in `keys` (of
/// `key_type`), with the owner's key last for a many-to-many; the keys
/// are matched as [`statement::matching_keys`] says.
fn select_related<T: Model>(
    meta: &crate::relation::RelationMeta,
    key_type: crate::value::SqlType,
    keys: Vec<Value>,
) -> statement::Select {
    let target = T::TABLE;
    let mut select = statement::select_table(target);
    let (owner_table, owner_column) = match meta.join {
        Join::ForeignKeyHere { remote, .. } | Join::ForeignKeyThere { remote, .. } => (target, remote),
        Join::Secondary { secondary, to_local, to_remote, remote, .. } => {
            let secondary = secondary();
            let owner_key = Expr::column(secondary.name, secondary.columns[to_local].name);
            select.items.push(owner_key);
            select.joins.push(statement::JoinClause {
                kind: statement::JoinKind::Inner,
                source: Source::table(secondary),
                on: Expr::column(secondary.name, secondary.columns[to_remote].name)
                    .equals(Expr::column(target.name, target.columns[remote].name)),
            });
            (secondary, to_local)
        }
    };
    let owner_key = Expr::column(owner_table.name, owner_table.columns[owner_column].name);
    select.filter = Some(statement::matching_keys(owner_table, owner_column, owner_key, key_type, keys));
    if MemoryOrder::of(target, meta).is_none() {
        select.order_by = collection_order(target, target.name, meta);
    }
    select
}

/// Where a target goes in its collection's [`MemoryOrder`], ascending.
pub(crate) type SortKey = (bool, i64);

/// The key of `object` in a collection sorted in memory by `order`; with
/// no order, every object ties.
pub(crate) fn sort_key_of<T: Model>(order: Option<MemoryOrder>, object: &T) -> SortKey {
    order.map_or((false, 0), |o| o.key(object.column_value(o.column)))
}

/// The order of a collection when it is one integer column of the target
/// (its single key, or a declared `order_by` of one column): the loaders
/// then sort the loaded rows in memory, exactly as the database would, and
/// save it the sort. Other orders (text follows the database's collation,
/// several columns) stay the database's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemoryOrder {
    /// The target's column the collection is sorted by.
    pub(crate) column: usize,
    descending: bool,
}

impl MemoryOrder {
    /// The order of collection `meta` of `target`, if it can be reproduced
    /// in memory.
    pub(crate) fn of(target: &crate::metadata::TableMeta, meta: &crate::relation::RelationMeta) -> Option<Self> {
        let (column, descending) = match meta.order_by {
            [] => (target.single_key()?, false),
            [(column, descending)] => (*column, *descending),
            _ => return None,
        };
        target.columns[column].sql_type.is_integer().then_some(MemoryOrder { column, descending })
    }

    /// The sort key of a target whose column holds `value`, ascending in
    /// the collection's order. As PostgreSQL sorts by default: NULL after
    /// every number, before them when descending.
    #[inline]
    pub(crate) fn key(self, value: Value) -> SortKey {
        let (null, n) = match KeyValue::from_value(value) {
            Some(KeyValue::Int(n)) => (false, n),
            _ => (true, 0),
        };
        // `!n` reverses the order of every i64, without overflow.
        if self.descending {
            (!null, !n)
        } else {
            (null, n)
        }
    }
}

/// The sort terms of a collection, qualified with `alias`: its `order_by`,
/// else the target's key.
pub(crate) fn collection_order(
    target: &crate::metadata::TableMeta,
    alias: &str,
    meta: &crate::relation::RelationMeta,
) -> Vec<OrderTerm> {
    let alias: Name = Name::Owned(alias.to_owned());
    let term = |column: usize, descending: bool| OrderTerm {
        expr: Expr::column(alias.clone(), target.columns[column].name),
        descending,
        nulls: None,
    };
    if meta.order_by.is_empty() {
        target.primary_key().map(|(i, _)| term(i, false)).collect()
    } else {
        meta.order_by.iter().map(|&(column, descending)| term(column, descending)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{drop_repeats, group_by_ordinal, KeyMap, KeyValue, MemoryOrder};
    use crate::value::Value;

    #[test]
    fn a_key_map_numbers_integer_and_other_keys_apart() {
        let mut map = KeyMap::default();
        let mut next = 0;
        let mut number = |key: KeyValue| {
            map.get_or_insert_with(key, || {
                next += 1;
                next
            })
        };
        assert_eq!(number(KeyValue::Int(1)), 1);
        assert_eq!(number(KeyValue::Text("1".into())), 2, "a text is not the integer it spells");
        assert_eq!(number(KeyValue::Other("1".into())), 3, "nor is another kind of value");
        assert_eq!(number(KeyValue::Int(1)), 1, "a key met again keeps its number");
        map.insert(KeyValue::Int(-7), 9);
        assert_eq!(map.get(&KeyValue::Int(-7)), Some(9));
        assert_eq!(map.get(&KeyValue::Text("1".into())), Some(2));
        assert_eq!(map.get(&KeyValue::Int(2)), None);
    }

    #[test]
    fn each_owners_targets_come_sorted_once_each_however_they_arrived() {
        let k = |n: i64| (false, n);
        let targets = [
            // Owner 0's arrive in descending order (as from a hash join),
            // owner 1's in order, owner 2's scrambled, with a tie and a
            // repeat, owner 3's descending with a tie; owner 4 has none.
            (0, k(3), 30),
            (1, k(1), 11),
            (0, k(2), 20),
            (2, k(5), 52),
            (3, k(9), 93),
            (1, k(2), 12),
            (0, k(1), 10),
            (2, k(4), 41),
            (3, k(8), 81),
            (2, k(5), 51),
            (3, k(8), 82),
            (2, k(4), 41),
        ];
        let slots = |order| -> Vec<Vec<u32>> {
            let collections = group_by_ordinal(targets.iter().copied(), 5, order);
            collections.iter().map(|list| list.iter().map(|&(_, slot)| slot).collect()).collect()
        };
        let sorted = slots(Some(MemoryOrder { column: 0, descending: false }));
        assert_eq!(sorted[0], [10, 20, 30], "reversed");
        assert_eq!(sorted[1], [11, 12], "kept");
        assert_eq!(sorted[2], [41, 52, 51], "sorted, the tie in arrival order, the repeat once");
        assert_eq!(sorted[3], [81, 82, 93], "sorted, the tie in arrival order");
        assert!(sorted[4].is_empty());
        let arrived = slots(None);
        assert_eq!(arrived[2], [52, 41, 51], "the database's order, the repeat once");
        assert_eq!(arrived[3], [93, 81, 82]);
    }

    #[test]
    fn a_sorted_collection_keeps_one_entry_per_target_and_ties_in_order() {
        let k = |n: i64| (false, n);
        let mut list = vec![(k(1), 7), (k(1), 7), (k(2), 3), (k(2), 9), (k(2), 3), (k(2), 9), (k(5), 4), (k(5), 4)];
        let kept = drop_repeats(&mut list);
        assert_eq!(list[..kept], [(k(1), 7), (k(2), 3), (k(2), 9), (k(5), 4)]);
    }

    #[test]
    fn memory_order_sorts_as_postgresql_with_nulls_last_ascending_and_first_descending() {
        let values = [Value::I32(2), Value::Null, Value::I64(i64::MIN), Value::I16(-1), Value::I64(i64::MAX)];
        let sorted = |descending: bool| {
            let order = MemoryOrder { column: 0, descending };
            let mut values = values.to_vec();
            values.sort_by_key(|v| order.key(v.clone()));
            values
        };
        let ascending = [Value::I64(i64::MIN), Value::I16(-1), Value::I32(2), Value::I64(i64::MAX), Value::Null];
        assert_eq!(sorted(false), ascending);
        let descending = [Value::Null, Value::I64(i64::MAX), Value::I32(2), Value::I16(-1), Value::I64(i64::MIN)];
        assert_eq!(sorted(true), descending);
    }
}
