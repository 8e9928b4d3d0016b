//! What differs between SQL databases when the core renders a statement.

use std::fmt::Debug;

/// The spelling of identifiers and parameters in one SQL dialect.
pub trait Dialect: Send + Sync + Debug {
    /// Appends `name` as a quoted identifier.
    fn push_identifier(&self, out: &mut String, name: &str);

    /// Appends the placeholder of the 1-based parameter `n`.
    fn push_placeholder(&self, out: &mut String, n: usize);
}
