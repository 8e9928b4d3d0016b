//! Atomic commits, constraint errors, rollback, and the session after a failure.

use std::time::Duration;

use orm::prelude::*;
use orm::{Connection, ObjectState};

use crate::common::{flush_dropped_at_every_poll, person, setup, statements_during, Address, Membership, Person};

#[tokio::test]
async fn a_failing_commit_writes_nothing_and_names_model_and_constraint() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    session.add(person("Ada", None));
    session.commit().await.unwrap();

    let bob = session.add(person("Bob", None));
    let dup = session.add(person("Ada", None));
    session.record_statements();
    let err = session.commit().await.unwrap_err();
    let sent = session.recorded_statements();
    let verbs: Vec<&str> = sent.iter().filter_map(|s| s.split_whitespace().next()).collect();
    // The INSERT of two rows reads their keys back as arrays: `WITH .. AS (INSERT ..)`.
    assert_eq!(verbs, ["BEGIN", "WITH", "COMMIT", "ROLLBACK"], "COMMIT went out with the INSERT");
    assert!(err.is_unique_violation(), "{err}");
    assert_eq!(err.constraint(), Some("people_name_key"));
    let db_error = err.db_error().unwrap();
    assert_eq!(db_error.model, Some("Person"));
    assert_eq!(db_error.table.as_deref(), Some("people"));
    let message = err.to_string();
    assert!(message.contains("Person") && message.contains("people_name_key"), "{message}");

    // Nothing of the failed commit reached the database.
    let mut other = engine.session();
    assert_eq!(other.query::<Person>().count().await.unwrap(), 1);

    // The session is usable: both objects are pending again; fix and retry.
    assert!(!session.in_transaction());
    assert_eq!(session.state(bob), Some(ObjectState::Pending));
    assert_eq!(session.state(dup), Some(ObjectState::Pending));
    // The INSERT borrowed their values and gave them back.
    assert_eq!((session[bob].name.as_str(), session[dup].name.as_str()), ("Bob", "Ada"));
    session[dup].name = "Ada II".into();
    session.commit().await.unwrap();
    assert_eq!(other.query::<Person>().count().await.unwrap(), 3);
}

#[tokio::test]
async fn a_commit_refused_after_the_insert_it_went_out_with_rolls_the_insert_back() {
    let db = setup().await;
    let engine = db.engine();
    let mut admin = engine.session();
    admin
        .execute("ALTER TABLE addresses ALTER CONSTRAINT addresses_person_id_fkey DEFERRABLE INITIALLY DEFERRED", ())
        .await
        .unwrap();
    admin.commit().await.unwrap();

    // The INSERT succeeds; the deferred foreign key fails the COMMIT that
    // went out with it, in the same round trip.
    let mut session = engine.session();
    let orphan = session.add(Address::new(404, "Nowhere"));
    let (trips, result) = statements_during(engine, session.commit()).await;
    assert_eq!(trips, 2, "the INSERT, with BEGIN and COMMIT sent with it; then a ROLLBACK");
    let err = result.unwrap_err();
    assert!(matches!(err, Error::ForeignKeyViolation(_)), "{err:?}");
    assert!(!session.in_transaction());
    assert_eq!(session.state(orphan), Some(ObjectState::Pending), "pending again, for a retry");
    assert_eq!(engine.session().query::<Address>().count().await.unwrap(), 0);

    let mut other = engine.session();
    let ada = other.add(person("Ada", None));
    other.commit().await.unwrap();
    session[orphan].person_id = other[ada].id;
    session.commit().await.expect("the fixed object is written");
    assert_eq!(engine.session().query::<Address>().count().await.unwrap(), 1);
}

