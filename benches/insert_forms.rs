//! What an INSERT of many new rows costs by statement form, with raw
//! tokio-postgres only: the server's and the driver's share of the standard
//! benchmark's insert cells, apart from the ORM's own work. Each form
//! inserts the same users (standard's table, seeded with 100,000 rows)
//! against the multi-row `VALUES` that standard's raw side sends, which
//! returns nothing; the forms that also give the client the generated keys,
//! as an ORM needs them, show what that costs the server. A second table
//! times the INSERTs inside the server alone (a PL/pgSQL loop: no protocol,
//! no client), so that what returning the keys costs PostgreSQL itself
//! shows apart from the driver's share.
//!
//! Run with `cargo bench --bench insert_forms` (DATABASE_URL as for the
//! tests). `ROUNDS=n` changes the number of rounds (default 31).

mod common;
#[path = "common/new_users.rs"]
mod new_users;

use std::time::Duration;

use common::{pin_all, plain, report, timed};
use new_users::{values_insert, NewUsers};
use orm::postgres::tokio_postgres::types::ToSql;
use orm::postgres::tokio_postgres::{self, Client, NoTls, Statement};
use orm::prelude::*;
use orm::testing::TestDb;

#[derive(Model, Debug)]
#[orm(table = "users")]
struct User {
    #[orm(primary_key)]
    id: i32,
    name: String,
    hair_color: Option<String>,
}

/// The form `Unnest`: one array per column, nothing returned.
const UNNEST: &str = "INSERT INTO users (name, hair_color) SELECT * FROM unnest($1::text[], $2::text[])";

/// The statement forms, each one INSERT of `n` users.
enum Form {
    /// `VALUES ($1, $2), ..`, nothing returned: standard's raw side.
    Values(Statement),
    /// The same, `RETURNING id`: a row per key.
    ValuesReturning(Statement),
    /// `SELECT .. FROM unnest($1, $2)`, one array per column, nothing
    /// returned.
    Unnest(Statement),
    /// The INSERT the ORM sends (its text recorded from a session): the
    /// arrays of `Unnest`, the keys returned as one row of arrays.
    Orm(Statement),
    /// The keys reserved first (`nextval` in one query), then `Unnest` with
    /// them: two statements, each on its own, as a flush could send them
    /// (a reserved key is taken whether or not the INSERT commits).
    ReservedFirst { reserve: Statement, insert: Statement },
    /// The reservation and that INSERT in one statement: the keys drawn in
    /// a CTE, inserted with the rows and returned as one array.
    ReservedInline(Statement),
    /// The ORM's INSERT returning only the least and the greatest key: all
    /// that a flush would need when the keys are consecutive (no other
    /// session drew from the sequence meanwhile), and what returning every
    /// key costs beyond that.
    KeyRange(Statement),
}

impl Form {
    const NAMES: [&'static str; 7] = [
        "VALUES, nothing returned",
        "VALUES .. RETURNING id",
        "unnest, nothing returned",
        "the ORM's INSERT, keys as arrays",
        "keys reserved, then unnest",
        "keys reserved in the INSERT",
        "the ORM's INSERT, least and greatest key",
    ];

    /// Every form for `n` rows; `orm_insert` is the text of the ORM's.
    async fn all(client: &Client, n: usize, orm_insert: &str) -> Vec<Form> {
        let values = values_insert(n);
        let reserve = "SELECT array_agg(nextval('users_id_seq')::integer) FROM generate_series(1, $1::bigint)";
        let with_keys =
            "INSERT INTO users (id, name, hair_color) SELECT * FROM unnest($1::integer[], $2::text[], $3::text[])";
        let inline = "WITH keys AS (SELECT array_agg(nextval('users_id_seq')::integer) AS keys \
                      FROM generate_series(1, $1::bigint)), inserted AS (INSERT INTO users (id, name, hair_color) \
                      SELECT * FROM unnest((SELECT keys FROM keys), $2::text[], $3::text[])) SELECT keys FROM keys";
        let prepare = |sql: String| async move { client.prepare(&sql).await.unwrap() };
        vec![
            Form::Values(prepare(values.clone()).await),
            Form::ValuesReturning(prepare(format!("{values} RETURNING id")).await),
            Form::Unnest(prepare(UNNEST.to_owned()).await),
            Form::Orm(prepare(orm_insert.to_owned()).await),
            Form::ReservedFirst {
                reserve: prepare(reserve.to_owned()).await,
                insert: prepare(with_keys.to_owned()).await,
            },
            Form::ReservedInline(prepare(inline.to_owned()).await),
            Form::KeyRange(prepare(key_range(orm_insert)).await),
        ]
    }

