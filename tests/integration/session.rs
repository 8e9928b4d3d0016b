//! The Session: add, get, identity map, dirty tracking, delete, expunge, refresh.

use orm::prelude::*;
use orm::ObjectState;

use crate::common::{allocated_during, date, person, setup, statements_during, Address, Membership, Person};

#[tokio::test]
async fn add_and_commit_fills_generated_key_and_server_default() {
    let db = setup().await;
    let mut session = db.engine().session();
    let ada = session.add(person("Ada", Some(170)));
    assert_eq!(session.state(ada), Some(ObjectState::Pending));
    session.commit().await.unwrap();
    assert_eq!(session.state(ada), Some(ObjectState::Persistent));
    assert!(session[ada].id > 0);

    let home = session.add(Address::new(session[ada].id, "Paris"));
    assert_eq!(session[home].country, Defaulted::Unset);
    session.commit().await.unwrap();
    assert_eq!(session[home].country.get().map(String::as_str), Some("unknown"), "read back through RETURNING");
    assert!(session[home].id > 0);

    let mut other = db.engine().session();
    let loaded = other.get::<Person>(session[ada].id).await.unwrap().expect("row committed");
    assert_eq!(other[loaded], session[ada]);
}

/// A database, and a session that committed Ada: her handle too.
async fn ada_committed() -> (orm::testing::TestDb, orm::Session, Handle<Person>) {
    let db = setup().await;
    let mut session = db.engine().session();
    let ada = session.add(person("Ada", None));
    session.commit().await.unwrap();
    (db, session, ada)
}

/// An object marked for deletion, not flushed (autoflush off): `get`
/// answers `None` from the map, as `get_many` does, instead of reading the
/// row and handing back the deleted object.
#[tokio::test]
async fn get_of_an_object_marked_for_deletion_is_none_without_a_round_trip() {
    let (db, mut session, ada) = ada_committed().await;
    let engine = db.engine();
    let id = session[ada].id;
    session.set_autoflush(false);
    session.delete(ada).unwrap();
    let (trips, got) = statements_during(engine, session.get::<Person>(id)).await;
    assert_eq!((trips, got.unwrap()), (0, None));
    assert_eq!(session.get_many::<Person>([id]).await.unwrap(), [None]);
}

/// With autoflush on, `get` of a key marked for deletion lets its SELECT's
/// autoflush write the deletion: a `merge` of the row's values after a
/// `delete` then adds a new row after the old one is gone, instead of
/// colliding with it (the flush inserts before it deletes).
#[tokio::test]
async fn a_merge_after_a_delete_writes_the_deletion_first() {
    let (db, mut session, ada) = ada_committed().await;
    let mut again = person("Ada", None);
    again.id = session[ada].id;
    session.delete(ada).unwrap();
    let merged = session.merge(again).await.unwrap();
    session.commit().await.unwrap();
    assert_ne!(merged, ada);
    let names = db.engine().session().select(Person::name).all().await.unwrap();
    assert_eq!(names, ["Ada"]);
}

/// A change dropped by `expire` is gone from the object too: a later
/// change is diffed from the values last read, so the dropped one is not
/// kept in memory unwritten.
#[tokio::test]
async fn expire_drops_a_change_from_the_object_and_a_later_change_is_written_alone() {
    let (db, mut session, ada) = ada_committed().await;
    let engine = db.engine();
    session.set_autoflush(false);
    session[ada].name = "Renamed".into();
    session.expire(ada).unwrap();
    assert_eq!(session[ada].name, "Ada", "the change was dropped");
    session[ada].height = Some(170);
    session.query::<Person>().all().await.unwrap();
    session.commit().await.unwrap();
    assert_eq!(session[ada].name, "Ada");
    let mut other = engine.session();
    let stored = other.get::<Person>(session[ada].id).await.unwrap().unwrap();
    assert_eq!((other[stored].name.as_str(), other[stored].height), ("Ada", Some(170)));
}

#[tokio::test]
async fn get_of_a_loaded_key_makes_no_round_trip() {
    let (db, session, ada) = ada_committed().await;
    let engine = db.engine();
    let id = session[ada].id;

    let mut fresh = engine.session();
    let (first_trips, first) = statements_during(engine, fresh.get::<Person>(id)).await;
    assert!(first_trips >= 1);
    let (second_trips, second) = statements_during(engine, fresh.get::<Person>(id)).await;
    assert_eq!(second_trips, 0, "the identity map answers");
    assert_eq!(first.unwrap(), second.unwrap());
    assert_eq!(fresh.get::<Person>(id + 1000).await.unwrap(), None);
}

#[tokio::test]
async fn a_row_loaded_twice_is_one_object_and_pending_changes_survive() {
    let db = setup().await;
    let mut session = db.engine().session();
    session.add(person("Ada", Some(170)));
    session.add(person("Bob", Some(180)));
    session.commit().await.unwrap();

    let by_query = session.query::<Person>().filter(Person::name.eq("Ada")).one().await.unwrap();
    session[by_query].height = Some(171);
    session.set_autoflush(false);
    let all = session.query::<Person>().order_by(Person::name.asc()).all().await.unwrap();
    assert_eq!(all[0], by_query, "same handle for the same row");
    assert_eq!(session[all[0]].height, Some(171), "a reload does not overwrite pending changes");
}

