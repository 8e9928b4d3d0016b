//! Optimistic concurrency: `#[orm(version)]` turns a lost update or a stale
//! delete into `Error::StaleData`, and the session stays usable after it.

use orm::prelude::*;
use orm::testing::TestDb;
use orm::ObjectState;

use crate::common::statements_during;

/// A model with a version column: every UPDATE sets `version` to one more
/// and matches the row only if it still holds the old value.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "documents")]
pub(crate) struct Document {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) title: String,
    pub(crate) body: String,
    #[orm(version)]
    pub(crate) version: i32,
}

/// A fresh database with the `documents` table.
async fn setup() -> TestDb {
    let db = TestDb::new().await.expect("a test database");
    db.engine().create_all(&[Document::TABLE]).await.expect("create the test table");
    db
}

/// The row as the database holds it, read by a session of its own.
async fn stored(engine: &Engine, id: i32) -> Option<Document> {
    let mut session = engine.session();
    let handle = session.get::<Document>(id).await.unwrap()?;
    session.expunge(handle)
}

/// Commits one new document and returns its key.
async fn committed(engine: &Engine, title: &str) -> i32 {
    let mut session = engine.session();
    let doc = session.add(Document::new(title, "draft"));
    session.commit().await.unwrap();
    session[doc].id
}

fn is_stale(err: &Error, action: &str) -> bool {
    matches!(err, Error::StaleData { model: "Document", action: a, expected: 1, matched: 0, .. } if *a == action)
}

#[tokio::test]
async fn the_version_starts_at_one_and_grows_by_one_per_committed_change_only() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let doc = session.add(Document::new("Plan", "draft"));
    assert_eq!(session[doc].version, 1, "`new` starts at 1");
    session.commit().await.unwrap();
    let id = session[doc].id;
    assert_eq!(stored(engine, id).await.unwrap().version, 1, "INSERT writes the field");

    session[doc].body = "first".into();
    session[doc].title = "Plan A".into();
    let (trips, result) = statements_during(engine, session.commit()).await;
    result.unwrap();
    assert_eq!(trips, 2, "one UPDATE of both columns and the version (BEGIN sent with it), COMMIT");
    assert_eq!(session[doc].version, 2);
    assert_eq!(stored(engine, id).await.unwrap(), session[doc]);

    // Clean after the flush: nothing to send, the version stays.
    let (trips, result) = statements_during(engine, session.commit()).await;
    result.unwrap();
    assert_eq!(trips, 0);
    // Borrowed for writing but unchanged: still nothing.
    let _ = &mut session[doc];
    let (trips, result) = statements_during(engine, session.commit()).await;
    result.unwrap();
    assert_eq!(trips, 0);
    assert_eq!(stored(engine, id).await.unwrap().version, 2);

    // Two flushes in one transaction are two changes.
    session[doc].body = "second".into();
    session.flush().await.unwrap();
    session[doc].body = "third".into();
    session.commit().await.unwrap();
    assert_eq!(session[doc].version, 4);
    assert_eq!(stored(engine, id).await.unwrap().version, 4);
}

#[tokio::test]
async fn the_session_owns_the_version_a_value_set_by_hand_is_not_sent() {
    let db = setup().await;
    let engine = db.engine();
    let id = committed(engine, "Plan").await;
    let mut session = engine.session();
    let doc = session.get::<Document>(id).await.unwrap().unwrap();
    session[doc].version = 40;
    session[doc].body = "edited".into();
    session.commit().await.unwrap();
    assert_eq!(session[doc].version, 2, "the loaded version plus one");
    assert_eq!(stored(engine, id).await.unwrap().version, 2);
}

