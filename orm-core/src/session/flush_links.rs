//! The relationship half of a flush: foreign keys filled from parents' new
//! keys, secondary rows inserted and deleted, cascades and nullification
//! when parents are deleted.

use std::any::TypeId;
use std::ops::{Deref, DerefMut};

use crate::dialect::Dialect;
use crate::error::Result;
use crate::executor::{Connection, Rows};
use crate::loader::KeyValue;
use crate::metadata::TableMeta;
use crate::model::Model;
use crate::relation::Join;
use crate::session::identity_map::Arena;
use crate::session::relations::{MembershipChange, PendingLinks, SlotRef};
use crate::session::unit_of_work::Tracked;
use crate::statement::{self, Expr, Statement};

use crate::value::{SqlType, Value};
use rustc_hash::FxHashSet;

/// The arenas of a session, addressed by model type or table, borrowed
/// apart from its connection.
pub(crate) struct Models<'a> {
    pub(crate) arenas: &'a mut Vec<ModelArena>,
}

/// A model's arena with the model's `TypeId` beside it, so that finding
/// the arena of a model reads no arena. Derefs to the arena.
pub(crate) struct ModelArena {
    pub(crate) model: TypeId,
    arena: Box<dyn Tracked>,
}

impl Deref for ModelArena {
    type Target = dyn Tracked;

    fn deref(&self) -> &(dyn Tracked + 'static) {
        &*self.arena
    }
}

impl DerefMut for ModelArena {
    fn deref_mut(&mut self) -> &mut (dyn Tracked + 'static) {
        &mut *self.arena
    }
}

impl Models<'_> {
    pub(crate) fn position(&self, model: TypeId) -> Option<usize> {
        self.arenas.iter().position(|arena| arena.model == model)
    }

    /// The position of `T`'s arena, made if it does not exist yet.
    pub(crate) fn arena_position<T: Model>(&mut self) -> usize {
        match self.position(TypeId::of::<T>()) {
            Some(i) => i,
            None => {
                self.arenas.push(ModelArena { model: TypeId::of::<T>(), arena: Box::new(Arena::<T>::default()) });
                self.arenas.len() - 1
            }
        }
    }

    /// The arena of `T`, made if it does not exist yet.
    pub(crate) fn arena_mut<T: Model>(&mut self) -> &mut Arena<T> {
        let i = self.arena_position::<T>();
        self.arena_at(i)
    }

    /// The arena of `T` at `position` (from [`arena_position`](Models::arena_position)).
    pub(crate) fn arena_at<T: Model>(&mut self, position: usize) -> &mut Arena<T> {
        self.arenas[position].as_any_mut().downcast_mut().expect("arena matches its TypeId")
    }

    /// The arenas of the models that map `table`: two models may map one
    /// table, and a change to its rows reaches the objects of both.
    fn of_table<'m>(&'m mut self, table: &'m TableMeta) -> impl Iterator<Item = &'m mut ModelArena> {
        self.arenas.iter_mut().filter(move |a| a.table().name == table.name)
    }

    /// Detaches the loaded objects, of every model that maps `table`, of
    /// `rows` (rows of `table`'s columns) the database deleted.
    pub(crate) fn detach_rows(&mut self, table: &'static TableMeta, rows: &Rows) -> Result<()> {
        self.of_table(table).try_for_each(|arena| arena.detach_rows(table, rows))
    }

    fn is_live(&self, slot: SlotRef) -> bool {
        self.position(slot.model).is_some_and(|i| self.arenas[i].is_live(slot.index))
    }

    fn persistent_value(&self, model: TypeId, index: u32, column: usize) -> Option<Value> {
        self.arenas[self.position(model)?].persistent_value(index, column)
    }
}

