//! Every supported column type round-trips; a custom type through `SqlValue`;
//! a column of the wrong type is a decode error naming model and field.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use orm::prelude::*;
use orm::testing::TestDb;
use orm::Connection;
use rust_decimal::Decimal;

/// An e-mail address: stored as text, always lowercase.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Email(String);

impl SqlValue for Email {
    const SQL_TYPE: SqlType = SqlType::Text;
    fn to_value(&self) -> Value {
        Value::Text(self.0.clone())
    }
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Text(s) => Ok(Email(s.to_lowercase())),
            other => Err(other),
        }
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "all_types")]
pub(crate) struct AllTypes {
    #[orm(primary_key)]
    pub(crate) id: i64,
    pub(crate) small: i16,
    pub(crate) int: i32,
    pub(crate) big: i64,
    pub(crate) real: f32,
    pub(crate) double: f64,
    pub(crate) flag: bool,
    pub(crate) text: String,
    #[orm(max_len = 8)]
    pub(crate) short_text: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) amount: Decimal,
    pub(crate) day: NaiveDate,
    pub(crate) time: NaiveTime,
    pub(crate) stamp: NaiveDateTime,
    pub(crate) instant: DateTime<Utc>,
    pub(crate) doc: serde_json::Value,
    pub(crate) email: Email,
    pub(crate) maybe_int: Option<i32>,
    pub(crate) maybe_text: Option<String>,
    pub(crate) maybe_amount: Option<Decimal>,
    pub(crate) maybe_doc: Option<serde_json::Value>,
    pub(crate) maybe_email: Option<Email>,
}

fn sample() -> AllTypes {
    let day = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let time = NaiveTime::from_hms_micro_opt(23, 59, 58, 123_456).unwrap();
    AllTypes {
        id: 0,
        small: -7,
        int: i32::MAX,
        big: i64::MIN,
        real: 1.5,
        double: -2.25e300,
        flag: true,
        text: "héllo, wörld".into(),
        short_text: "8 chars!".into(),
        bytes: vec![0, 1, 255],
        amount: Decimal::new(-123_456_789, 4),
        day,
        time,
        stamp: day.and_time(time),
        instant: Utc.with_ymd_and_hms(2001, 9, 9, 1, 46, 40).unwrap(),
        doc: serde_json::json!({"a": [1, 2, {"b": null}]}),
        email: Email("Ada@Example.com".into()),
        maybe_int: Some(0),
        maybe_text: None,
        maybe_amount: Some(Decimal::new(1, 2)),
        maybe_doc: None,
        maybe_email: None,
    }
}

#[orm::test(AllTypes)]
async fn every_supported_type_round_trips(db: TestDb) {
    let mut session = db.engine().session();
    let stored = session.add(sample());
    session.commit().await.unwrap();

    let mut other = db.engine().session();
    let loaded = other.get::<AllTypes>(session[stored].id).await.unwrap().unwrap();
    let expected = AllTypes { id: session[stored].id, email: Email("ada@example.com".into()), ..sample() };
    assert_eq!(other[loaded], expected);

    // Filters bind every type too.
    let found =
        other.query::<AllTypes>().filter(AllTypes::instant.eq(sample().instant)).filter(AllTypes::maybe_text.is_null());
    assert_eq!(found.count().await.unwrap(), 1);
    let by_email = other.query::<AllTypes>().filter(AllTypes::email.eq(Email("Ada@Example.com".into())));
    assert_eq!(by_email.count().await.unwrap(), 1);
}