#[tokio::test]
async fn a_concurrent_update_makes_the_commit_fail_and_write_nothing() {
    let db = setup().await;
    let engine = db.engine();
    let id = committed(engine, "Plan").await;

    let mut mine = engine.session();
    let doc = mine.get::<Document>(id).await.unwrap().unwrap();
    let mut theirs = engine.session();
    let their_doc = theirs.get::<Document>(id).await.unwrap().unwrap();
    theirs[their_doc].title = "Their plan".into();
    theirs.commit().await.unwrap();
    assert_eq!(theirs[their_doc].version, 2);

    // Without the version check this UPDATE of `body` alone would succeed
    // and the other session's change would be built on unseen.
    mine[doc].body = "my body".into();
    let extra = mine.add(Document::new("Extra", "inserted in the same transaction"));
    let err = mine.commit().await.unwrap_err();
    assert!(is_stale(&err, "update"), "{err}");

    let row = stored(engine, id).await.unwrap();
    assert_eq!((row.title.as_str(), row.body.as_str(), row.version), ("Their plan", "draft", 2));
    assert_eq!(engine.session().query::<Document>().count().await.unwrap(), 1, "the whole transaction rolled back");

    // The session is usable and its changes are pending again, with the
    // version it loaded: a retry sends the same check and fails the same way.
    assert_eq!((mine[doc].body.as_str(), mine[doc].version), ("my body", 1));
    assert_eq!(mine.state(extra), Some(ObjectState::Pending));
    let err = mine.commit().await.unwrap_err();
    assert!(is_stale(&err, "update"), "{err}");

    // Refreshing takes the other session's row and version; a new change on
    // top of it commits.
    mine.refresh(doc).await.unwrap();
    assert_eq!((mine[doc].title.as_str(), mine[doc].version), ("Their plan", 2));
    mine[doc].body = "my body, on their plan".into();
    mine.commit().await.unwrap();
    assert_eq!(mine[doc].version, 3);
    let row = stored(engine, id).await.unwrap();
    assert_eq!((row.title.as_str(), row.body.as_str(), row.version), ("Their plan", "my body, on their plan", 3));
    assert_eq!(mine.state(extra), Some(ObjectState::Persistent));
}

#[tokio::test]
async fn a_stale_delete_fails_and_deletes_nothing() {
    let db = setup().await;
    let engine = db.engine();
    let id = committed(engine, "Plan").await;

    let mut mine = engine.session();
    let doc = mine.get::<Document>(id).await.unwrap().unwrap();
    let mut theirs = engine.session();
    let their_doc = theirs.get::<Document>(id).await.unwrap().unwrap();
    theirs[their_doc].body = "they kept working on it".into();
    theirs.commit().await.unwrap();

    mine.delete(doc).unwrap();
    let err = mine.commit().await.unwrap_err();
    assert!(is_stale(&err, "delete"), "{err}");
    assert_eq!(stored(engine, id).await.unwrap().body, "they kept working on it");
    assert_eq!(mine.state(doc), Some(ObjectState::Deleted), "still marked for deletion");

    // Having seen their version, the delete goes through.
    mine.refresh(doc).await.unwrap();
    mine.commit().await.unwrap();
    assert_eq!(stored(engine, id).await, None);
}

