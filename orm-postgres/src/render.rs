//! Statement trees -> PostgreSQL text and parameters.
//!
//! Every identifier is quoted and every value is a `$n` parameter: nothing
//! a user passes is spliced into the text. The forms chosen keep the text
//! independent of the number of values (one array parameter for `= ANY` and
//! for `unnest`), so that each statement is prepared once per connection.

use std::borrow::Cow;
use std::fmt::Write;

use orm_core::statement::{
    BinaryOp, CopyIn, Cte, Delete, Distinct, Expr, Function, Insert, InsertSource, JoinClause, JoinKind, Lock,
    LockStrength, LockWait, Nulls, OnConflict, OrderTerm, ReserveKeys, Select, SetOp, Source, Sql, Statement,
    Transaction, Update,
};
use orm_core::{SqlType, Value};

/// Renders one statement.
pub(crate) fn render(statement: Statement) -> Sql {
    let mut w = Writer { sql: Sql { text: String::with_capacity(160), params: Vec::new() } };
    match statement {
        Statement::Select(select) => w.select(*select),
        Statement::Insert(insert) => w.insert(*insert),
        Statement::Update(update) => w.update(*update),
        Statement::Delete(delete) => w.delete(*delete),
        Statement::Transaction(control) => w.transaction(control),
        Statement::CopyIn(copy) => w.copy_in(copy),
        Statement::ReserveKeys(reserve) => w.reserve_keys(reserve),
    }
    w.sql
}

/// Appends `name` as a quoted identifier.
pub(crate) fn push_identifier(out: &mut String, name: &str) {
    out.push('"');
    if name.contains('"') {
        out.push_str(&name.replace('"', "\"\""));
    } else {
        out.push_str(name);
    }
    out.push('"');
}

