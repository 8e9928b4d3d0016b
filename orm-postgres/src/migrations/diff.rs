//! From one snapshot to another: the SQL of a migration, up and down, with
//! the steps that can lose data or fail on existing rows marked, and the
//! column renames the generator suspects but only applies when confirmed.

use std::fmt::Write;

use super::snapshot::{ColumnSnapshot, ConstraintKind, ConstraintSnapshot, Snapshot, TableSnapshot};
use crate::dialect::ident;

/// A column that disappeared and one of the same type that appeared in the
/// same table: perhaps a rename. Never applied unless accepted
/// ([`Plan::accept`]); otherwise the old column is dropped and the new one
/// added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameProposal {
    /// The table.
    pub table: String,
    /// The old column.
    pub from: String,
    /// The new column.
    pub to: String,
}

/// What a new migration does, before it is written.
#[derive(Debug, Clone)]
pub struct Plan {
    old: Snapshot,
    new: Snapshot,
    proposals: Vec<RenameProposal>,
    accepted: Vec<RenameProposal>,
}

/// One statement of a migration, and why it is dangerous if it is.
struct Step {
    sql: String,
    danger: Option<String>,
}

impl Step {
    fn safe(sql: String) -> Step {
        Step { sql, danger: None }
    }

    fn dangerous(sql: String, why: impl Into<String>) -> Step {
        Step { sql, danger: Some(why.into()) }
    }
}

/// Plans the migration from `old` (the last migration's snapshot, or an
/// empty one) to `new` (the models').
pub fn plan(old: &Snapshot, new: &Snapshot) -> Plan {
    let mut proposals = Vec::new();
    for table in &new.tables {
        let Some(before) = old.table(&table.name) else { continue };
        let dropped: Vec<&ColumnSnapshot> = before.columns.iter().filter(|c| table.column(&c.name).is_none()).collect();
        let mut added: Vec<&ColumnSnapshot> =
            table.columns.iter().filter(|c| before.column(&c.name).is_none()).collect();
        for gone in dropped {
            if let Some(i) = added.iter().position(|a| a.sql_type == gone.sql_type) {
                let to = added.remove(i);
                proposals.push(RenameProposal {
                    table: table.name.clone(),
                    from: gone.name.clone(),
                    to: to.name.clone(),
                });
            }
        }
    }
    Plan { old: old.clone(), new: new.clone(), proposals, accepted: Vec::new() }
}

impl Plan {
    /// The renames the generator suspects, for the user to confirm.
    pub fn proposals(&self) -> &[RenameProposal] {
        &self.proposals
    }

    /// Confirms a proposed rename: the migration renames the column
    /// instead of dropping and adding it.
    pub fn accept(&mut self, proposal: &RenameProposal) {
        if self.proposals.contains(proposal) && !self.accepted.contains(proposal) {
            self.accepted.push(proposal.clone());
        }
    }

    /// Whether there is nothing to migrate.
    pub fn is_empty(&self) -> bool {
        steps(&self.old, &self.new, &self.accepted).is_empty()
    }

    /// The snapshot after the migration.
    pub fn snapshot(&self) -> &Snapshot {
        &self.new
    }

    /// The SQL that migrates up, statement by statement, each dangerous
    /// one under a `-- DANGER:` comment.
    pub fn up(&self) -> String {
        render(steps(&self.old, &self.new, &self.accepted))
    }

    /// The SQL that reverts [`up`](Plan::up).
    pub fn down(&self) -> String {
        let reversed: Vec<RenameProposal> = self
            .accepted
            .iter()
            .map(|r| RenameProposal { table: r.table.clone(), from: r.to.clone(), to: r.from.clone() })
            .collect();
        render(steps(&self.new, &self.old, &reversed))
    }
}

fn render(steps: Vec<Step>) -> String {
    let mut out = String::new();
    for step in steps {
        if let Some(danger) = step.danger {
            let _ = writeln!(out, "-- DANGER: {danger}");
        }
        let _ = writeln!(out, "{};\n", step.sql);
    }
    out
}