#[orm::test(AllTypes)]
async fn the_ddl_uses_the_mapped_types(db: TestDb) {
    let mut conn = db.engine().connect().await.unwrap();
    let sql = "SELECT column_name::text, data_type::text, is_nullable::text, character_maximum_length \
               FROM information_schema.columns WHERE table_name = 'all_types' ORDER BY ordinal_position";
    let rows = conn.query(sql, &[]).await.unwrap();
    let described: Vec<String> = rows
        .values
        .chunks(4)
        .map(|r| match r {
            [Value::Text(c), Value::Text(t), Value::Text(n), len] => format!("{c} {t} {n} {len:?}"),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(described[0], "id bigint NO Null");
    assert_eq!(described[8], "short_text character varying NO I32(8)");
    assert_eq!(described[15], "doc jsonb NO Null");
    assert_eq!(described[16], "email text NO Null");
    assert_eq!(described[17], "maybe_int integer YES Null");
    assert_eq!(described.len(), 22);
}

#[derive(Model, Debug)]
#[orm(table = "measurements")]
pub(crate) struct Measurement {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) reading: i32,
}

#[tokio::test]
async fn a_column_of_another_type_is_a_decode_error_naming_model_and_field() {
    let db = TestDb::new().await.unwrap();
    let mut conn = db.engine().connect().await.unwrap();
    conn.batch_execute(
        "CREATE TABLE measurements (id int PRIMARY KEY, reading text); INSERT INTO measurements VALUES (1, 'high')",
    )
    .await
    .unwrap();
    let mut session = db.engine().session();
    let err = session.get::<Measurement>(1).await.unwrap_err();
    match &err {
        Error::Decode { model, field, sql_type, rust_type } => {
            assert_eq!((*model, *field, sql_type.as_ref(), *rust_type), ("Measurement", "reading", "text", "i32"));
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(err.to_string(), "cannot read `Measurement.reading`: the database sent text, the field is `i32`");
}

/// Where a device was seen, kept as a JSON document.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Sighting {
    pub(crate) city: String,
    pub(crate) floors: Vec<u8>,
}

/// A uuid key the database generates, an address, and typed JSON.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "devices")]
pub(crate) struct Device {
    #[orm(primary_key, default = "gen_random_uuid()")]
    pub(crate) id: uuid::Uuid,
    pub(crate) address: std::net::IpAddr,
    pub(crate) last_seen: orm::Json<Sighting>,
    pub(crate) tags: Option<orm::Json<Vec<String>>>,
}

#[orm::test(Device)]
async fn a_rolled_back_insert_takes_the_key_its_default_gave_it_away(db: TestDb) {
    let mut s = db.engine().session();
    let seen = orm::Json(Sighting { city: "Oslo".into(), floors: vec![3] });
    let address: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    let device = s.add(Device::new(address, seen, None));
    s.flush().await.unwrap();
    assert!(!s[device].id.is_nil(), "the database's default gave it its key");

    // A failed statement rolls the transaction back, the insert with it.
    s.execute("SELECT 1 / 0", ()).await.unwrap_err();
    assert_eq!(s.state(device), Some(orm::ObjectState::Pending));
    assert!(s[device].id.is_nil(), "no key of a row that is not there");
    s.commit().await.unwrap();
    let stored = db.engine().session().get::<Device>(s[device].id).await.unwrap();
    assert!(stored.is_some(), "inserted again, with a new key");
}

#[orm::test(Device)]
async fn uuid_inet_and_typed_json_round_trip_and_filter(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    let seen = |city: &str| orm::Json(Sighting { city: city.into(), floors: vec![1, 2] });
    let v4: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    let v6: std::net::IpAddr = "2001:db8::1".parse().unwrap();
    let a = s.add(Device::new(v4, seen("Oslo"), Some(orm::Json(vec!["edge".to_owned()]))));
    let b = s.add(Device::new(v6, seen("Lima"), None));
    s.commit().await.unwrap();
    let (a_id, b_id) = (s[a].id, s[b].id);
    assert_ne!(a_id, b_id, "the database generated two keys");
    assert!(!a_id.is_nil());

    let mut other = engine.session();
    let found = other.get::<Device>(b_id).await.unwrap().unwrap();
    assert_eq!(other[found].address, v6);
    assert_eq!(other[found].last_seen.city, "Lima");
    assert_eq!(other[found].tags, None);
    let by_address: Vec<uuid::Uuid> = other.select(Device::id).filter(Device::address.eq(v4)).all().await.unwrap();
    assert_eq!(by_address, [a_id]);
    let ids: Vec<uuid::Uuid> = other.select(Device::id).filter(Device::id.in_list([a_id, b_id])).all().await.unwrap();
    assert_eq!(ids.len(), 2);
    other[found].last_seen.city = "Quito".into();
    other.commit().await.unwrap();
    let mut reader = engine.session();
    let city: Vec<String> =
        reader.query_sql("SELECT last_seen->>'city' FROM devices WHERE id = $1", (b_id,)).await.unwrap();
    assert_eq!(city, ["Quito"]);

    // A document that does not fit the Rust type names the field.
    let mut writer = engine.session();
    writer.execute("UPDATE devices SET last_seen = '[1, 2]'", ()).await.unwrap();
    writer.commit().await.unwrap();
    let error = engine.session().get::<Device>(a_id).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("Device.last_seen") && message.contains("Json"), "{message}");
}

/// `numeric(10, 2)` through `precision` and `scale`.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "invoices")]
pub(crate) struct Invoice {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[orm(precision = 10, scale = 2)]
    pub(crate) total: Decimal,
}

#[orm::test(Invoice)]
async fn precision_and_scale_make_a_numeric_of_that_size(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    let invoice = s.add(Invoice::new("12.345".parse::<Decimal>().unwrap()));
    s.commit().await.unwrap();
    let shape: Vec<(i32, i32)> = s
        .query_sql(
            "SELECT numeric_precision, numeric_scale FROM information_schema.columns \
             WHERE table_name = 'invoices' AND column_name = 'total'",
            (),
        )
        .await
        .unwrap();
    assert_eq!(shape, [(10, 2)]);
    s.refresh(invoice).await.unwrap();
    assert_eq!(s[invoice].total, "12.35".parse::<Decimal>().unwrap(), "rounded to the scale by the database");
}

/// Values computed in Rust by `new`: a uuid key and a timestamp.
#[derive(Model, Debug)]
#[orm(table = "uploads")]
pub(crate) struct Upload {
    #[orm(primary_key, client_default = uuid::Uuid::new_v4)]
    pub(crate) id: uuid::Uuid,
    pub(crate) name: String,
    #[orm(client_default = chrono::Utc::now)]
    pub(crate) created_at: DateTime<Utc>,
}

#[orm::test(Upload)]
async fn client_defaults_are_computed_by_new(db: TestDb) {
    let engine = db.engine();
    let before = Utc::now();
    let (a, b) = (Upload::new("a.png"), Upload::new("b.png"));
    assert_ne!(a.id, b.id);
    assert!(a.created_at >= before);
    let id = a.id;
    let mut s = engine.session();
    s.add_all([a, b]);
    s.commit().await.unwrap();
    let names: Vec<String> = s.select(Upload::name).filter(Upload::id.eq(id)).all().await.unwrap();
    assert_eq!(names, ["a.png"], "the key computed in Rust is the row's key");
}

/// A column every UPDATE stamps.
#[derive(Model, Debug)]
#[orm(table = "pages")]
pub(crate) struct Page {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) body: String,
    #[orm(default = "now()", onupdate = "clock_timestamp()")]
    pub(crate) updated_at: Defaulted<DateTime<Utc>>,
}

