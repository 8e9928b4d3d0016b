//! What differs between SQL databases when the core sends a statement.

use std::fmt::Debug;

use crate::statement::{Sql, Statement};

/// One SQL dialect: turns the core's backend-neutral statements into the
/// database's text and parameters.
pub trait Dialect: Send + Sync + Debug {
    /// Renders a statement. Values become parameters, never text.
    fn render(&self, statement: Statement) -> Sql;
}