#[tokio::test]
async fn a_commit_deferred_to_a_statement_that_fails_before_it_is_sent_does_not_go_out() {
    let db = orm::testing::TestDb::new().await.unwrap();
    let engine = db.engine();
    let mut admin = engine.connect().await.unwrap();
    admin.batch_execute("CREATE TABLE numbers (n int)").await.unwrap();
    let mut conn = engine.connect().await.unwrap();
    assert!(conn.defer_begin());
    conn.execute("INSERT INTO numbers VALUES (1)", &[]).await.unwrap();
    assert!(conn.defer_commit());
    // An element of another type: refused while encoding, before sending.
    let mixed = orm::Value::Array(orm::SqlType::Integer, vec![orm::Value::I32(2), orm::Value::Text("two".into())]);
    let error = conn.execute("INSERT INTO numbers SELECT unnest($1::int4[])", &[mixed]).await.unwrap_err();
    assert!(error.db_error().is_none(), "{error:?}");
    assert!(conn.cancel_deferred_commit(), "COMMIT is still waiting, not sent");
    // Had COMMIT gone out, the first row would be committed now.
    let rows = admin.query("SELECT count(*) FROM numbers", &[]).await.unwrap();
    assert_eq!(rows.values, [orm::Value::I64(0)]);
    conn.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn an_object_inserted_then_updated_in_a_failed_transaction_is_inserted_whole_at_the_retry() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let cy = session.add(person("Cy", Some(1)));
    session.flush().await.unwrap();
    session[cy].height = Some(2);
    session.flush().await.unwrap();

    // A failed statement rolls back the INSERT and the UPDATE with it.
    session.execute("SELECT 1 / 0", ()).await.unwrap_err();
    assert_eq!(session.state(cy), Some(ObjectState::Pending));
    session.commit().await.expect("one INSERT of the object as it is, no UPDATE of its lost row");
    let mut other = engine.session();
    let stored = other.get::<Person>(session[cy].id).await.unwrap().unwrap();
    assert_eq!(other[stored].height, Some(2));
}

#[tokio::test]
async fn everything_flushed_earlier_in_a_failed_transaction_is_undone_too() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let ada = session.add(person("Ada", Some(1)));
    session.commit().await.unwrap();

    session[ada].height = Some(2);
    let cy = session.add(person("Cy", None));
    session.flush().await.unwrap();
    assert_eq!(session.state(cy), Some(ObjectState::Persistent));
    assert_ne!(session[cy].id, 0, "the INSERT gave it its key");

    session.add(person("Cy", None));
    assert!(session.commit().await.unwrap_err().is_unique_violation());
    // The earlier flush was rolled back with the transaction; in memory the
    // changes are pending again, so the next commit writes them.
    assert_eq!(session.state(cy), Some(ObjectState::Pending));
    assert_eq!(session[cy].id, 0, "the key left with the row that was rolled back");
    let mut other = engine.session();
    let loaded = other.get::<Person>(session[ada].id).await.unwrap().unwrap();
    assert_eq!(other[loaded].height, Some(1));
    assert_eq!(other.query::<Person>().count().await.unwrap(), 1);
}

/// An object inserted and then deleted in a transaction that fails: undone,
/// it was never inserted, and its deletion leaves it out of the retry
/// (it came back as pending, and the retry wrote the deleted row).
#[tokio::test]
async fn an_object_inserted_then_deleted_in_a_failed_transaction_stays_deleted() {
    for deletion_flushed in [false, true] {
        let db = setup().await;
        let engine = db.engine();
        let mut session = engine.session();
        let gone = session.add(person("Gone", None));
        session.flush().await.unwrap();
        session.delete(gone).unwrap();
        if deletion_flushed {
            session.flush().await.unwrap();
        }
        session.add(person("Ada", None));
        let twin = session.add(person("Ada", None));
        assert!(session.commit().await.unwrap_err().is_unique_violation());
        assert_eq!(session.state(gone), Some(ObjectState::Detached), "deletion flushed: {deletion_flushed}");

        session[twin].name = "Bea".into();
        session.commit().await.unwrap();
        let names = engine.session().select(Person::name).order_by(Person::name.asc()).all().await.unwrap();
        assert_eq!(names, ["Ada", "Bea"], "deletion flushed: {deletion_flushed}");
        // Nothing left to write: a read opens no transaction.
        session.query::<Person>().count().await.unwrap();
        assert!(!session.in_transaction(), "deletion flushed: {deletion_flushed}");
    }
}

#[tokio::test]
async fn foreign_key_and_not_null_violations_are_their_own_variants() {
    let db = setup().await;
    let mut session = db.engine().session();
    session.add(Address::new(12345, "Nowhere"));
    let err = session.commit().await.unwrap_err();
    assert!(matches!(err, Error::ForeignKeyViolation(_)), "{err}");
    assert_eq!(err.constraint(), Some("addresses_person_id_fkey"));
    assert_eq!(err.db_error().and_then(|e| e.model), Some("Address"));
    session.rollback().await.unwrap();

    let mut conn = db.engine().connect().await.unwrap();
    let err = conn.batch_execute("INSERT INTO people (name, date_of_birth) VALUES (NULL, now())").await.unwrap_err();
    assert!(matches!(err, Error::NotNullViolation(_)), "{err}");
    conn.batch_execute("ALTER TABLE people ADD CONSTRAINT tall CHECK (height > 100)").await.unwrap();
    session.add(person("Tiny", Some(5)));
    let err = session.commit().await.unwrap_err();
    assert!(matches!(err, Error::CheckViolation(_)), "{err}");
    assert_eq!(err.constraint(), Some("tall"));
}

