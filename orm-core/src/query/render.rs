//! Statements -> SQL text plus the list of bound values, through a [`Dialect`].
//!
//! Every identifier is quoted and every value is a parameter: nothing a user
//! passes is ever spliced into the SQL text.

use crate::dialect::Dialect;
use crate::metadata::{ColumnMeta, TableMeta};
use crate::query::expr::{Expr, Order};
use crate::value::Value;

/// A statement being written: its SQL text and its parameters.
#[derive(Debug)]
pub struct Sql<'d> {
    dialect: &'d dyn Dialect,
    /// The SQL text.
    pub text: String,
    /// The values of `$1`, `$2`, ...
    pub params: Vec<Value>,
}

impl<'d> Sql<'d> {
    /// Starts an empty statement.
    pub fn new(dialect: &'d dyn Dialect) -> Self {
        Sql { dialect, text: String::with_capacity(128), params: Vec::new() }
    }

    /// Appends SQL text as it is.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Appends a quoted identifier.
    pub fn ident(&mut self, name: &str) -> &mut Self {
        self.dialect.push_identifier(&mut self.text, name);
        self
    }

    /// Appends `"table"."column"`.
    pub fn qualified(&mut self, table: &str, column: &str) -> &mut Self {
        self.ident(table).push(".").ident(column)
    }

    /// Appends a placeholder bound to `value`.
    pub fn param(&mut self, value: Value) -> &mut Self {
        self.params.push(value);
        self.dialect.push_placeholder(&mut self.text, self.params.len());
        self
    }