#[orm::test(Page)]
async fn a_rolled_back_insert_leaves_a_default_it_took_to_the_database_again(db: TestDb) {
    let mut s = db.engine().session();
    let left = s.add(Page::new("left to the default"));
    let stamp = Utc.with_ymd_and_hms(2001, 2, 3, 4, 5, 6).unwrap();
    let mut given = Page::new("given");
    given.updated_at = Defaulted::Set(stamp);
    let given = s.add(given);
    s.flush().await.unwrap();
    assert!(matches!(s[left].updated_at, Defaulted::Set(_)), "read back");

    // A failed statement rolls the transaction back, the inserts with it.
    s.execute("SELECT 1 / 0", ()).await.unwrap_err();
    assert_eq!(s[left].updated_at, Defaulted::Unset, "the default is the database's again");
    assert_eq!(s[given].updated_at, Defaulted::Set(stamp), "a value given stays");
    s.commit().await.unwrap();
    assert!(matches!(s[left].updated_at, Defaulted::Set(at) if at > stamp), "stamped at the retry");
}

#[orm::test(Page)]
async fn onupdate_stamps_every_update_and_reads_the_stamp_back(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    let page = s.add(Page::new("draft"));
    s.commit().await.unwrap();
    let created = s[page].updated_at;

    s[page].body = "edited".into();
    s.commit().await.unwrap();
    let edited = s[page].updated_at;
    assert!(edited > created, "stamped by the UPDATE and read back: {created:?} -> {edited:?}");
    let stored: Vec<Defaulted<DateTime<Utc>>> = s.select(Page::updated_at).all().await.unwrap();
    assert_eq!(stored, [edited]);

    let n = s.query::<Page>().update([Page::body.set("bulk")]).await.unwrap();
    assert_eq!(n, 1);
    assert!(s[page].updated_at > edited, "a bulk update stamps too");
    s.commit().await.unwrap();
}

