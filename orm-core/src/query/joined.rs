//! Joined eager loading: the joined options of a query flattened into
//! steps (one per joined relationship, in the order of their columns), and
//! the decoding of the rows that links each related object to its owner.

use std::collections::HashSet;

use crate::error::Result;
use crate::executor::Rows;
use crate::loader::{LoadNode, Strategy};
use crate::metadata::TableMeta;
use crate::model::{Model, RowReader};
use crate::relation::RelationMeta;
use crate::session::Session;

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
    pub(crate) node: LoadNode,
}

/// Flattens the joined options (and joined options nested under them) into
/// the order of their columns.
pub(crate) fn joined_plan(root: &'static TableMeta, loads: &[LoadNode]) -> Vec<JoinedStep> {
    fn walk(
        owner: &'static TableMeta,
        owner_alias: String,
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
                owner_alias: owner_alias.clone(),
                relation,
                target,
                alias: alias.clone(),
                parent,
                node: node.clone(),
            });
            let index = steps.len() - 1;
            walk(target, alias, Some(index), &node.nested, steps);
        }
    }
    let mut steps = Vec::new();
    walk(root, root.name.to_owned(), None, loads, &mut steps);
    steps
}

impl Session {
    /// Decodes rows of `T`'s columns followed by each joined step's columns,
    /// linking every related object to its owner in the same row.
    pub(crate) fn load_joined_rows<T: Model>(&mut self, rows: Rows, steps: &[JoinedStep]) -> Result<Vec<u32>> {
        let count = rows.len();
        let group = self.new_group::<T>();
        let mut values = rows.values;
        let mut reader = RowReader::new(T::TABLE, values.drain(..));
        let mut roots = Vec::with_capacity(count);
        let mut reset: HashSet<(usize, u32)> = HashSet::new();
        for _ in 0..count {
            let root = T::from_row(&mut reader)?;
            reader.next_row();
            let root = self.merge_object::<T>(root, group);
            roots.push(root);
            let mut objects: Vec<Option<u32>> = Vec::with_capacity(steps.len());
            for (i, step) in steps.iter().enumerate() {
                reader.switch_table(step.target);
                let child = (step.node.joined.decode)(self, &mut reader)?;
                reader.next_row();
                let owner = match step.parent {
                    None => Some(root),
                    Some(p) => objects[p],
                };
                if let Some(owner) = owner {
                    if reset.insert((i, owner)) {
                        (step.node.joined.reset)(self, owner, step.node.relation);
                    }
                    if let Some(child) = child {
                        (step.node.joined.attach)(self, owner, step.node.relation, child);
                    }
                }
                objects.push(child);
            }
            reader.switch_table(T::TABLE);
        }
        Ok(roots)
    }
}