/// Every statement from `from` to `to`, in an order that works: enum types
/// first; constraints dropped before what they cover changes and added after;
/// tables dropped children first and created parents first; unused enum
/// types last.
fn steps(from: &Snapshot, to: &Snapshot, renames: &[RenameProposal]) -> Vec<Step> {
    let mut steps = Vec::new();
    for e in &to.enums {
        match from.enums.iter().find(|f| f.name == e.name) {
            None => {
                let labels: Vec<String> = e.labels.iter().map(|l| literal(l)).collect();
                steps.push(Step::safe(format!("CREATE TYPE {} AS ENUM ({})", ident(&e.name), labels.join(", "))));
            }
            Some(before) if before.labels != e.labels => {
                let appended = e.labels.starts_with(&before.labels);
                if appended {
                    for label in &e.labels[before.labels.len()..] {
                        let sql = format!("ALTER TYPE {} ADD VALUE {}", ident(&e.name), literal(label));
                        let why = format!(
                            "the label {label} cannot be used before this migration commits (it runs in one \
                             transaction): if this migration also uses it, e.g. as a default, move this step to a \
                             migration of its own"
                        );
                        steps.push(Step::dangerous(sql, why));
                    }
                } else {
                    let sql = format!(
                        "-- enum type {} changes from ({}) to ({})",
                        e.name,
                        before.labels.join(", "),
                        e.labels.join(", ")
                    );
                    steps.push(Step::dangerous(
                        sql,
                        "PostgreSQL cannot remove or reorder enum labels: recreate the type by hand",
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for table in &from.tables {
        let Some(after) = to.table(&table.name) else { continue };
        for constraint in table.constraints.iter().rev() {
            if !after.constraints.contains(constraint) {
                steps.push(Step::safe(drop_constraint(&table.name, constraint)));
            }
        }
    }
    for table in from.tables.iter().rev().filter(|t| to.table(&t.name).is_none()) {
        let sql = format!("DROP TABLE {}", ident(&table.name));
        steps.push(Step::dangerous(sql, format!("drops table {} and every row in it", table.name)));
    }
    for table in &to.tables {
        match from.table(&table.name) {
            None => steps.push(Step::safe(create_table(table))),
            Some(before) => alter_table(before, table, renames, &mut steps),
        }
    }
    // Indexes, uniques and checks before foreign keys, which may need them.
    let is_fk = |c: &&ConstraintSnapshot| matches!(c.kind, ConstraintKind::ForeignKey { .. });
    for fks in [false, true] {
        for table in &to.tables {
            let before = from.table(&table.name);
            for constraint in table.constraints.iter().filter(|c| is_fk(c) == fks) {
                if before.is_none_or(|b| !b.constraints.contains(constraint)) {
                    steps.push(Step::safe(add_constraint(&table.name, constraint)));
                }
            }
        }
    }
    for e in from.enums.iter().filter(|e| !to.enums.iter().any(|t| t.name == e.name)) {
        steps.push(Step::safe(format!("DROP TYPE {}", ident(&e.name))));
    }
    steps
}

fn alter_table(before: &TableSnapshot, after: &TableSnapshot, renames: &[RenameProposal], steps: &mut Vec<Step>) {
    let table = ident(&after.name);
    let renamed: Vec<&RenameProposal> = renames.iter().filter(|r| r.table == after.name).collect();
    for rename in &renamed {
        steps.push(Step::safe(format!(
            "ALTER TABLE {table} RENAME COLUMN {} TO {}",
            ident(&rename.from),
            ident(&rename.to)
        )));
    }
    // The name a column of `after` had in `before`.
    let old_name = |name: &str| renamed.iter().find(|r| r.to == name).map_or(name.to_owned(), |r| r.from.clone());
    let kept = |name: &str| after.column(name).is_some() || renamed.iter().any(|r| r.from == name);
    // The old key first: dropping one of its columns would drop it too.
    if before.primary_key != after.primary_key && !before.primary_key.is_empty() {
        let sql = format!("ALTER TABLE {table} DROP CONSTRAINT {}", ident(&format!("{}_pkey", after.name)));
        steps.push(Step::dangerous(sql, format!("changes the primary key of {}", after.name)));
    }
    for column in before.columns.iter().filter(|c| !kept(&c.name)) {
        let sql = format!("ALTER TABLE {table} DROP COLUMN {}", ident(&column.name));
        steps.push(Step::dangerous(sql, format!("drops column {}.{} and its data", after.name, column.name)));
    }
    for column in &after.columns {
        match before.column(&old_name(&column.name)) {
            None => steps.push(add_column(&after.name, column)),
            Some(old) => alter_column(&after.name, old, column, steps),
        }
    }
    if before.primary_key != after.primary_key && !after.primary_key.is_empty() {
        let columns: Vec<String> = after.primary_key.iter().map(|c| ident(c)).collect();
        steps.push(Step::safe(format!("ALTER TABLE {table} ADD PRIMARY KEY ({})", columns.join(", "))));
    }
}

fn add_column(table: &str, column: &ColumnSnapshot) -> Step {
    let sql = format!("ALTER TABLE {} ADD COLUMN {}", ident(table), column_definition(column));
    if column.not_null && column.default.is_none() && !column.identity {
        let why = format!("{table}.{} is NOT NULL without a default: this fails if the table has rows", column.name);
        Step::dangerous(sql, why)
    } else {
        Step::safe(sql)
    }
}

fn alter_column(table: &str, old: &ColumnSnapshot, new: &ColumnSnapshot, steps: &mut Vec<Step>) {
    let alter = format!("ALTER TABLE {} ALTER COLUMN {}", ident(table), ident(&new.name));
    let retyped = old.sql_type != new.sql_type;
    // An old default may not cast to the new type: dropped first, set after.
    if retyped && old.default.is_some() {
        steps.push(Step::safe(format!("{alter} DROP DEFAULT")));
    }
    if retyped {
        let sql = format!("{alter} TYPE {} USING {}::{}", new.sql_type, ident(&new.name), new.sql_type);
        steps.push(if widens(&old.sql_type, &new.sql_type) {
            Step::safe(sql)
        } else {
            let why = format!(
                "{table}.{} changes from {} to {}: values that do not fit fail or are cut",
                new.name, old.sql_type, new.sql_type
            );
            Step::dangerous(sql, why)
        });
    }
    if old.identity && !new.identity {
        steps.push(Step::safe(format!("{alter} DROP IDENTITY")));
    }
    let old_default = if retyped { &None } else { &old.default };
    if *old_default != new.default {
        steps.push(Step::safe(match &new.default {
            Some(default) => format!("{alter} SET DEFAULT {default}"),
            None => format!("{alter} DROP DEFAULT"),
        }));
    }
    match (old.not_null, new.not_null) {
        (false, true) => steps.push(Step::dangerous(
            format!("{alter} SET NOT NULL"),
            format!("{table}.{} becomes NOT NULL: this fails if a row holds NULL", new.name),
        )),
        (true, false) => steps.push(Step::safe(format!("{alter} DROP NOT NULL"))),
        _ => {}
    }
    if !old.identity && new.identity {
        steps.push(Step::safe(format!("{alter} ADD GENERATED BY DEFAULT AS IDENTITY")));
    }
}

/// Whether every value of type `old` fits `new` unchanged.
fn widens(old: &str, new: &str) -> bool {
    const INTEGERS: [&str; 3] = ["smallint", "integer", "bigint"];
    let rank = |t: &str| INTEGERS.iter().position(|i| *i == t);
    let varchar = |t: &str| {
        t.strip_prefix("character varying(").and_then(|n| n.strip_suffix(')')).and_then(|n| n.parse::<u32>().ok())
    };
    match (rank(old), rank(new), varchar(old), varchar(new)) {
        (Some(a), Some(b), _, _) => a <= b,
        (_, _, Some(a), Some(b)) => a <= b,
        (_, _, Some(_), None) => new == "text",
        _ => false,
    }
}

fn column_definition(column: &ColumnSnapshot) -> String {
    let mut sql = format!("{} {}", ident(&column.name), column.sql_type);
    if column.identity {
        sql.push_str(" GENERATED BY DEFAULT AS IDENTITY");
    }
    if column.not_null {
        sql.push_str(" NOT NULL");
    }
    if let Some(default) = &column.default {
        let _ = write!(sql, " DEFAULT {default}");
    }
    sql
}

fn create_table(table: &TableSnapshot) -> String {
    let mut lines: Vec<String> = table.columns.iter().map(column_definition).collect();
    if !table.primary_key.is_empty() {
        let columns: Vec<String> = table.primary_key.iter().map(|c| ident(c)).collect();
        lines.push(format!("PRIMARY KEY ({})", columns.join(", ")));
    }
    format!("CREATE TABLE {} (\n    {}\n)", ident(&table.name), lines.join(",\n    "))
}

fn columns(columns: &[String]) -> String {
    columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
}

fn add_constraint(table: &str, constraint: &ConstraintSnapshot) -> String {
    let (table, name) = (ident(table), ident(&constraint.name));
    match &constraint.kind {
        ConstraintKind::Index(list) => format!("CREATE INDEX {name} ON {table} ({})", columns(list)),
        ConstraintKind::Unique(list) => format!("ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({})", columns(list)),
        ConstraintKind::Check(sql) => format!("ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({sql})"),
        ConstraintKind::ForeignKey { column, table: parent, references, on_delete, on_update } => {
            let mut sql = format!(
                "ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({}) REFERENCES {} ({})",
                ident(column),
                ident(parent),
                ident(references)
            );
            if let Some(action) = on_delete {
                let _ = write!(sql, " ON DELETE {action}");
            }
            if let Some(action) = on_update {
                let _ = write!(sql, " ON UPDATE {action}");
            }
            sql
        }
    }
}

fn drop_constraint(table: &str, constraint: &ConstraintSnapshot) -> String {
    match constraint.kind {
        ConstraintKind::Index(_) => format!("DROP INDEX {}", ident(&constraint.name)),
        _ => format!("ALTER TABLE {} DROP CONSTRAINT {}", ident(table), ident(&constraint.name)),
    }
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, sql_type: &str) -> ColumnSnapshot {
        ColumnSnapshot { name: name.into(), sql_type: sql_type.into(), not_null: true, default: None, identity: false }
    }

    fn authors(columns: Vec<ColumnSnapshot>) -> Snapshot {
        let table =
            TableSnapshot { name: "authors".into(), columns, primary_key: vec!["id".into()], constraints: vec![] };
        Snapshot { tables: vec![table], enums: vec![] }
    }

    #[test]
    fn a_rename_is_proposed_and_applied_only_when_accepted() {
        let old = authors(vec![column("id", "integer"), column("bio", "text")]);
        let new = authors(vec![column("id", "integer"), column("biography", "text")]);
        let mut plan = plan(&old, &new);
        let proposal = RenameProposal { table: "authors".into(), from: "bio".into(), to: "biography".into() };
        assert_eq!(plan.proposals(), std::slice::from_ref(&proposal));
        assert!(plan.up().contains("-- DANGER: drops column authors.bio and its data"), "{}", plan.up());
        plan.accept(&proposal);
        assert_eq!(plan.up(), "ALTER TABLE \"authors\" RENAME COLUMN \"bio\" TO \"biography\";\n\n");
        assert_eq!(plan.down(), "ALTER TABLE \"authors\" RENAME COLUMN \"biography\" TO \"bio\";\n\n");
    }

    #[test]
    fn a_new_key_column_drops_the_old_key_first_and_a_retyped_default_is_set_after_the_type() {
        let old = authors(vec![
            column("id", "integer"),
            ColumnSnapshot { default: Some("'abc'".into()), ..column("code", "text") },
        ]);
        let mut new = authors(vec![
            column("uid", "uuid"),
            ColumnSnapshot { default: Some("0".into()), ..column("code", "integer") },
        ]);
        new.tables[0].primary_key = vec!["uid".into()];
        let up = plan(&old, &new).up();
        let at = |needle: &str| up.find(needle).unwrap_or_else(|| panic!("{needle} in\n{up}"));
        assert!(at("DROP CONSTRAINT \"authors_pkey\"") < at("DROP COLUMN \"id\""), "{up}");
        assert!(at("ALTER COLUMN \"code\" DROP DEFAULT") < at("ALTER COLUMN \"code\" TYPE integer"), "{up}");
        assert!(at("ALTER COLUMN \"code\" TYPE integer") < at("ALTER COLUMN \"code\" SET DEFAULT 0"), "{up}");
    }

    #[test]
    fn narrowing_and_not_null_on_existing_rows_are_marked_dangerous() {
        let old = authors(vec![column("id", "bigint"), ColumnSnapshot { not_null: false, ..column("name", "text") }]);
        let new = authors(vec![column("id", "integer"), column("name", "text"), column("age", "integer")]);
        let up = plan(&old, &new).up();
        assert!(up.contains("-- DANGER: authors.id changes from bigint to integer"), "{up}");
        assert!(up.contains("-- DANGER: authors.name becomes NOT NULL"), "{up}");
        assert!(up.contains("-- DANGER: authors.age is NOT NULL without a default"), "{up}");
        let down = plan(&old, &new).down();
        assert!(down.contains("ALTER COLUMN \"id\" TYPE bigint USING \"id\"::bigint;"), "{down}");
        assert!(!down.contains("DANGER: authors.id"), "widening is safe: {down}");
    }
}
