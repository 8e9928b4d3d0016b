//! The tutorial repository's basic example: people with a name, a date of
//! birth, a height (integer) and a weight (numeric) are created, queried and
//! printed.
//!
//! Run with `cargo run --example basic` (DATABASE_URL, default
//! postgres://postgres@127.0.0.1:5432/postgres).

use chrono::NaiveDate;
use orm::prelude::*;
use rust_decimal::Decimal;

/// A person, in table `people`.
#[derive(Model, Debug)]
#[orm(table = "people")]
struct Person {
    #[orm(primary_key)]
    id: i32,
    #[orm(max_len = 100)]
    name: String,
    date_of_birth: NaiveDate,
    /// In centimetres.
    height: i32,
    /// In kilograms.
    weight: Decimal,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

#[tokio::main]
async fn main() -> orm::Result<()> {
    // A database of its own on the server of DATABASE_URL (or a throwaway
    // local one); an application passes its own URL to `Engine::builder`.
    let url = orm::testing::example_database("orm_example_basic").await?;
    let engine = Engine::builder(&url).pool_size(2).build()?;
    engine.drop_all(&[Person::TABLE]).await?;
    engine.create_all(&[Person::TABLE]).await?;

    let mut session = engine.session();
    session.add(Person::new("Bruno Krebs", date(1984, 3, 11), 180, Decimal::new(785, 1)));
    session.add(Person::new("Ada Lovelace", date(1815, 12, 10), 165, Decimal::new(552, 1)));
    session.add(Person::new("Alan Turing", date(1912, 6, 23), 175, Decimal::new(680, 1)));
    session.commit().await?;

    println!("### All people:");
    for person in session.query::<Person>().order_by(Person::id.asc()).all().await? {
        let p = &session[person];
        println!("{} was born on {}, is {} cm tall and weighs {} kg", p.name, p.date_of_birth, p.height, p.weight);
    }
    println!();

    println!("### Taller than 170 cm:");
    let tall = session.query::<Person>().filter(Person::height.gt(170)).order_by(Person::height.desc()).all().await?;
    for person in tall {
        println!("{} ({} cm)", session[person].name, session[person].height);
    }
    println!();

    let ada = session.query::<Person>().filter(Person::name.eq("Ada Lovelace")).one().await?;
    session[ada].weight = Decimal::new(550, 1);
    session.commit().await?;
    println!("### Ada after an update:");
    println!("{:?}", session[ada]);
    Ok(())
}