/// A fresh session's first load leaves its ascending keys out of the map
/// until something asks for one: lookups, later loads, flushes and
/// deletions must all find those objects as if they had been entered.
#[tokio::test]
async fn the_objects_of_a_first_load_are_found_by_key_afterwards() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    session.add_all([person("Ada", None), person("Bob", None), person("Cy", None)]);
    session.commit().await.unwrap();

    let mut s = engine.session();
    let first = s.query::<Person>().order_by(Person::id.asc()).all().await.unwrap();
    let ids: Vec<i32> = first.iter().map(|&p| s[p].id).collect();
    let (trips, bob) = statements_during(engine, s.get::<Person>(ids[1])).await;
    assert_eq!((trips, bob.unwrap()), (0, Some(first[1])), "the identity map answers");

    s[first[0]].height = Some(150);
    s.set_autoflush(false);
    let again = s.query::<Person>().order_by(Person::id.desc()).all().await.unwrap();
    assert_eq!(again, [first[2], first[1], first[0]], "a later load finds the same objects");
    assert_eq!(s[first[0]].height, Some(150), "and keeps their pending changes");

    let dan = s.add(person("Dan", None));
    s.delete(first[2]).unwrap();
    s.commit().await.unwrap();
    let (trips, found) = statements_during(engine, s.get::<Person>(s[dan].id)).await;
    assert_eq!((trips, found.unwrap()), (0, Some(dan)), "a new object joins the map beside them");
    assert_eq!(s.get::<Person>(ids[2]).await.unwrap(), None, "a deleted one leaves it");

    let mut t = engine.session();
    let loaded = t.query::<Person>().order_by(Person::id.asc()).all().await.unwrap();
    t.add(person("Eve", None));
    let (trips, ada) = statements_during(engine, t.get::<Person>(ids[0])).await;
    assert_eq!((trips, ada.unwrap()), (0, Some(loaded[0])), "an object added after the load leaves them in the map");
}

/// The point of leaving a first load's keys out: a session that only
/// reads never builds its key map, and one that looks a key up builds it
/// then, once.
#[tokio::test]
async fn a_first_load_builds_its_key_map_only_when_a_key_is_looked_up() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    session.add_all((0..2_000).map(|i| person(&format!("person {i}"), None)));
    session.commit().await.unwrap();
    let ascending = || Person::id.asc();
    let descending = || Person::id.desc();
    // Each statement prepared once before anything is measured.
    for order in [ascending(), descending()] {
        engine.session().query::<Person>().order_by(order).all().await.unwrap();
    }

    // One session at a time, so that both run on the one connection that
    // has their statements prepared. The least of three loads each: the
    // connection task, which runs on this thread, grows its read buffer
    // now and then, as the rows happen to arrive.
    let (mut out_of_order, mut in_order) = (usize::MAX, usize::MAX);
    for _ in 0..3 {
        let mut merged = engine.session();
        let (bytes, _) = allocated_during(merged.query::<Person>().order_by(descending()).all()).await;
        out_of_order = out_of_order.min(bytes);
        drop(merged);
        let mut read = engine.session();
        let (bytes, _) = allocated_during(read.query::<Person>().order_by(ascending()).all()).await;
        in_order = in_order.min(bytes);
    }
    let mut read = engine.session();
    let people = read.query::<Person>().order_by(ascending()).all().await.unwrap();
    // A key and a slot number per object, at the least.
    let map = 2_000 * 8;
    assert!(out_of_order >= in_order + map, "keys in order: {in_order} bytes; out of order: {out_of_order}");

    let id = read[people[0]].id;
    let (first_lookup, found) = allocated_during(read.get::<Person>(id)).await;
    assert_eq!(found.unwrap(), Some(people[0]));
    assert!(first_lookup >= map, "the first lookup builds the map: {first_lookup} bytes");
    let (second_lookup, _) = allocated_during(read.get::<Person>(id)).await;
    assert!(second_lookup < 1_000, "a second lookup finds it built: {second_lookup} bytes");
}

/// A rollback puts back in the map the keys of objects that a flush took
/// out, when a later load has left other keys out of it since.
#[tokio::test]
async fn a_rollback_after_a_second_first_load_restores_the_deleted_objects() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    session.add_all([person("Ada", None), person("Bob", None)]);
    session.commit().await.unwrap();

    let mut s = engine.session();
    let first = s.query::<Person>().order_by(Person::id.asc()).all().await.unwrap();
    let ada_id = s[first[0]].id;
    for &p in &first {
        s.delete(p).unwrap();
    }
    s.flush().await.unwrap();
    let sql = format!("INSERT INTO people (id, name, date_of_birth) VALUES ({ada_id}, 'Ada again', DATE '1980-01-02')");
    s.execute(&sql, ()).await.unwrap();
    // The map is empty again: this load leaves its key out too.
    let second = s.query::<Person>().order_by(Person::id.asc()).all().await.unwrap();
    assert_ne!(second[0], first[0]);
    s.rollback().await.unwrap();
    let (trips, found) = statements_during(engine, s.get::<Person>(ada_id)).await;
    assert_eq!((trips, found.unwrap()), (0, Some(first[0])), "the deleted object is back under its key");
    assert_eq!(s[first[0]].name, "Ada");
}

