//! What the engine and the session do when the connection fails: lost
//! connections, commits cut off, connections returned all at once.

use std::time::Duration;

use orm::prelude::*;
use orm::testing::TestDb;
use orm::{Connection, Value};

use crate::common::{backend_pid, person, Person};
use crate::proxy::{OnCommit, Proxy};

/// `n` connections checked out at once.
pub(crate) async fn hold(engine: &Engine, n: usize) -> Vec<orm::PgConnection> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(engine.connect().await.unwrap());
    }
    held
}

async fn people(db: &TestDb) {
    db.engine().create_all(&[Person::TABLE]).await.unwrap();
}

/// A database with the `people` table, a proxy in front of it, and an
/// engine that connects through the proxy.
async fn people_behind_a_proxy() -> (TestDb, Proxy, Engine) {
    let db = TestDb::new().await.unwrap();
    people(&db).await;
    let (proxy, url) = Proxy::in_front_of(&db).await;
    let engine = Engine::new(&url).unwrap();
    (db, proxy, engine)
}

/// A session that flushed one person and whose commit was dropped while
/// COMMIT was on its way (the proxy holds COMMIT back).
async fn a_commit_cancelled_while_commit_is_on_its_way() -> (TestDb, Proxy, Session) {
    let (db, proxy, engine) = people_behind_a_proxy().await;
    let mut s = engine.session();
    s.add(person("Ada", None));
    s.flush().await.unwrap();
    proxy.on_commit(OnCommit::Delay(Duration::from_millis(500)));
    let cancelled = tokio::time::timeout(Duration::from_millis(100), s.commit()).await;
    assert!(cancelled.is_err(), "the commit was still waiting for its answer");
    (db, proxy, s)
}

#[tokio::test]
async fn a_backend_the_server_terminates_is_a_retryable_connection_error() {
    let db = TestDb::new().await.unwrap();
    let engine = Engine::builder(db.url()).pool_size(1).build().unwrap();
    let mut conn = engine.connect().await.unwrap();
    let pid = backend_pid(&mut conn).await.unwrap();
    let mut admin = db.engine().connect().await.unwrap();
    admin.query("SELECT pg_terminate_backend($1)", &[Value::I32(pid)]).await.unwrap();
    let error = backend_pid(&mut conn).await.unwrap_err();
    assert!(matches!(error, Error::Connection(_)), "{error:?}");
    assert!(error.is_retryable(), "{error}");
    drop(conn);
    backend_pid(&mut engine.connect().await.unwrap()).await.expect("the pool replaced the connection");
}

#[tokio::test]
async fn the_first_lost_connection_invalidates_the_ones_opened_before_it() {
    let db = TestDb::new().await.unwrap();
    let (proxy, url) = Proxy::in_front_of(&db).await;
    let engine = Engine::builder(&url).pool_size(3).build().unwrap();
    let held: Vec<orm::PgConnection> = hold(&engine, 3).await;
    drop(held);
    assert_eq!(engine.pool_status().idle, 3);
    // All three die without a word, as on a server restart.
    proxy.kill_existing();

    let error = backend_pid(&mut engine.connect().await.unwrap()).await.unwrap_err();
    assert!(matches!(error, Error::Connection(_)) && error.is_retryable(), "{error:?}");
    // The two others were opened before that loss: replaced, never used.
    let mut fresh: Vec<orm::PgConnection> = hold(&engine, 3).await;
    for conn in &mut fresh {
        backend_pid(conn).await.expect("a connection opened after the loss");
    }
}

