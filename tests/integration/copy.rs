//! Large flushes: 3,000 or more new objects of a table whose only column
//! the database fills is its generated key are written with the keys
//! reserved in one query and one binary COPY; fewer, or a table that needs
//! more read back, with one INSERT.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use orm::prelude::*;
use orm::testing::TestDb;
use orm::{Connection, Many, ObjectState, One, Value};
use rust_decimal::Decimal;

use crate::common::{flush_dropped_at_every_poll, person, setup, statements_during, Person};
use crate::enums::{Format, Genre};

/// The fewest new objects a flush copies.
const THRESHOLD: usize = 3_000;

/// Every built-in column type, nullable and not, arrays and enums.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "copied")]
struct Copied {
    #[orm(primary_key)]
    id: i64,
    small: i16,
    int: i32,
    big: i64,
    real: f32,
    double: f64,
    flag: bool,
    text: String,
    #[orm(max_len = 8)]
    short_text: String,
    bytes: Vec<u8>,
    amount: Decimal,
    #[orm(precision = 10, scale = 2)]
    price: Decimal,
    day: NaiveDate,
    time: NaiveTime,
    stamp: NaiveDateTime,
    instant: DateTime<Utc>,
    doc: serde_json::Value,
    wrapped: orm::Json<Vec<String>>,
    uuid: uuid::Uuid,
    address: std::net::IpAddr,
    genre: Genre,
    format: Format,
    tags: Vec<String>,
    scores: Vec<Option<i32>>,
    genres: Vec<Genre>,
    maybe_int: Option<i32>,
    maybe_text: Option<String>,
    maybe_genre: Option<Genre>,
    maybe_flags: Option<Vec<bool>>,
}

/// Row `i`: values that differ from row to row, NULLs in every other row,
/// text beyond ASCII, edge values of each type.
fn copied(i: usize) -> Copied {
    let n = i as i64;
    let odd = i % 2 == 1;
    let day = NaiveDate::from_ymd_opt(if odd { -43 } else { 2024 }, 2, 28).unwrap();
    let time = NaiveTime::from_hms_micro_opt(23, 59, 58, (i % 1_000_000) as u32).unwrap();
    Copied {
        id: 0,
        small: if odd { i16::MIN } else { i16::MAX },
        int: i as i32 - 1_500,
        big: i64::MIN + n,
        real: if odd { f32::INFINITY } else { -0.0 },
        double: -2.25e300 + n as f64,
        flag: odd,
        text: format!("héllo, wörld ✓ \"{i}\"\\\t{{}}"),
        short_text: format!("{:>8}", i % 10_000),
        bytes: vec![0, 255, (i % 256) as u8],
        amount: Decimal::new(-123_456_789 - n, 4),
        price: Decimal::new(n, 2),
        day,
        time,
        stamp: day.and_time(time),
        instant: Utc.with_ymd_and_hms(2001, 9, 9, 1, 46, 40).unwrap() + chrono::TimeDelta::microseconds(n),
        doc: serde_json::json!({"row": i, "list": [1, null, "ü"]}),
        wrapped: orm::Json(vec![format!("w{i}"), "🦀".into()]),
        uuid: uuid::Uuid::from_u128(i as u128),
        address: if odd { "2001:db8::1".parse().unwrap() } else { "192.0.2.7".parse().unwrap() },
        genre: if odd { Genre::ScienceFiction } else { Genre::Drama },
        format: if odd { Format::Ebook } else { Format::Hardcover },
        tags: if odd { vec![] } else { vec!["a\"b".into(), "NULL".into(), "é,{}".into()] },
        scores: vec![Some(i as i32), None],
        genres: vec![Genre::Comedy, Genre::ScienceFiction],
        maybe_int: (!odd).then_some(i as i32),
        maybe_text: (!odd).then(|| format!("ünï {i}")),
        maybe_genre: (!odd).then_some(Genre::Comedy),
        maybe_flags: (!odd).then(|| vec![true, false]),
    }
}