/// An object of a first load lent for writing is in the map under the key
/// it was loaded with, as any other, even if the write changes its key
/// field (which the next flush refuses).
#[tokio::test]
async fn a_first_load_object_changed_in_its_key_is_found_by_its_loaded_key() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    session.add(person("Ada", None));
    session.commit().await.unwrap();

    let mut s = engine.session();
    let ada = s.query::<Person>().one().await.unwrap();
    let id = s[ada].id;
    s[ada].id = id + 1000;
    let (trips, found) = statements_during(engine, s.get::<Person>(id)).await;
    assert_eq!((trips, found.unwrap()), (0, Some(ada)));
    assert!(matches!(s.commit().await, Err(orm::Error::KeyChanged { .. })));
}

/// Keys that repeat, next to each other or not, or that go down, end the
/// run of keys left out of the map: each key is still one object.
#[tokio::test]
async fn a_first_load_whose_keys_repeat_or_go_down_keeps_one_object_per_key() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    session.add_all([person("Ada", None), person("Bob", None)]);
    session.commit().await.unwrap();
    let ids: Vec<i32> = session
        .query::<Person>()
        .order_by(Person::id.asc())
        .all()
        .await
        .unwrap()
        .iter()
        .map(|&p| session[p].id)
        .collect();
    let (a, b) = (ids[0], ids[1]);

    let rows = |keys: [i32; 3]| {
        format!(
            "SELECT p.* FROM unnest(ARRAY[{}, {}, {}]) WITH ORDINALITY AS k (id, n) \
             JOIN people p ON p.id = k.id ORDER BY k.n",
            keys[0], keys[1], keys[2]
        )
    };
    for (keys, same) in [([a, a, b], (0, 1)), ([a, b, a], (0, 2)), ([b, a, b], (0, 2))] {
        let mut s = engine.session();
        let loaded = s.from_statement::<Person>(&rows(keys), ()).await.unwrap();
        let ids: Vec<i32> = loaded.iter().map(|&p| s[p].id).collect();
        assert_eq!(ids, keys);
        assert_eq!(loaded[same.0], loaded[same.1], "{keys:?}: one object for the repeated key");
        let other = loaded.iter().find(|&&p| p != loaded[same.0]).copied().unwrap();
        let (trips, found) = statements_during(engine, s.get::<Person>(s[other].id)).await;
        assert_eq!((trips, found.unwrap()), (0, Some(other)), "{keys:?}: every key in the map");
    }
}

#[tokio::test]
async fn update_sends_only_changed_columns_and_nothing_for_unchanged_objects() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let ada = session.add(person("Ada", Some(170)));
    session.commit().await.unwrap();

    // Borrowing mutably without changing anything sends no UPDATE.
    let _ = &mut session[ada];
    let (trips, result) = statements_during(engine, session.commit()).await;
    result.unwrap();
    assert_eq!(trips, 0);

    // Another session changes the name; ours changes only the height. An
    // UPDATE of every column would overwrite the other session's name.
    let mut other = engine.session();
    let theirs = other.get::<Person>(session[ada].id).await.unwrap().unwrap();
    other[theirs].name = "Ada Lovelace".into();
    other.commit().await.unwrap();

    session[ada].height = Some(172);
    let (trips, result) = statements_during(engine, session.commit()).await;
    result.unwrap();
    assert_eq!(trips, 2, "one UPDATE (BEGIN sent with it), COMMIT");

    let mut check = engine.session();
    let row = check.get::<Person>(session[ada].id).await.unwrap().unwrap();
    assert_eq!(check[row].name, "Ada Lovelace");
    assert_eq!(check[row].height, Some(172));
}

#[tokio::test]
async fn many_new_rows_of_one_table_are_one_insert() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let handles: Vec<_> = (0..250).map(|i| session.add(person(&format!("p{i}"), Some(i)))).collect();
    let (trips, result) = statements_during(engine, session.commit()).await;
    result.unwrap();
    assert_eq!(trips, 1, "one INSERT .. RETURNING, BEGIN and COMMIT sent with it");
    let ids: Vec<i32> = handles.iter().map(|&h| session[h].id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "keys come back in insertion order");
    let (trips, found) = statements_during(engine, async {
        let mut found = Vec::new();
        for &id in &ids {
            found.push(session.get::<Person>(id).await.unwrap());
        }
        found
    })
    .await;
    assert_eq!(trips, 0, "every new key is in the identity map");
    assert_eq!(found, handles.into_iter().map(Some).collect::<Vec<_>>());
    assert_eq!(session.query::<Person>().count().await.unwrap(), 250);
}

#[tokio::test]
async fn a_flush_beyond_the_parameter_limit_still_works() {
    let db = setup().await;
    let mut session = db.engine().session();
    // 5 columns per row: 20,000 rows need 100,000 parameters.
    for i in 0..20_000 {
        session.add(person(&format!("p{i}"), Some(i)));
    }
    session.commit().await.unwrap();
    assert_eq!(session.query::<Person>().count().await.unwrap(), 20_000);
}

