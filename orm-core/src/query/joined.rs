//! Joined eager loading: the joined options of a query flattened into
//! steps (one per joined relationship, in the order of their columns), and
//! the decoding of the rows that links each related object to its owner.

use rustc_hash::FxHashMap;

use crate::error::Result;
use crate::executor::RawRow;
use crate::loader::{group_by_ordinal, KeyMap, LoadNode, MemoryOrder, SortKey, Strategy};
use crate::metadata::TableMeta;
use crate::model::{Model, RowReader};
use crate::relation::{RelationKind, RelationMeta};
use crate::session::flush_links::Models;
use crate::session::{KeyRun, Session};
use crate::statement::Statement;

/// One joined eager load, in the order its columns appear in a row.
#[derive(Debug, Clone)]
pub(crate) struct JoinedStep {
    pub(crate) owner: &'static TableMeta,
    pub(crate) owner_alias: String,
    pub(crate) relation: &'static RelationMeta,
    pub(crate) target: &'static TableMeta,
    pub(crate) alias: String,
    /// The step whose objects own this step's (`None`: the query's model).
    pub(crate) parent: Option<usize>,
    /// The order the loader sorts the collection in; `None`: the database's.
    pub(crate) order: Option<MemoryOrder>,
    pub(crate) node: LoadNode,
}

/// Flattens the joined options (and joined options nested under them) into
/// the order of their columns.
pub(crate) fn joined_plan(root: &'static TableMeta, loads: &[LoadNode]) -> Vec<JoinedStep> {
    fn walk(
        owner: &'static TableMeta,
        owner_alias: &str,
        parent: Option<usize>,
        nodes: &[LoadNode],
        steps: &mut Vec<JoinedStep>,
    ) {
        for node in nodes.iter().filter(|n| n.strategy == Strategy::Joined) {
            let relation = &owner.relations[node.relation];
            let target = (node.joined.target)();
            let alias = format!("j{}", steps.len() + 1);
            steps.push(JoinedStep {
                owner,
                owner_alias: owner_alias.to_owned(),
                relation,
                target,
                alias: alias.clone(),
                parent,
                order: MemoryOrder::of(target, relation),
                node: node.clone(),
            });
            let index = steps.len() - 1;
            walk(target, &alias, Some(index), &node.nested, steps);
        }
    }
    let mut steps = Vec::new();
    walk(root, root.name, None, loads, &mut steps);
    steps
}

impl Session {
    /// Runs `statement` (rows of `T`'s columns followed by each joined
    /// step's columns), merging the objects of each row as it arrives, then
    /// links every related object to its owner in the same row. Returns the
    /// roots, each once, in the order first met.
    pub(crate) async fn load_joined<T: Model>(
        &mut self,
        statement: Statement,
        steps: &[JoinedStep],
    ) -> Result<Vec<u32>> {
        let sql = self.render(statement);
        let mut gathered = Gathered::new(T::TABLE, self.new_group::<T>(), steps);
        let mut first = true;
        let read = |models: &mut Models<'_>, row: &mut dyn RawRow| {
            if std::mem::take(&mut first) {
                gathered.start(models, steps, row.rows_hint());
            }
            gathered.read::<T>(models, steps, &mut RowReader::new(T::TABLE, row))
        };
        self.stream_into_arenas(&sql, read).await?;
        Ok(gathered.link(self, steps))
    }
}

/// What the rows of a joined load hold, gathered before any object is
/// linked: the roots, and for each step the children met under each owner.
/// The rows may come in any order: an owner is known by its ordinal (the
/// order it was first met in), not by its rows being next to each other.
struct Gathered {
    group: u32,
    /// The roots, each once, in the order first met.
    roots: Met,
    /// The root's key column, when it is one column.
    root_key: Option<usize>,
    /// The ordinal of each root met, by key: a root's later rows (one per
    /// related object) skip its columns instead of decoding them again.
    root_by_key: KeyMap,
    /// For each step, the (sort key, owner's ordinal, child) of every row
    /// whose owner it joined to something; the key is only read for a step
    /// the loader sorts (`JoinedStep::order`).
    children: Vec<Vec<(SortKey, u32, u32)>>,
    /// For each step, whether it owns another step, and if so its objects
    /// met, which are that step's owners.
    owners: Vec<Option<Met>>,
    /// For each step that owns another, the ordinal of its object in the
    /// current row (`None`: no match, or a step that owns none).
    objects: Vec<Option<u32>>,
    /// The position of each step's arena among the session's, found at
    /// the first row: finding it by type on every row cost about 48
    /// instructions per row and step.
    arenas: Vec<usize>,
    /// The runs of keys left out of the identity map (`Arena::add_loaded`):
    /// the roots', and each step's.
    root_run: KeyRun,
    runs: Vec<KeyRun>,
}

/// The distinct objects of a joined load's step (or its roots), in the
/// order first met: an object's ordinal is its position in `slots`.
#[derive(Default)]
struct Met {
    slots: Vec<u32>,
    ordinals: FxHashMap<u32, u32>,
}

impl Met {
    /// The ordinal of the object at `slot`; a new object gets the next one.
    fn ordinal(&mut self, slot: u32) -> u32 {
        let next = self.slots.len() as u32;
        let ordinal = *self.ordinals.entry(slot).or_insert(next);
        if ordinal == next {
            self.slots.push(slot);
        }
        ordinal
    }
}

impl Gathered {
    fn new(root: &TableMeta, group: u32, steps: &[JoinedStep]) -> Self {
        let owning = |i| owns_a_step(steps.iter().map(|s| s.parent), i);
        Gathered {
            group,
            roots: Met::default(),
            root_key: root.single_key(),
            root_by_key: KeyMap::default(),
            children: steps.iter().map(|_| Vec::new()).collect(),
            owners: (0..steps.len()).map(|i| owning(i).then(Met::default)).collect(),
            objects: Vec::with_capacity(steps.len()),
            arenas: Vec::with_capacity(steps.len()),
            root_run: KeyRun::default(),
            runs: vec![KeyRun::default(); steps.len()],
        }
    }