/// Fills in the foreign keys of `child_model`'s objects whose parents now
/// have their keys. Resolved entries move to `resolved`, to be redone if the
/// transaction rolls back.
pub(crate) fn resolve_foreign_keys(
    models: &mut Models<'_>,
    links: &mut PendingLinks,
    child_model: TypeId,
) -> Result<()> {
    let mut remaining = Vec::with_capacity(links.foreign_keys.len());
    for pending in std::mem::take(&mut links.foreign_keys) {
        // A parent or child that left the session (deleted while pending,
        // expunged) will never need this key.
        if !models.is_live(pending.child) || !models.is_live(pending.parent) {
            continue;
        }
        let ready = if pending.child.model == child_model {
            models.persistent_value(pending.parent.model, pending.parent.index, pending.parent_column)
        } else {
            None
        };
        let Some(value) = ready else {
            remaining.push(pending);
            continue;
        };
        if let Some(i) = models.position(child_model) {
            models.arenas[i].set_value(pending.child.index, pending.column, value)?;
        }
        links.resolved_foreign_keys.push(pending);
    }
    links.foreign_keys = remaining;
    links.reindex();
    Ok(())
}

/// Inserts and deletes the secondary rows of every membership change whose
/// two objects are persistent.
pub(crate) async fn write_memberships(
    models: &mut Models<'_>,
    links: &mut PendingLinks,
    conn: &mut dyn Connection,
    dialect: &'static dyn Dialect,
) -> Result<()> {
    let changes = std::mem::take(&mut links.memberships);
    links.reindex();
    let mut rows: Vec<(MembershipChange, [Value; 2])> = Vec::with_capacity(changes.len());
    for change in changes {
        let [a, b] = change.objects;
        let left = models.persistent_value(a.model, a.index, change.keys[0]);
        let right = models.persistent_value(b.model, b.index, change.keys[1]);
        if let (Some(left), Some(right)) = (left, right) {
            rows.push((change, [left, right]));
        }
    }
    for add in [true, false] {
        let mut batch: Vec<&(MembershipChange, [Value; 2])> = rows.iter().filter(|(c, _)| c.add == add).collect();
        while let Some(&&(first, _)) = batch.first() {
            let same_table =
                |c: &MembershipChange| (c.secondary)().name == (first.secondary)().name && c.columns == first.columns;
            let (same, rest): (Vec<_>, Vec<_>) = batch.into_iter().partition(|(c, _)| same_table(c));
            let sql = dialect.render(membership_statement(&first, same.iter().map(|(_, pair)| pair)));
            if let Err(e) = conn.execute(&sql.text, &sql.params).await {
                // Everything not yet written is pending again.
                links.memberships.extend(rows.iter().map(|(c, _)| *c));
                links.reindex();
                return Err(e);
            }
            batch = rest;
        }
    }
    links.flushed_memberships.extend(rows.into_iter().map(|(c, _)| c));
    Ok(())
}

/// Inserts or deletes secondary rows with one array parameter per column, so
/// the statement text is the same for any number of rows:
/// `INSERT INTO s (a, b) SELECT * FROM unnest($1::integer[], $2::integer[])
/// ON CONFLICT DO NOTHING` (a pair may already be there when its collection
/// was not loaded), or `DELETE FROM s WHERE (a, b) IN (SELECT * FROM unnest(..))`.
fn membership_statement<'v>(change: &MembershipChange, pairs: impl Iterator<Item = &'v [Value; 2]>) -> Statement {
    let secondary = (change.secondary)();
    let columns = change.columns.map(|c| &secondary.columns[c]);
    let mut arrays = [Vec::new(), Vec::new()];
    for [a, b] in pairs {
        arrays[0].push(a.clone());
        arrays[1].push(b.clone());
    }
    let typed = columns.map(|c| (c.name, c.sql_type));
    let arrays = typed.iter().zip(arrays).map(|(&(_, ty), values)| Value::Array(ty, values)).collect();
    let rows = Box::new(statement::rows_of_arrays(&typed, arrays));
    if change.add {
        return Statement::Insert(Box::new(statement::Insert {
            table: secondary.name,
            columns: typed.iter().map(|&(name, _)| name).collect(),
            source: statement::InsertSource::Select(rows),
            on_conflict: Some(statement::OnConflict { target: Vec::new(), set: Vec::new() }),
            returning: Vec::new(),
            returning_as_arrays: false,
        }));
    }
    let pair = Expr::Tuple(typed.iter().map(|&(name, _)| Expr::Bare(name)).collect());
    let filter = Expr::InSubquery { expr: Box::new(pair), query: rows, negated: false };
    delete_where(secondary, filter)
}