#[tokio::test]
async fn delete_removes_the_row_and_leaves_the_identity_map() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let ada = session.add(person("Ada", None));
    let bob = session.add(person("Bob", None));
    session.commit().await.unwrap();
    let (ada_id, bob_id) = (session[ada].id, session[bob].id);

    session.delete(ada).unwrap();
    session.delete(bob).unwrap();
    assert_eq!(session.state(ada), Some(ObjectState::Deleted));
    assert_eq!(session.get::<Person>(ada_id).await.unwrap(), None, "autoflushed before the SELECT");
    session.commit().await.unwrap();
    assert_eq!(session.state(ada), Some(ObjectState::Detached));
    assert_eq!(session[bob].name, "Bob", "a deleted object stays readable");

    let mut other = engine.session();
    assert_eq!(other.get::<Person>(bob_id).await.unwrap(), None);

    // Deleting a pending object just forgets it.
    let never = session.add(person("Never", None));
    session.delete(never).unwrap();
    session.commit().await.unwrap();
    assert_eq!(session.query::<Person>().count().await.unwrap(), 0);
}

#[tokio::test]
async fn composite_keys_insert_get_update_and_delete() {
    let db = setup().await;
    let mut session = db.engine().session();
    let ada = session.add(person("Ada", None));
    session.flush().await.unwrap();
    let id = session[ada].id;
    let chess = session.add(Membership::new(id, "chess", 2001));
    session.add(Membership::new(id, "go", 2005));
    session.commit().await.unwrap();

    let mut other = db.engine().session();
    let loaded = other.get::<Membership>((id, "chess".to_string())).await.unwrap().unwrap();
    assert_eq!(other[loaded].since, 2001);
    assert_eq!(other[loaded].note, "", "skipped fields get their default");
    other[loaded].since = 2002;
    other.commit().await.unwrap();

    session.refresh(chess).await.unwrap();
    assert_eq!(session[chess].since, 2002);
    session.delete(chess).unwrap();
    session.commit().await.unwrap();
    assert_eq!(session.query::<Membership>().count().await.unwrap(), 1);
}

#[tokio::test]
async fn refresh_discards_pending_changes() {
    let db = setup().await;
    let mut session = db.engine().session();
    let ada = session.add(person("Ada", Some(170)));
    session.commit().await.unwrap();
    session[ada].height = Some(1);
    session.refresh(ada).await.unwrap();
    assert_eq!(session[ada].height, Some(170));
    session.commit().await.unwrap();
    let mut other = db.engine().session();
    let row = other.get::<Person>(session[ada].id).await.unwrap().unwrap();
    assert_eq!(other[row].height, Some(170));
}

#[tokio::test]
async fn expunge_hands_the_object_back_and_forgets_it() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let ada = session.add(person("Ada", Some(170)));
    session.commit().await.unwrap();
    let id = session[ada].id;

    session[ada].height = Some(99);
    let owned: Person = session.expunge(ada).expect("tracked");
    assert_eq!(owned.height, Some(99));
    assert!(session.object(ada).is_none());
    session.commit().await.unwrap();

    // The change was never written, and the next get loads a new object.
    let (trips, again) = statements_during(engine, session.get::<Person>(id)).await;
    assert!(trips >= 1);
    let again = again.unwrap().unwrap();
    assert_ne!(again, ada);
    assert_eq!(session[again].height, Some(170));
}

#[tokio::test]
async fn handles_of_another_session_are_refused() {
    let db = setup().await;
    let mut one = db.engine().session();
    let mut two = db.engine().session();
    let ada = one.add(person("Ada", None));
    two.add(person("Bob", None));
    assert!(two.object(ada).is_none());
    let foreign = two.delete(ada).unwrap_err();
    assert!(matches!(foreign, Error::ForeignHandle { model: "Person", .. }), "{foreign:?}");
    assert!(foreign.to_string().contains(&format!("not to this session ({})", two.id())), "{foreign}");
}

/// A nullable column with a server default: `None` takes the default,
/// `Some` is kept.
#[derive(Model, Debug)]
#[orm(table = "tickets")]
pub(crate) struct Ticket {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) title: String,
    #[orm(default = "'open'")]
    pub(crate) status: Option<String>,
}

#[tokio::test]
async fn a_nullable_column_with_a_default_takes_it_only_when_none() {
    let db = orm::testing::TestDb::new().await.unwrap();
    db.engine().create_all(&[Ticket::TABLE]).await.unwrap();
    let mut session = db.engine().session();
    let fresh = session.add(Ticket::new("fresh"));
    let closed = session.add(Ticket::new("closed"));
    session[closed].status = Some("closed".into());
    session.commit().await.unwrap();
    assert_eq!(session[fresh].status.as_deref(), Some("open"), "read back from the default");
    assert_eq!(session[closed].status.as_deref(), Some("closed"), "a value set in Rust is kept");
    let mut other = db.engine().session();
    let stored = other.get::<Ticket>(session[closed].id).await.unwrap().unwrap();
    assert_eq!(other[stored].status.as_deref(), Some("closed"));
}

