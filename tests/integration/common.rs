//! Models and setup shared by the integration tests.

use chrono::NaiveDate;
use orm::prelude::*;
use orm::testing::TestDb;
use orm::{Connection, Value};
use rust_decimal::Decimal;

/// The tutorial repository's basic example: a person with a few typed columns.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "people")]
pub(crate) struct Person {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[orm(max_len = 100, unique)]
    pub(crate) name: String,
    pub(crate) date_of_birth: NaiveDate,
    #[orm(index)]
    pub(crate) height: Option<i32>,
    pub(crate) weight: Option<Decimal>,
}

/// A child of `Person`, for foreign-key ordering and violations.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "addresses")]
pub(crate) struct Address {
    #[orm(primary_key)]
    pub(crate) id: i64,
    #[orm(foreign_key = Person::id)]
    pub(crate) person_id: i32,
    pub(crate) city: String,
    #[orm(default = "'unknown'")]
    pub(crate) country: Defaulted<String>,
}

/// A composite primary key with no generated column.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "memberships")]
pub(crate) struct Membership {
    #[orm(primary_key, foreign_key = Person::id)]
    pub(crate) person_id: i32,
    #[orm(primary_key, column = "club_name")]
    pub(crate) club: String,
    pub(crate) since: i16,
    #[orm(skip)]
    pub(crate) note: String,
}

pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

pub(crate) fn person(name: &str, height: Option<i32>) -> Person {
    Person::new(name, date(1980, 1, 2), height, None)
}

/// A fresh database with the test tables, cloned from their template.
pub(crate) async fn setup() -> TestDb {
    TestDb::with_tables(&[Address::TABLE, Person::TABLE, Membership::TABLE]).await.expect("a test database")
}

/// The server process behind a connection.
pub(crate) async fn backend_pid(conn: &mut orm::PgConnection) -> Result<i32> {
    let rows = conn.query("SELECT pg_backend_pid()", &[]).await?;
    match rows.values.first() {
        Some(Value::I32(pid)) => Ok(*pid),
        other => panic!("unexpected {other:?}"),
    }
}

/// Counts the bytes each thread asks the allocator for, for the tests of
/// what a session keeps; otherwise the system allocator.
struct CountingAllocator;

thread_local! {
    static ALLOCATED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: a thread being torn down still allocates.
    let _ = ALLOCATED.try_with(|allocated| allocated.set(allocated.get() + bytes));
}

// SAFETY: every call is passed on to `System` unchanged.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count(layout.size());
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The bytes this thread allocated while `f` ran (with `#[tokio::test]`'s
/// runtime, the connection's task runs on it too).
pub(crate) async fn allocated_during<F: std::future::Future>(f: F) -> (usize, F::Output) {
    let before = ALLOCATED.with(std::cell::Cell::get);
    let output = f.await;
    (ALLOCATED.with(std::cell::Cell::get) - before, output)
}

/// Counts the statements `engine` sends while `f` runs.
pub(crate) async fn statements_during<F: std::future::Future>(engine: &Engine, f: F) -> (u64, F::Output) {
    let before = engine.statement_count();
    let output = f.await;
    (engine.statement_count() - before, output)
}

/// Polls `future` at most `polls` times and drops it if it has not finished
/// by then: a cancellation at one exact await point.
pub(crate) async fn within_polls<F: std::future::Future>(future: F, polls: u32) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut left = polls;
    std::future::poll_fn(|cx| {
        if left == 0 {
            return std::task::Poll::Ready(None);
        }
        left -= 1;
        future.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Adds `count` people, drops their flush after one poll, then two, ..,
/// until one finishes, and checks after each that the objects still hold
/// their values (a flush lends them to its statement), then that the
/// database holds them once committed.
pub(crate) async fn flush_dropped_at_every_poll(count: i32) {
    let db = setup().await;
    let mut session = db.engine().session();
    let people: Vec<_> = (0..count).map(|i| session.add(person(&format!("p{i}"), Some(i)))).collect();
    let names = |s: &orm::Session| people.iter().map(|&h| s[h].name.clone()).collect::<Vec<_>>();
    let expected = names(&session);
    let mut polls = 1;
    while within_polls(session.flush(), polls).await.is_none() {
        assert_eq!(names(&session), expected, "dropped after {polls} polls");
        polls += 1;
        assert!(polls < 1_000, "the flush never finished");
    }
    session.commit().await.unwrap();
    assert_eq!(names(&session), expected);
    let stored: Vec<String> =
        db.engine().session().select(Person::name).order_by(Person::id.asc()).all().await.unwrap();
    assert_eq!(stored, expected);
}