#[tokio::test]
async fn a_commit_cut_after_commit_was_sent_has_an_unknown_outcome_not_a_rollback() {
    let (db, proxy, engine) = people_behind_a_proxy().await;
    let mut s = engine.session();
    let ada = s.add(person("Ada", None));
    s.flush().await.unwrap();
    proxy.on_commit(OnCommit::Cut);
    let error = s.commit().await.unwrap_err();
    assert!(matches!(error, Error::CommitOutcomeUnknown { .. }), "{error:?}");
    assert!(!error.is_retryable(), "a retry could apply the changes twice");
    assert!(error.to_string().contains("outcome of the commit is unknown"), "{error}");
    // The COMMIT reached the server: claiming a rollback would have been wrong.
    let stored = db.engine().session().query::<Person>().count().await.unwrap();
    assert_eq!(stored, 1);
    assert!(!s.in_transaction());
    assert_eq!(s.state(ada), Some(orm::ObjectState::Persistent), "kept with the values it wrote");
    proxy.on_commit(OnCommit::Forward);
    s.query::<Person>().count().await.expect("the session works on a new connection");
}

#[tokio::test]
async fn a_commit_cut_after_the_insert_it_went_out_with_drops_the_new_objects_it_cannot_vouch_for() {
    let (db, proxy, engine) = people_behind_a_proxy().await;
    let mut s = engine.session();
    // The transaction begins before (alone, the INSERT would go without
    // BEGIN and COMMIT); no flush: the INSERT and COMMIT go out together.
    s.execute("SELECT 1", ()).await.unwrap();
    assert!(s.in_transaction());
    let ada = s.add(person("Ada", None));
    proxy.on_commit(OnCommit::Cut);
    let error = s.commit().await.unwrap_err();
    assert!(matches!(error, Error::CommitOutcomeUnknown { .. }), "{error:?}");
    // Whether the server ran the COMMIT before it saw the connection go is
    // up to the timing: both are possible. Let it finish either way.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = db.engine().session().query::<Person>().count().await.unwrap();
    assert!(stored <= 1, "{stored}");
    // Its key never came back: kept, a later commit could insert it twice.
    assert_eq!(s.state(ada), None, "no longer in the session");
    proxy.on_commit(OnCommit::Forward);
    let bob = s.add(person("Bob", None));
    s.commit().await.expect("the session works on a new connection");
    assert_eq!(s.state(bob), Some(orm::ObjectState::Persistent));
    let now = db.engine().session().query::<Person>().count().await.unwrap();
    assert_eq!(now, stored + 1, "Bob, and not Ada again");
}

#[tokio::test]
async fn a_transaction_of_one_insert_runs_alone_without_begin_or_commit_messages() {
    let (db, proxy, engine) = people_behind_a_proxy().await;
    let mut s = engine.session();
    let ada = s.add(person("Ada", None));
    // The proxy would cut the connection at a COMMIT message.
    proxy.on_commit(OnCommit::Cut);
    s.commit().await.expect("no COMMIT message went out");
    assert!(!s.in_transaction());
    assert_eq!(s.state(ada), Some(orm::ObjectState::Persistent));
    assert!(s[ada].id > 0, "the key was read back");
    assert_eq!(db.engine().session().query::<Person>().count().await.unwrap(), 1, "committed");
}

#[tokio::test]
async fn a_commit_cancelled_while_commit_is_on_its_way_is_reported_by_the_next_call() {
    let (_db, _proxy, mut s) = a_commit_cancelled_while_commit_is_on_its_way().await;
    let error = s.rollback().await.unwrap_err();
    assert!(matches!(error, Error::CommitOutcomeUnknown { .. }), "rollback must not claim it rolled back: {error:?}");
    assert!(s.rollback().await.is_ok(), "reported once");
}

/// The same reported by a query, though it has nothing to flush: its
/// autoflush settles the dropped commit first.
#[tokio::test]
async fn a_commit_cancelled_while_commit_is_on_its_way_is_reported_by_the_autoflush_of_the_next_query() {
    let (_db, _proxy, mut s) = a_commit_cancelled_while_commit_is_on_its_way().await;
    assert!(!s.has_changes());
    let error = s.query::<Person>().all().await.unwrap_err();
    let unknown = matches!(&error, Error::Autoflush(cause) if matches!(**cause, Error::CommitOutcomeUnknown { .. }));
    assert!(unknown, "{error:?}");
    assert!(s.query::<Person>().all().await.is_ok(), "reported once");
}