/// An upsert reads nothing back, so it writes the `None` its object holds
/// as NULL: on the row it updates, and on a new row, instead of a default
/// the object would not show.
#[tokio::test]
async fn an_upsert_writes_none_to_a_nullable_column_with_a_default() {
    let db = orm::testing::TestDb::new().await.unwrap();
    db.engine().create_all(&[Ticket::TABLE]).await.unwrap();
    let mut s = db.engine().session();
    let closed = s.add(Ticket::new("closed"));
    s[closed].status = Some("closed".into());
    s.commit().await.unwrap();
    let id = s[closed].id;

    let mut other = db.engine().session();
    let mut reopened = Ticket::new("reopened");
    reopened.id = id;
    other.upsert(reopened).unwrap();
    let mut fresh = Ticket::new("fresh");
    fresh.id = id + 1;
    let fresh = other.upsert(fresh).unwrap();
    other.commit().await.unwrap();
    assert_eq!(other[fresh].status, None);
    let rows: Vec<(String, Option<String>)> =
        db.engine().session().select((Ticket::title, Ticket::status)).order_by(Ticket::id.asc()).all().await.unwrap();
    assert_eq!(rows, [("reopened".to_owned(), None), ("fresh".to_owned(), None)], "NULL, as the objects hold");
}

#[tokio::test]
#[should_panic(expected = "handle belongs to session")]
async fn indexing_with_another_sessions_handle_names_that_session() {
    let db = setup().await;
    let mut one = db.engine().session();
    let two = db.engine().session();
    let ada = one.add(person("Ada", None));
    let _ = &two[ada];
}

#[tokio::test]
async fn a_failed_autoflush_says_so_and_no_autoflush_reads_around_it() {
    let db = setup().await;
    let mut s = db.engine().session();
    s.add(person("Ada", None));
    s.commit().await.unwrap();
    let twin = s.add(person("Ada", None));
    let error = s.query::<Person>().count().await.unwrap_err();
    assert!(matches!(&error, Error::Autoflush(cause) if cause.is_unique_violation()), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("autoflush") && message.contains("Person"), "{message}");
    assert!(error.is_unique_violation() && error.constraint() == Some("people_name_key"));

    assert_eq!(s.no_autoflush().query::<Person>().count().await.unwrap(), 1, "the query runs without the flush");
    assert!(s.query::<Person>().count().await.is_err(), "autoflush is back once the guard is dropped");
    s.expunge(twin);
    assert_eq!(s.query::<Person>().count().await.unwrap(), 1);
}

#[tokio::test]
async fn add_all_inserts_every_object_in_one_statement() {
    let db = setup().await;
    let engine = db.engine();
    let mut s = engine.session();
    let people = s.add_all(["Ada", "Bob", "Cy"].map(|name| person(name, None)));
    let (statements, committed) = statements_during(engine, s.commit()).await;
    committed.unwrap();
    assert_eq!(statements, 1, "one INSERT, BEGIN and COMMIT sent with it");
    let names: Vec<&str> = people.iter().map(|&p| s[p].name.as_str()).collect();
    assert_eq!(names, ["Ada", "Bob", "Cy"]);
    assert!(people.iter().all(|&p| s.state(p) == Some(ObjectState::Persistent)));
}

#[tokio::test]
async fn an_expired_object_is_read_again_from_the_database() {
    let db = setup().await;
    let engine = db.engine();
    let mut s = engine.session();
    let ada = s.add(person("Ada", Some(150)));
    s.commit().await.unwrap();
    let id = s[ada].id;
    let mut other = engine.session();
    let theirs = other.get::<Person>(id).await.unwrap().unwrap();
    other[theirs].height = Some(160);
    other.commit().await.unwrap();

    let (trips, _) = statements_during(engine, s.get::<Person>(id)).await;
    assert_eq!((trips, s[ada].height), (0, Some(150)), "loaded: no round trip, the old value");
    s[ada].name = "Ada L.".into();
    s.expire(ada).unwrap();
    let (trips, found) = statements_during(engine, s.get::<Person>(id)).await;
    assert_eq!((trips, found.unwrap()), (1, Some(ada)), "expired: read again, same handle");
    assert_eq!((s[ada].height, s[ada].name.as_str()), (Some(160), "Ada"), "the row's values; the change dropped");
    assert!(!s.has_changes());

    s.set_expire_on_commit(true);
    other[theirs].height = Some(170);
    other.commit().await.unwrap();
    s.commit().await.unwrap();
    s.query::<Person>().all().await.unwrap();
    assert_eq!(s[ada].height, Some(170), "expired by the commit, refreshed by the query");
}

#[tokio::test]
async fn merge_copies_a_detached_object_onto_the_one_with_its_key() {
    let db = setup().await;
    let engine = db.engine();
    let mut s = engine.session();
    let ada = s.add(person("Ada", Some(150)));
    s.commit().await.unwrap();
    let mut detached = s.expunge(ada).unwrap();
    detached.height = Some(151);

    let mut other = engine.session();
    let merged = other.merge(detached).await.unwrap();
    assert_eq!(other[merged].height, Some(151));
    let new = other.merge(person("Bob", None)).await.unwrap();
    assert_eq!(other.state(new), Some(ObjectState::Pending), "no row with its key: added");
    other.commit().await.unwrap();
    let heights: Vec<Option<i32>> =
        engine.session().select(Person::height).order_by(Person::name.asc()).all().await.unwrap();
    assert_eq!(heights, [Some(151), None]);
}