/// Appends `n` in decimal. Every parameter's number is written so: with
/// `write!`, it was 8 % of the cost of rendering a one-filter select.
fn push_decimal(out: &mut String, n: usize) {
    if n >= 10 {
        push_decimal(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// The PostgreSQL name of a type, as DDL and casts spell it.
pub(crate) fn type_name(ty: SqlType) -> Cow<'static, str> {
    Cow::Borrowed(match ty {
        SqlType::Bytea => "bytea",
        SqlType::TimestampTz => "timestamptz",
        SqlType::Jsonb => "jsonb",
        SqlType::Array(element) => return Cow::Owned(format!("{}[]", type_name(*element))),
        // The SQL standard's spelling, which PostgreSQL shares.
        other => other.name(),
    })
}

/// Output column positions, as `ORDER BY` of a compound select names them.
const POSITIONS: [&str; 16] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16"];

struct Writer {
    sql: Sql,
}

impl Writer {
    fn push(&mut self, text: &str) -> &mut Self {
        self.sql.text.push_str(text);
        self
    }

    fn ident(&mut self, name: &str) -> &mut Self {
        push_identifier(&mut self.sql.text, name);
        self
    }

    fn param(&mut self, value: Value) -> &mut Self {
        self.sql.params.push(value);
        self.sql.text.push('$');
        push_decimal(&mut self.sql.text, self.sql.params.len());
        self
    }

    fn list<I: IntoIterator>(&mut self, items: I, mut write: impl FnMut(&mut Self, I::Item)) -> &mut Self {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            write(self, item);
        }
        self
    }

    fn exprs(&mut self, exprs: Vec<Expr>) -> &mut Self {
        self.list(exprs, |w, e| {
            w.expr(e);
        })
    }

    fn transaction(&mut self, control: Transaction) {
        let text = &mut self.sql.text;
        let _ = match control {
            Transaction::Begin => write!(text, "BEGIN"),
            Transaction::Commit => write!(text, "COMMIT"),
            Transaction::Rollback => write!(text, "ROLLBACK"),
            Transaction::Savepoint(n) => write!(text, "SAVEPOINT orm_savepoint_{n}"),
            Transaction::Release(n) => write!(text, "RELEASE SAVEPOINT orm_savepoint_{n}"),
            Transaction::RollbackTo(n) => write!(text, "ROLLBACK TO SAVEPOINT orm_savepoint_{n}"),
            Transaction::RollbackToAndRelease(n) => {
                write!(text, "ROLLBACK TO SAVEPOINT orm_savepoint_{n}; RELEASE SAVEPOINT orm_savepoint_{n}")
            }
        };
    }

    /// `COPY "t" ("a", ..) FROM STDIN (FORMAT binary)`: the executor sends
    /// the rows in the binary format, each value as the driver binds it.
    fn copy_in(&mut self, copy: CopyIn) {
        self.push("COPY ").ident(copy.table).push(" (");
        self.list(copy.columns, |w, c| {
            w.ident(c);
        });
        self.push(") FROM STDIN (FORMAT binary)");
    }

    /// `SELECT array_agg(nextval(..)::integer) FROM (SELECT
    /// pg_get_serial_sequence($1, $2)::regclass ..), LATERAL (SELECT
    /// generate_series(1, $3::bigint))`. The sequence is looked up once, in
    /// a subquery that `OFFSET 0` keeps from being inlined: evaluated per
    /// row, the lookup takes several times as long as the `nextval`s. The
    /// series comes from a subquery so that it is not stored first, and the
    /// keys go back as one array, not a row each: together a third less
    /// time for 10,000 keys. Table and column are parameters, so that one
    /// prepared statement serves every table; the table is parsed as an
    /// identifier, so it is sent quoted.
    fn reserve_keys(&mut self, reserve: ReserveKeys) {
        const SEQUENCE: &str = "orm_sequence";
        let mut table = String::new();
        push_identifier(&mut table, reserve.table);
        self.push("SELECT array_agg(nextval(").ident(SEQUENCE).push(".").ident(SEQUENCE).push(")::");
        self.push(&type_name(reserve.sql_type)).push(") FROM (SELECT pg_get_serial_sequence(");
        self.param(Value::Text(table)).push(", ").param(Value::Text(reserve.column.to_owned()));
        self.push(")::regclass AS ").ident(SEQUENCE).push(" OFFSET 0) AS ").ident(SEQUENCE);
        self.push(", LATERAL (SELECT generate_series(1, ").param(Value::I64(reserve.count)).push("::bigint)) AS ");
        self.ident("orm_keys");
    }

    fn select(&mut self, select: Select) {
        self.with(select.with);
        // Set operations apply in order: `((A) UNION (B)) INTERSECT (C)`,
        // not PostgreSQL's precedence, which binds INTERSECT first.
        let compound = select.compound.len();
        if compound > 0 {
            self.push(&"(".repeat(compound));
        }
        // A compound's ORDER BY names output columns by position.
        let positions: Vec<Option<usize>> = if compound > 0 {
            select.order_by.iter().map(|term| select.items.iter().position(|item| *item == term.expr)).collect()
        } else {
            Vec::new()
        };
        self.push("SELECT ");
        match select.distinct {
            Distinct::All => {}
            Distinct::Rows => {
                self.push("DISTINCT ");
            }
            Distinct::On(exprs) => {
                self.push("DISTINCT ON (").exprs(exprs).push(") ");
            }
        }
        if select.items.is_empty() {
            self.push("1");
        }
        self.exprs(select.items);
        if let Some(from) = select.from {
            self.push(" FROM ").source(from);
        }
        for join in select.joins {
            self.join(join);
        }
        self.filter(" WHERE ", select.filter);
        if !select.group_by.is_empty() {
            self.push(" GROUP BY ").exprs(select.group_by);
        }
        self.filter(" HAVING ", select.having);
        if compound > 0 {
            self.push(")");
        }
        for (i, (op, part)) in select.compound.into_iter().enumerate() {
            self.push(match op {
                SetOp::Union => " UNION ",
                SetOp::UnionAll => " UNION ALL ",
                SetOp::Intersect => " INTERSECT ",
                SetOp::Except => " EXCEPT ",
            });
            self.push("(");
            self.select(part);
            self.push(")");
            if i + 1 < compound {
                self.push(")");
            }
        }
        if compound > 0 {
            self.order_by_positions(select.order_by, positions);
        } else {
            self.order_by(select.order_by);
        }
        if let Some(limit) = select.limit {
            self.push(" LIMIT ").expr(limit);
        }
        if let Some(offset) = select.offset {
            self.push(" OFFSET ").expr(offset);
        }
        if let Some(lock) = select.lock {
            self.lock(lock);
        }
    }

    fn with(&mut self, ctes: Vec<Cte>) {
        if ctes.is_empty() {
            return;
        }
        self.push(if ctes.iter().any(|c| c.recursive) { "WITH RECURSIVE " } else { "WITH " });
        self.list(ctes, |w, cte| {
            w.ident(&cte.name);
            if !cte.columns.is_empty() {
                w.push(" (").list(cte.columns, |w, c| {
                    w.ident(&c);
                });
                w.push(")");
            }
            w.push(" AS (");
            w.select(*cte.query);
            w.push(")");
        });
        self.push(" ");
    }

    fn source(&mut self, source: Source) -> &mut Self {
        match source {
            Source::Table { name, alias } => {
                self.ident(name);
                if let Some(alias) = alias {
                    self.push(" AS ").ident(&alias);
                }
            }
            Source::Subquery { query, alias } => {
                self.push("(");
                self.select(*query);
                self.push(") AS ").ident(&alias);
            }
            Source::Arrays { arrays, alias, columns, ordinality } => {
                self.rows_of_arrays(arrays, &alias, columns, ordinality)
            }
        }
        self
    }

    /// `unnest($1::integer[], ..) AS alias (a, ..)`. `unnest` would flatten
    /// an array of arrays, so a column of array type travels as the text
    /// form of each array (`text[]`) and is cast back in a subquery:
    /// `(SELECT a, b::integer[] AS b FROM unnest($1::integer[], $2::text[])
    /// AS alias (a, b)) AS alias`.
    fn rows_of_arrays(
        &mut self,
        arrays: Vec<(Value, SqlType)>,
        alias: &str,
        columns: Vec<&'static str>,
        ordinality: Option<&'static str>,
    ) {
        let casts: Vec<Option<SqlType>> =
            arrays.iter().map(|(_, ty)| matches!(ty, SqlType::Array(_)).then_some(*ty)).collect();
        let wrapped = casts.iter().any(Option::is_some);
        if wrapped {
            self.push("(SELECT ");
            self.list(columns.iter().zip(&casts), |w, (column, cast)| {
                w.ident(alias).push(".").ident(column);
                if let Some(ty) = cast {
                    w.push("::").push(&type_name(*ty)).push(" AS ").ident(column);
                }
            });
            if let Some(ordinality) = ordinality {
                self.push(", ").ident(alias).push(".").ident(ordinality);
            }
            self.push(" FROM ");
        }
        self.push("unnest(");
        self.list(arrays, |w, (array, ty)| match ty {
            // Bound as the text of each array (`types::array_literals`).
            SqlType::Array(_) => {
                w.param(array).push("::text[]");
            }
            _ => {
                w.param(array).push("::").push(&type_name(ty)).push("[]");
            }
        });
        self.push(")");
        if ordinality.is_some() {
            self.push(" WITH ORDINALITY");
        }
        self.push(" AS ").ident(alias).push(" (");
        self.list(columns.into_iter().chain(ordinality), |w, c| {
            w.ident(c);
        });
        self.push(")");
        if wrapped {
            self.push(") AS ").ident(alias);
        }
    }

    fn join(&mut self, join: JoinClause) {
        self.push(match join.kind {
            JoinKind::Inner => " JOIN ",
            JoinKind::LeftOuter => " LEFT OUTER JOIN ",
        });
        self.source(join.source).push(" ON ").expr(join.on);
    }

    fn filter(&mut self, keyword: &str, filter: Option<Expr>) {
        if let Some(filter) = filter {
            self.push(keyword);
            match filter {
                // Top-level conjunctions need no parentheses.
                Expr::And(all) if !all.is_empty() => self.conjunction(all, " AND "),
                other => {
                    self.expr(other);
                }
            }
        }
    }

    fn order_by(&mut self, terms: Vec<OrderTerm>) {
        if terms.is_empty() {
            return;
        }
        self.push(" ORDER BY ");
        self.list(terms, |w, term| {
            w.expr(term.expr);
            if term.descending {
                w.push(" DESC");
            }
            match term.nulls {
                Some(Nulls::First) => w.push(" NULLS FIRST"),
                Some(Nulls::Last) => w.push(" NULLS LAST"),
                None => w,
            };
        });
    }

    /// `ORDER BY` of a compound select: a term that is one of the output
    /// columns is named by its position, which is all a compound can sort by.
    fn order_by_positions(&mut self, terms: Vec<OrderTerm>, positions: Vec<Option<usize>>) {
        let terms = terms.into_iter().zip(positions).map(|(term, position)| match position {
            Some(i) => OrderTerm { expr: Expr::Verbatim(POSITIONS.get(i).copied().unwrap_or("1")), ..term },
            None => term,
        });
        self.order_by(terms.collect());
    }

    fn lock(&mut self, lock: Lock) {
        self.push(match lock.strength {
            LockStrength::Update => " FOR UPDATE",
            LockStrength::Share => " FOR SHARE",
        });
        if let Some(table) = lock.of {
            self.push(" OF ").ident(table);
        }
        self.push(match lock.wait {
            LockWait::Wait => "",
            LockWait::NoWait => " NOWAIT",
            LockWait::SkipLocked => " SKIP LOCKED",
        });
    }

    fn insert(&mut self, insert: Insert) {
        const INSERTED: &str = "orm_inserted";
        let aggregated = insert.returning_as_arrays.then(|| insert.returning.clone());
        if aggregated.is_some() {
            self.push("WITH ").ident(INSERTED).push(" AS (");
        }
        self.push("INSERT INTO ").ident(insert.table);
        match insert.source {
            InsertSource::DefaultValues => {
                self.push(" DEFAULT VALUES");
            }
            InsertSource::Select(select) => {
                self.push(" (").list(insert.columns, |w, c| {
                    w.ident(c);
                });
                self.push(") ");
                self.select(*select);
            }
        }
        if let Some(on_conflict) = insert.on_conflict {
            self.on_conflict(on_conflict);
        }
        self.returning(insert.returning);
        if let Some(returned) = aggregated {
            self.push(") SELECT ").list(returned, |w, column| {
                w.push("array_agg(").expr(column);
                w.push(")");
            });
            self.push(" FROM ").ident(INSERTED);
        }
    }

    fn on_conflict(&mut self, on_conflict: OnConflict) {
        self.push(" ON CONFLICT");
        if !on_conflict.target.is_empty() {
            self.push(" (").list(on_conflict.target, |w, c| {
                w.ident(c);
            });
            self.push(")");
        }
        if on_conflict.set.is_empty() {
            self.push(" DO NOTHING");
        } else {
            self.push(" DO UPDATE SET ").assignments(on_conflict.set);
        }
    }

    fn assignments(&mut self, set: Vec<(&'static str, Expr)>) -> &mut Self {
        self.list(set, |w, (column, value)| {
            w.ident(column).push(" = ").expr(value);
        })
    }

    fn update(&mut self, update: Update) {
        self.push("UPDATE ").ident(update.table).push(" SET ").assignments(update.set);
        if let Some(from) = update.from {
            self.push(" FROM ").source(from);
        }
        self.filter(" WHERE ", update.filter);
        self.returning(update.returning);
    }

    fn delete(&mut self, delete: Delete) {
        self.push("DELETE FROM ").ident(delete.table);
        if let Some(using) = delete.using {
            self.push(" USING ").source(using);
        }
        self.filter(" WHERE ", delete.filter);
        self.returning(delete.returning);
    }

    fn returning(&mut self, returning: Vec<Expr>) {
        if !returning.is_empty() {
            self.push(" RETURNING ").exprs(returning);
        }
    }

    fn conjunction(&mut self, exprs: Vec<Expr>, separator: &str) {
        for (i, e) in exprs.into_iter().enumerate() {
            if i > 0 {
                self.push(separator);
            }
            self.expr(e);
        }
    }

    fn subquery(&mut self, query: Select) -> &mut Self {
        self.push("(");
        self.select(query);
        self.push(")")
    }

    /// Appends an expression, parenthesising compound ones.
    fn expr(&mut self, expr: Expr) -> &mut Self {
        match expr {
            Expr::Column { table, name } => {
                self.ident(&table).push(".").ident(name);
            }
            Expr::Bare(name) => {
                self.ident(name);
            }
            Expr::AllColumns(table) => {
                self.ident(&table).push(".*");
            }
            Expr::Labeled { expr, label } => {
                self.expr(*expr).push(" AS ").ident(label);
            }
            Expr::Value(v) => self.typed_param(v),
            Expr::TypedValue(v, ty) => {
                self.param(v).push("::").push(&type_name(ty));
            }
            Expr::Verbatim(sql) => {
                self.push(sql);
            }
            Expr::Binary { op, lhs, rhs } => self.binary(op, *lhs, *rhs),
            Expr::Like { expr, pattern, case_insensitive } => {
                self.operand(*expr).push(if case_insensitive { " ILIKE " } else { " LIKE " }).operand(*pattern);
            }
            Expr::IsNull { expr, negated } => {
                self.operand(*expr).push(if negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Expr::InArray { expr, array } => {
                self.operand(*expr).push(" = ANY(");
                self.typed_param(array);
                self.push(")");
            }
            Expr::InSubquery { expr, query, negated } => {
                self.operand(*expr).push(if negated { " NOT IN " } else { " IN " }).subquery(*query);
            }
            Expr::Exists { query, negated } => {
                self.push(if negated { "NOT EXISTS " } else { "EXISTS " }).subquery(*query);
            }
            Expr::Subquery(query) => {
                self.subquery(*query);
            }
            Expr::Between { expr, low, high } => {
                self.operand(*expr).push(" BETWEEN ").operand(*low).push(" AND ").operand(*high);
            }
            Expr::Call { function, args } => self.call(function, args),
            Expr::Case { whens, otherwise } => {
                self.push("CASE");
                for (condition, result) in whens {
                    self.push(" WHEN ").expr(condition).push(" THEN ").expr(result);
                }
                if let Some(otherwise) = otherwise {
                    self.push(" ELSE ").expr(*otherwise);
                }
                self.push(" END");
            }
            Expr::Interval(micros) => {
                // Microseconds as a bigint parameter: the text is the same
                // for every interval.
                self.push("(").param(Value::I64(micros)).push("::bigint * interval '1 microsecond')");
            }
            Expr::Tuple(items) => {
                self.push("(").exprs(items).push(")");
            }
            Expr::Excluded(column) => {
                self.push("excluded.").ident(column);
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
                self.push("NOT (").expr(*inner).push(")");
            }
        }
        self
    }

    /// Appends a parameter cast to its type where the value has one, so that
    /// PostgreSQL never has to guess (a value in `CASE` or in a select list
    /// would otherwise be text).
    fn typed_param(&mut self, value: Value) {
        let ty = match &value {
            Value::Array(element, _) => Some((*element, "[]")),
            other => other.sql_type().map(|t| (t, "")),
        };
        self.param(value);
        if let Some((ty, suffix)) = ty {
            self.push("::").push(&type_name(ty)).push(suffix);
        }
    }

    /// Appends an operand of an operator, in parentheses unless it is an
    /// atom, so that `a = (b > c)` and `(NOT x) IS NULL` keep their meaning.
    fn operand(&mut self, expr: Expr) -> &mut Self {
        let atom = matches!(
            expr,
            Expr::Column { .. }
                | Expr::Bare(_)
                | Expr::AllColumns(_)
                | Expr::Value(_)
                | Expr::TypedValue(..)
                | Expr::Call { .. }
                | Expr::Case { .. }
                | Expr::Interval(_)
                | Expr::Tuple(_)
                | Expr::Subquery(_)
                | Expr::Excluded(_)
                | Expr::And(_)
                | Expr::Or(_)
                // Arithmetic renders its own parentheses.
                | Expr::Binary { op: BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Concat, .. }
        );
        if atom {
            return self.expr(expr);
        }
        self.push("(").expr(expr).push(")")
    }

    fn binary(&mut self, op: BinaryOp, lhs: Expr, rhs: Expr) {
        let (symbol, arithmetic) = match op {
            BinaryOp::Eq => (" = ", false),
            BinaryOp::Ne => (" <> ", false),
            BinaryOp::Lt => (" < ", false),
            BinaryOp::Le => (" <= ", false),
            BinaryOp::Gt => (" > ", false),
            BinaryOp::Ge => (" >= ", false),
            BinaryOp::Add => (" + ", true),
            BinaryOp::Sub => (" - ", true),
            BinaryOp::Mul => (" * ", true),
            BinaryOp::Div => (" / ", true),
            BinaryOp::Concat => (" || ", true),
        };
        // Arithmetic is parenthesised so that nesting keeps its meaning.
        if arithmetic {
            self.push("(");
        }
        self.operand(lhs).push(symbol).operand(rhs);
        if arithmetic {
            self.push(")");
        }
    }

    fn call(&mut self, function: Function, args: Vec<Expr>) {
        let name = match function {
            Function::Count if args.is_empty() => {
                self.push("count(*)");
                return;
            }
            Function::CountDistinct => {
                self.push("count(DISTINCT ").exprs(args).push(")");
                return;
            }
            Function::Extract(unit) => {
                self.push("extract(").push(unit.name()).push(" FROM ").exprs(args).push(")");
                return;
            }
            Function::DateTrunc(unit) => {
                self.push("date_trunc('").push(unit.name()).push("', ").exprs(args).push(")");
                return;
            }
            Function::Now => {
                self.push("now()");
                return;
            }
            Function::Count => "count",
            Function::Sum => "sum",
            Function::Avg => "avg",
            Function::Min => "min",
            Function::Max => "max",
            Function::Lower => "lower",
            Function::Upper => "upper",
            Function::Length => "length",
            Function::Coalesce => "coalesce",
        };
        self.push(name).push("(").exprs(args).push(")");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orm_core::statement::{Name, TimeUnit};

    #[test]
    fn parameter_numbers_are_decimal() {
        for n in [1, 9, 10, 12, 99, 100, 65_535] {
            let mut text = String::new();
            push_decimal(&mut text, n);
            assert_eq!(text, n.to_string());
        }
    }

    /// The contract a query shape (`orm_core`'s `query::shape`) relies on:
    /// a statement's text depends on its values' types, never on the values.
    #[test]
    fn the_text_of_a_filtered_sorted_paged_select_depends_on_its_values_types_only() {
        let select = |n: i32, text: &str, ints: Vec<Value>| {
            let year = Expr::column("movies", "year");
            let title = Expr::column("movies", "title");
            let value = |v: Value| Expr::Value(v);
            let call = |function, args| Expr::Call { function, args };
            let filter = Expr::And(vec![
                Expr::binary(BinaryOp::Le, year.clone(), value(Value::I32(n))),
                Expr::Like {
                    expr: Box::new(title.clone()),
                    pattern: Box::new(value(Value::Text(text.into()))),
                    case_insensitive: false,
                },
                Expr::Between {
                    expr: Box::new(year.clone()),
                    low: Box::new(value(Value::I32(n))),
                    high: Box::new(value(Value::I32(n + 1))),
                },
                year.clone().in_array(Value::Array(SqlType::Integer, ints)),
                Expr::Not(Box::new(Expr::Or(vec![
                    Expr::IsNull { expr: Box::new(title.clone()), negated: true },
                    Expr::TypedValue(Value::I32(n), SqlType::BigInt).equals(year.clone()),
                    Expr::TypedValue(if n > 1 { Value::Null } else { Value::Text(text.into()) }, SqlType::Text)
                        .equals(title.clone()),
                    value(Value::Null).equals(title.clone()),
                ]))),
                call(Function::Lower, vec![title.clone()]).equals(value(Value::Text(text.into()))),
                Expr::binary(BinaryOp::Gt, call(Function::Count, vec![]), value(Value::I64(n.into()))),
                call(Function::Extract(TimeUnit::Year), vec![year.clone()])
                    .equals(call(Function::DateTrunc(TimeUnit::Day), vec![value(Value::Text(text.into()))])),
                Expr::binary(
                    BinaryOp::Concat,
                    Expr::binary(BinaryOp::Add, year.clone(), value(Value::I32(n))),
                    value(Value::Text(text.into())),
                )
                .equals(title.clone()),
                Expr::Case {
                    whens: vec![(year.clone().equals(value(Value::I32(n))), value(Value::Bool(true)))],
                    otherwise: Some(Box::new(value(Value::Bool(false)))),
                }
                .equals(value(Value::Bool(n > 1_000))),
                Expr::Tuple(vec![year.clone(), title.clone()])
                    .equals(Expr::Tuple(vec![value(Value::I32(n)), value(Value::Text(text.into()))])),
            ]);
            let order_by = vec![
                OrderTerm { expr: title, descending: true, nulls: Some(Nulls::Last) },
                OrderTerm { expr: year.clone(), descending: false, nulls: Some(Nulls::First) },
            ];
            let (limit, offset) = (Some(value(Value::I64(n.into()))), Some(value(Value::I64(2 * i64::from(n)))));
            let select =
                Select { items: vec![year], filter: Some(filter), order_by, limit, offset, ..Select::default() };
            render(Statement::Select(Box::new(select)))
        };
        let a = select(1, "a", vec![]);
        let b = select(2_000, "b'; --", vec![Value::I32(1), Value::I32(2)]);
        assert_eq!(a.text, b.text);
        assert_ne!(a.params, b.params);
    }

    #[test]
    fn predicates_bind_every_value() {
        let title = Expr::column("movies", "title");
        let year = Expr::column("movies", "year");
        let mut select = Select { items: vec![title.clone()], ..Select::default() };
        select.filter = Some(Expr::And(vec![
            Expr::Or(vec![
                title.clone().equals(Expr::Value(Value::Text("Alien".into()))),
                Expr::Not(Box::new(Expr::IsNull { expr: Box::new(year.clone()), negated: false })),
            ]),
            Expr::Like {
                expr: Box::new(title),
                pattern: Box::new(Expr::Value(Value::Text("%a%".into()))),
                case_insensitive: true,
            },
            year.in_array(Value::Array(SqlType::Integer, vec![Value::I32(1)])),
        ]));
        let sql = render(Statement::Select(Box::new(select)));
        assert_eq!(
            sql.text,
            r#"SELECT "movies"."title" WHERE ("movies"."title" = $1::text OR NOT ("movies"."year" IS NULL)) AND "movies"."title" ILIKE $2::text AND "movies"."year" = ANY($3::integer[])"#
        );
        assert_eq!(sql.params.len(), 3);
    }

    #[test]
    fn many_rows_are_one_insert_with_an_array_per_column() {
        let rows = Select {
            items: vec![Expr::column("u", "name"), Expr::column("u", "year")],
            from: Some(Source::Arrays {
                arrays: vec![
                    (Value::Array(SqlType::Text, vec![Value::Text("a".into())]), SqlType::Text),
                    (Value::Array(SqlType::SmallInt, vec![Value::Null]), SqlType::SmallInt),
                ],
                alias: Name::Borrowed("u"),
                columns: vec!["name", "year"],
                ordinality: None,
            }),
            ..Select::default()
        };
        let insert = Insert {
            table: "movies",
            columns: vec!["name", "year"],
            source: InsertSource::Select(Box::new(rows)),
            on_conflict: None,
            returning: vec![Expr::Bare("id")],
            returning_as_arrays: false,
        };
        let sql = render(Statement::Insert(Box::new(insert.clone())));
        assert_eq!(
            sql.text,
            r#"INSERT INTO "movies" ("name", "year") SELECT "u"."name", "u"."year" FROM unnest($1::text[], $2::smallint[]) AS "u" ("name", "year") RETURNING "id""#
        );
        assert_eq!(sql.params.len(), 2);

        let aggregated =
            Insert { returning: vec![Expr::Bare("id"), Expr::Bare("year")], returning_as_arrays: true, ..insert };
        assert_eq!(
            render(Statement::Insert(Box::new(aggregated))).text,
            r#"WITH "orm_inserted" AS (INSERT INTO "movies" ("name", "year") SELECT "u"."name", "u"."year" FROM unnest($1::text[], $2::smallint[]) AS "u" ("name", "year") RETURNING "id", "year") SELECT array_agg("id"), array_agg("year") FROM "orm_inserted""#
        );
    }

    #[test]
    fn a_typed_parameter_is_cast_whatever_its_value() {
        const TEXT_ARRAY: SqlType = SqlType::Array(&SqlType::Text);
        let items = vec![
            Expr::TypedValue(Value::Null, SqlType::Integer),
            Expr::TypedValue(Value::Array(SqlType::Text, Vec::new()), TEXT_ARRAY),
        ];
        let sql = render(Statement::Select(Box::new(select_of(items))));
        assert_eq!(sql.text, "SELECT $1::integer, $2::text[]");
    }

    #[test]
    fn a_column_of_arrays_travels_as_text_and_is_cast_back() {
        const INTEGER_ARRAY: SqlType = SqlType::Array(&SqlType::Integer);
        let tags = Value::Array(
            INTEGER_ARRAY,
            vec![Value::Array(SqlType::Integer, vec![Value::I32(1), Value::Null]), Value::Null],
        );
        let rows = Select {
            items: vec![Expr::column("u", "name"), Expr::column("u", "tags")],
            from: Some(Source::Arrays {
                arrays: vec![
                    (
                        Value::Array(SqlType::Text, vec![Value::Text("a".into()), Value::Text("b".into())]),
                        SqlType::Text,
                    ),
                    (tags.clone(), INTEGER_ARRAY),
                ],
                alias: Name::Borrowed("u"),
                columns: vec!["name", "tags"],
                ordinality: Some("n"),
            }),
            ..Select::default()
        };
        let sql = render(Statement::Select(Box::new(rows)));
        assert_eq!(
            sql.text,
            r#"SELECT "u"."name", "u"."tags" FROM (SELECT "u"."name", "u"."tags"::integer[] AS "tags", "u"."n" FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS "u" ("name", "tags", "n")) AS "u""#
        );
        // Bound as text by `types::array_literals`.
        assert_eq!(sql.params[1], tags);
    }

    fn select_of(items: Vec<Expr>) -> Select {
        Select { items, ..Select::default() }
    }

    #[test]
    fn operands_keep_their_meaning_in_parentheses() {
        let stock = Expr::column("books", "stock");
        let gt = Expr::binary(BinaryOp::Gt, stock.clone(), Expr::Value(Value::I32(3)));
        let eq = Expr::binary(BinaryOp::Eq, Expr::column("books", "in_print"), gt.clone());
        let null = Expr::IsNull { expr: Box::new(Expr::Not(Box::new(gt))), negated: false };
        let sum =
            Expr::binary(BinaryOp::Mul, Expr::binary(BinaryOp::Add, stock.clone(), stock), Expr::Value(Value::I32(2)));
        let sql = render(Statement::Select(Box::new(select_of(vec![eq, null, sum]))));
        assert_eq!(
            sql.text,
            r#"SELECT "books"."in_print" = ("books"."stock" > $1::integer), (NOT ("books"."stock" > $2::integer)) IS NULL, (("books"."stock" + "books"."stock") * $3::integer)"#
        );
    }

    #[test]
    fn set_operations_apply_in_order_and_sort_by_position() {
        let title = Expr::column("books", "title");
        let part = |n: i32| Select {
            filter: Some(Expr::column("books", "id").equals(Expr::Value(Value::I32(n)))),
            ..select_of(vec![title.clone()])
        };
        let mut first = part(1);
        first.compound = vec![(SetOp::Union, part(2)), (SetOp::Intersect, part(3))];
        first.order_by = vec![OrderTerm { expr: title, descending: true, nulls: None }];
        let sql = render(Statement::Select(Box::new(first)));
        assert_eq!(
            sql.text,
            r#"((SELECT "books"."title" WHERE "books"."id" = $1::integer) UNION (SELECT "books"."title" WHERE "books"."id" = $2::integer)) INTERSECT (SELECT "books"."title" WHERE "books"."id" = $3::integer) ORDER BY 1 DESC"#
        );
    }

    #[test]
    fn a_bulk_load_names_every_column_and_keys_are_reserved_from_the_sequence() {
        let copy = render(Statement::CopyIn(CopyIn { table: "we\"ird", columns: vec!["id", "name"] }));
        assert_eq!(copy.text, r#"COPY "we""ird" ("id", "name") FROM STDIN (FORMAT binary)"#);
        assert!(copy.params.is_empty());
        let reserve = ReserveKeys { table: "Users", column: "id", sql_type: SqlType::BigInt, count: 3 };
        let sql = render(Statement::ReserveKeys(reserve));
        assert_eq!(
            sql.text,
            r#"SELECT array_agg(nextval("orm_sequence"."orm_sequence")::bigint) FROM (SELECT pg_get_serial_sequence($1, $2)::regclass AS "orm_sequence" OFFSET 0) AS "orm_sequence", LATERAL (SELECT generate_series(1, $3::bigint)) AS "orm_keys""#
        );
        assert_eq!(sql.params, [Value::Text(r#""Users""#.into()), Value::Text("id".into()), Value::I64(3)]);
    }

    #[test]
    fn identifiers_are_quoted_and_escaped() {
        let mut out = String::new();
        push_identifier(&mut out, r#"we"ird"#);
        assert_eq!(out, r#""we""ird""#);
    }
}
