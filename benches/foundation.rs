//! The foundation's benchmarks: this ORM against hand-written tokio-postgres
//! (prepared statements), in one process, against the same database, with
//! the two sides interleaved in every round. Prints medians and the ratio
//! ORM / raw.
//!
//! Run with `cargo bench --bench foundation` (DATABASE_URL as for the tests).
//! `ROUNDS=n` changes the number of rounds (default 31).

mod common;

use std::time::Instant;

use common::{median, ms, pin_all, plain, report, timed};

use futures_util::{pin_mut, TryStreamExt};
use orm::postgres::tokio_postgres::binary_copy::BinaryCopyInWriter;
use orm::postgres::tokio_postgres::types::{ToSql, Type};
use orm::postgres::tokio_postgres::{self, Client, NoTls, Statement};
use orm::prelude::*;
use orm::testing::TestDb;

#[derive(Model, Debug)]
#[orm(table = "items")]
struct Item {
    #[orm(primary_key)]
    id: i32,
    name: String,
    score: i32,
    note: Option<String>,
}

/// What the raw side reads rows into.
#[allow(dead_code, reason = "the fields are read into, as a user's struct would be, and never looked at")]
struct RawItem {
    id: i32,
    name: String,
    score: i32,
    note: Option<String>,
}

const LOAD_ROWS: i32 = 10_000;
const LOOKUPS: i32 = 1_000;
const INSERTS: usize = 1_000;

/// The raw side: one connection, every statement prepared once.
struct Raw {
    client: Client,
    load: Statement,
    lookup: Statement,
    insert_values: Statement,
    insert_unnest: Statement,
}

impl Raw {
    async fn connect(url: &str) -> Raw {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
        tokio::spawn(connection);
        let mut values = String::from("INSERT INTO items (name, score, note) VALUES ");
        for i in 0..INSERTS {
            let sep = if i > 0 { ", " } else { "" };
            values.push_str(&format!("{sep}(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3));
        }
        let unnest = "INSERT INTO items (name, score, note) SELECT * FROM unnest($1::text[], $2::int4[], $3::text[])";
        Raw {
            load: client.prepare("SELECT id, name, score, note FROM items WHERE id <= $1").await.unwrap(),
            lookup: client.prepare("SELECT id, name, score, note FROM items WHERE id = $1").await.unwrap(),
            insert_values: client.prepare(&values).await.unwrap(),
            insert_unnest: client.prepare(unnest).await.unwrap(),
            client,
        }
    }
}

async fn raw_load(raw: &Raw) -> Vec<RawItem> {
    let stream = raw.client.query_raw(&raw.load, [LOAD_ROWS]).await.unwrap();
    pin_mut!(stream);
    let mut items = Vec::new();
    while let Some(row) = stream.try_next().await.unwrap() {
        items.push(RawItem { id: row.get(0), name: row.get(1), score: row.get(2), note: row.get(3) });
    }
    items
}

async fn orm_load(engine: &Engine) -> usize {
    let mut session = engine.session();
    session.query::<Item>().filter(Item::id.le(LOAD_ROWS)).all().await.unwrap().len()
}

/// Point lookups, in one transaction as the session runs them (outside a
/// transaction every statement is also a transaction of its own, which on
/// these machines doubles the time).
async fn raw_lookups(raw: &Raw, in_transaction: bool) {
    if in_transaction {
        raw.client.batch_execute("BEGIN").await.unwrap();
    }
    for id in 1..=LOOKUPS {
        let row = raw.client.query_one(&raw.lookup, &[&id]).await.unwrap();
        std::hint::black_box(RawItem { id: row.get(0), name: row.get(1), score: row.get(2), note: row.get(3) });
    }
    if in_transaction {
        raw.client.batch_execute("COMMIT").await.unwrap();
    }
}

async fn orm_lookups(engine: &Engine) {
    let mut session = engine.session();
    for id in 1..=LOOKUPS {
        session.get::<Item>(id).await.unwrap().unwrap();
    }
}

fn new_rows() -> impl Iterator<Item = (String, i32, Option<String>)> {
    (0..INSERTS).map(|i| (format!("new {i}"), i as i32, (i % 2 == 0).then(|| "even".to_owned())))
}

async fn raw_insert_values(raw: &Raw) {
    let rows: Vec<_> = new_rows().collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(3 * rows.len());
    for (name, score, note) in &rows {
        params.push(name);
        params.push(score);
        params.push(note);
    }
    raw.client.execute(&raw.insert_values, &params).await.unwrap();
}

async fn raw_insert_unnest(raw: &Raw) {
    let (mut names, mut scores, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for (name, score, note) in new_rows() {
        names.push(name);
        scores.push(score);
        notes.push(note);
    }
    raw.client.execute(&raw.insert_unnest, &[&names, &scores, &notes]).await.unwrap();
}

async fn raw_insert_copy(raw: &Raw) {
    let sink = raw.client.copy_in("COPY items (name, score, note) FROM STDIN BINARY").await.unwrap();
    let writer = BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::INT4, Type::TEXT]);
    pin_mut!(writer);
    for (name, score, note) in new_rows() {
        writer.as_mut().write(&[&name, &score, &note]).await.unwrap();
    }
    writer.finish().await.unwrap();
}

async fn orm_insert(engine: &Engine) {
    let mut session = engine.session();
    for (name, score, note) in new_rows() {
        session.add(Item::new(name, score, note));
    }
    session.commit().await.unwrap();
}

/// Times `get` of keys already in the identity map.
async fn loaded_get_nanos(engine: &Engine) -> f64 {
    let mut session = engine.session();
    session.query::<Item>().filter(Item::id.le(LOOKUPS)).all().await.unwrap();
    let rounds = 200;
    let started = Instant::now();
    for _ in 0..rounds {
        for id in 1..=LOOKUPS {
            std::hint::black_box(session.get::<Item>(id).await.unwrap());
        }
    }
    started.elapsed().as_nanos() as f64 / f64::from(rounds * LOOKUPS)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds = common::rounds(31);
    let db = TestDb::new().await.expect("a benchmark database");
    let engine = Engine::builder(&plain(db.url())).pool_size(1).build().unwrap();
    engine.create_all(&[Item::TABLE]).await.unwrap();
    let raw = Raw::connect(db.url()).await;
    raw.client
        .batch_execute(&format!(
            "INSERT INTO items (name, score, note) SELECT 'item ' || i, i, CASE WHEN i % 3 = 0 THEN NULL ELSE 'note' END \
             FROM generate_series(1, {LOAD_ROWS}) AS i; ANALYZE items"
        ))
        .await
        .unwrap();

    pin_all(&engine, &raw.client).await;

    // Warm both sides (connections, statement caches).
    raw_load(&raw).await;
    orm_load(&engine).await;
    orm_lookups(&engine).await;

    println!("{rounds} rounds, medians, ORM / raw tokio-postgres in the same process");
    let (mut orm, mut raw_times) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        raw_times.push(
            timed(async {
                std::hint::black_box(raw_load(&raw).await.len());
            })
            .await,
        );
        orm.push(
            timed(async {
                std::hint::black_box(orm_load(&engine).await);
            })
            .await,
        );
    }
    report("load 10,000 rows", ("orm", orm), ("raw", raw_times));