#[tokio::test]
async fn versioned_rows_are_deleted_in_one_statement_checking_the_version_they_were_loaded_with() {
    let db = setup().await;
    let engine = db.engine();
    let (a, b) = (committed(engine, "A").await, committed(engine, "B").await);
    let mut session = engine.session();
    let (doc_a, doc_b) =
        (session.get::<Document>(a).await.unwrap().unwrap(), session.get::<Document>(b).await.unwrap().unwrap());
    // A change not flushed yet: the DELETE checks the version as loaded.
    session[doc_a].version = 7;
    session.delete(doc_a).unwrap();
    session.delete(doc_b).unwrap();
    let (trips, result) = statements_during(engine, session.commit()).await;
    result.unwrap();
    assert_eq!(trips, 2, "one DELETE for both versioned rows (BEGIN sent with it), COMMIT");
    assert_eq!(engine.session().query::<Document>().count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_failure_after_the_update_puts_the_old_version_back_for_the_retry() {
    let db = setup().await;
    let engine = db.engine();
    let (a, b) = (committed(engine, "A").await, committed(engine, "B").await);
    let mut mine = engine.session();
    let doc_a = mine.get::<Document>(a).await.unwrap().unwrap();
    let doc_b = mine.get::<Document>(b).await.unwrap().unwrap();
    let mut theirs = engine.session();
    let their_b = theirs.get::<Document>(b).await.unwrap().unwrap();
    theirs[their_b].body = "changed".into();
    theirs.commit().await.unwrap();

    // The UPDATE of `a` succeeds (and sets its version to 2); the DELETE of
    // `b`, which comes after it, is stale and rolls everything back.
    mine[doc_a].body = "edited".into();
    mine.delete(doc_b).unwrap();
    let err = mine.commit().await.unwrap_err();
    assert!(is_stale(&err, "delete"), "{err}");
    assert_eq!(stored(engine, a).await.unwrap().version, 1);
    assert_eq!(
        (mine[doc_a].body.as_str(), mine[doc_a].version),
        ("edited", 1),
        "the change stays, the version goes back"
    );

    mine.refresh(doc_b).await.unwrap();
    mine.commit().await.unwrap();
    assert_eq!(mine[doc_a].version, 2);
    let row = stored(engine, a).await.unwrap();
    assert_eq!((row.body.as_str(), row.version), ("edited", 2));
    assert_eq!(stored(engine, b).await, None);
}

#[tokio::test]
async fn rolling_back_gives_the_loaded_version_back() {
    let db = setup().await;
    let engine = db.engine();
    let id = committed(engine, "Plan").await;
    let mut session = engine.session();
    let doc = session.get::<Document>(id).await.unwrap().unwrap();
    session[doc].body = "edited".into();
    session.flush().await.unwrap();
    assert_eq!(session[doc].version, 2);
    session.rollback().await.unwrap();
    assert_eq!((session[doc].body.as_str(), session[doc].version), ("draft", 1));
    session[doc].body = "edited again".into();
    session.commit().await.unwrap();
    assert_eq!(stored(engine, id).await.unwrap().version, 2);
}

#[tokio::test]
async fn changed_rows_are_updated_in_one_statement_and_stale_ones_are_named() {
    let db = setup().await;
    let engine = db.engine();
    let ids = [committed(engine, "A").await, committed(engine, "B").await, committed(engine, "C").await];
    let mut mine = engine.session();
    let mut docs = Vec::new();
    for id in ids {
        docs.push(mine.get::<Document>(id).await.unwrap().unwrap());
    }
    for &doc in &docs {
        mine[doc].body.push('!');
    }
    let (trips, result) = statements_during(engine, mine.commit()).await;
    result.unwrap();
    assert_eq!(trips, 2, "one UPDATE for the three rows (BEGIN sent with it), COMMIT");
    assert!(docs.iter().all(|&d| mine[d].version == 2), "every version bumped");

    // Someone else changes B and C: both are named.
    let mut theirs = engine.session();
    for id in &ids[1..] {
        let doc = theirs.get::<Document>(*id).await.unwrap().unwrap();
        theirs[doc].body = "theirs".into();
    }
    theirs.commit().await.unwrap();
    for &doc in &docs {
        mine[doc].body.push('?');
    }
    let error = mine.commit().await.unwrap_err();
    match &error {
        Error::StaleData { expected: 3, matched: 1, keys, .. } => {
            assert_eq!(keys, &[ids[1].to_string(), ids[2].to_string()]);
        }
        other => panic!("expected StaleData, got {other:?}"),
    }
    assert!(error.to_string().contains(&format!("stale keys: {}, {}", ids[1], ids[2])), "{error}");
    assert_eq!(stored(engine, ids[0]).await.map(|d| d.version), Some(2), "nothing of the batch was written");
}

#[tokio::test]
async fn merging_an_out_of_date_object_is_stale_data() {
    let db = setup().await;
    let engine = db.engine();
    let id = committed(engine, "A").await;
    let old = stored(engine, id).await.unwrap();
    let mut theirs = engine.session();
    let doc = theirs.get::<Document>(id).await.unwrap().unwrap();
    theirs[doc].body = "newer".into();
    theirs.commit().await.unwrap();

    let mut mine = engine.session();
    let error = mine.merge(old).await.unwrap_err();
    assert!(matches!(error, Error::StaleData { action: "merge", .. }), "{error:?}");
    assert_eq!(stored(engine, id).await.unwrap().body, "newer");
}

/// A versioned row holding floats.
#[derive(Model, Debug)]
#[orm(table = "readings")]
pub(crate) struct Reading {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) value: f64,
    pub(crate) low: f32,
    #[orm(version)]
    pub(crate) version: i32,
}

#[orm::test(Reading)]
async fn floats_change_by_their_bits_an_unchanged_nan_writes_nothing_and_negative_zero_is_written(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    let nan = s.add(Reading::new(f64::NAN, f32::NAN));
    let zero = s.add(Reading::new(0.0, 0.0));
    s.commit().await.unwrap();

    let mut other = engine.session();
    let loaded = other.query::<Reading>().order_by(Reading::id.asc()).all().await.unwrap();
    let (statements, flushed) = statements_during(engine, other.flush()).await;
    flushed.unwrap();
    assert_eq!(statements, 0, "a NaN read back is unchanged: no UPDATE");
    assert_eq!(other[loaded[0]].version, 1);

    s[zero].value = -0.0;
    s[zero].low = -0.0;
    s.commit().await.unwrap();
    assert_eq!(s[zero].version, 2, "0.0 -> -0.0 is a change");
    let stored: Vec<(f64, f32)> =
        engine.session().select((Reading::value, Reading::low)).filter(Reading::id.eq(s[zero].id)).all().await.unwrap();
    assert!(stored[0].0.is_sign_negative() && stored[0].1.is_sign_negative(), "{stored:?}");
    assert!(s[nan].value.is_nan());
}
