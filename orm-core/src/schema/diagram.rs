//! Entity-relationship diagrams from the models' metadata: Mermaid (which
//! GitHub renders in Markdown) and Graphviz DOT.
//!
//! Tables with their columns, types and keys; one line per foreign key,
//! with the cardinality the schema gives it: a parent has many children,
//! or at most one when the foreign key is unique (one-to-one); a child has
//! exactly one parent, or zero or one when the foreign key is nullable.

use std::fmt::Write;

use crate::metadata::{ColumnMeta, TableMeta};
use crate::value::SqlType;

/// A foreign key seen as a relationship between two tables.
struct Link<'a> {
    parent: &'a str,
    child: &'a str,
    column: &'a str,
    /// The child may have no parent (a nullable foreign key).
    optional: bool,
    /// A parent has at most one child (a unique foreign key).
    single: bool,
}

fn links<'a>(tables: &'a [&'a TableMeta]) -> impl Iterator<Item = Link<'a>> + 'a {
    tables.iter().flat_map(|table| {
        table.columns.iter().filter_map(move |column| {
            let fk = column.foreign_key?;
            let single = column.unique || (column.primary_key && table.primary_key().count() == 1);
            Some(Link { parent: fk.table, child: table.name, column: column.name, optional: column.nullable, single })
        })
    })
}

/// The column's type as the SQL standard names it, with its length or
/// precision.
fn type_text(column: &ColumnMeta) -> String {
    match (column.sql_type, column.max_len, column.precision) {
        (SqlType::Text, Some(n), _) => format!("varchar({n})"),
        (SqlType::Numeric, _, Some((p, s))) => format!("numeric({p},{s})"),
        (SqlType::Array(element), _, _) => format!("{}[]", element.name()),
        (ty, _, _) => ty.name().to_owned(),
    }
}

/// `PK`, `FK`, `UK`, as both notations mark keys.
fn key_marks(column: &ColumnMeta) -> Vec<&'static str> {
    let mut marks = Vec::new();
    if column.primary_key {
        marks.push("PK");
    }
    if column.foreign_key.is_some() {
        marks.push("FK");
    }
    if column.unique {
        marks.push("UK");
    }
    marks
}

/// A Mermaid `erDiagram` of `tables`:
///
/// ```
/// use orm_core::{ColumnMeta, SqlType, TableMeta};
///
/// const MOVIES: TableMeta = TableMeta {
///     model: "Movie",
///     name: "movies",
///     columns: &[
///         ColumnMeta { primary_key: true, ..ColumnMeta::new("id", SqlType::Integer) },
///         ColumnMeta::new("title", SqlType::Text),
///     ],
///     relations: &[],
///     constraints: &[],
/// };
/// let diagram = orm_core::schema::mermaid(&[&MOVIES]);
/// assert!(diagram.starts_with("erDiagram\n    movies {\n        integer id PK\n"));
/// ```
pub fn mermaid(tables: &[&TableMeta]) -> String {
    let mut out = String::from("erDiagram\n");
    for table in tables {
        let _ = writeln!(out, "    {} {{", table.name);
        for column in table.columns {
            // Mermaid types are one word: `double_precision`, `numeric(10_2)`.
            let ty: String = type_text(column).chars().map(|c| if c == ' ' || c == ',' { '_' } else { c }).collect();
            let _ = write!(out, "        {ty} {}", column.name);
            let marks = key_marks(column);
            if !marks.is_empty() {
                let _ = write!(out, " {}", marks.join(", "));
            }
            if column.nullable {
                out.push_str(" \"nullable\"");
            }
            out.push('\n');
        }
        out.push_str("    }\n");
    }
    for link in links(tables) {
        let parent_side = if link.optional { "|o" } else { "||" };
        let child_side = if link.single { "o|" } else { "o{" };
        let _ = writeln!(out, "    {} {parent_side}--{child_side} {} : \"{}\"", link.parent, link.child, link.column);
    }
    out
}