#[tokio::test]
async fn parents_are_inserted_before_children_in_one_flush() {
    let db = setup().await;
    let mut session = db.engine().session();
    let ada = session.add(person("Ada", None));
    session.flush().await.unwrap();
    // Children added first, parent row of the second added after: the flush
    // still orders people before addresses.
    session.add(Address::new(session[ada].id, "Paris"));
    let bob = session.add(person("Bob", None));
    session.commit().await.unwrap();
    assert!(session[bob].id > 0);
    assert_eq!(session.query::<Address>().count().await.unwrap(), 1);
}

#[tokio::test]
async fn rollback_discards_every_uncommitted_change() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let ada = session.add(person("Ada", Some(170)));
    let bob = session.add(person("Bob", Some(180)));
    session.commit().await.unwrap();

    session[ada].height = Some(1);
    session.delete(bob).unwrap();
    let cy = session.add(person("Cy", None));
    session.flush().await.unwrap();
    session.rollback().await.unwrap();

    assert_eq!(session[ada].height, Some(170), "changed fields get their loaded values back");
    assert_eq!(session.state(bob), Some(ObjectState::Persistent), "deletion cancelled");
    assert!(session.object(cy).is_none(), "new objects leave the session");
    assert!(!session.has_changes());
    let mut other = engine.session();
    assert_eq!(other.query::<Person>().count().await.unwrap(), 2);
}

#[tokio::test]
async fn dropping_a_session_rolls_its_transaction_back() {
    let db = setup().await;
    let engine = db.engine();
    {
        let mut session = engine.session();
        session.add(person("Ada", None));
        session.flush().await.unwrap();
    }
    let mut other = engine.session();
    assert_eq!(other.query::<Person>().count().await.unwrap(), 0);
    other.rollback().await.unwrap();
    // The abandoned connection holds no lock: a DDL statement goes through.
    let mut conn = engine.connect().await.unwrap();
    conn.batch_execute("SET lock_timeout = '2s'; ALTER TABLE people ADD COLUMN extra int").await.unwrap();
}