/// A sent `numeric(10, 2)` key, and a column read back.
#[derive(Model, Debug)]
#[orm(table = "rates")]
pub(crate) struct Rate {
    #[orm(primary_key, precision = 10, scale = 2)]
    pub(crate) amount: Decimal,
    #[orm(default = "now()")]
    pub(crate) created_at: Defaulted<DateTime<Utc>>,
}

#[orm::test(Rate)]
async fn a_sent_key_comes_back_normalised_and_still_matches_its_object(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    let rates = s.add_all(["1.5", "0.25", "7"].map(|a| Rate::new(a.parse::<Decimal>().unwrap())));
    s.commit().await.unwrap();
    assert!(rates.iter().all(|&r| s.state(r) == Some(orm::ObjectState::Persistent)));
}

/// Values PostgreSQL holds that no field type here can: each is a decode
/// error naming the field, the SQL type and the Rust type.
#[derive(Model, Debug)]
#[orm(table = "odd_values")]
pub(crate) struct OddValue {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) amount: Option<Decimal>,
    pub(crate) day: Option<NaiveDate>,
    pub(crate) at: Option<DateTime<Utc>>,
    pub(crate) shape: Option<String>,
}

#[tokio::test]
async fn unreadable_values_are_decode_errors_naming_the_field_and_both_types() {
    let db = TestDb::new().await.expect("a test database");
    let mut s = db.engine().session();
    s.execute(
        "CREATE TABLE odd_values (id int PRIMARY KEY, amount numeric, day date, at timestamptz, shape point)",
        (),
    )
    .await
    .unwrap();
    s.execute(
        "INSERT INTO odd_values (id, amount, day, at, shape) VALUES (1, 'NaN', NULL, NULL, NULL), \
         (2, 1e40, NULL, NULL, NULL), (3, 0.1234567890123456789012345678901, NULL, NULL, NULL), \
         (4, NULL, 'infinity', NULL, NULL), (5, NULL, NULL, '-infinity', NULL), (6, NULL, NULL, NULL, '(1,2)'), \
         (7, 1.5, '2024-01-02', NULL, NULL)",
        (),
    )
    .await
    .unwrap();
    s.commit().await.unwrap();
    let cases = [
        (1, "amount", "numeric (NaN)", "Decimal"),
        (2, "amount", "more digits than Decimal holds", "Decimal"),
        (3, "amount", "more digits than Decimal holds", "Decimal"),
        (4, "day", "date (infinity)", "NaiveDate"),
        (5, "at", "timestamptz (-infinity)", "DateTime"),
        (6, "shape", "point (no Rust type maps to it)", "String"),
    ];
    for (id, field, sent, rust) in cases {
        let error = s.get::<OddValue>(id).await.unwrap_err();
        let Error::Decode { model, field: named, sql_type, rust_type } = &error else { panic!("row {id}: {error:?}") };
        assert_eq!((*model, *named), ("OddValue", field), "row {id}");
        assert!(sql_type.contains(sent) && rust_type.contains(rust), "row {id}: {error}");
    }
    let fine = s.get::<OddValue>(7).await.unwrap().unwrap();
    assert_eq!(s[fine].amount, Some("1.5".parse().unwrap()));
    let error = s.select(OddValue::amount).filter(OddValue::id.eq(1)).all().await.unwrap_err();
    assert!(
        matches!(&error, Error::DecodeColumn { position: 1, sql_type, .. } if sql_type.contains("NaN")),
        "{error:?}"
    );
}