/// A Graphviz DOT digraph of `tables`: a table per node, its columns in
/// rows, and crow's-foot edges from child to parent labelled with the
/// foreign key. Render it with `dot -Tsvg`.
pub fn dot(tables: &[&TableMeta]) -> String {
    let mut out = String::from(
        "digraph schema {\n    graph [rankdir=LR, fontname=\"Helvetica\"];\n    node [shape=plain, \
         fontname=\"Helvetica\", fontsize=11];\n    edge [fontname=\"Helvetica\", fontsize=10, dir=both];\n",
    );
    for table in tables {
        let _ = write!(
            out,
            "    \"{0}\" [label=<<table border=\"0\" cellborder=\"1\" cellspacing=\"0\" cellpadding=\"4\">\
             <tr><td colspan=\"2\" bgcolor=\"#dde6f0\"><b>{0}</b></td></tr>",
            html(table.name)
        );
        for column in table.columns {
            let mut name = html(column.name);
            let marks = key_marks(column);
            if !marks.is_empty() {
                name = format!("{name} <i>{}</i>", marks.join(" "));
            }
            let mut ty = html(&type_text(column));
            if column.nullable {
                ty.push('?');
            }
            let _ = write!(out, "<tr><td align=\"left\">{name}</td><td align=\"left\">{ty}</td></tr>");
        }
        out.push_str("</table>>];\n");
    }
    for link in links(tables) {
        // At the parent: one (tee), or zero or one; at the child: many
        // (crow), or zero or one.
        let at_parent = if link.optional { "teeodot" } else { "teetee" };
        let at_child = if link.single { "teeodot" } else { "crowodot" };
        let _ = writeln!(
            out,
            "    \"{}\" -> \"{}\" [label=\"{}\", arrowhead={at_parent}, arrowtail={at_child}];",
            link.child, link.parent, link.column
        );
    }
    out.push_str("}\n");
    out
}

/// Escapes text for a DOT HTML label.
fn html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::ForeignKeyMeta;

    const fn fk(table: &'static str) -> Option<ForeignKeyMeta> {
        Some(ForeignKeyMeta { table, column: "id", on_delete: None, on_update: None })
    }

    const ACTORS: TableMeta = TableMeta {
        model: "Actor",
        name: "actors",
        columns: &[
            ColumnMeta { primary_key: true, generated: true, ..ColumnMeta::new("id", SqlType::Integer) },
            ColumnMeta { max_len: Some(80), ..ColumnMeta::new("name", SqlType::Text) },
            ColumnMeta { precision: Some((10, 2)), nullable: true, ..ColumnMeta::new("fee", SqlType::Numeric) },
        ],
        relations: &[],
        constraints: &[],
    };

    const STUNTMEN: TableMeta = TableMeta {
        model: "Stuntman",
        name: "stuntmen",
        columns: &[
            ColumnMeta { primary_key: true, ..ColumnMeta::new("id", SqlType::Integer) },
            ColumnMeta {
                unique: true,
                nullable: true,
                foreign_key: fk("actors"),
                ..ColumnMeta::new("actor_id", SqlType::Integer)
            },
        ],
        relations: &[],
        constraints: &[],
    };

    const ROLES: TableMeta = TableMeta {
        model: "Role",
        name: "roles",
        columns: &[
            ColumnMeta { primary_key: true, ..ColumnMeta::new("id", SqlType::Integer) },
            ColumnMeta { foreign_key: fk("actors"), ..ColumnMeta::new("actor_id", SqlType::Integer) },
            ColumnMeta::new("weight", SqlType::Double),
        ],
        relations: &[],
        constraints: &[],
    };

    #[test]
    fn mermaid_lists_columns_with_keys_and_links_with_cardinality() {
        let diagram = mermaid(&[&ACTORS, &STUNTMEN, &ROLES]);
        for line in [
            "    actors {\n        integer id PK\n        varchar(80) name\n        numeric(10_2) fee \"nullable\"\n    }",
            "        integer actor_id FK, UK \"nullable\"",
            "        double_precision weight",
            "    actors |o--o| stuntmen : \"actor_id\"",
            "    actors ||--o{ roles : \"actor_id\"",
        ] {
            assert!(diagram.contains(line), "{line:?} in\n{diagram}");
        }
    }

    #[test]
    fn dot_draws_a_node_per_table_and_a_crows_foot_edge_per_foreign_key() {
        let diagram = dot(&[&ACTORS, &ROLES]);
        assert!(diagram.starts_with("digraph schema {"), "{diagram}");
        assert!(diagram.contains("<b>actors</b>") && diagram.contains("numeric(10,2)?"), "{diagram}");
        assert!(diagram.contains("id <i>PK</i>") && diagram.contains("actor_id <i>FK</i>"), "{diagram}");
        assert!(
            diagram.contains("\"roles\" -> \"actors\" [label=\"actor_id\", arrowhead=teetee, arrowtail=crowodot];"),
            "{diagram}"
        );
        assert!(diagram.trim_end().ends_with('}'));
    }
}