fn delete_where(table: &TableMeta, filter: Expr) -> Statement {
    Statement::Delete(Box::new(statement::Delete {
        table: table.name,
        using: None,
        filter: Some(filter),
        returning: Vec::new(),
    }))
}

/// Before the rows of `table` with key values `keys` (of column `column`)
/// are deleted: removes their secondary rows, deletes the children of
/// cascading relationships (recursively), and sets the foreign keys of the
/// other children to NULL, in the database and in the loaded objects.
pub(crate) async fn before_delete(
    models: &mut Models<'_>,
    table: &'static TableMeta,
    keys_of: &(dyn Fn(usize) -> Vec<Value> + Sync),
    conn: &mut dyn Connection,
    dialect: &'static dyn Dialect,
) -> Result<()> {
    for relation in table.relations {
        match relation.join {
            Join::Secondary { secondary, local, to_local, .. } => {
                let secondary = secondary();
                let column = Expr::Bare(secondary.columns[to_local].name);
                let key_type = table.columns[local].sql_type;
                let filter = statement::matching_keys(secondary, to_local, column, key_type, keys_of(local));
                let sql = dialect.render(delete_where(secondary, filter));
                conn.execute(&sql.text, &sql.params).await?;
            }
            Join::ForeignKeyThere { local, remote } => {
                let keys = (table.columns[local].sql_type, keys_of(local));
                let target = (relation.target)();
                if relation.cascade_delete {
                    Box::pin(delete_children(models, target, remote, keys, conn, dialect)).await?;
                } else if target.columns[remote].nullable {
                    nullify_children(models, target, remote, keys, conn, dialect).await?;
                }
            }
            Join::ForeignKeyHere { .. } => {}
        }
    }
    Ok(())
}

/// Deletes the rows of `target` whose column `column` is in `keys` (of
/// their type), after their own dependents.
async fn delete_children(
    models: &mut Models<'_>,
    target: &'static TableMeta,
    column: usize,
    (key_type, keys): (SqlType, Vec<Value>),
    conn: &mut dyn Connection,
    dialect: &'static dyn Dialect,
) -> Result<()> {
    let operand = || Expr::Bare(target.columns[column].name);
    let matching = || statement::matching_keys(target, column, operand(), key_type, keys.clone());
    let mut select = statement::select_table(target);
    select.filter = Some(matching());
    let sql = dialect.render(Statement::Select(Box::new(select)));
    let rows = conn.query(&sql.text, &sql.params).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let width = rows.width;
    let column_values = |c: usize| rows.values.iter().skip(c).step_by(width).cloned().collect::<Vec<_>>();
    before_delete(models, target, &column_values, conn, dialect).await?;
    let sql = dialect.render(delete_where(target, matching()));
    conn.execute(&sql.text, &sql.params).await?;
    models.detach_rows(target, &rows)
}

/// Sets column `column` of the rows of `target` that reference `keys` (of
/// their type) to NULL.
async fn nullify_children(
    models: &mut Models<'_>,
    target: &'static TableMeta,
    column: usize,
    (key_type, keys): (SqlType, Vec<Value>),
    conn: &mut dyn Connection,
    dialect: &'static dyn Dialect,
) -> Result<()> {
    let name = target.columns[column].name;
    let update = statement::Update {
        table: target.name,
        set: vec![(name, Expr::Value(Value::Null))],
        from: None,
        filter: Some(statement::matching_keys(target, column, Expr::Bare(name), key_type, keys.clone())),
        returning: Vec::new(),
    };
    let sql = dialect.render(Statement::Update(Box::new(update)));
    conn.execute(&sql.text, &sql.params).await?;
    let keys: FxHashSet<KeyValue> = keys.iter().filter_map(KeyValue::of).collect();
    for arena in models.of_table(target) {
        arena.nullify(name, &keys)?;
    }
    Ok(())
}
