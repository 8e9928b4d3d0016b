//! Integration tests against a real PostgreSQL: one binary, a module per area.
//! Every test gets its own database from `TestDb`.

mod arrays;
mod bookshop;
mod cancelled_commits;
mod cancelled_statements;
mod common;
mod connect;
mod constraints;
mod copy;
mod engine;
mod enums;
mod faults;
mod joined;
mod migrations;
mod proxy;
mod query;
mod relationships;
mod resilience;
mod schema;
mod select;
mod session;
mod statements;
mod templates;
mod text_keys;
mod transactions;
mod types;
mod versioning;