/// A wide `numeric(38, 18)`: values Decimal holds once the column's
/// trailing zeros are dropped.
#[derive(Model, Debug)]
#[orm(table = "ledgers")]
pub(crate) struct Ledger {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[orm(precision = 38, scale = 18)]
    pub(crate) amount: Decimal,
}

#[orm::test(Ledger)]
async fn a_wide_numeric_reads_back_what_decimal_can_hold(db: TestDb) {
    let mut s = db.engine().session();
    let amounts = ["123456789012.5", "0.000000000000000001", "-98765432109876543210.25"];
    s.add_all(amounts.map(|a| Ledger::new(a.parse::<Decimal>().unwrap())));
    s.commit().await.unwrap();
    let stored: Vec<Decimal> =
        db.engine().session().select(Ledger::amount).order_by(Ledger::id.asc()).all().await.unwrap();
    let expected: Vec<Decimal> = amounts.iter().map(|a| a.parse().unwrap()).collect();
    assert_eq!(stored, expected);
}

/// Read from columns of the other text and number types a field takes.
#[derive(Model, Debug)]
#[orm(table = "wire_kinds")]
pub(crate) struct WireKinds {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) label: String,
    pub(crate) code: Option<String>,
    pub(crate) small: i16,
    pub(crate) big: Option<i64>,
    pub(crate) ratio: f32,
    pub(crate) exact: f64,
    pub(crate) flag: bool,
}

#[tokio::test]
async fn fields_decode_straight_from_each_wire_type_and_refuse_null_and_other_types() {
    let db = TestDb::new().await.unwrap();
    let mut s = db.engine().session();
    s.execute(
        "CREATE TABLE wire_kinds (id int PRIMARY KEY, label varchar(20), code char(3), small int2, big int8, \
         ratio float4, exact float8, flag bool)",
        (),
    )
    .await
    .unwrap();
    s.execute(
        "INSERT INTO wire_kinds VALUES (1, 'café', 'ab', -7, 9000000000, 0.5, -2.25, true), \
         (2, 'plain', NULL, 0, NULL, 1, 0, false), (3, NULL, NULL, 0, NULL, 1, 0, false)",
        (),
    )
    .await
    .unwrap();
    s.commit().await.unwrap();
    let first = s.get::<WireKinds>(1).await.unwrap().unwrap();
    let first = &s[first];
    assert_eq!((first.label.as_str(), first.code.as_deref()), ("café", Some("ab ")));
    assert_eq!(
        (first.small, first.big, first.ratio, first.exact, first.flag),
        (-7, Some(9_000_000_000), 0.5, -2.25, true)
    );
    let second = s.get::<WireKinds>(2).await.unwrap().unwrap();
    assert_eq!((s[second].code.as_deref(), s[second].big), (None, None));

    // NULL in a column whose field cannot hold it.
    let error = s.get::<WireKinds>(3).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot read `WireKinds.label`: the database sent NULL, the field is `alloc::string::String`"
    );
    // A column select and raw SQL read the same way.
    let labels =
        s.select(WireKinds::label).filter(WireKinds::id.le(2)).order_by(WireKinds::id.asc()).all().await.unwrap();
    assert_eq!(labels, ["café", "plain"]);
    let error = s.select(WireKinds::label).filter(WireKinds::id.eq(3)).all().await.unwrap_err();
    assert!(matches!(&error, Error::DecodeColumn { position: 1, sql_type, .. } if sql_type == "NULL"), "{error:?}");
    let rows: Vec<(String, i64)> = s.query_sql("SELECT label, big FROM wire_kinds WHERE id = 1", ()).await.unwrap();
    assert_eq!(rows, [("café".to_owned(), 9_000_000_000)]);
    // An integer is not widened or narrowed into a field of another size.
    let error = s.query_sql::<(i64,)>("SELECT small FROM wire_kinds WHERE id = 1", ()).await.unwrap_err();
    assert!(matches!(&error, Error::DecodeColumn { sql_type, .. } if sql_type == "smallint"), "{error:?}");
}

/// A label whose conversion panics on the text "panic", as a user's
/// `SqlValue` with a bug might. It lends by moving its text out, as
/// `String` does, so that a value not given back shows as an empty label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fragile(String);

