//! Relationships between models: their static description, the `One` and
//! `Many` fields that hold related handles, and the typed `Relation` constants
//! (`Movie::actors`) that name them.

use std::any::TypeId;
use std::fmt;
use std::marker::PhantomData;

use crate::metadata::TableMeta;
use crate::model::Model;
use crate::session::Handle;

/// The four relationship patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    /// Many of these belong to one target (`Tire::car`); the foreign key is here.
    ManyToOne,
    /// One of these has many targets (`Article::comments`); the foreign key is
    /// on the target.
    OneToMany,
    /// One of these has at most one target (`Person::mobile_phone`), the
    /// foreign key on either side.
    OneToOne,
    /// Many of these relate to many targets through rows of a secondary table.
    ManyToMany,
}

/// How the rows of a relationship are matched, by column positions.
#[derive(Debug, Clone, Copy)]
pub enum Join {
    /// This model's column `local` references the target's key column `remote`.
    ForeignKeyHere {
        /// The foreign-key column of this model.
        local: usize,
        /// The referenced key column of the target.
        remote: usize,
    },
    /// The target's column `remote` references this model's key column `local`.
    ForeignKeyThere {
        /// The referenced key column of this model.
        local: usize,
        /// The foreign-key column of the target.
        remote: usize,
    },
    /// Rows of `secondary` link the two models.
    Secondary {
        /// The association table.
        secondary: fn() -> &'static TableMeta,
        /// This model's key column.
        local: usize,
        /// The secondary column referencing `local`.
        to_local: usize,
        /// The secondary column referencing `remote`.
        to_remote: usize,
        /// The target's key column.
        remote: usize,
    },
}

/// One relationship of a model, as `#[relationship(...)]` describes it.
#[derive(Debug)]
pub struct RelationMeta {
    /// The field name (`actors`).
    pub name: &'static str,
    /// The pattern.
    pub kind: RelationKind,
    /// The target model's table.
    pub target: fn() -> &'static TableMeta,
    /// The target model's type, to find its arena in a session.
    pub target_type: fn() -> TypeId,
    /// How rows are matched.
    pub join: Join,
    /// The relationship on the target that mirrors this one.
    pub back_populates: Option<&'static str>,
    /// Deleting this object deletes the related ones (`cascade = "delete"`).
    pub cascade_delete: bool,
    /// A related object removed from this one is deleted
    /// (`cascade = "delete-orphan"`).
    pub delete_orphan: bool,
    /// Target columns a collection is sorted by, with `true` for descending.
    pub order_by: &'static [(usize, bool)],
}

impl RelationMeta {
    /// Whether the field holds at most one object.
    pub fn is_scalar(&self) -> bool {
        matches!(self.kind, RelationKind::ManyToOne | RelationKind::OneToOne)
    }
}

/// The related objects of one object for one relationship, untyped: slot
/// indices in the target's arena, whether they were loaded, and whether
/// `link` or `unlink` changed them (until the session records it).
///
/// Two words, so that the `One` and `Many` fields of every loaded object
/// stay small: no related object, or one (a many-to-one's), takes no
/// allocation, and the collections a load sets share one buffer
/// (`docs/design/relationships.md`).
#[derive(Clone, Default)]
pub struct Links(Stored);

/// The slot indices of every collection one load set, owner after owner;
/// each owner's links are a run of them ([`Links::set_run`]).
pub(crate) type SharedSlots = std::sync::Arc<Vec<u32>>;

#[derive(Clone)]
enum Stored {
    /// No related object.
    Empty { loaded: bool, changed: bool },
    /// One related object.
    One { index: u32, loaded: bool, changed: bool },
    /// Loaded, unchanged: `len` indices of a load's shared slots from
    /// `start`. Changed, they become a list of their own.
    Run { slots: SharedSlots, start: u32, len: u16 },
    /// Several related objects, or a list that held several.
    Many(Box<List>),
}

impl Stored {
    /// Loaded links holding `indices`.
    fn loaded(indices: Vec<u32>, changed: bool) -> Self {
        match *indices.as_slice() {
            [] => Stored::Empty { loaded: true, changed },
            [index] => Stored::One { index, loaded: true, changed },
            _ => Stored::Many(Box::new(List { loaded: true, changed, indices, members: None })),
        }
    }
}