    /// Inserts `users` in this form; checks that every key came back.
    async fn run(&self, client: &Client, users: &NewUsers) {
        let n = users.names.len();
        let arrays: [&(dyn ToSql + Sync); 2] = [&users.names, &users.colors];
        match self {
            Form::Values(statement) => {
                assert_eq!(client.execute(statement, &users.row_params()).await.unwrap(), n as u64)
            }
            Form::ValuesReturning(statement) => {
                assert_eq!(client.query(statement, &users.row_params()).await.unwrap().len(), n);
            }
            Form::Unnest(statement) => assert_eq!(client.execute(statement, &arrays).await.unwrap(), n as u64),
            Form::Orm(statement) => {
                let keys: Vec<i32> = client.query_one(statement, &arrays).await.unwrap().get(0);
                assert_eq!(keys.len(), n);
            }
            Form::ReservedFirst { reserve, insert } => {
                let keys: Vec<i32> = client.query_one(reserve, &[&(n as i64)]).await.unwrap().get(0);
                let params: [&(dyn ToSql + Sync); 3] = [&keys, &users.names, &users.colors];
                assert_eq!(client.execute(insert, &params).await.unwrap(), n as u64);
            }
            Form::KeyRange(statement) => {
                let row = client.query_one(statement, &arrays).await.unwrap();
                let (least, greatest): (i32, i32) = (row.get(0), row.get(1));
                assert_eq!(usize::try_from(greatest - least + 1).unwrap(), n);
            }
            Form::ReservedInline(statement) => {
                let params: [&(dyn ToSql + Sync); 3] = [&(n as i64), &users.names, &users.colors];
                let keys: Vec<i32> = client.query_one(statement, &params).await.unwrap().get(0);
                assert_eq!(keys.len(), n);
            }
        }
    }
}

