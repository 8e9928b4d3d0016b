//! The engine and its pool: lazy connect, QueuePool limits, recycle, pre-ping,
//! statement cache, DDL, and SQL logging.

use std::time::{Duration, Instant};

use orm::prelude::*;
use orm::testing::TestDb;
use orm::{Connection, Value};

use crate::common::{backend_pid, setup, Address, Membership, Person};
use crate::proxy::Proxy;

#[tokio::test]
async fn building_an_engine_does_no_io() {
    // Nothing listens on port 1: only the first use can notice.
    let engine =
        Engine::builder("postgres://postgres@127.0.0.1:1/nothing").pool_timeout(Duration::from_secs(2)).build();
    let engine = engine.expect("no I/O at build time");
    let mut session = engine.session();
    assert_eq!(engine.pool_status().open, 0);
    let err = session.get::<Person>(1).await.unwrap_err();
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
}

#[tokio::test]
async fn a_bad_url_is_a_config_error() {
    let err = Engine::new("postgres://user:secret@host:notaport/db").unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(!err.to_string().contains("secret"), "the password is not echoed: {err}");
    assert!(matches!(Engine::builder("postgres://h/db").pool_size(0).build(), Err(Error::Config(_))));
}

#[tokio::test]
async fn pool_timeout_is_a_clear_error() {
    let db = TestDb::new().await.unwrap();
    let engine = Engine::builder(db.url())
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let _held = engine.connect().await.unwrap();
    let started = Instant::now();
    let err = engine.connect().await.unwrap_err();
    assert!(matches!(err, Error::PoolTimeout { waited } if waited == Duration::from_millis(300)), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_checkout_waits_for_a_connection_returned_within_pool_timeout() {
    let db = TestDb::new().await.unwrap();
    let engine = Engine::builder(db.url()).pool_size(1).max_overflow(0).build().unwrap();
    let mut held = engine.connect().await.unwrap();
    let first = backend_pid(&mut held).await.unwrap();
    let returning = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(held);
    });
    let started = Instant::now();
    let mut conn = engine.connect().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150), "it waited");
    assert_eq!(backend_pid(&mut conn).await.unwrap(), first, "for the connection returned");
    returning.await.unwrap();
}

#[tokio::test]
async fn overflow_connections_are_closed_when_returned() {
    let db = TestDb::new().await.unwrap();
    let engine = Engine::builder(db.url())
        .pool_size(2)
        .max_overflow(1)
        .pool_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(engine.connect().await.unwrap());
    }
    assert_eq!(engine.pool_status().open, 3);
    assert!(matches!(engine.connect().await, Err(Error::PoolTimeout { .. })), "pool_size + max_overflow is the limit");
    drop(held);
    let status = engine.pool_status();
    assert_eq!((status.open, status.idle, status.max), (2, 2, 3), "at most pool_size stay idle");
}

#[tokio::test]
async fn connections_are_reused_and_recycled_after_pool_recycle() {
    let db = TestDb::new().await.unwrap();
    let reusing = Engine::builder(db.url()).pool_size(1).build().unwrap();
    let first = backend_pid(&mut reusing.connect().await.unwrap()).await.unwrap();
    let second = backend_pid(&mut reusing.connect().await.unwrap()).await.unwrap();
    assert_eq!(first, second, "an idle connection is reused");

    let recycling = Engine::builder(db.url()).pool_size(1).pool_recycle(Duration::from_millis(100)).build().unwrap();
    let first = backend_pid(&mut recycling.connect().await.unwrap()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = backend_pid(&mut recycling.connect().await.unwrap()).await.unwrap();
    assert_ne!(first, second, "a connection older than pool_recycle is replaced");
}

#[tokio::test]
async fn pre_ping_replaces_a_connection_that_went_stale() {
    let db = TestDb::new().await.unwrap();
    let (proxy, url) = Proxy::in_front_of(&db).await;

    for pre_ping in [false, true] {
        let engine = Engine::builder(&url).pool_size(1).pre_ping(pre_ping).build().unwrap();
        let first = backend_pid(&mut engine.connect().await.unwrap()).await.unwrap();
        proxy.kill_existing();
        let result = backend_pid(&mut engine.connect().await.unwrap()).await;
        if pre_ping {
            assert_ne!(result.unwrap(), first, "pre_ping found the stale connection and opened a new one");
        } else {
            let err = result.unwrap_err();
            assert!(matches!(err, Error::Connection(_)), "without pre_ping the stale connection is used: {err:?}");
        }
    }
}

#[tokio::test]
async fn statements_are_prepared_once_per_connection() {
    let db = TestDb::new().await.unwrap();
    let engine = Engine::builder(db.url()).pool_size(1).build().unwrap();
    // Each checkout finds the statements prepared by the ones before it on
    // the same connection.
    for i in 0..3 {
        let mut conn = engine.connect().await.unwrap();
        conn.query("SELECT $1::int + 1", &[Value::I32(i)]).await.unwrap();
    }
    let mut conn = engine.connect().await.unwrap();
    let rows = conn
        .query(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
            &[Value::Text("SELECT $1::int + 1".into())],
        )
        .await
        .unwrap();
    assert_eq!(rows.values, [Value::I64(1)]);
}

#[tokio::test]
async fn create_all_and_drop_all_order_tables_and_check_first() {
    let db = setup().await;
    let engine = db.engine();
    // Children listed first: still created after their parents. Existing
    // tables are skipped.
    engine.create_all(&[Membership::TABLE, Address::TABLE, Person::TABLE]).await.unwrap();
    let mut conn = engine.connect().await.unwrap();
    let tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'";
    assert_eq!(conn.query(tables, &[]).await.unwrap().values, [Value::I64(3)]);
    let index = "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_people_height'";
    assert_eq!(conn.query(index, &[]).await.unwrap().values, [Value::I64(1)]);
    // Parents listed first: still dropped after their children.
    engine.drop_all(&[Person::TABLE, Address::TABLE, Membership::TABLE]).await.unwrap();
    engine.drop_all(&[Person::TABLE, Address::TABLE, Membership::TABLE]).await.unwrap();
    assert_eq!(conn.query(tables, &[]).await.unwrap().values, [Value::I64(0)]);
}

#[tokio::test]
async fn setup_failures_name_their_cause() {
    // No host: the driver's own words reach the message.
    let engine = Engine::builder("postgres://postgres@/nothing").pool_timeout(Duration::from_secs(2)).build();
    let error = match engine {
        Ok(engine) => engine.session().query::<Person>().count().await.unwrap_err(),
        Err(error) => error,
    };
    assert!(error.to_string().contains("host"), "{error}");
    // A refused connection says so.
    let engine = Engine::builder("postgres://postgres@127.0.0.1:1/nothing").build().unwrap();
    let error = engine.session().query::<Person>().count().await.unwrap_err();
    assert!(matches!(error, Error::Connection(_)), "{error:?}");
    assert!(error.to_string().contains("refused"), "{error}");
    // A database that does not exist keeps the server's SQLSTATE (3D000).
    let db = TestDb::new().await.unwrap();
    let missing = db.url().replace(db.name(), "no_such_database");
    let error = Engine::new(&missing).unwrap().session().query::<Person>().count().await.unwrap_err();
    assert_eq!(error.db_error().map(|e| e.code.as_str()), Some("3D000"), "{error:?}");
    assert!(error.to_string().contains("no_such_database"), "{error}");
}