impl Default for Stored {
    fn default() -> Self {
        Stored::Empty { loaded: false, changed: false }
    }
}

#[derive(Clone)]
struct List {
    loaded: bool,
    changed: bool,
    indices: Vec<u32>,
    /// The same indices as a set, once there are many: linking the
    /// 100,000th object must not scan the other 99,999.
    members: Option<rustc_hash::FxHashSet<u32>>,
}

/// From this many links on, a collection keeps a set of its members.
const MANY_LINKS: usize = 32;

impl PartialEq for Links {
    fn eq(&self, other: &Self) -> bool {
        self.is_loaded() == other.is_loaded() && self.indices() == other.indices()
    }
}

impl Eq for Links {}

impl fmt::Debug for Links {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Links").field("loaded", &self.is_loaded()).field("indices", &self.indices()).finish()
    }
}

impl Links {
    /// Links of an object read from the database: nothing loaded yet.
    pub const fn not_loaded() -> Self {
        Links(Stored::Empty { loaded: false, changed: false })
    }

    /// Links of a new object: loaded, and empty.
    pub const fn empty() -> Self {
        Links(Stored::Empty { loaded: true, changed: false })
    }

    fn contains(&self, index: u32) -> bool {
        match &self.0 {
            Stored::Many(list) => match &list.members {
                Some(members) => members.contains(&index),
                None => list.indices.contains(&index),
            },
            _ => self.indices().contains(&index),
        }
    }

    pub(crate) fn is_loaded(&self) -> bool {
        match &self.0 {
            Stored::Empty { loaded, .. } | Stored::One { loaded, .. } => *loaded,
            Stored::Run { .. } => true,
            Stored::Many(list) => list.loaded,
        }
    }

    /// Whether `set`, `insert` or `remove` changed these links since the
    /// last call; clears the mark.
    pub(crate) fn take_changed(&mut self) -> bool {
        match &mut self.0 {
            Stored::Empty { changed, .. } | Stored::One { changed, .. } => std::mem::take(changed),
            Stored::Run { .. } => false,
            Stored::Many(list) => std::mem::take(&mut list.changed),
        }
    }

    pub(crate) fn indices(&self) -> &[u32] {
        match &self.0 {
            Stored::Empty { .. } => &[],
            Stored::One { index, .. } => std::slice::from_ref(index),
            Stored::Run { slots, start, len } => &slots[*start as usize..][..usize::from(*len)],
            Stored::Many(list) => &list.indices,
        }
    }

    /// Changes the links to `indices`, loaded.
    pub(crate) fn set(&mut self, indices: Vec<u32>) {
        self.0 = Stored::loaded(indices, true);
    }

    /// Sets the loaded links to `slots[range]`, sharing `slots` with the
    /// other collections of a load: no allocation of its own.
    pub(crate) fn set_run(&mut self, slots: &SharedSlots, range: std::ops::Range<usize>) {
        let run = &slots[range.clone()];
        match (run, u32::try_from(range.start), u16::try_from(run.len())) {
            // One index inline, without the `Vec` that `set` would take.
            (&[index], ..) => self.0 = Stored::One { index, loaded: true, changed: false },
            (_, Ok(start), Ok(len)) if len > 1 => self.0 = Stored::Run { slots: slots.clone(), start, len },
            // None (no allocation), or too many to share.
            _ => self.0 = Stored::loaded(run.to_vec(), false),
        }
    }

    /// Adds `index` unless present. Returns whether it was added.
    pub(crate) fn insert(&mut self, index: u32) -> bool {
        if self.contains(index) {
            return false;
        }
        self.own_run();
        match &mut self.0 {
            Stored::Empty { loaded, .. } => self.0 = Stored::One { index, loaded: *loaded, changed: true },
            // Made a list of its own above.
            Stored::Run { .. } => {}
            Stored::One { index: first, loaded, .. } => {
                let list = List { loaded: *loaded, changed: true, indices: vec![*first, index], members: None };
                self.0 = Stored::Many(Box::new(list));
            }
            Stored::Many(list) => {
                list.changed = true;
                list.indices.push(index);
                match &mut list.members {
                    Some(members) => {
                        members.insert(index);
                    }
                    None if list.indices.len() >= MANY_LINKS => {
                        list.members = Some(list.indices.iter().copied().collect());
                    }
                    None => {}
                }
            }
        }
        true
    }

