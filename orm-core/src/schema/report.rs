//! What the models say the database holds, against what it holds: the
//! differences a schema check finds, each naming the model, field, table and
//! column involved. A dialect crate reads its catalog and reports them
//! (`Engine::verify_schema` in orm-postgres).

use std::fmt;

/// One way the live database differs from the models.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaDifference {
    /// The model's table does not exist.
    MissingTable {
        /// The model.
        model: &'static str,
        /// Its table.
        table: &'static str,
    },
    /// A field's column does not exist.
    MissingColumn {
        /// The model.
        model: &'static str,
        /// The field.
        field: &'static str,
        /// The table.
        table: &'static str,
        /// The column the field maps to.
        column: &'static str,
    },
    /// The table has a column no field maps. `required` when it is NOT NULL
    /// without a default: every INSERT of the model then fails.
    UnmappedColumn {
        /// The model.
        model: &'static str,
        /// The table.
        table: &'static str,
        /// The column.
        column: String,
        /// NOT NULL without a default.
        required: bool,
    },
    /// The column's type is not the field's.
    ColumnType {
        /// The model.
        model: &'static str,
        /// The field.
        field: &'static str,
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The type the model maps the field to.
        expected: String,
        /// The column's type in the database.
        found: String,
    },
    /// The column accepts NULL and the field does not, or the other way
    /// round.
    Nullability {
        /// The model.
        model: &'static str,
        /// The field.
        field: &'static str,
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// Whether the model's field is an `Option`.
        expected_nullable: bool,
    },
    /// The model expects the database to fill the column (a server default
    /// or an identity key) and it does not, or the other way round.
    ColumnDefault {
        /// The model.
        model: &'static str,
        /// The field.
        field: &'static str,
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The model's default (`identity` for a generated key).
        expected: Option<String>,
        /// The database's.
        found: Option<String>,
    },
    /// The primary key's columns differ.
    PrimaryKey {
        /// The model.
        model: &'static str,
        /// The table.
        table: &'static str,
        /// The model's key columns.
        expected: Vec<String>,
        /// The database's.
        found: Vec<String>,
    },
    /// A foreign key of the model has no constraint in the database.
    MissingForeignKey {
        /// The model.
        model: &'static str,
        /// The field.
        field: &'static str,
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// `table.column` it references.
        references: String,
    },
    /// A unique constraint (or unique index) over these columns is missing.
    MissingUnique {
        /// The model.
        model: &'static str,
        /// The table.
        table: &'static str,
        /// Its columns.
        columns: Vec<String>,
    },
    /// An index over these columns is missing.
    MissingIndex {
        /// The model.
        model: &'static str,
        /// The table.
        table: &'static str,
        /// The name `create_all` gives it.
        name: &'static str,
        /// Its columns.
        columns: Vec<String>,
    },
    /// A check constraint of that name is missing.
    MissingCheck {
        /// The model.
        model: &'static str,
        /// The table.
        table: &'static str,
        /// Its name.
        name: &'static str,
    },
    /// A database enum type is missing, or its labels differ.
    EnumType {
        /// The type.
        name: &'static str,
        /// The labels the Rust enum maps to, in order.
        expected: Vec<String>,
        /// The database's labels, in order (`None`: no such type).
        found: Option<Vec<String>>,
    },
}

impl fmt::Display for SchemaDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SchemaDifference::*;
        match self {
            MissingTable { model, table } => write!(f, "{model}: table `{table}` does not exist"),
            MissingColumn { model, field, table, column } => {
                write!(f, "{model}.{field}: column `{table}.{column}` does not exist")
            }
            UnmappedColumn { model, table, column, required } => {
                write!(f, "{model}: column `{table}.{column}` is not mapped by any field")?;
                if *required {
                    f.write_str(" and is NOT NULL without a default, so inserts fail")?;
                }
                Ok(())
            }
            ColumnType { model, field, table, column, expected, found } => {
                write!(f, "{model}.{field}: column `{table}.{column}` is {found}, the model expects {expected}")
            }
            Nullability { model, field, table, column, expected_nullable } => {
                let (model_says, db_says) =
                    if *expected_nullable { ("an Option", "NOT NULL") } else { ("not an Option", "nullable") };
                write!(f, "{model}.{field}: column `{table}.{column}` is {db_says}, the field is {model_says}")
            }
            ColumnDefault { model, field, table, column, expected, found } => {
                let text = |d: &Option<String>| d.clone().unwrap_or_else(|| "none".to_owned());
                write!(
                    f,
                    "{model}.{field}: column `{table}.{column}` has default {}, the model expects {}",
                    text(found),
                    text(expected)
                )
            }
            PrimaryKey { model, table, expected, found } => write!(
                f,
                "{model}: the primary key of `{table}` is ({}), the model's is ({})",
                found.join(", "),
                expected.join(", ")
            ),
            MissingForeignKey { model, field, table, column, references } => {
                write!(f, "{model}.{field}: no foreign key from `{table}.{column}` to `{references}`")
            }
            MissingUnique { model, table, columns } => {
                write!(f, "{model}: no unique constraint on `{table}` ({})", columns.join(", "))
            }
            MissingIndex { model, table, name, columns } => {
                write!(f, "{model}: no index `{name}` on `{table}` ({})", columns.join(", "))
            }
            MissingCheck { model, table, name } => write!(f, "{model}: no check constraint `{name}` on `{table}`"),
            EnumType { name, expected, found: None } => {
                write!(f, "enum type `{name}` does not exist (labels {})", expected.join(", "))
            }
            EnumType { name, expected, found: Some(found) } => write!(
                f,
                "enum type `{name}` has labels ({}), the Rust enum maps ({})",
                found.join(", "),
                expected.join(", ")
            ),
        }
    }
}

/// The result of a schema check: every difference found, none if the
/// database matches the models.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaReport {
    /// The differences, table by table in the order the models were given.
    pub differences: Vec<SchemaDifference>,
}

impl SchemaReport {
    /// Whether the database matches the models.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }

    /// `Ok(())` if clean, else the report as an error (for `?` at start-up).
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`](crate::Error::SchemaMismatch) with this
    /// report.
    pub fn into_result(self) -> crate::Result<()> {
        if self.is_clean() {
            Ok(())
        } else {
            Err(crate::Error::SchemaMismatch(Box::new(self)))
        }
    }
}

/// One line per difference, under a count: reads well in a panic at
/// start-up.
impl fmt::Display for SchemaReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return f.write_str("the database matches the models");
        }
        let n = self.differences.len();
        write!(f, "the database differs from the models in {n} place{}:", if n == 1 { "" } else { "s" })?;
        for difference in &self.differences {
            write!(f, "\n  - {difference}")?;
        }
        Ok(())
    }
}