impl Fragile {
    fn check(&self) {
        assert_ne!(self.0, "panic", "a Fragile label that cannot be converted");
    }
}

impl SqlValue for Fragile {
    const SQL_TYPE: SqlType = SqlType::Text;
    fn to_value(&self) -> Value {
        self.check();
        Value::Text(self.0.clone())
    }
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Text(s) => Ok(Fragile(s)),
            other => Err(other),
        }
    }
    fn lend(&mut self) -> Value {
        self.check();
        Value::Text(std::mem::take(&mut self.0))
    }
    fn take_back(&mut self, value: Value) {
        if let Value::Text(text) = value {
            self.0 = text;
        }
    }
}

/// A title and labels, each lent by moving it out; the label's and the
/// tags' can panic.
#[derive(Model, Debug)]
#[orm(table = "fragile_notes")]
pub(crate) struct Note {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) title: String,
    pub(crate) label: Fragile,
    pub(crate) tags: Vec<Fragile>,
}

/// Polls `future` to its end; a panic in a poll ends it with the panic.
async fn catch_panic<F: std::future::Future>(future: F) -> std::thread::Result<F::Output> {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::task::Poll;
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
        Err(panic) => Poll::Ready(Err(panic)),
    })
    .await
}

/// Note `i` of `count`; the last one's value `poisoned` ("label" or
/// "tags") cannot be converted.
fn note(i: usize, count: usize, poisoned: &str) -> Note {
    let last = i + 1 == count;
    let label = if last && poisoned == "label" { "panic" } else { "fine" };
    let second_tag = if last && poisoned == "tags" { "panic" } else { "b" };
    Note::new(format!("note {i}"), Fragile(label.into()), vec![Fragile("a".into()), Fragile(second_tag.into())])
}

/// Adds `count` notes, the last with a `poisoned` value; commits, which
/// panics while the flush lends the objects' values; checks that every
/// object kept every value; mends the value and commits again. Returns
/// the statements the second commit sent.
async fn commit_past_a_panicking_lend(db: &TestDb, count: usize, poisoned: &str) -> Vec<String> {
    let mut session = db.engine().session();
    let notes = session.add_all((0..count).map(|i| note(i, count, poisoned)));
    assert!(catch_panic(session.commit()).await.is_err(), "a conversion panics");
    for (i, &handle) in notes.iter().enumerate() {
        let kept = &session[handle];
        let expected = note(i, count, poisoned);
        assert_eq!((&kept.title, &kept.label, &kept.tags), (&expected.title, &expected.label, &expected.tags));
    }
    let last = notes[count - 1];
    session[last].label = Fragile("mended".into());
    session[last].tags[1] = Fragile("mended".into());
    session.record_statements();
    session.commit().await.unwrap();
    let sent = session.recorded_statements();

    let mut other = db.engine().session();
    let titles = other.select(Note::title).order_by(Note::id.asc()).all().await.unwrap();
    assert_eq!(titles, (0..count).map(|i| format!("note {i}")).collect::<Vec<_>>());
    sent
}

#[orm::test(Note)]
async fn a_lend_that_panics_in_a_one_row_insert_leaves_the_object_its_values(db: TestDb) {
    // One object: a parameter per column, the title lent before the label.
    commit_past_a_panicking_lend(&db, 1, "label").await;
}

#[orm::test(Note)]
async fn a_lend_that_panics_in_an_insert_leaves_every_object_its_values(db: TestDb) {
    // Two objects: one INSERT, each column lent as an array in turn.
    commit_past_a_panicking_lend(&db, 2, "label").await;
}

#[orm::test(Note)]
async fn a_lend_that_panics_in_an_array_field_gives_back_its_elements_lent_before(db: TestDb) {
    // The second tag panics once the first was moved out.
    commit_past_a_panicking_lend(&db, 2, "tags").await;
}

#[orm::test(Note)]
async fn a_lend_that_panics_in_a_copy_leaves_every_object_its_values(db: TestDb) {
    // 3,000 objects: a COPY, each row lent while it is written.
    let sent = commit_past_a_panicking_lend(&db, 3_000, "label").await;
    assert!(sent.iter().any(|s| s.starts_with("COPY")), "the rows went by COPY: {sent:?}");
}