    /// Finds each step's arena, and makes room for `rows` rows (the count
    /// the statement returned last time): each step notes a child per row,
    /// and when the steps are one chain ending in a one-to-many
    /// relationship, its last step's objects are one per row too, so its
    /// identity map gets room for them instead of being rehashed each time
    /// its size doubles. Other steps' objects repeat across rows, and room
    /// for a row each would be held for nothing.
    fn start(&mut self, models: &mut Models<'_>, steps: &[JoinedStep], rows: usize) {
        self.arenas = steps.iter().map(|step| (step.node.joined.arena)(models)).collect();
        for children in &mut self.children {
            children.reserve(rows);
        }
        let shape: Vec<(Option<usize>, RelationKind)> = steps.iter().map(|s| (s.parent, s.relation.kind)).collect();
        if let Some(last) = one_object_per_row(&shape) {
            (steps[last].node.joined.reserve)(models, rows);
        }
    }

    /// Reads one row: merges its objects into the identity map and notes
    /// who owns whom.
    fn read<T: Model>(&mut self, models: &mut Models<'_>, steps: &[JoinedStep], row: &mut RowReader<'_>) -> Result<()> {
        let root = self.read_root::<T>(models, row)?;
        self.objects.clear();
        for (i, step) in steps.iter().enumerate() {
            row.switch_table(step.target);
            let decoded = (step.node.joined.decode)(models, self.arenas[i], row, step.order, &mut self.runs[i])?;
            let owner = match step.parent {
                None => Some(root),
                Some(p) => self.objects[p],
            };
            let mut object = None;
            if let Some((child, key)) = decoded {
                if let Some(owner) = owner {
                    self.children[i].push((key, owner, child));
                }
                object = self.owners[i].as_mut().map(|met| met.ordinal(child));
            }
            self.objects.push(object);
        }
        Ok(())
    }

    /// Reads the root of a row; the root's ordinal.
    fn read_root<T: Model>(&mut self, models: &mut Models<'_>, row: &mut RowReader<'_>) -> Result<u32> {
        let key = self.root_key.and_then(|column| row.key(column));
        if let Some(ordinal) = key.as_ref().and_then(|k| self.root_by_key.get(k)) {
            row.skip(T::TABLE.columns.len());
            return Ok(ordinal);
        }
        let root = T::from_row(row)?;
        let slot = models.arena_mut::<T>().add_loaded(root, self.group, &mut self.root_run);
        let ordinal = self.roots.ordinal(slot);
        if let Some(key) = key {
            self.root_by_key.insert(key, ordinal);
        }
        Ok(ordinal)
    }

    /// Sets the loaded relationships of every owner met: its children in
    /// the collection's order (sorted here when the database did not), each
    /// once. Returns the roots, each once, in the order first met.
    ///
    /// The owners of a step are every root, or every object of its parent
    /// step: an object is only in a row with its owner, the rows being
    /// LEFT JOINs down from the root.
    fn link(self, session: &mut Session, steps: &[JoinedStep]) -> Vec<u32> {
        for (step, children) in steps.iter().zip(self.children) {
            let owners = match step.parent {
                None => &self.roots.slots,
                Some(p) => self.owners[p].as_ref().map_or(&[][..], |met| &met.slots),
            };
            let targets = children.iter().map(|&(key, owner, child)| (owner as usize, key, child));
            let collections = group_by_ordinal(targets, owners.len(), step.order);
            let shared = collections.shared_slots();
            for (&owner, run) in owners.iter().zip(collections.runs()) {
                (step.node.joined.set)(session, owner, step.node.relation, &shared, run);
            }
        }
        self.roots.slots
    }
}

/// Whether step `i` owns another step, given each step's parent.
fn owns_a_step(parents: impl IntoIterator<Item = Option<usize>>, i: usize) -> bool {
    parents.into_iter().any(|parent| parent == Some(i))
}

/// The step whose objects come one per row, given each step's parent and
/// relationship: the last of a chain of steps (one leaf) when it is
/// one-to-many. With two leaves the rows are their product; a many-to-one
/// or many-to-many target repeats across owners.
fn one_object_per_row(steps: &[(Option<usize>, RelationKind)]) -> Option<usize> {
    let is_leaf = |i: usize| !owns_a_step(steps.iter().map(|&(parent, _)| parent), i);
    let mut leaves = (0..steps.len()).filter(|&i| is_leaf(i));
    match (leaves.next(), leaves.next()) {
        (Some(leaf), None) if steps[leaf].1 == RelationKind::OneToMany => Some(leaf),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RelationKind::{ManyToMany, ManyToOne, OneToMany};

    #[test]
    fn only_the_end_of_a_one_to_many_chain_has_an_object_per_row() {
        assert_eq!(one_object_per_row(&[(None, OneToMany)]), Some(0), "users LEFT JOIN posts");
        assert_eq!(one_object_per_row(&[(None, OneToMany), (Some(0), OneToMany)]), Some(1), "and their comments");
        assert_eq!(one_object_per_row(&[(None, OneToMany), (Some(0), ManyToOne)]), None, "the posts' authors repeat");
        assert_eq!(one_object_per_row(&[(None, ManyToMany)]), None, "an actor is in many movies");
        assert_eq!(one_object_per_row(&[(None, OneToMany), (None, OneToMany)]), None, "two collections: their product");
        assert_eq!(one_object_per_row(&[]), None);
    }
}
