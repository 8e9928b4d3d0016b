//! What differs between SQL databases when the core sends a statement.

use std::fmt::Debug;

use crate::statement::{Sql, Statement};

/// One SQL dialect: turns the core's backend-neutral statements into the
/// database's text and parameters.
pub trait Dialect: Send + Sync + Debug {
    /// Renders a statement. Each value becomes one parameter, never text,
    /// and the text depends on the statement's structure and its values'
    /// types only: sessions keep the text of a plain query's shape and bind
    /// the values of later queries of that shape to it (`query::shape`).
    fn render(&self, statement: Statement) -> Sql;
}