    let (mut orm, mut raw_times, mut autocommit) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            raw_times.push(timed(raw_lookups(&raw, true)).await);
            orm.push(timed(orm_lookups(&engine)).await);
        } else {
            orm.push(timed(orm_lookups(&engine)).await);
            raw_times.push(timed(raw_lookups(&raw, true)).await);
        }
        autocommit.push(timed(raw_lookups(&raw, false)).await);
    }
    println!("  raw lookups, each its own transaction  {:>10.3} ms", ms(median(autocommit)));
    report("1,000 primary-key lookups", ("orm", orm), ("raw", raw_times));

    let (mut orm, mut values, mut unnest, mut copy) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        values.push(timed(raw_insert_values(&raw)).await);
        unnest.push(timed(raw_insert_unnest(&raw)).await);
        copy.push(timed(raw_insert_copy(&raw)).await);
        orm.push(timed(orm_insert(&engine)).await);
    }
    let raw_medians =
        [("VALUES", median(values.clone())), ("UNNEST", median(unnest.clone())), ("COPY", median(copy.clone()))];
    let (best_name, _) = raw_medians.iter().min_by_key(|(_, d)| *d).copied().unwrap();
    let best = match best_name {
        "VALUES" => values,
        "UNNEST" => unnest,
        _ => copy,
    };
    for (name, d) in raw_medians {
        println!("  raw insert 1,000 rows with {name:<6}  {:>10.3} ms", ms(d));
    }
    report(&format!("add + commit 1,000 rows (raw {best_name})"), ("orm", orm), ("raw", best));

    println!("get of a loaded key: {:.0} ns", loaded_get_nanos(&engine).await);
}