/// A model whose hooks stamp and count.
#[derive(Model, Debug)]
#[orm(table = "notes", hooks)]
pub(crate) struct Note {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) body: String,
    pub(crate) revision: i32,
    #[orm(skip)]
    pub(crate) events: Vec<&'static str>,
}

/// How many `after_*` hooks ran (they read the object, so they count here).
static AFTER_HOOKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl orm::Hooks for Note {
    fn before_insert(&mut self) {
        self.body = self.body.trim().to_owned();
        self.events.push("before insert");
    }
    fn after_insert(&self) {
        assert!(self.id > 0, "the key is known after the insert");
        AFTER_HOOKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn before_update(&mut self) {
        self.revision += 1;
        self.events.push("before update");
    }
    fn after_update(&self) {
        AFTER_HOOKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn before_delete(&mut self) {
        self.events.push("before delete");
    }
}

#[tokio::test]
async fn hooks_run_inside_the_flush_and_their_changes_are_written() {
    let db = orm::testing::TestDb::new().await.expect("a test database");
    let engine = db.engine();
    engine.create_all(&[Note::TABLE]).await.unwrap();
    let mut s = engine.session();
    let note = s.add(Note::new("  hello  ", 0));
    s.commit().await.unwrap();
    assert_eq!(s[note].events, ["before insert"]);
    assert_eq!(AFTER_HOOKS.load(std::sync::atomic::Ordering::Relaxed), 1);
    s[note].body = "changed".into();
    s.commit().await.unwrap();
    assert_eq!(s[note].events[1..], ["before update"]);
    assert_eq!(AFTER_HOOKS.load(std::sync::atomic::Ordering::Relaxed), 2);
    let id = s[note].id;
    let stored: Vec<(String, i32)> =
        s.query_sql("SELECT body, revision FROM notes WHERE id = $1", (id,)).await.unwrap();
    assert_eq!(stored, [("changed".to_owned(), 1)], "the hook's change went out with the UPDATE");
    s.commit().await.unwrap();
    s.commit().await.unwrap();
    assert_eq!(s[note].events.len(), 2, "no hook without a change");
    s.delete(note).unwrap();
    s.commit().await.unwrap();
    assert_eq!(s.object(note).map(|n| n.events.last().copied()), Some(Some("before delete")));
}

/// A model that also derives `Default`, built by naming its fields.
#[derive(Model, Debug, Default)]
#[orm(table = "parcels")]
pub(crate) struct Parcel {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) sender: String,
    pub(crate) recipient: String,
    pub(crate) weight_grams: i32,
    pub(crate) fragile: bool,
    pub(crate) note: Option<String>,
}

#[tokio::test]
async fn a_model_deriving_default_is_built_with_a_struct_literal() {
    let db = orm::testing::TestDb::new().await.expect("a test database");
    let engine = db.engine();
    engine.create_all(&[Parcel::TABLE]).await.unwrap();
    let mut s = engine.session();
    let parcel =
        s.add(Parcel { sender: "Ada".into(), recipient: "Bob".into(), weight_grams: 1200, ..Default::default() });
    s.commit().await.unwrap();
    assert!(s[parcel].id > 0, "the key left at its default is generated");
    let stored: Vec<(String, bool, Option<String>)> =
        s.query_sql("SELECT recipient, fragile, note FROM parcels", ()).await.unwrap();
    assert_eq!(stored, [("Bob".to_owned(), false, None)]);
}

/// NOT NULL columns with server defaults, as `Defaulted` fields.
#[derive(Model, Debug)]
#[orm(table = "stock_items")]
pub(crate) struct StockItem {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) name: String,
    #[orm(default = "10")]
    pub(crate) quantity: Defaulted<i32>,
    #[orm(default = "true")]
    pub(crate) active: Defaulted<bool>,
    pub(crate) note: Option<String>,
}

/// A model declared by a `macro_rules!`: clippy then checks the derive's
/// output as the user's own code (CI runs it with `-D warnings` over the
/// tests), which a field initialized as `x: x` would fail.
macro_rules! declare_counter {
    () => {
        #[derive(Model, Debug)]
        #[orm(table = "counters")]
        pub(crate) struct Counter {
            #[orm(primary_key)]
            pub(crate) id: i32,
            pub(crate) count: i32,
            pub(crate) label: String,
        }
    };
}

declare_counter!();

#[tokio::test]
async fn a_model_declared_by_a_macro_is_built_and_stored() {
    let db = orm::testing::TestDb::new().await.unwrap();
    let engine = db.engine();
    engine.create_all(&[Counter::TABLE]).await.unwrap();
    let mut s = engine.session();
    s.add(Counter::builder().count(3).label("three").build());
    s.add(Counter::new(4, "four"));
    s.commit().await.unwrap();
    let stored: Vec<(i32, String)> =
        engine.session().select((Counter::count, Counter::label)).order_by(Counter::count.asc()).all().await.unwrap();
    assert_eq!(stored, [(3, "three".to_owned()), (4, "four".to_owned())]);
}

