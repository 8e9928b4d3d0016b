//! PostgreSQL for the `orm` crate: the dialect, an [`Engine`] over a
//! deadpool-postgres pool with a per-connection statement cache and TLS
//! (libpq's `sslmode`s, on rustls), and the bridging of values to
//! tokio-postgres.

mod dialect;
mod engine;
mod error;
mod executor;
#[cfg(feature = "json")]
pub mod migrations;
mod pool;
mod render;
mod row;
pub(crate) mod schema;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;
mod types;
mod url;

pub use dialect::{PostgresDialect, POSTGRES};
pub use engine::{Engine, EngineBuilder, PoolStatus};
pub use executor::PgConnection;

pub use deadpool_postgres;
pub use tokio_postgres;
