//! The query language's benchmarks: reading 10,000 two-column tuples with
//! `session.select`, against hand-written tokio-postgres on the same query
//! (both in one process, interleaved in every round; medians and the ratio),
//! and the cost of building and rendering a typical statement.
//!
//! Run with `cargo bench --bench query` (DATABASE_URL as for the tests).
//! `ROUNDS=n` changes the number of rounds (default 31); `SKIP_RENDER=1`
//! leaves out the render measurement (for profiling the read).

mod common;

use std::time::{Duration, Instant};

use common::{median, pin_all, plain, report, timed};

use futures_util::{pin_mut, TryStreamExt};
use orm::postgres::tokio_postgres::{self, NoTls};
use orm::postgres::POSTGRES;
use orm::prelude::*;
use orm::testing::TestDb;
use orm::Dialect;
use rust_decimal::Decimal;

#[derive(Model, Debug)]
#[orm(table = "authors")]
struct Author {
    #[orm(primary_key)]
    id: i32,
    name: String,
    #[relationship(one_to_many, back_populates = author)]
    books: Many<Book>,
}

#[derive(Model, Debug)]
#[orm(table = "books")]
struct Book {
    #[orm(primary_key)]
    id: i32,
    title: String,
    price: Decimal,
    #[orm(foreign_key = Author::id)]
    author_id: i32,
    #[relationship(many_to_one, back_populates = books)]
    author: One<Author>,
}

const ROWS: i32 = 10_000;

async fn raw_tuples(client: &tokio_postgres::Client, statement: &tokio_postgres::Statement) -> Vec<(String, i32)> {
    let stream = client.query_raw(statement, [ROWS]).await.unwrap();
    pin_mut!(stream);
    let mut rows = Vec::new();
    while let Some(row) = stream.try_next().await.unwrap() {
        rows.push((row.get(0), row.get(1)));
    }
    rows
}

async fn orm_tuples(engine: &Engine) -> Vec<(String, i32)> {
    let mut session = engine.session();
    session.select((Book::title, Book::author_id)).filter(Book::id.le(ROWS)).all().await.unwrap()
}

/// Builds and renders a typical query: a join, three filters, an order and
/// a limit.
fn build_and_render(price: Decimal) -> orm::statement::Sql {
    let query = select(Book::ENTITY)
        .join(Book::author)
        .filter(Book::price.gt(price))
        .filter(Author::name.eq("Terry Pratchett"))
        .filter(Book::title.like("%Gods%"))
        .order_by(Book::title.asc())
        .limit(10);
    POSTGRES.render(query.into_statement())
}

fn render_nanos(rounds: usize) -> Duration {
    const PER_ROUND: u32 = 10_000;
    let price = Decimal::new(999, 2);
    let samples = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..PER_ROUND {
                std::hint::black_box(build_and_render(std::hint::black_box(price)));
            }
            started.elapsed() / PER_ROUND
        })
        .collect();
    median(samples)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds = common::rounds(31);
    let db = TestDb::new().await.expect("a benchmark database");
    let engine = Engine::builder(&plain(db.url())).pool_size(1).build().unwrap();
    engine.create_all(&[Author::TABLE, Book::TABLE]).await.unwrap();
    let (client, connection) = tokio_postgres::connect(db.url(), NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "INSERT INTO authors (name) VALUES ('Terry Pratchett'); \
             INSERT INTO books (title, price, author_id) SELECT 'book ' || i, i / 100.0, 1 \
             FROM generate_series(1, {ROWS}) AS i; ANALYZE books"
        ))
        .await
        .unwrap();
    let statement = client.prepare("SELECT title, author_id FROM books WHERE id <= $1").await.unwrap();
    pin_all(&engine, &client).await;
    if std::env::var_os("SKIP_RENDER").is_none() {
        println!(
            "typical query built and rendered: {} ns (median of {rounds} rounds)",
            render_nanos(rounds).as_nanos()
        );
        println!("  {}", build_and_render(Decimal::ONE).text);
    }

    assert_eq!(raw_tuples(&client, &statement).await, orm_tuples(&engine).await, "both sides read the same rows");
    println!("{rounds} rounds, medians, ORM / raw tokio-postgres in the same process");
    let (mut orm, mut raw) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let raw_side = async {
            std::hint::black_box(raw_tuples(&client, &statement).await.len());
        };
        let orm_side = async {
            std::hint::black_box(orm_tuples(&engine).await.len());
        };
        if round % 2 == 0 {
            raw.push(timed(raw_side).await);
            orm.push(timed(orm_side).await);
        } else {
            orm.push(timed(orm_side).await);
            raw.push(timed(raw_side).await);
        }
    }
    report("select 10,000 (String, i32) tuples", ("orm", orm), ("raw", raw));
}