async fn stock_items() -> orm::testing::TestDb {
    let db = orm::testing::TestDb::new().await.unwrap();
    db.engine().create_all(&[StockItem::TABLE]).await.unwrap();
    db
}

#[tokio::test]
async fn a_value_set_before_insert_is_kept_and_an_unset_one_takes_the_server_default() {
    let db = stock_items().await;
    let engine = db.engine();
    let mut s = engine.session();
    let unset = s.add(StockItem::new("unset", None));
    // Set before `add`, to the Rust default of the type: still a value set.
    let mut zero = StockItem::new("zero", None);
    zero.quantity = 0.into();
    zero.active = false.into();
    let zero = s.add(zero);
    let built = s.add(StockItem::builder().name("built").quantity(3).build());
    let (statements, flushed) = statements_during(engine, s.flush()).await;
    flushed.unwrap();
    assert_eq!(statements, 1, "set and unset rows in one INSERT, BEGIN sent with it");
    let read = |s: &Session, h: Handle<StockItem>| (*s[h].quantity.get().unwrap(), *s[h].active.get().unwrap());
    assert_eq!(read(&s, unset), (10, true), "the defaults, read back");
    assert_eq!(read(&s, zero), (0, false), "the values set, kept");
    assert_eq!(read(&s, built), (3, true));
    s.commit().await.unwrap();

    let stored: Vec<(String, Defaulted<i32>, Defaulted<bool>)> = engine
        .session()
        .select((StockItem::name, StockItem::quantity, StockItem::active))
        .order_by(StockItem::name.asc())
        .all()
        .await
        .unwrap();
    let expected = [("built", 3, true), ("unset", 10, true), ("zero", 0, false)]
        .map(|(n, q, a)| (n.to_owned(), Defaulted::Set(q), Defaulted::Set(a)));
    assert_eq!(stored, expected);
    let low = engine.session().query::<StockItem>().filter(StockItem::quantity.lt(5)).count().await.unwrap();
    assert_eq!(low, 2, "a `Defaulted` column compares with plain values");
}

#[tokio::test]
async fn unset_on_a_persistent_object_resets_the_column_to_its_default() {
    let db = stock_items().await;
    let mut s = db.engine().session();
    let item = s.add(StockItem::builder().name("a").quantity(1).active(false).build());
    s.commit().await.unwrap();
    s[item].quantity = Defaulted::Unset;
    s[item].note = Some("restocked".into());
    s.commit().await.unwrap();
    assert_eq!(s[item].quantity, Defaulted::Set(10), "the default, read back by the UPDATE");
    assert_eq!(s[item].active, Defaulted::Set(false), "an unchanged column keeps its value");
    let mut other = db.engine().session();
    let stored = other.get::<StockItem>(s[item].id).await.unwrap().unwrap();
    assert_eq!((other[stored].quantity, other[stored].active), (Defaulted::Set(10), Defaulted::Set(false)));
}

#[tokio::test]
async fn merge_keeps_a_stored_value_where_the_detached_object_is_unset() {
    let db = stock_items().await;
    let mut s = db.engine().session();
    let item = s.add(StockItem::builder().name("a").quantity(4).build());
    s.commit().await.unwrap();
    let mut detached = StockItem::builder().name("renamed").build();
    detached.id = s[item].id;
    let mut other = db.engine().session();
    let merged = other.merge(detached).await.unwrap();
    other.commit().await.unwrap();
    assert_eq!((other[merged].name.as_str(), other[merged].quantity), ("renamed", Defaulted::Set(4)));
}

#[tokio::test]
async fn assert_statements_passes_a_block_within_its_budget_and_lists_what_it_sent() {
    let db = setup().await;
    let mut s = db.engine().session();
    s.add_all([person("Ada", None), person("Bob", None)]);
    let people = orm::assert_statements!(s, 3, { s.query::<Person>().all().await.unwrap() });
    assert_eq!(people.len(), 2);
    s.record_statements();
    s.commit().await.unwrap();
    let sent = s.recorded_statements();
    assert_eq!(sent, ["COMMIT"], "the autoflush wrote the rows already");
    assert!(s.recorded_statements().is_empty(), "recording stopped");
}

#[tokio::test]
#[should_panic(expected = "expected at most 1 statement(s), the block sent 3")]
async fn assert_statements_fails_an_n_plus_one_loop() {
    let db = setup().await;
    let mut s = db.engine().session();
    let ids: Vec<i32> = {
        let handles = s.add_all([person("Ada", None), person("Bob", None), person("Cy", None)]);
        s.commit().await.unwrap();
        handles.iter().map(|&h| s[h].id).collect()
    };
    let mut fresh = db.engine().session();
    orm::assert_statements!(fresh, 1, {
        for id in ids {
            fresh.get::<Person>(id).await.unwrap();
        }
    });
}