#[tokio::test]
async fn a_concurrently_deleted_row_is_stale_data_not_a_silent_no_op() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let ada = session.add(person("Ada", None));
    session.commit().await.unwrap();

    let mut other = engine.session();
    let theirs = other.get::<Person>(session[ada].id).await.unwrap().unwrap();
    other.delete(theirs).unwrap();
    other.commit().await.unwrap();

    session[ada].height = Some(3);
    let err = session.commit().await.unwrap_err();
    assert!(
        matches!(err, Error::StaleData { model: "Person", action: "update", expected: 1, matched: 0, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_read_only_session_opens_no_transaction_and_frees_its_connection_when_dropped() {
    let db = setup().await;
    let engine = Engine::builder(db.url())
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    {
        let mut reader = engine.session();
        assert_eq!(reader.query::<Person>().count().await.unwrap(), 0);
        assert!(!reader.in_transaction());
        assert_eq!(engine.pool_status().idle, 0, "the session holds its connection while it lives");
    }
    assert_eq!(engine.pool_status().idle, 1, "handed back at once, no rollback needed");
    let mut writer = engine.session();
    writer.add(person("Ada", None));
    writer.flush().await.unwrap();
    assert!(writer.in_transaction());
    writer.commit().await.unwrap();
    assert!(!writer.in_transaction());
    assert_eq!(engine.pool_status().idle, 1, "commit hands the connection back");
}

#[tokio::test]
async fn rolling_back_to_a_savepoint_undoes_what_came_after_it_in_memory_too() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let ada = session.add(person("Ada", Some(170)));
    let outer = session.begin_nested().await.unwrap();
    assert_eq!(session.state(ada), Some(ObjectState::Persistent), "begin_nested flushes first");

    let inner = session.begin_nested().await.unwrap();
    session[ada].height = Some(1);
    let bob = session.add(person("Bob", None));
    session.flush().await.unwrap();
    let cy = session.add(person("Cy", None));
    session.rollback_to(inner).await.unwrap();
    assert_eq!(session[ada].height, Some(170), "the value at the savepoint");
    assert!(session.object(bob).is_none() && session.object(cy).is_none(), "added after it: gone");
    assert!(matches!(session.release(inner).await, Err(Error::SavepointClosed)), "ended by rollback_to");

    let dee = session.add(person("Dee", None));
    session.release(outer).await.unwrap();
    session.commit().await.unwrap();
    let mut other = engine.session();
    let names: Vec<String> = {
        let all = other.query::<Person>().order_by(Person::name.asc()).all().await.unwrap();
        all.into_iter().map(|h| other[h].name.clone()).collect()
    };
    assert_eq!(names, ["Ada", "Dee"]);
    assert_eq!(other.query::<Person>().filter(Person::height.eq(170)).count().await.unwrap(), 1);
    assert_eq!(session.state(dee), Some(ObjectState::Persistent));
}

#[tokio::test]
async fn savepoints_nest_and_an_outer_rollback_undoes_released_inner_ones() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    session.add(person("Ada", None));
    let outer = session.begin_nested().await.unwrap();
    let inner = session.begin_nested().await.unwrap();
    let bob = session.add(person("Bob", None));
    session.release(inner).await.unwrap();
    assert_eq!(session.state(bob), Some(ObjectState::Persistent));
    session.rollback_to(outer).await.unwrap();
    assert!(session.object(bob).is_none());
    session.commit().await.unwrap();
    assert_eq!(engine.session().query::<Person>().count().await.unwrap(), 1);
}

#[tokio::test]
async fn a_flush_dropped_half_way_loses_nothing() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let ada = session.add(person("Ada", Some(1)));
    session.commit().await.unwrap();
    session[ada].height = Some(2);
    for i in 0..20_000 {
        session.add(person(&format!("p{i}"), None));
    }
    // Dropped while the INSERT is under way.
    let dropped = tokio::time::timeout(Duration::from_millis(1), session.flush()).await;
    assert!(dropped.is_err(), "the flush should still have been running");
    assert!(session.has_changes());
    session.commit().await.unwrap();
    let mut other = engine.session();
    assert_eq!(other.query::<Person>().count().await.unwrap(), 20_001);
    assert_eq!(other.query::<Person>().filter(Person::height.eq(2)).count().await.unwrap(), 1);
}

#[tokio::test]
async fn an_insert_dropped_at_any_point_gives_the_objects_their_values_back() {
    flush_dropped_at_every_poll(100).await;
}

#[tokio::test]
async fn a_failed_create_all_leaves_no_broken_connection_in_the_pool() {
    let db = setup().await;
    let engine = Engine::builder(db.url()).pool_size(1).build().unwrap();
    // addresses references people; without people in the database and in
    // the list, the DDL fails.
    engine.drop_all(&[Address::TABLE, Membership::TABLE, Person::TABLE]).await.unwrap();
    assert!(engine.create_all(&[Address::TABLE]).await.is_err());
    engine.create_all(&[Person::TABLE, Address::TABLE]).await.unwrap();
    assert_eq!(engine.session().query::<Person>().count().await.unwrap(), 0);
}

/// A connection from `Engine::connect` handed back with a transaction
/// failed, or open with a write in it: the next checkout ends it, so a
/// session neither fails on it nor commits the other user's write.
#[tokio::test]
async fn a_raw_connection_s_transaction_ends_before_the_pool_lends_it_again() {
    let db = setup().await;
    let engine = Engine::builder(db.url()).pool_size(1).max_overflow(0).build().unwrap();
    let mut conn = engine.connect().await.unwrap();
    assert!(conn.batch_execute("BEGIN; SELECT 1/0").await.is_err());
    drop(conn);
    assert_eq!(engine.session().query::<Person>().count().await.unwrap(), 0, "not 25P02");

    let mut conn = engine.connect().await.unwrap();
    conn.batch_execute("BEGIN; INSERT INTO people (name, date_of_birth) VALUES ('Left open', '1980-01-02')")
        .await
        .unwrap();
    drop(conn);
    let mut s = engine.session();
    s.add(person("Ada", None));
    s.commit().await.unwrap();
    let names = engine.session().select(Person::name).all().await.unwrap();
    assert_eq!(names, ["Ada"], "the write left open was rolled back, not committed with Ada");

    // The same with BEGIN sent along with the statement (`defer_begin`).
    let mut conn = engine.connect().await.unwrap();
    assert!(conn.defer_begin());
    conn.execute("INSERT INTO people (name, date_of_birth) VALUES ('Left open', '1980-01-02')", &[]).await.unwrap();
    drop(conn);
    let mut s = engine.session();
    s.add(person("Bea", None));
    s.commit().await.unwrap();
    let count = engine.session().query::<Person>().count().await.unwrap();
    assert_eq!(count, 2, "Ada and Bea; the write left open was rolled back");
}