    /// Removes `index`. Returns whether it was present.
    pub(crate) fn remove(&mut self, index: u32) -> bool {
        if !self.contains(index) {
            return false;
        }
        self.own_run();
        match &mut self.0 {
            Stored::Empty { .. } | Stored::Run { .. } => {}
            Stored::One { loaded, .. } => self.0 = Stored::Empty { loaded: *loaded, changed: true },
            Stored::Many(list) => {
                list.changed = true;
                if let Some(members) = &mut list.members {
                    members.remove(&index);
                }
                if let Some(position) = list.indices.iter().position(|&i| i == index) {
                    list.indices.remove(position);
                }
            }
        }
        true
    }

    /// Copies a run of shared slots into a list of its own, to change it.
    fn own_run(&mut self) {
        if let Stored::Run { .. } = self.0 {
            self.set(self.indices().to_vec());
        }
    }
}

/// A relationship field holding at most one related object
/// (many-to-one, or one-to-one: SQLAlchemy's `uselist=False`).
pub struct One<T> {
    links: Links,
    session: u64,
    marker: PhantomData<fn() -> T>,
}

/// A relationship field holding a collection (one-to-many, many-to-many).
pub struct Many<T> {
    links: Links,
    session: u64,
    marker: PhantomData<fn() -> T>,
}

macro_rules! related_field {
    ($name:ident) => {
        impl<T> $name<T> {
            /// The field of an object read from the database: not loaded.
            #[doc(hidden)]
            pub const fn not_loaded() -> Self {
                $name { links: Links::not_loaded(), session: 0, marker: PhantomData }
            }

            /// Whether the related objects have been loaded.
            pub fn is_loaded(&self) -> bool {
                self.links.is_loaded()
            }

            /// The handles of the related objects, or `None` if they are not
            /// loaded: load them with `Session::load` or an eager option.
            pub fn handles(&self) -> Option<Vec<Handle<T>>> {
                self.links
                    .is_loaded()
                    .then(|| self.links.indices().iter().map(|&i| Handle::new(i, self.session)).collect())
            }

            #[doc(hidden)]
            pub fn links(&self) -> &Links {
                &self.links
            }

            #[doc(hidden)]
            pub fn links_mut(&mut self, session: u64) -> &mut Links {
                self.session = session;
                &mut self.links
            }
        }

        /// A new object's relationship: loaded and empty.
        impl<T> Default for $name<T> {
            fn default() -> Self {
                $name { links: Links::empty(), session: 0, marker: PhantomData }
            }
        }

        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name { links: self.links.clone(), session: self.session, marker: PhantomData }
            }
        }

        impl<T> PartialEq for $name<T> {
            fn eq(&self, other: &Self) -> bool {
                self.links == other.links && self.session == other.session
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.links.is_loaded() {
                    f.debug_list().entries(self.links.indices()).finish()
                } else {
                    f.write_str("<not loaded>")
                }
            }
        }
    };
}

related_field!(One);
related_field!(Many);

impl<T> One<T> {
    /// The related object's handle: `Some(None)` when loaded and empty,
    /// `None` when not loaded.
    pub fn get(&self) -> Option<Option<Handle<T>>> {
        self.links.is_loaded().then(|| self.links.indices().first().map(|&i| Handle::new(i, self.session)))
    }
}

/// Implemented by `#[derive(Model)]` for every foreign key of `Self` to
/// model `T`; `K` (a [`ColumnMarker`]) tells several foreign keys to the same
/// model apart. Relationships use it to find the foreign key between two
/// models at compile time.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no foreign key to `{T}`",
    label = "no column of `{Self}` references `{T}`",
    note = "add `#[orm(foreign_key = {T}::<key column>)]` to a field of `{Self}`"
)]
pub trait References<T, K> {
    /// The position of the foreign-key column in `Self::TABLE.columns`.
    const COLUMN: usize;
    /// The position of the referenced column in `T::TABLE.columns`.
    const TARGET_COLUMN: usize;
}

