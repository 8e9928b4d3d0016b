//! `#[orm::test]` and `TestDb::with_tables`: a database per test cloned from
//! a template that holds the models' tables.

use std::time::{Duration, Instant};

use orm::prelude::*;
use orm::testing::TestDb;

use crate::common::{person, Address, Membership, Person};
use crate::enums::Film;

#[orm::test(Person, Address, Membership)]
async fn a_test_gets_a_fresh_database_with_the_tables(db: TestDb) {
    let mut s = db.engine().session();
    s.add(person("Ada", None));
    s.commit().await.unwrap();
    assert_eq!(s.query::<Person>().count().await.unwrap(), 1);
    assert!(db.engine().verify_schema(&[Person::TABLE, Address::TABLE, Membership::TABLE]).await.unwrap().is_clean());
}

#[orm::test(Person, Address, Membership)]
async fn tests_on_one_template_do_not_see_each_others_rows(db: TestDb) -> orm::Result<()> {
    let mut s = db.engine().session();
    assert_eq!(s.query::<Person>().count().await?, 0, "the template holds no rows");
    Ok(())
}

#[orm::test(Film)]
async fn enum_types_come_with_the_template(db: TestDb) {
    assert!(db.engine().verify_schema(&[Film::TABLE]).await.unwrap().is_clean());
}

/// Prints the time of a clone against `TestDb::new()` plus `create_all`,
/// for the same twelve tables (the medians of a few rounds).
#[tokio::test]
async fn cloning_a_template_against_creating_the_tables() {
    use crate::arrays::Article;
    use crate::constraints::{Measurement, Review, Shelf};
    use crate::session::StockItem;
    use crate::versioning::{Document, Reading};
    const TABLES: [&orm::TableMeta; 12] = [
        Person::TABLE,
        Address::TABLE,
        Membership::TABLE,
        Film::TABLE,
        Article::TABLE,
        Shelf::TABLE,
        Review::TABLE,
        Measurement::TABLE,
        StockItem::TABLE,
        Document::TABLE,
        Reading::TABLE,
        crate::session::Ticket::TABLE,
    ];
    let median = |mut samples: Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    drop(TestDb::with_tables(&TABLES).await.unwrap()); // the template, once
    let (mut cloned, mut created) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let start = Instant::now();
        let db = TestDb::with_tables(&TABLES).await.unwrap();
        cloned.push(start.elapsed());
        drop(db);
        let start = Instant::now();
        let db = TestDb::new().await.unwrap();
        db.engine().create_all(&TABLES).await.unwrap();
        created.push(start.elapsed());
        drop(db);
    }
    println!("clone from template: {:?}; new database + create_all: {:?}", median(cloned), median(created));
}