#[orm::test(Copied)]
async fn a_large_flush_reserves_the_keys_and_copies_every_type(db: TestDb) {
    let engine = db.engine();
    let mut session = engine.session();
    let handles = session.add_all((0..THRESHOLD).map(copied));
    session.record_statements();
    session.commit().await.unwrap();
    let sent = session.recorded_statements();
    assert_eq!(sent.len(), 4, "BEGIN, the reservation of keys, COPY, COMMIT: {sent:#?}");
    assert!(sent[1].starts_with("SELECT") && sent[1].contains("nextval("), "{}", sent[1]);
    assert!(sent[2].starts_with(r#"COPY "copied" ("id", "small", "#), "{}", sent[2]);
    assert!(sent[2].ends_with("FROM STDIN (FORMAT binary)"), "{}", sent[2]);

    let ids: Vec<i64> = handles.iter().map(|&h| session[h].id).collect();
    assert!(ids[0] > 0 && ids.windows(2).all(|w| w[0] < w[1]), "keys increase in the order added");
    assert!(handles.iter().all(|&h| session.state(h) == Some(ObjectState::Persistent)));
    let first = session.get::<Copied>(ids[0]).await.unwrap();
    assert_eq!(first, Some(handles[0]), "in the identity map under its key");

    let mut other = engine.session();
    let loaded = other.query::<Copied>().order_by(Copied::id.asc()).all().await.unwrap();
    assert_eq!(loaded.len(), THRESHOLD);
    for (i, (&stored, &written)) in loaded.iter().zip(&handles).enumerate() {
        assert_eq!(other[stored], session[written], "row {i}");
    }
}

/// The connection's task may run on another worker while the rows are
/// written and the keys applied, overlapping the database's work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_on_a_runtime_of_several_threads_gives_each_object_its_row_s_key() {
    let db = setup().await;
    let mut session = db.engine().session();
    let handles = session.add_all((0..THRESHOLD).map(|i| person(&format!("p{i}"), Some(i as i32))));
    session.commit().await.unwrap();
    let mut other = db.engine().session();
    let stored = other.query::<Person>().order_by(Person::id.asc()).all().await.unwrap();
    assert_eq!(stored.len(), THRESHOLD);
    for (&stored, &written) in stored.iter().zip(&handles) {
        assert_eq!(other[stored], session[written]);
    }
}

#[tokio::test]
async fn one_object_fewer_than_the_threshold_is_one_insert() {
    let db = setup().await;
    let mut session = db.engine().session();
    let handles = session.add_all((0..THRESHOLD - 1).map(|i| person(&format!("p{i}"), Some(i as i32))));
    session.record_statements();
    session.commit().await.unwrap();
    let sent = session.recorded_statements();
    assert_eq!(sent.len(), 3, "BEGIN, one INSERT .. RETURNING, COMMIT: {sent:#?}");
    assert!(sent[1].contains(r#"INSERT INTO "people""#) && sent[1].contains("RETURNING"), "{}", sent[1]);
    assert!(sent[1].ends_with(r#"SELECT array_agg("id") FROM "orm_inserted""#), "keys read back as one array");
    let ids: Vec<i32> = handles.iter().map(|&h| session[h].id).collect();
    assert!(ids[0] > 0 && ids.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn a_violation_in_a_copy_fails_the_flush_and_leaves_every_object_pending() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    session.add(person("Ada", None));
    session.commit().await.unwrap();

    let mut handles = session.add_all((0..THRESHOLD).map(|i| person(&format!("p{i}"), None)));
    let dup = session.add(person("Ada", Some(170)));
    handles.push(dup);
    session.record_statements();
    let err = session.commit().await.unwrap_err();
    let sent = session.recorded_statements();
    assert!(sent.iter().any(|s| s.starts_with("COPY")), "the COPY failed, not an INSERT: {sent:#?}");
    assert!(err.is_unique_violation(), "{err}");
    assert_eq!(err.constraint(), Some("people_name_key"));
    assert_eq!(err.db_error().and_then(|e| e.model), Some("Person"));

    let mut other = engine.session();
    assert_eq!(other.query::<Person>().count().await.unwrap(), 1, "nothing of the COPY was written");
    assert!(!session.in_transaction());
    for (i, &h) in handles.iter().enumerate().take(THRESHOLD) {
        assert_eq!(session.state(h), Some(ObjectState::Pending));
        assert_eq!(session[h].id, 0, "no reserved key is left on a pending object");
        assert_eq!(session[h].name, format!("p{i}"), "the COPY gave its values back");
    }

    session[dup].name = "Ada II".into();
    session.commit().await.unwrap();
    assert_eq!(other.query::<Person>().count().await.unwrap(), THRESHOLD as i64 + 2);
    let stored = other.get::<Person>(session[dup].id).await.unwrap().unwrap();
    assert_eq!(other[stored], session[dup]);
}

#[tokio::test]
async fn a_copy_that_collides_with_a_loaded_row_leaves_that_row_s_object_in_the_identity_map() {
    let db = setup().await;
    let engine = db.engine();
    // A key the sequence has not given out yet: the reservation gives it
    // to a new object, whose keys enter the identity map while the
    // database takes the rows.
    let mut conn = engine.connect().await.unwrap();
    conn.batch_execute("INSERT INTO people (id, name, date_of_birth) VALUES (1, 'Ada', '1815-12-10')").await.unwrap();
    let mut session = engine.session();
    let ada = session.get::<Person>(1).await.unwrap().unwrap();
    let handles = session.add_all((0..THRESHOLD).map(|i| person(&format!("p{i}"), None)));
    session.record_statements();
    let err = session.commit().await.unwrap_err();
    let sent = session.recorded_statements();
    assert!(sent.iter().any(|s| s.starts_with("COPY")), "the COPY failed, not an INSERT: {sent:#?}");
    assert_eq!(err.constraint(), Some("people_pkey"), "{err}");

    let (trips, again) = statements_during(engine, session.get::<Person>(1)).await;
    assert_eq!(again.unwrap(), Some(ada), "the loaded object, still the row's");
    assert_eq!(trips, 0, "found in the identity map");
    assert!(handles.iter().all(|&h| session.state(h) == Some(ObjectState::Pending)));
    assert_eq!(session[handles[0]].id, 0);
}

#[derive(Model, Debug)]
#[orm(table = "copy_parents")]
struct Parent {
    #[orm(primary_key)]
    id: i32,
    name: String,
    #[relationship(one_to_many, back_populates = parent)]
    children: Many<Child>,
}

#[derive(Model, Debug)]
#[orm(table = "copy_children")]
struct Child {
    #[orm(primary_key)]
    id: i64,
    #[orm(foreign_key = Parent::id)]
    parent_id: i32,
    name: String,
    #[relationship(many_to_one, back_populates = children)]
    parent: One<Parent>,
}

/// The children whose stored parent has the name their own starts with.
async fn children_of_the_right_parent(engine: &Engine) -> i64 {
    let mut conn = engine.connect().await.unwrap();
    let sql = "SELECT count(*) FROM copy_children c JOIN copy_parents p ON p.id = c.parent_id \
               WHERE c.name LIKE p.name || '/%'";
    match conn.query(sql, &[]).await.unwrap().values[..] {
        [Value::I64(n)] => n,
        ref other => panic!("{other:?}"),
    }
}

#[orm::test(Parent, Child)]
async fn children_take_the_reserved_keys_of_their_parents(db: TestDb) {
    let engine = db.engine();
    let mut session = engine.session();
    // As many parents as children, both copied: the children's foreign keys
    // are the keys reserved for their parents.
    let parents = session.add_all((0..THRESHOLD).map(|i| Parent::new(format!("p{i}"))));
    for (i, &parent) in parents.iter().enumerate() {
        let child = session.add(Child::new(0, format!("p{i}/only")));
        session.link(child, Child::parent, parent).unwrap();
    }
    session.record_statements();
    session.commit().await.unwrap();
    let sent = session.recorded_statements();
    let copies = sent.iter().filter(|s| s.starts_with("COPY")).count();
    assert_eq!((sent.len(), copies), (6, 2), "a reservation and a COPY per table: {sent:#?}");
    assert_eq!(children_of_the_right_parent(engine).await, THRESHOLD as i64);

    // Three parents inserted, their many children copied.
    let few = session.add_all((0..3).map(|i| Parent::new(format!("few{i}"))));
    for i in 0..THRESHOLD {
        let child = session.add(Child::new(0, format!("few{}/{i}", i % 3)));
        session.link(child, Child::parent, few[i % 3]).unwrap();
    }
    session.record_statements();
    session.commit().await.unwrap();
    let sent = session.recorded_statements();
    assert!(sent[1].contains(r#"INSERT INTO "copy_parents""#), "{sent:#?}");
    assert!(sent[3].starts_with(r#"COPY "copy_children""#), "{sent:#?}");
    assert_eq!(children_of_the_right_parent(engine).await, 2 * THRESHOLD as i64);
    let children = session.related(few[1], Parent::children).unwrap();
    assert_eq!(children.len(), THRESHOLD / 3);
    assert!(children.iter().all(|&c| session[c].parent_id == session[few[1]].id));
}

/// A table made by hand, for what the COPY cannot take.
#[derive(Model, Debug)]
#[orm(table = "copy_readings")]
struct Reading {
    #[orm(primary_key)]
    id: i32,
    value: i32,
}

/// Creates the table with `ddl`, writes `THRESHOLD` readings, checks the
/// rows, and returns the statements sent.
#[tokio::test]
async fn a_copy_dropped_at_any_point_gives_the_objects_their_values_back() {
    flush_dropped_at_every_poll(THRESHOLD as i32).await;
}

async fn write_readings(db: &TestDb, ddl: &str) -> Vec<String> {
    let mut conn = db.engine().connect().await.unwrap();
    conn.batch_execute(ddl).await.unwrap();
    let mut session = db.engine().session();
    let handles = session.add_all((0..THRESHOLD).map(|i| Reading::new(i as i32)));
    session.record_statements();
    session.commit().await.unwrap();
    let sent = session.recorded_statements();
    let written: Vec<Value> =
        handles.iter().flat_map(|&h| [Value::I32(session[h].id), Value::I32(session[h].value)]).collect();
    let stored = conn.query("SELECT id, value::integer FROM copy_readings ORDER BY id", &[]).await.unwrap();
    assert_eq!(stored.values, written);
    sent
}

#[tokio::test]
async fn a_column_of_another_type_than_the_field_s_is_inserted_not_copied() {
    let db = TestDb::new().await.unwrap();
    // A COPY sends each value in its column's binary form: an `i32` cannot
    // go to a bigint column that way; an INSERT casts it.
    let table = "CREATE TABLE copy_readings (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, value bigint)";
    let sent = write_readings(&db, table).await;
    assert_eq!(sent.len(), 4, "{sent:#?}");
    assert!(sent[1].starts_with("SELECT") && sent[1].contains("nextval("), "{sent:#?}");
    assert!(sent[2].contains(r#"INSERT INTO "copy_readings""#), "{sent:#?}");
}

/// Readings some of which are missing, for a column of another type.
#[derive(Model, Debug)]
#[orm(table = "copy_samples")]
struct Sample {
    #[orm(primary_key)]
    id: i32,
    name: String,
    value: Option<i32>,
}

#[tokio::test]
async fn a_value_that_does_not_fit_half_way_leaves_every_row_to_an_insert() {
    let db = TestDb::new().await.unwrap();
    let mut conn = db.engine().connect().await.unwrap();
    // NULL fits a bigint column; the first `i32` there does not, after
    // half the rows were written for the COPY.
    let table = "CREATE TABLE copy_samples (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL, \
                 value bigint)";
    conn.batch_execute(table).await.unwrap();
    let mut session = db.engine().session();
    let values = |i: usize| (i >= THRESHOLD / 2).then_some(i as i32);
    let handles = session.add_all((0..THRESHOLD).map(|i| Sample::new(format!("sample {i}"), values(i))));
    session.record_statements();
    session.commit().await.unwrap();
    let sent = session.recorded_statements();
    assert!(sent[1].contains("nextval("), "keys reserved for a COPY: {sent:#?}");
    assert!(sent.iter().all(|s| !s.starts_with("COPY")), "{sent:#?}");
    let kept: Vec<(String, Option<i32>)> =
        handles.iter().map(|&h| (session[h].name.clone(), session[h].value)).collect();
    let given: Vec<(String, Option<i32>)> = (0..THRESHOLD).map(|i| (format!("sample {i}"), values(i))).collect();
    assert_eq!(kept, given, "each object has its values back");
    let written: Vec<Value> = handles
        .iter()
        .flat_map(|&h| {
            let sample = &session[h];
            [Value::I32(sample.id), Value::Text(sample.name.clone()), sample.value.map_or(Value::Null, Value::I32)]
        })
        .collect();
    let stored = conn.query("SELECT id, name, value::integer FROM copy_samples ORDER BY id", &[]).await.unwrap();
    assert_eq!(stored.values, written);
}

#[tokio::test]
async fn a_key_without_a_sequence_of_its_own_is_inserted_not_copied() {
    let db = TestDb::new().await.unwrap();
    // The default draws from a sequence the column does not own: there is
    // no sequence to reserve keys from.
    let table = "CREATE SEQUENCE reading_ids; \
                 CREATE TABLE copy_readings (id int PRIMARY KEY DEFAULT nextval('reading_ids'), value int)";
    let sent = write_readings(&db, table).await;
    assert_eq!(sent.len(), 4, "{sent:#?}");
    assert!(sent[2].contains(r#"INSERT INTO "copy_readings""#), "{sent:#?}");
}

/// A key the application gives: nothing to reserve.
#[derive(Model, Debug)]
#[orm(table = "copy_tags")]
struct Tag {
    #[orm(primary_key)]
    code: String,
    label: Option<String>,
}

#[orm::test(Tag)]
async fn a_copy_that_opens_the_transaction_takes_begin_with_it(db: TestDb) {
    let engine = db.engine();
    let mut session = engine.session();
    let tags = (0..THRESHOLD).map(|i| Tag::new(format!("t{i}"), (i % 3 == 0).then(|| format!("é {i}"))));
    session.add_all(tags);
    session.record_statements();
    session.flush().await.unwrap();
    let sent = session.recorded_statements();
    assert_eq!(sent.len(), 2, "BEGIN, then COPY: {sent:#?}");
    assert!(sent[1].starts_with(r#"COPY "copy_tags""#), "{sent:#?}");

    // Inside the transaction: nobody else sees the rows, and a rollback
    // takes them away.
    let mut other = engine.session();
    assert_eq!(other.query::<Tag>().count().await.unwrap(), 0);
    session.rollback().await.unwrap();
    let tags = (0..THRESHOLD).map(|i| Tag::new(format!("t{i}"), (i % 3 == 0).then(|| format!("é {i}"))));
    session.add_all(tags);
    session.commit().await.unwrap();
    assert_eq!(other.query::<Tag>().count().await.unwrap(), THRESHOLD as i64);
    let labelled = other.query::<Tag>().filter(Tag::label.eq("é 2997")).count().await.unwrap();
    assert_eq!(labelled, 1);
}