/// Tells the foreign keys of one model apart in [`References`]: the position
/// of the column.
#[derive(Debug)]
pub struct ColumnMarker<const N: usize>;

/// A typed name of a relationship of model `M` to model `T`: `Movie::actors`
/// is a `Relation<Movie, Actor>`, `Stuntman::actor` (a `One<Actor>` field) a
/// `Relation<Stuntman, Actor, ToOne>`. Generated by `#[derive(Model)]`.
pub struct Relation<M, T, C = ToMany> {
    index: usize,
    marker: PhantomData<RelationTypes<M, T, C>>,
}

/// The types a [`Relation`] is about, as a `Send + Sync` phantom.
type RelationTypes<M, T, C> = fn() -> (M, T, C);

/// The cardinality of a relationship held in a `Many<T>` field.
#[derive(Debug)]
pub enum ToMany {}

/// The cardinality of a relationship held in a `One<T>` field.
#[derive(Debug)]
pub enum ToOne {}

/// What reading a relationship gives: `Vec<Handle<T>>` for `Many`,
/// `Option<Handle<T>>` for `One`.
pub trait Cardinality {
    /// The related objects.
    type Related<T>;
    /// Shapes the related handles.
    fn related<T>(handles: Vec<Handle<T>>) -> Self::Related<T>;
}

impl Cardinality for ToMany {
    type Related<T> = Vec<Handle<T>>;
    fn related<T>(handles: Vec<Handle<T>>) -> Vec<Handle<T>> {
        handles
    }
}

impl Cardinality for ToOne {
    type Related<T> = Option<Handle<T>>;
    fn related<T>(handles: Vec<Handle<T>>) -> Option<Handle<T>> {
        handles.into_iter().next()
    }
}

impl<M, T, C> Clone for Relation<M, T, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T, C> Copy for Relation<M, T, C> {}

impl<M: Model, T: Model, C> fmt::Debug for Relation<M, T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", M::TABLE.model, self.meta().name)
    }
}

impl<M: Model, T: Model, C> Relation<M, T, C> {
    /// Names relationship `index` of `M::TABLE.relations`. Called by
    /// generated code.
    #[doc(hidden)]
    pub const fn new(index: usize) -> Self {
        Relation { index, marker: PhantomData }
    }