    /// Appends the items, separated by `", "`, each written by `write`.
    pub fn list<I>(&mut self, items: I, mut write: impl FnMut(&mut Self, I::Item)) -> &mut Self
    where
        I: IntoIterator,
    {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            write(self, item);
        }
        self
    }

    /// Appends every column of `table`, qualified, in column order.
    pub fn columns(&mut self, table: &TableMeta) -> &mut Self {
        self.list(table.columns, |sql, c| {
            sql.qualified(table.name, c.name);
        })
    }

    /// Appends every column of `table`, qualified with `alias`.
    pub fn columns_as(&mut self, table: &TableMeta, alias: &str) -> &mut Self {
        self.list(table.columns, |sql, c| {
            sql.qualified(alias, c.name);
        })
    }

    /// The dialect the statement is written in.
    pub fn dialect(&self) -> &'d dyn Dialect {
        self.dialect
    }

    /// Appends `WHERE` and the predicates joined with `AND`, if there are any.
    pub fn where_all(&mut self, filters: &[Expr]) -> &mut Self {
        if !filters.is_empty() {
            self.push(" WHERE ");
            self.conjunction(filters, " AND ");
        }
        self
    }

    /// Appends `WHERE key_col = $n AND ...` for one primary key.
    pub fn where_key(&mut self, table: &TableMeta, key: Vec<Value>) -> &mut Self {
        self.push(" WHERE ");
        let key_columns = table.primary_key().map(|(_, c)| c);
        for (i, (column, value)) in key_columns.zip(key).enumerate() {
            if i > 0 {
                self.push(" AND ");
            }
            self.ident(column.name).push(" = ").param(value);
        }
        self
    }

    /// Appends `"column" = ANY($n)`, with the array as one parameter.
    pub fn any(&mut self, column: &str, array: Value) -> &mut Self {
        self.ident(column).push(" = ANY(").param(array).push(")")
    }

    /// Appends `ORDER BY ...` if there are terms.
    pub fn order_by(&mut self, order: &[Order]) -> &mut Self {
        if !order.is_empty() {
            self.push(" ORDER BY ");
            self.list(order, |sql, o| {
                sql.qualified(o.table, o.name);
                if o.descending {
                    sql.push(" DESC");
                }
            });
        }
        self
    }

    fn conjunction(&mut self, exprs: &[Expr], separator: &str) {
        for (i, e) in exprs.iter().enumerate() {
            if i > 0 {
                self.push(separator);
            }
            self.expr(e);
        }
    }

    /// Appends an expression, parenthesising compound ones.
    pub fn expr(&mut self, expr: &Expr) -> &mut Self {
        match expr {
            Expr::Column { table, name } => {
                self.qualified(table, name);
            }
            Expr::Value(v) => {
                self.param(v.clone());
            }
            Expr::Compare { op, lhs, rhs } => {
                self.expr(lhs).push(op.sql()).expr(rhs);
            }
            Expr::Like { expr, pattern, case_insensitive } => {
                let op = if *case_insensitive { " ILIKE " } else { " LIKE " };
                self.expr(expr).push(op).param(Value::Text(pattern.clone()));
            }
            Expr::IsNull { expr, negated } => {
                self.expr(expr).push(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Expr::Any { expr, array } => {
                self.expr(expr).push(" = ANY(").param(array.clone()).push(")");
            }
            Expr::Between { expr, low, high } => {
                self.expr(expr).push(" BETWEEN ").expr(low).push(" AND ").expr(high);
            }
            Expr::And(all) if all.is_empty() => {
                self.push("TRUE");
            }
            Expr::Or(any) if any.is_empty() => {
                self.push("FALSE");
            }
            Expr::And(all) => {
                self.push("(");
                self.conjunction(all, " AND ");
                self.push(")");
            }
            Expr::Or(any) => {
                self.push("(");
                self.conjunction(any, " OR ");
                self.push(")");
            }
            Expr::Not(inner) => {
                self.push("NOT (").expr(inner).push(")");
            }
        }
        self
    }
}

/// Renders the INSERT of many rows as one statement with one array
/// parameter per column, whatever the number of rows:
/// `INSERT INTO t (a, b) SELECT u.a, COALESCE(u.b, <default>) FROM
/// unnest($1::text[], $2::integer[]) AS u (a, b) RETURNING <read-back
/// columns>`. `arrays` holds one [`Value::Array`] per column. With no
/// columns to send it renders `DEFAULT VALUES` (one row).
///
/// The statement text depends only on the table, so it is prepared once per
/// connection; PostgreSQL inserts, and returns, the rows in array order.
pub fn insert<'d>(
    dialect: &'d dyn Dialect,
    table: &TableMeta,
    columns: &[&ColumnMeta],
    returning: &[&ColumnMeta],
    arrays: Vec<Value>,
) -> Sql<'d> {
    let mut sql = Sql::new(dialect);
    sql.push("INSERT INTO ").ident(table.name);
    if columns.is_empty() {
        sql.push(" DEFAULT VALUES");
    } else {
        sql.push(" (").list(columns, |s, c| {
            s.ident(c.name);
        });
        // A column with a server default is NULL in the array where the
        // object left it `None`: the default applies to those rows only.
        sql.push(") SELECT ").list(columns, |s, c| match c.default {
            Some(default) => {
                s.push("COALESCE(").qualified("u", c.name).push(", ").push(default).push(")");
            }
            None => {
                s.qualified("u", c.name);
            }
        });
        sql.push(" FROM unnest(");
        sql.list(columns.iter().zip(arrays), |s, (c, array)| {
            s.param(array).push("::").push(c.sql_type.name()).push("[]");
        });
        sql.push(") AS ").ident("u").push(" (").list(columns, |s, c| {
            s.ident(c.name);
        });
        sql.push(")");
    }
    if !returning.is_empty() {
        sql.push(" RETURNING ").list(returning, |s, c| {
            s.ident(c.name);
        });
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::column;
    use crate::query::expr::Column;
    use crate::value::SqlType;

    #[derive(Debug)]
    struct TestDialect;

    impl Dialect for TestDialect {
        fn push_identifier(&self, out: &mut String, name: &str) {
            out.push('"');
            out.push_str(name);
            out.push('"');
        }
        fn push_placeholder(&self, out: &mut String, n: usize) {
            out.push('$');
            out.push_str(&n.to_string());
        }
    }

    struct Movie;
    const TITLE: Column<Movie, String> = Column::new("movies", "title", 1);
    const YEAR: Column<Movie, Option<i32>> = Column::new("movies", "year", 2);

    #[test]
    fn predicates_bind_every_value() {
        let mut sql = Sql::new(&TestDialect);
        let filter = TITLE.eq("Alien").or(YEAR.gt(1979).and(!YEAR.is_null()));
        sql.where_all(&[filter, TITLE.ilike("%a%"), YEAR.in_list([1, 2])]);
        assert_eq!(
            sql.text,
            r#" WHERE ("movies"."title" = $1 OR ("movies"."year" > $2 AND NOT ("movies"."year" IS NULL))) AND "movies"."title" ILIKE $3 AND "movies"."year" = ANY($4)"#
        );
        assert_eq!(
            sql.params,
            [
                Value::Text("Alien".into()),
                Value::I32(1979),
                Value::Text("%a%".into()),
                Value::Array(SqlType::Integer, vec![Value::I32(1), Value::I32(2)]),
            ]
        );
    }

    #[test]
    fn comparing_with_none_is_a_null_test() {
        let mut sql = Sql::new(&TestDialect);
        sql.where_all(&[YEAR.eq(None::<i32>), YEAR.ne(None::<i32>)]);
        assert_eq!(sql.text, r#" WHERE "movies"."year" IS NULL AND "movies"."year" IS NOT NULL"#);
        assert!(sql.params.is_empty());
    }

    #[test]
    fn many_rows_are_one_insert_with_an_array_per_column() {
        const ID: ColumnMeta = ColumnMeta { primary_key: true, generated: true, ..column("id", SqlType::Integer) };
        const NAME: ColumnMeta = column("name", SqlType::Text);
        const YEAR: ColumnMeta = column("year", SqlType::SmallInt);
        let table = TableMeta { model: "Movie", name: "movies", columns: &[ID, NAME, YEAR], relations: &[] };
        let names = Value::Array(SqlType::Text, vec![Value::Text("a".into()), Value::Text("b".into())]);
        let years = Value::Array(SqlType::SmallInt, vec![Value::I16(1), Value::Null]);
        let sql = insert(&TestDialect, &table, &[&NAME, &YEAR], &[&ID], vec![names, years]);
        assert_eq!(
            sql.text,
            r#"INSERT INTO "movies" ("name", "year") SELECT "u"."name", "u"."year" FROM unnest($1::text[], $2::smallint[]) AS "u" ("name", "year") RETURNING "id""#
        );
        assert_eq!(sql.params.len(), 2);
    }
}
