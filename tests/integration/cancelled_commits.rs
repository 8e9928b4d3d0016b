//! Commits cancelled before their COMMIT went out: the next call of the
//! session undoes them as a dropped flush, not as an unknown outcome.

use std::time::Duration;

use orm::prelude::*;
use orm::ObjectState;

use crate::common::{person, setup, within_polls, Person};

/// A commit whose flush is one INSERT, dropped before the INSERT was sent
/// (its first poll waits on the Parse of the INSERT): nothing went out, so
/// the next call reports no unknown commit outcome and keeps the new object
/// pending. With autoflush off, a read is that next call: it settles the
/// dropped commit on the connection before it rolls the dropped flush back.
#[tokio::test]
async fn a_commit_dropped_before_its_insert_was_sent_is_not_an_unknown_outcome_for_a_read_without_autoflush() {
    let db = setup().await;
    let engine = db.engine();
    let mut s = engine.session();
    s.set_autoflush(false);
    // The connection is checked out; no transaction yet.
    assert_eq!(s.query::<Person>().count().await.unwrap(), 0);
    let ada = s.add(person("Ada", None));
    assert!(within_polls(s.commit(), 1).await.is_none(), "dropped while the INSERT was being prepared");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(engine.session().query::<Person>().count().await.unwrap(), 0, "nothing was written");

    let read = s.query::<Person>().count().await;
    assert!(read.is_ok(), "nothing was sent, nothing committed: {read:?}");
    assert_eq!(s.state(ada), Some(ObjectState::Pending), "still pending, to be committed again");
}

/// The same through `refresh`, which never autoflushes: reachable with
/// autoflush on.
#[tokio::test]
async fn a_commit_dropped_before_its_insert_was_sent_is_not_an_unknown_outcome_for_a_refresh() {
    let db = setup().await;
    let mut other = db.engine().session();
    other.add(person("Bob", None));
    other.commit().await.unwrap();
    // An engine of its own: the INSERT is not prepared on its connection.
    let engine = Engine::new(db.url()).unwrap();
    let mut s = engine.session();
    let bob = s.query::<Person>().one().await.unwrap();
    let ada = s.add(person("Ada", None));
    assert!(within_polls(s.commit(), 1).await.is_none(), "dropped while the INSERT was being prepared");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(db.engine().session().query::<Person>().count().await.unwrap(), 1, "nothing was written");

    let refreshed = s.refresh(bob).await;
    assert!(refreshed.is_ok(), "nothing was sent, nothing committed: {refreshed:?}");
    assert_eq!(s.state(ada), Some(ObjectState::Pending), "still pending, to be committed again");
    s.commit().await.unwrap();
    assert_eq!(db.engine().session().query::<Person>().count().await.unwrap(), 2);
}