    /// The position of the relationship in `M::TABLE.relations`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The relationship's description.
    pub fn meta(&self) -> &'static RelationMeta {
        &M::TABLE.relations[self.index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relationship_field_is_three_words() {
        // Every loaded object carries one per relationship: users → posts
        // → comments measured 1.14–1.16x of raw with six words, 1.06–1.08x
        // with three (`docs/design/relationships.md`).
        assert_eq!(std::mem::size_of::<Links>(), 16);
        assert_eq!(std::mem::size_of::<One<()>>(), 24);
        assert_eq!(std::mem::size_of::<Many<()>>(), 24);
    }

    #[test]
    fn links_grow_from_none_to_one_to_many_and_shrink_back() {
        let mut links = Links::empty();
        assert!(links.insert(7));
        assert!(!links.insert(7), "present already");
        assert_eq!(links.indices(), &[7]);
        assert!(links.insert(3));
        assert_eq!(links.indices(), &[7, 3]);
        assert!(links.remove(7));
        assert!(!links.remove(7), "gone already");
        assert_eq!(links.indices(), &[3]);
        assert!(links.remove(3));
        assert_eq!(links.indices(), &[] as &[u32]);
        assert!(links.is_loaded());

        let mut one = Links::empty();
        one.insert(5);
        assert!(one.remove(5));
        assert_eq!((one.indices(), one.is_loaded()), (&[] as &[u32], true));
    }

    #[test]
    fn links_not_loaded_keep_what_is_added_and_stay_not_loaded() {
        let mut links = Links::not_loaded();
        for index in [4, 9, 2] {
            assert!(links.insert(index));
            assert!(!links.is_loaded());
        }
        assert_eq!(links.indices(), &[4, 9, 2]);
        assert!(links.remove(9));
        assert_eq!(links.indices(), &[4, 2]);
        assert!(!links.is_loaded());
        links.set(vec![1]);
        assert_eq!((links.indices(), links.is_loaded()), (&[1u32][..], true));
    }

    #[test]
    fn links_set_to_any_size_read_back_and_compare_by_contents() {
        for indices in [vec![], vec![8], vec![8, 1, 5]] {
            let mut links = Links::not_loaded();
            links.set(indices.clone());
            assert_eq!(links.indices(), indices.as_slice());
            assert!(links.is_loaded());
            // A list built by inserts equals the same list set at once.
            let mut inserted = Links::empty();
            for &index in &indices {
                inserted.insert(index);
            }
            assert_eq!(inserted, links);
        }
        assert_ne!(Links::empty(), Links::not_loaded());
        let mut shrunk = Links::empty();
        shrunk.insert(1);
        shrunk.insert(2);
        shrunk.remove(2);
        let mut single = Links::empty();
        single.insert(1);
        assert_eq!(shrunk, single, "a list that held two and one that held one, both holding 1");
    }

    #[test]
    fn links_set_from_runs_of_one_buffer_read_their_run_and_change_alone() {
        let shared: SharedSlots = std::sync::Arc::new(vec![4, 5, 6, 7, 8, 9]);
        let (mut first, mut second, mut none, mut one) =
            (Links::not_loaded(), Links::not_loaded(), Links::not_loaded(), Links::not_loaded());
        first.set_run(&shared, 0..3);
        second.set_run(&shared, 3..6);
        none.set_run(&shared, 6..6);
        one.set_run(&shared, 2..3);
        assert_eq!((first.indices(), second.indices()), (&[4, 5, 6][..], &[7, 8, 9][..]));
        assert_eq!((none.indices(), none.is_loaded()), (&[][..], true));
        assert_eq!(one.indices(), &[6]);
        assert!(first.is_loaded() && second.is_loaded());
        let mut set = Links::not_loaded();
        set.set(vec![4, 5, 6]);
        assert_eq!(first, set, "a run equals the same list set on its own");
        assert!(matches!(first.0, Stored::Run { .. }), "three indices share the buffer");

        assert!(first.insert(1));
        assert!(!first.insert(5), "present already");
        assert!(second.remove(8));
        assert!(!second.remove(8));
        assert_eq!((first.indices(), second.indices()), (&[4, 5, 6, 1][..], &[7, 9][..]));
        assert_eq!(*shared, [4, 5, 6, 7, 8, 9], "the shared buffer is left as it was");
        assert_eq!(std::sync::Arc::strong_count(&shared), 1, "changed links hold lists of their own");
    }

    #[test]
    fn a_run_too_long_to_share_is_a_list_of_its_own() {
        let long = usize::from(u16::MAX) + 1;
        let shared: SharedSlots = std::sync::Arc::new((0..long as u32).collect());
        let mut links = Links::not_loaded();
        links.set_run(&shared, 0..long);
        assert_eq!(links.indices().len(), long);
        assert!(matches!(links.0, Stored::Many(_)));
        links.set_run(&shared, 1..long);
        assert!(matches!(links.0, Stored::Run { len: u16::MAX, .. }));
        assert_eq!(links.indices().first(), Some(&1));
    }

    #[test]
    fn a_long_list_finds_its_members_through_a_set() {
        let mut links = Links::empty();
        let count = MANY_LINKS as u32 * 3;
        for index in 0..count {
            assert!(links.insert(index));
        }
        let Stored::Many(list) = &links.0 else { panic!("a list of {count}") };
        assert_eq!(list.members.as_ref().map(|m| m.len()), Some(count as usize));
        assert!(!links.insert(count / 2), "found in the set");
        assert!(links.remove(count / 2));
        assert!(!links.contains(count / 2));
        assert!(links.insert(count / 2), "added again at the end");
        assert_eq!(links.indices().len(), count as usize);
        assert_eq!(links.indices().last(), Some(&(count / 2)));
    }
}
