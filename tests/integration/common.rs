//! Models and setup shared by the integration tests.

use chrono::NaiveDate;
use orm::prelude::*;
use orm::testing::TestDb;
use rust_decimal::Decimal;

/// The tutorial repository's basic example: a person with a few typed columns.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "people")]
pub struct Person {
    #[orm(primary_key)]
    pub id: i32,
    #[orm(max_len = 100, unique)]
    pub name: String,
    pub date_of_birth: NaiveDate,
    #[orm(index)]
    pub height: Option<i32>,
    pub weight: Option<Decimal>,
}

/// A child of `Person`, for foreign-key ordering and violations.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "addresses")]
pub struct Address {
    #[orm(primary_key)]
    pub id: i64,
    #[orm(foreign_key = Person::id)]
    pub person_id: i32,
    pub city: String,
    #[orm(default = "'unknown'")]
    pub country: String,
}

/// A composite primary key with no generated column.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "memberships")]
pub struct Membership {
    #[orm(primary_key, foreign_key = Person::id)]
    pub person_id: i32,
    #[orm(primary_key, column = "club_name")]
    pub club: String,
    pub since: i16,
    #[orm(skip)]
    pub note: String,
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

pub fn person(name: &str, height: Option<i32>) -> Person {
    Person::new(name, date(1980, 1, 2), height, None)
}

/// A fresh database with the test tables.
pub async fn setup() -> TestDb {
    let db = TestDb::new().await.expect("a test database");
    db.engine()
        .create_all(&[Address::TABLE, Person::TABLE, Membership::TABLE])
        .await
        .expect("create the test tables");
    db
}

/// Counts the statements `engine` sends while `f` runs.
pub async fn statements_during<F: std::future::Future>(engine: &Engine, f: F) -> (u64, F::Output) {
    let before = engine.statement_count();
    let output = f.await;
    (engine.statement_count() - before, output)
}
