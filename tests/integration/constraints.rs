//! Table constraints from the derive: unique over several columns, checks,
//! indexes over several columns, and foreign keys with `ON DELETE` actions,
//! created by `create_all` under stable names and reported by them.

use orm::prelude::*;
use orm::testing::TestDb;

#[derive(Model, Debug)]
#[orm(table = "shelves")]
pub(crate) struct Shelf {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) room: String,
}

#[derive(Model, Debug)]
#[orm(table = "reviews", unique(shelf_id, title), index(shelf_id, stars), check(stars_range = "stars BETWEEN 1 AND 5"))]
pub(crate) struct Review {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[orm(foreign_key = Shelf::id, on_delete = "cascade")]
    pub(crate) shelf_id: i32,
    #[orm(foreign_key = Shelf::id, on_delete = "set null")]
    pub(crate) backup_shelf_id: Option<i32>,
    pub(crate) title: String,
    pub(crate) stars: i32,
}

async fn shelves() -> (TestDb, i32, i32) {
    let db = TestDb::new().await.expect("a test database");
    db.engine().create_all(&[Shelf::TABLE, Review::TABLE]).await.unwrap();
    let mut s = db.engine().session();
    let (a, b) = (s.add(Shelf::new("north")), s.add(Shelf::new("south")));
    s.commit().await.unwrap();
    let ids = (s[a].id, s[b].id);
    (db, ids.0, ids.1)
}

#[tokio::test]
async fn violations_name_the_constraint() {
    let (db, north, _) = shelves().await;
    let mut s = db.engine().session();
    s.add(Review::new(north, None, "Dune", 5));
    s.commit().await.unwrap();

    s.add(Review::new(north, None, "Dune", 4));
    let twice = s.commit().await.unwrap_err();
    assert!(twice.is_unique_violation(), "{twice:?}");
    assert_eq!(twice.constraint(), Some("reviews_shelf_id_title_key"));
    s.rollback().await.unwrap();

    s.add(Review::new(north, None, "Emma", 9));
    let out_of_range = s.commit().await.unwrap_err();
    assert!(matches!(out_of_range, Error::CheckViolation(_)), "{out_of_range:?}");
    assert_eq!(out_of_range.constraint(), Some("reviews_stars_range"));
}

#[tokio::test]
async fn create_all_makes_the_multi_column_index() {
    let (db, _, _) = shelves().await;
    let mut s = db.engine().session();
    let definition: Vec<String> =
        s.query_sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_reviews_shelf_id_stars'", ()).await.unwrap();
    assert_eq!(definition.len(), 1);
    assert!(definition[0].contains("(shelf_id, stars)"), "{}", definition[0]);
}

#[tokio::test]
async fn the_database_cascades_and_nulls_on_delete() {
    let (db, north, south) = shelves().await;
    let mut s = db.engine().session();
    s.add(Review::new(north, Some(south), "Dune", 5));
    s.add(Review::new(south, Some(north), "Emma", 4));
    s.commit().await.unwrap();
    let mut raw = db.engine().session();
    raw.execute("DELETE FROM shelves WHERE id = $1", (north,)).await.unwrap();
    raw.commit().await.unwrap();
    let left: Vec<(String, Option<i32>)> =
        raw.query_sql("SELECT title, backup_shelf_id FROM reviews ORDER BY title", ()).await.unwrap();
    assert_eq!(left, [("Emma".to_owned(), None)], "Dune went with its shelf; Emma lost her backup");
}

/// Two indexes whose `ix_<table>_<column>` names agree in their first 63
/// bytes: PostgreSQL would cut both to one name, and `CREATE INDEX IF NOT
/// EXISTS` would skip the second.
#[derive(Model, Debug)]
#[orm(table = "measurements_of_the_northern_station")]
pub(crate) struct Measurement {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[orm(index)]
    pub(crate) temperature_at_ground_level_morning: f64,
    #[orm(index)]
    pub(crate) temperature_at_ground_level_evening: f64,
}

#[orm::test(Measurement)]
async fn long_index_names_stay_apart_within_63_bytes(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    let names: Vec<String> = s
        .query_sql(
            "SELECT indexname::text FROM pg_indexes WHERE tablename = 'measurements_of_the_northern_station' \
             AND indexname LIKE 'ix_%' ORDER BY indexname",
            (),
        )
        .await
        .unwrap();
    assert_eq!(names.len(), 2, "both indexes exist: {names:?}");
    assert!(
        names.iter().all(|n| n.len() <= 63 && n.starts_with("ix_measurements_of_the_northern_station_")),
        "{names:?}"
    );
    assert_ne!(names[0], names[1]);
}
