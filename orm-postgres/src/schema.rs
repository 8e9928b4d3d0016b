//! `Engine::verify_schema`: the models against PostgreSQL's catalog, in two
//! catalog queries (columns; constraints, indexes and enum types).

use std::collections::HashMap;

use orm_core::metadata::{ColumnMeta, Constraint, TableMeta};
use orm_core::schema::{SchemaDifference, SchemaReport};
use orm_core::{Connection, Result, SqlType, Value};

use crate::dialect::enum_types;
use crate::render::type_name;

/// The columns of the tables named in `$1`, in the current schema.
const COLUMNS: &str = "\
SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '' \
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY($1) \
ORDER BY c.relname, a.attnum";

/// Constraints (`kind` p, u, f, c) and indexes (`i`, `ui` for unique) of
/// the tables in `$1` with their columns in order, and the labels of the
/// enum types in `$2` (`kind` e). `detail` is a foreign key's delete and
/// update actions (`confdeltype`, `confupdtype`) and a check's definition.
const CONSTRAINTS: &str = "\
SELECT con.contype::text, c.relname::text, con.conname::text, \
ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i) \
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i), \
f.relname::text, \
ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i) \
JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i), \
CASE con.contype WHEN 'f' THEN con.confdeltype::text || con.confupdtype::text \
WHEN 'c' THEN pg_get_constraintdef(con.oid) END \
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
LEFT JOIN pg_class f ON f.oid = con.confrelid \
WHERE n.nspname = current_schema() AND c.relname = ANY($1) \
UNION ALL \
SELECT CASE WHEN x.indisunique THEN 'ui' ELSE 'i' END, t.relname::text, i.relname::text, \
ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(n, o) \
JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY k.o), NULL, NULL, NULL \
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
JOIN pg_namespace n ON n.oid = t.relnamespace \
WHERE n.nspname = current_schema() AND t.relname = ANY($1) \
UNION ALL \
SELECT 'e', NULL, t.typname::text, array_agg(e.enumlabel::text ORDER BY e.enumsortorder), NULL, NULL, NULL \
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid \
WHERE n.nspname = current_schema() AND t.typname = ANY($2) GROUP BY t.oid, t.typname";

/// A column as the catalog describes it.
#[derive(Debug)]
struct LiveColumn {
    name: String,
    sql_type: String,
    not_null: bool,
    default: Option<String>,
    identity: bool,
}

/// A constraint, an index or an enum type, as the catalog describes it.
#[derive(Debug)]
struct LiveConstraint {
    kind: String,
    table: Option<String>,
    name: String,
    columns: Vec<String>,
    referenced_table: Option<String>,
    referenced_columns: Vec<String>,
    #[cfg_attr(not(feature = "json"), allow(dead_code, reason = "read by the migrations' snapshot, a json feature"))]
    detail: Option<String>,
}