#[tokio::test]
async fn at_most_pool_size_connections_stay_idle_after_dropped_sessions_and_racing_returns() {
    let db = TestDb::new().await.unwrap();
    people(&db).await;
    // Sessions dropped inside a transaction return their connections through
    // the background rollback.
    let engine = Engine::builder(db.url()).pool_size(1).max_overflow(10).build().unwrap();
    let mut sessions = Vec::new();
    for i in 0..5 {
        let mut s = engine.session();
        s.add(person(&format!("p{i}"), None));
        s.flush().await.unwrap();
        sessions.push(s);
    }
    drop(sessions);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(engine.pool_status().idle <= 1, "{:?}", engine.pool_status());

    // 32 connections returned at once, from 32 threads.
    let engine = Engine::builder(db.url()).pool_size(2).max_overflow(30).build().unwrap();
    for round in 0..10 {
        let held: Vec<orm::PgConnection> = hold(&engine, 32).await;
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(held.len()));
        let threads: Vec<_> = held
            .into_iter()
            .map(|conn| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    drop(conn);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(engine.pool_status().idle <= 2, "round {round}: {:?}", engine.pool_status());
    }
}

#[tokio::test]
async fn a_stale_cached_plan_is_prepared_again_outside_a_transaction_and_named_inside_one() {
    let db = TestDb::new().await.unwrap();
    let mut admin = db.engine().connect().await.unwrap();
    admin
        .batch_execute("CREATE TABLE gauges (id int PRIMARY KEY, reading int); INSERT INTO gauges VALUES (1, 7)")
        .await
        .unwrap();
    let engine = Engine::builder(db.url()).pool_size(1).max_overflow(0).build().unwrap();
    let select = "SELECT reading FROM gauges";
    let mut conn = engine.connect().await.unwrap();
    assert_eq!(conn.query(select, &[]).await.unwrap().values, [Value::I32(7)]);

    admin.batch_execute("ALTER TABLE gauges ALTER COLUMN reading TYPE bigint").await.unwrap();
    assert_eq!(conn.query(select, &[]).await.unwrap().values, [Value::I64(7)], "prepared again, run once more");

    admin.batch_execute("ALTER TABLE gauges ALTER COLUMN reading TYPE numeric").await.unwrap();
    conn.batch_execute("BEGIN").await.unwrap();
    let error = conn.query(select, &[]).await.unwrap_err();
    assert!(matches!(error, Error::SchemaChanged(_)) && error.is_retryable(), "{error:?}");
    assert!(error.to_string().contains("roll back and retry"), "{error}");
    conn.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(conn.query(select, &[]).await.unwrap().values, [Value::Decimal(7.into())]);
}

#[tokio::test]
async fn rollback_to_after_a_cancelled_commit_reports_the_unknown_outcome_and_inserts_nothing_twice() {
    let (db, proxy, engine) = people_behind_a_proxy().await;
    let mut s = engine.session();
    let savepoint = s.begin_nested().await.unwrap();
    s.add(person("Ada", None));
    s.flush().await.unwrap();
    proxy.on_commit(OnCommit::Delay(Duration::from_millis(500)));
    assert!(tokio::time::timeout(Duration::from_millis(100), s.commit()).await.is_err(), "cancelled");
    let error = s.rollback_to(savepoint).await.unwrap_err();
    assert!(matches!(error, Error::CommitOutcomeUnknown { .. }), "{error:?}");
    proxy.on_commit(OnCommit::Forward);
    s.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = db.engine().session().query::<Person>().count().await.unwrap();
    assert_eq!(stored, 1, "the row the cancelled commit wrote, once");
}
