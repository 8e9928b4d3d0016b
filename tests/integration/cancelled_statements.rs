//! Statements of an open transaction whose futures were dropped before
//! their answer came: the next call of the session rolls the transaction
//! back, undoes its flushes in memory, and reports it, so that a commit
//! never succeeds on a transaction PostgreSQL rolled back.

use std::time::Duration;

use orm::prelude::*;
use orm::{Error, ObjectState};

use crate::common::{person, setup, within_polls, Person};

/// A raw statement that outlives its caller's timeout and is then
/// cancelled by the server's `statement_timeout`: the transaction is
/// aborted in PostgreSQL, which answers a COMMIT with ROLLBACK. The commit
/// must not report success; the flushed object is pending again and the
/// next commit writes it.
#[tokio::test]
async fn a_commit_after_a_cancelled_statement_reports_the_rollback() {
    let db = setup().await;
    let engine = Engine::builder(db.url()).statement_timeout(Duration::from_millis(300)).build().unwrap();
    let mut s = engine.session();
    let ada = s.add(person("Ada", None));
    s.flush().await.unwrap();
    let slow = s.execute("SELECT pg_sleep(1)", ());
    assert!(tokio::time::timeout(Duration::from_millis(100), slow).await.is_err(), "cancelled by the timeout");

    let commit = s.commit().await;
    assert!(matches!(commit, Err(Error::TransactionInterrupted)), "{commit:?}");
    assert!(commit.unwrap_err().is_retryable(), "rolled back: the transaction may run again");
    assert!(!s.in_transaction());
    assert_eq!(s.state(ada), Some(ObjectState::Pending), "flushed, undone, pending again");
    s.commit().await.unwrap();
    assert_eq!(engine.session().query::<Person>().count().await.unwrap(), 1);
}

/// The same for a statement that would have succeeded: its outcome was
/// never read, so the transaction is rolled back all the same, and what
/// it wrote does not survive.
#[tokio::test]
async fn a_write_whose_future_was_dropped_does_not_commit() {
    let db = setup().await;
    let engine = db.engine();
    let mut s = engine.session();
    s.add(person("Ada", None));
    s.commit().await.unwrap();
    let bob = s.add(person("Bob", None));
    s.flush().await.unwrap();
    let rename = s.execute("UPDATE people SET name = 'Cy' WHERE name = 'Ada'", ());
    assert!(within_polls(rename, 1).await.is_none(), "dropped once sent");

    // Reported by the query's autoflush, which settles what was dropped.
    let read = s.query::<Person>().count().await;
    assert!(
        matches!(&read, Err(Error::Autoflush(cause)) if matches!(**cause, Error::TransactionInterrupted)),
        "{read:?}"
    );
    assert_eq!(s.state(bob), Some(ObjectState::Pending));
    s.rollback().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let names = engine.session().select(Person::name).all().await.unwrap();
    assert_eq!(names, ["Ada"]);
}

/// A rollback to a savepoint dropped once its ROLLBACK TO went out: the
/// objects flushed since the savepoint were still persistent in memory
/// while the database had undone them. The next call rolls the whole
/// transaction back instead of committing it as if they were written.
#[tokio::test]
async fn a_dropped_rollback_to_a_savepoint_does_not_commit_what_it_undid() {
    let db = setup().await;
    let engine = db.engine();
    let mut s = engine.session();
    s.add(person("Ada", None));
    s.commit().await.unwrap();
    let savepoint = s.begin_nested().await.unwrap();
    let cy = s.add(person("Cy", None));
    s.flush().await.unwrap();
    assert!(within_polls(s.rollback_to(savepoint), 1).await.is_none(), "dropped once sent");

    let commit = s.commit().await;
    assert!(matches!(commit, Err(Error::TransactionInterrupted)), "{commit:?}");
    assert_ne!(s.state(cy), Some(ObjectState::Persistent));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let names = engine.session().select(Person::name).all().await.unwrap();
    assert_eq!(names, ["Ada"]);
}