#[tokio::test]
async fn get_many_answers_loaded_keys_from_the_identity_map_and_the_rest_in_one_select() {
    let db = setup().await;
    let mut s = db.engine().session();
    let people = s.add_all(["Ada", "Bob", "Cy", "Di"].map(|n| person(n, None)));
    s.commit().await.unwrap();
    let ids: Vec<i32> = people.iter().map(|&h| s[h].id).collect();

    let mut other = db.engine().session();
    let ada = other.get::<Person>(ids[0]).await.unwrap().unwrap();
    let wanted = [ids[2], ids[0], 999_999, ids[1], ids[2]];
    other.record_statements();
    let found = other.get_many::<Person>(wanted).await.unwrap();
    assert_eq!(other.recorded_statements().len(), 1, "one SELECT for the keys not loaded");
    assert_eq!(found[1], Some(ada), "from the identity map");
    assert_eq!(found[2], None, "no such row");
    let names: Vec<Option<&str>> = found.iter().map(|h| h.map(|h| other[h].name.as_str())).collect();
    assert_eq!(names, [Some("Cy"), Some("Ada"), None, Some("Bob"), Some("Cy")]);
    assert_eq!(found[0], found[4], "one object per row");

    other.record_statements();
    let again = other.get_many::<Person>([ids[1], ids[2]]).await.unwrap();
    assert!(other.recorded_statements().is_empty(), "all loaded now: no round trip");
    assert_eq!(again, [found[3], found[0]]);

    // An expired object is read again; one whose row is gone is not found.
    let mut writer = db.engine().session();
    writer.execute("UPDATE people SET name = 'Bobby' WHERE id = $1", (ids[1],)).await.unwrap();
    writer.execute("DELETE FROM people WHERE id = $1", (ids[2],)).await.unwrap();
    writer.commit().await.unwrap();
    other.expire(found[3].unwrap()).unwrap();
    other.expire(found[0].unwrap()).unwrap();
    let refreshed = other.get_many::<Person>([ids[1], ids[2], ids[0]]).await.unwrap();
    assert_eq!(refreshed, [found[3], None, found[1]]);
    assert_eq!(other[found[3].unwrap()].name, "Bobby");

    let memberships = {
        let mut s = db.engine().session();
        let ms = s.add_all([Membership::new(ids[0], "chess", 1999), Membership::new(ids[1], "go", 2001)]);
        s.commit().await.unwrap();
        ms.iter().map(|&m| s[m].key()).collect::<Vec<_>>()
    };
    let mut third = db.engine().session();
    let keys = [memberships[1].clone(), (ids[3], "chess".to_owned()), memberships[0].clone()];
    let found = third.get_many::<Membership>(keys).await.unwrap();
    let clubs: Vec<Option<&str>> = found.iter().map(|h| h.map(|h| third[h].club.as_str())).collect();
    assert_eq!(clubs, [Some("go"), None, Some("chess")], "a composite key joins against its arrays");
}

#[tokio::test]
async fn an_upsert_leaves_an_unset_defaulted_column_to_the_row_or_its_default() {
    let db = stock_items().await;
    let mut s = db.engine().session();
    let item = s.add(StockItem::builder().name("a").quantity(42).build());
    s.commit().await.unwrap();
    let id = s[item].id;

    let mut other = db.engine().session();
    let mut again = StockItem::builder().name("renamed").build();
    again.id = id;
    other.upsert(again).unwrap();
    let mut fresh = StockItem::builder().name("new").active(false).build();
    fresh.id = id + 1;
    other.upsert(fresh).unwrap();
    other.commit().await.unwrap();
    let rows: Vec<(String, Defaulted<i32>, Defaulted<bool>)> = db
        .engine()
        .session()
        .select((StockItem::name, StockItem::quantity, StockItem::active))
        .order_by(StockItem::id.asc())
        .all()
        .await
        .unwrap();
    assert_eq!(rows[0], ("renamed".to_owned(), Defaulted::Set(42), Defaulted::Set(true)), "the row keeps its value");
    assert_eq!(rows[1], ("new".to_owned(), Defaulted::Set(10), Defaulted::Set(false)), "a new row takes the default");
}

/// `Person`'s table under a second model, as an application may map one
/// table twice (a narrower view of its rows).
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "people")]
struct Someone {
    #[orm(primary_key)]
    id: i32,
    name: String,
    date_of_birth: chrono::NaiveDate,
}

#[tokio::test]
async fn two_models_of_one_table_flushed_with_a_third_are_both_written() {
    let db = setup().await;
    let mut session = db.engine().session();
    let ada = session.add(person("Ada", None));
    session.commit().await.unwrap();
    // One flush writes three models, two of them on `people`: sorted by
    // their tables, each must still be written once.
    session.add(Someone::new("Grace", date(1906, 12, 9)));
    session.add(person("Alan", None));
    session.add(Address::new(session[ada].id, "London"));
    session.commit().await.unwrap();

    let mut fresh = db.engine().session();
    let people = fresh.query::<Person>().order_by(Person::name.asc()).all().await.unwrap();
    let names: Vec<&str> = people.iter().map(|&p| fresh[p].name.as_str()).collect();
    assert_eq!(names, ["Ada", "Alan", "Grace"]);
}