/// `orm_insert` returning the least and the greatest key instead of them all.
fn key_range(orm_insert: &str) -> String {
    let all_keys = r#"SELECT array_agg("id")"#;
    assert!(orm_insert.contains(all_keys), "the ORM's INSERT returns its keys as {all_keys}: {orm_insert}");
    orm_insert.replace(all_keys, r#"SELECT min("id"), max("id")"#)
}

/// The forms timed inside the server, each a statement of a PL/pgSQL loop
/// over the arrays `names` and `colors`, against the first.
const SERVER_FORMS: [&str; 3] =
    ["unnest, nothing returned", "the ORM's INSERT, keys as arrays", "the ORM's INSERT, least and greatest key"];

/// One function per form of [`SERVER_FORMS`], `pg_temp.insert_form_<i>(names,
/// colors, iterations)`: runs the form's INSERT `iterations` times and
/// returns the microseconds each took, as the server's clock measures them.
/// The ORM's text is its own, its parameters the function's arrays.
async fn create_server_forms(client: &Client, orm_insert: &str) {
    let on_arrays = |sql: &str| sql.replace("$1", "names").replace("$2", "colors");
    let statements = [
        on_arrays(UNNEST),
        format!("{} INTO keys", on_arrays(orm_insert)),
        format!("{} INTO least_key, greatest_key", on_arrays(&key_range(orm_insert))),
    ];
    for (i, statement) in statements.iter().enumerate() {
        client
            .batch_execute(&format!(
                "CREATE FUNCTION pg_temp.insert_form_{i}(names text[], colors text[], iterations integer) \
                 RETURNS double precision LANGUAGE plpgsql AS $body$ \
                 DECLARE started timestamptz := clock_timestamp(); keys integer[]; \
                 least_key integer; greatest_key integer; \
                 BEGIN FOR i IN 1..iterations LOOP {statement}; END LOOP; \
                 RETURN extract(epoch FROM clock_timestamp() - started) * 1e6 / iterations; END $body$"
            ))
            .await
            .unwrap();
    }
}

/// Times [`SERVER_FORMS`] inside the server for `users`, `rounds` rounds
/// after one to warm up, the forms taking turns as in `main`.
async fn time_server_forms(client: &Client, users: &NewUsers, rounds: usize) -> Vec<Vec<Duration>> {
    // About 2 ms of inserting per form and round.
    let iterations = (20_000 / users.names.len()).max(1) as i32;
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); SERVER_FORMS.len()];
    for round in 0..=rounds {
        for k in 0..SERVER_FORMS.len() {
            let form = (round + k) % SERVER_FORMS.len();
            let call = format!("SELECT pg_temp.insert_form_{form}($1, $2, $3)");
            let row = client.query_one(&call, &[&users.names, &users.colors, &iterations]).await.unwrap();
            if round > 0 {
                times[form].push(Duration::from_secs_f64(row.get::<_, f64>(0) / 1e6));
            }
        }
    }
    times
}

/// The text of the INSERT a session sends for several new users.
async fn orm_insert_text(engine: &Engine) -> String {
    let mut session = engine.session();
    session.record_statements();
    session.add_all((0..2).map(|i| User::new(format!("recorded {i}"), None)));
    session.commit().await.unwrap();
    let statements = session.recorded_statements();
    statements.into_iter().find(|s| s.starts_with("WITH")).expect("the ORM's INSERT of several rows")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds = common::rounds(31);
    let db = TestDb::new().await.expect("a benchmark database");
    let engine = Engine::builder(&plain(db.url())).pool_size(1).build().unwrap();
    engine.create_all(&[User::TABLE]).await.unwrap();
    let orm_insert = orm_insert_text(&engine).await;
    let (client, connection) = tokio_postgres::connect(&plain(db.url()), NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "INSERT INTO users (name) SELECT 'user ' || i FROM generate_series(1, 100000) AS i; ANALYZE users",
        )
        .await
        .unwrap();
    pin_all(&engine, &client).await;
    println!("{rounds} rounds, medians, each form against `VALUES` with nothing returned");
    for n in [100, 1_000] {
        let users = NewUsers::new(n);
        let forms = Form::all(&client, n, &orm_insert).await;
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); forms.len()];
        for round in 0..=rounds {
            // Each round starts with the next form, so that no form always
            // takes the same place in the round.
            for k in 0..forms.len() {
                let form = (round + k) % forms.len();
                let took = timed(forms[form].run(&client, &users)).await;
                // The first round warms every statement up.
                if round > 0 {
                    times[form].push(took);
                }
            }
        }
        for (name, form_times) in Form::NAMES.iter().zip(&times) {
            let name = format!("{n} rows, {name}");
            report(&name, ("form", form_times.clone()), ("VALUES", times[0].clone()));
        }
    }
    println!("inside the server alone (PL/pgSQL), each form against `unnest` with nothing returned");
    create_server_forms(&client, &orm_insert).await;
    for n in [100, 1_000] {
        let times = time_server_forms(&client, &NewUsers::new(n), rounds).await;
        for (name, form_times) in SERVER_FORMS.iter().zip(&times) {
            report(&format!("{n} rows, {name}"), ("form", form_times.clone()), ("unnest", times[0].clone()));
        }
    }
}