#[tokio::test]
async fn deleting_an_object_whose_key_was_edited_is_refused() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let ada = session.add(person("Ada", None));
    let bob = session.add(person("Bob", None));
    session.commit().await.unwrap();
    let bob_id = session[bob].id;
    session[ada].id = bob_id;
    session.delete(ada).unwrap();
    let refused = session.commit().await;
    assert!(matches!(refused, Err(Error::KeyChanged { model: "Person", field: "id" })), "{refused:?}");
    assert_eq!(engine.session().query::<Person>().count().await.unwrap(), 2, "Bob's row was not deleted");
}

#[tokio::test]
async fn a_failure_inside_a_savepoint_rolls_back_to_it_and_the_outer_work_survives() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = with_ada_committed(engine).await;
    let bob = session.add(person("Bob", None));
    session.flush().await.unwrap();
    let savepoint = session.begin_nested().await.unwrap();
    let cy = session.add(person("Cy", None));
    session.flush().await.unwrap();
    let twin = session.add(person("Ada", None));
    let error = session.flush().await.unwrap_err();
    assert!(error.is_unique_violation(), "{error:?}");
    assert!(session.in_transaction(), "the outer transaction survives");
    assert_eq!(session.state(bob), Some(ObjectState::Persistent), "work before the savepoint stays");
    assert_eq!(session.state(cy), Some(ObjectState::Pending), "work after it is pending again");
    assert_eq!(session.state(twin), Some(ObjectState::Pending), "the object that failed stays to be fixed");

    session[twin].name = "Dee".into();
    session.release(savepoint).await.unwrap();
    session.commit().await.unwrap();
    let names = stored_names(engine).await;
    assert_eq!(names, ["Ada", "Bob", "Cy", "Dee"]);
}

#[tokio::test]
async fn after_a_failure_inside_a_savepoint_rollback_to_drops_only_its_work() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = with_ada_committed(engine).await;
    session.add(person("Bob", None));
    let savepoint = session.begin_nested().await.unwrap();
    let twin = session.add(person("Ada", None));
    assert!(session.flush().await.is_err());
    session.rollback_to(savepoint).await.unwrap();
    assert_eq!(session.state(twin), None, "gone with the savepoint");
    session.commit().await.unwrap();
    let names = stored_names(engine).await;
    assert_eq!(names, ["Ada", "Bob"]);
}

/// `begin_nested`'s contract: "A statement that fails while a savepoint is
/// open rolls back to that savepoint only: the work before it stays", also
/// when the failing flush is a commit's single INSERT, which therefore does
/// not carry COMMIT while a savepoint is open.
#[tokio::test]
async fn a_commit_whose_one_insert_fails_inside_a_savepoint_rolls_back_to_it_only() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = with_ada_committed(engine).await;
    let bob = session.add(person("Bob", None));
    session.flush().await.unwrap();
    let savepoint = session.begin_nested().await.unwrap();
    let twin = session.add(person("Ada", None));
    let error = session.commit().await.unwrap_err();
    assert!(error.is_unique_violation(), "{error:?}");
    assert!(session.in_transaction(), "the outer transaction survives, as for a flush");
    assert_eq!(session.state(bob), Some(ObjectState::Persistent), "work before the savepoint stays");
    assert_eq!(session.state(twin), Some(ObjectState::Pending));
    session.rollback_to(savepoint).await.expect("the savepoint is still open");
    session.commit().await.unwrap();
    let names = stored_names(engine).await;
    assert_eq!(names, ["Ada", "Bob"]);
}

/// A session of `engine` after Ada's row was committed: adding another
/// "Ada" then breaks the unique name.
async fn with_ada_committed(engine: &Engine) -> Session {
    let mut session = engine.session();
    session.add(person("Ada", None));
    session.commit().await.unwrap();
    session
}

/// The names `engine`'s database holds, sorted.
async fn stored_names(engine: &Engine) -> Vec<String> {
    let mut names: Vec<String> = engine.session().select(Person::name).all().await.unwrap();
    names.sort();
    names
}
