//! The schema the models describe: how the live database differs from it
//! ([`SchemaReport`]), and entity-relationship diagrams of it
//! ([`mermaid`], [`dot`]).

mod diagram;
mod report;

pub use diagram::{dot, mermaid};
pub use report::{SchemaDifference, SchemaReport};
