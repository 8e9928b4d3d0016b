#![doc = include_str!("../README.md")]

pub use orm_core::*;
pub use orm_derive::{embed_migrations, test, Model, SqlEnum};
#[cfg(feature = "json")]
pub use orm_postgres::migrations;

#[doc(hidden)]
pub use orm_core::__private;
#[cfg(feature = "testing")]
pub use orm_postgres::testing;
pub use orm_postgres::{Engine, EngineBuilder, PgConnection, PoolStatus};

/// The PostgreSQL crate: dialect, engine, pool, and the driver it wraps.
pub mod postgres {
    pub use orm_postgres::*;
}

/// Everything a typical user needs: `use orm::prelude::*;`.
pub mod prelude {
    pub use orm_core::{
        func, select, Bind, Defaulted, Entity, Error, Expr, Expression, Handle, Locking, Many, Model, One, OptionalExt,
        Result, Session, SqlType, SqlValue, Value,
    };
    pub use orm_derive::{Model, SqlEnum};
    pub use orm_postgres::Engine;
}
