//! The backend-agnostic core of the `orm` crate: model metadata, the
//! [`Model`] trait, typed expressions and queries, and the [`Session`] (unit
//! of work and identity map). Users depend on the `orm` facade, which
//! re-exports this crate.

pub mod dialect;
pub mod error;
pub mod executor;
pub mod loader;
pub mod metadata;
pub mod model;
pub mod query;
pub mod relation;
pub mod schema;
pub mod session;
pub mod statement;
pub mod value;

#[doc(hidden)]
pub mod __private;

pub use dialect::Dialect;
pub use error::{DbError, Error, OptionalExt, Result};
pub use executor::{
    BoxFuture, Connection, Connector, CopyRows, CopySource, KeyReservation, RawRow, RowFn, Rows, ValueRow,
};
pub use loader::{Load, Strategy};
pub use metadata::{ColumnMeta, Constraint, ForeignKeyMeta, ReferentialAction, TableMeta};
pub use model::{Hook, Hooks, Model, RowReader};
pub use query::expr::{Column, Expr, Expression, Order};
pub use query::functions as func;
pub use query::select::{select, Alias, Cte, Entity, Select};
pub use query::{Assignment, Locking, Page, Query};
pub use relation::{Cardinality, Join, Many, One, Relation, RelationKind, RelationMeta, ToMany, ToOne};
pub use schema::{SchemaDifference, SchemaReport};
pub use session::raw::{FromRow, Param, Params};
pub use session::{Handle, NoAutoflush, ObjectState, Savepoint, Session, StatementTexts};
#[cfg(feature = "json")]
pub use value::Json;
pub use value::{Bind, Defaulted, EnumType, ForeignKeyType, SqlType, SqlValue, TakesDefault, Unreadable, Value};