/// Compares `tables` with the live database over `conn`.
pub(crate) async fn verify(conn: &mut dyn Connection, tables: &[&'static TableMeta]) -> Result<SchemaReport> {
    let names = text_array(tables.iter().map(|t| t.name.to_owned()));
    let enums = enum_types(tables);
    let enum_names = text_array(enums.iter().map(|e| e.name.to_owned()));
    let columns = read_columns(conn, names.clone()).await?;
    let constraints = read_constraints(conn, names, enum_names).await?;
    let mut differences = Vec::new();
    for enum_type in &enums {
        check_enum(enum_type, &constraints, &mut differences);
    }
    for table in tables {
        match columns.get(table.name) {
            None => differences.push(SchemaDifference::MissingTable { model: table.model, table: table.name }),
            Some(live) => {
                let live_constraints: Vec<&LiveConstraint> =
                    constraints.iter().filter(|c| c.table.as_deref() == Some(table.name)).collect();
                check_table(table, live, &live_constraints, &mut differences);
            }
        }
    }
    Ok(SchemaReport { differences })
}

/// The live schema of the models' tables (those that exist) and their enum
/// types, as a migration snapshot: what `generate_from_database` diffs the
/// models against.
#[cfg(feature = "json")]
pub(crate) async fn live_snapshot(
    conn: &mut dyn Connection,
    tables: &[&'static TableMeta],
) -> Result<crate::migrations::Snapshot> {
    use crate::migrations::{ColumnSnapshot, EnumSnapshot, Snapshot, TableSnapshot};
    let names = text_array(tables.iter().map(|t| t.name.to_owned()));
    let enum_names = text_array(enum_types(tables).iter().map(|e| e.name.to_owned()));
    let mut columns = read_columns(conn, names.clone()).await?;
    let constraints = read_constraints(conn, names, enum_names).await?;
    let mut snapshot = Snapshot::default();
    for table in orm_core::metadata::sort_by_dependency(tables) {
        let Some(live) = columns.remove(table.name) else { continue };
        let mine: Vec<&LiveConstraint> =
            constraints.iter().filter(|c| c.table.as_deref() == Some(table.name)).collect();
        snapshot.tables.push(TableSnapshot {
            name: table.name.to_owned(),
            columns: live
                .into_iter()
                .map(|c| ColumnSnapshot {
                    name: c.name,
                    sql_type: c.sql_type,
                    not_null: c.not_null,
                    default: c.default,
                    identity: c.identity,
                })
                .collect(),
            primary_key: mine.iter().find(|c| c.kind == "p").map(|c| c.columns.clone()).unwrap_or_default(),
            constraints: live_constraints(&mine),
        });
    }
    snapshot.enums = constraints
        .iter()
        .filter(|c| c.kind == "e")
        .map(|c| EnumSnapshot { name: c.name.clone(), labels: c.columns.clone() })
        .collect();
    Ok(snapshot)
}

/// The foreign keys, unique constraints, plain indexes and checks of one
/// table, as a snapshot holds them (indexes behind constraints left out).
#[cfg(feature = "json")]
fn live_constraints(live: &[&LiveConstraint]) -> Vec<crate::migrations::ConstraintSnapshot> {
    use crate::migrations::{ConstraintKind, ConstraintSnapshot};
    let action = |code: Option<char>| match code {
        Some('r') => Some("RESTRICT".to_owned()),
        Some('c') => Some("CASCADE".to_owned()),
        Some('n') => Some("SET NULL".to_owned()),
        Some('d') => Some("SET DEFAULT".to_owned()),
        _ => None,
    };
    live.iter()
        .filter_map(|c| {
            let kind = match c.kind.as_str() {
                "f" => {
                    let codes: Vec<char> = c.detail.as_deref().unwrap_or_default().chars().collect();
                    ConstraintKind::ForeignKey {
                        column: c.columns.first()?.clone(),
                        table: c.referenced_table.clone()?,
                        references: c.referenced_columns.first()?.clone(),
                        on_delete: action(codes.first().copied()),
                        on_update: action(codes.get(1).copied()),
                    }
                }
                "u" => ConstraintKind::Unique(c.columns.clone()),
                "i" => ConstraintKind::Index(c.columns.clone()),
                "c" => ConstraintKind::Check(c.detail.clone().unwrap_or_default()),
                _ => return None,
            };
            Some(ConstraintSnapshot { name: c.name.clone(), kind })
        })
        .collect()
}

fn text_array(items: impl Iterator<Item = String>) -> Value {
    Value::Array(SqlType::Text, items.map(Value::Text).collect())
}

async fn read_columns(conn: &mut dyn Connection, tables: Value) -> Result<HashMap<String, Vec<LiveColumn>>> {
    let rows = conn.query(COLUMNS, &[tables]).await?;
    let mut by_table: HashMap<String, Vec<LiveColumn>> = HashMap::new();
    for row in rows.values.chunks(rows.width.max(1)) {
        let [table, name, sql_type, not_null, default, identity] = row else { continue };
        by_table.entry(text(table)).or_default().push(LiveColumn {
            name: text(name),
            sql_type: text(sql_type),
            not_null: matches!(not_null, Value::Bool(true)),
            default: optional_text(default),
            identity: matches!(identity, Value::Bool(true)),
        });
    }
    Ok(by_table)
}

async fn read_constraints(conn: &mut dyn Connection, tables: Value, enums: Value) -> Result<Vec<LiveConstraint>> {
    let rows = conn.query(CONSTRAINTS, &[tables, enums]).await?;
    let mut constraints = Vec::new();
    for row in rows.values.chunks(rows.width.max(1)) {
        let [kind, table, name, columns, referenced_table, referenced_columns, detail] = row else { continue };
        constraints.push(LiveConstraint {
            kind: text(kind),
            table: optional_text(table),
            name: text(name),
            columns: texts(columns),
            referenced_table: optional_text(referenced_table),
            referenced_columns: texts(referenced_columns),
            detail: optional_text(detail),
        });
    }
    Ok(constraints)
}

fn text(value: &Value) -> String {
    optional_text(value).unwrap_or_default()
}

fn optional_text(value: &Value) -> Option<String> {
    match value {
        Value::Text(text) => Some(text.clone()),
        _ => None,
    }
}

fn texts(value: &Value) -> Vec<String> {
    match value {
        Value::Array(_, items) => items.iter().map(text).collect(),
        _ => Vec::new(),
    }
}

fn check_enum(enum_type: &orm_core::EnumType, live: &[LiveConstraint], out: &mut Vec<SchemaDifference>) {
    let expected: Vec<String> = enum_type.labels.iter().map(|l| (*l).to_owned()).collect();
    let found = live.iter().find(|c| c.kind == "e" && c.name == enum_type.name).map(|c| c.columns.clone());
    if found.as_ref() != Some(&expected) {
        out.push(SchemaDifference::EnumType { name: enum_type.name, expected, found });
    }
}

fn check_table(
    table: &'static TableMeta,
    live: &[LiveColumn],
    constraints: &[&LiveConstraint],
    out: &mut Vec<SchemaDifference>,
) {
    let (model, name) = (table.model, table.name);
    for column in table.columns {
        match live.iter().find(|c| c.name == column.name) {
            None => out.push(SchemaDifference::MissingColumn {
                model,
                field: column.field,
                table: name,
                column: column.name,
            }),
            Some(found) => check_column(table, column, found, constraints, out),
        }
    }
    for found in live.iter().filter(|c| !table.columns.iter().any(|m| m.name == c.name)) {
        let required = found.not_null && found.default.is_none() && !found.identity;
        out.push(SchemaDifference::UnmappedColumn { model, table: name, column: found.name.clone(), required });
    }
    let expected_key: Vec<String> = table.primary_key().map(|(_, c)| c.name.to_owned()).collect();
    let found_key = constraints.iter().find(|c| c.kind == "p").map(|c| c.columns.clone()).unwrap_or_default();
    if expected_key != found_key {
        out.push(SchemaDifference::PrimaryKey { model, table: name, expected: expected_key, found: found_key });
    }
    check_table_constraints(table, constraints, out);
}

fn check_column(
    table: &'static TableMeta,
    column: &'static ColumnMeta,
    found: &LiveColumn,
    constraints: &[&LiveConstraint],
    out: &mut Vec<SchemaDifference>,
) {
    let (model, field, name) = (table.model, column.field, column.name);
    let expected_type = catalog_type(column);
    if expected_type != found.sql_type {
        out.push(SchemaDifference::ColumnType {
            model,
            field,
            table: table.name,
            column: name,
            expected: expected_type,
            found: found.sql_type.clone(),
        });
    }
    // A primary key is NOT NULL whatever its field says.
    if column.nullable == found.not_null && !column.primary_key {
        out.push(SchemaDifference::Nullability {
            model,
            field,
            table: table.name,
            column: name,
            expected_nullable: column.nullable,
        });
    }
    let expected_default =
        if column.generated { Some("identity".to_owned()) } else { column.default.map(str::to_owned) };
    let found_default = if found.identity { Some("identity".to_owned()) } else { found.default.clone() };
    if expected_default.is_some() != found_default.is_some() {
        out.push(SchemaDifference::ColumnDefault {
            model,
            field,
            table: table.name,
            column: name,
            expected: expected_default,
            found: found_default,
        });
    }
    if let Some(fk) = column.foreign_key {
        let exists = constraints.iter().any(|c| {
            c.kind == "f"
                && c.columns == [name]
                && c.referenced_table.as_deref() == Some(fk.table)
                && c.referenced_columns == [fk.column]
        });
        if !exists {
            out.push(SchemaDifference::MissingForeignKey {
                model,
                field,
                table: table.name,
                column: name,
                references: format!("{}.{}", fk.table, fk.column),
            });
        }
    }
    if column.unique && !has_unique(constraints, &[name]) {
        out.push(SchemaDifference::MissingUnique { model, table: table.name, columns: vec![name.to_owned()] });
    }
}

/// A unique constraint or unique index over exactly `columns`, in any order.
fn has_unique(constraints: &[&LiveConstraint], columns: &[&str]) -> bool {
    constraints.iter().any(|c| (c.kind == "u" || c.kind == "ui") && same_set(&c.columns, columns))
}

fn same_set(found: &[String], expected: &[&str]) -> bool {
    found.len() == expected.len() && expected.iter().all(|e| found.iter().any(|f| f == e))
}

fn check_table_constraints(
    table: &'static TableMeta,
    constraints: &[&LiveConstraint],
    out: &mut Vec<SchemaDifference>,
) {
    let owned = |columns: &[&str]| columns.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
    for constraint in table.constraints {
        match constraint {
            Constraint::Unique { columns, .. } => {
                if !has_unique(constraints, columns) {
                    out.push(SchemaDifference::MissingUnique {
                        model: table.model,
                        table: table.name,
                        columns: owned(columns),
                    });
                }
            }
            Constraint::Index { name, columns } => {
                // Any index leading with these columns in order serves.
                let exists =
                    constraints.iter().any(|c| c.kind.ends_with('i') && c.columns.starts_with(&owned(columns)));
                if !exists {
                    out.push(SchemaDifference::MissingIndex {
                        model: table.model,
                        table: table.name,
                        name,
                        columns: owned(columns),
                    });
                }
            }
            Constraint::Check { name, .. } => {
                if !constraints.iter().any(|c| c.kind == "c" && c.name == *name) {
                    out.push(SchemaDifference::MissingCheck { model: table.model, table: table.name, name });
                }
            }
        }
    }
}

/// A column's type as `format_type` spells it (and DDL accepts).
pub(crate) fn catalog_type(column: &ColumnMeta) -> String {
    match (column.sql_type, column.max_len, column.precision) {
        (SqlType::Text, Some(n), _) => format!("character varying({n})"),
        (SqlType::Numeric, _, Some((precision, scale))) => format!("numeric({precision},{scale})"),
        (ty, _, _) => catalog_type_name(ty),
    }
}

fn catalog_type_name(ty: SqlType) -> String {
    match ty {
        SqlType::Time => "time without time zone".to_owned(),
        SqlType::Timestamp => "timestamp without time zone".to_owned(),
        SqlType::TimestampTz => "timestamp with time zone".to_owned(),
        SqlType::Array(element) => format!("{}[]", catalog_type_name(*element)),
        other => type_name(other).into_owned(),
    }
}
