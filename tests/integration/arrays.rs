//! `Vec<T>` fields as PostgreSQL arrays: `T[]` columns, batched inserts and
//! updates, filters, and every built-in element type.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use orm::prelude::*;
use orm::testing::TestDb;
use rust_decimal::Decimal;

use crate::enums::Genre;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "articles")]
pub(crate) struct Article {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) tags: Vec<String>,
    pub(crate) scores: Vec<Option<i32>>,
    pub(crate) ratios: Vec<f64>,
    pub(crate) days: Vec<NaiveDate>,
    pub(crate) stamps: Vec<DateTime<Utc>>,
    pub(crate) blobs: Vec<Vec<u8>>,
    pub(crate) amounts: Vec<Decimal>,
    pub(crate) ids: Vec<uuid::Uuid>,
    pub(crate) docs: Vec<serde_json::Value>,
    pub(crate) genres: Vec<Genre>,
    pub(crate) flags: Option<Vec<bool>>,
}

fn hostile() -> Article {
    Article {
        id: 0,
        // Quotes, backslashes, braces, commas, the word NULL, blanks and
        // non-ASCII: each must come back byte for byte.
        tags: ["a\"b", "c\\d", "{e}", "f,g", "NULL", "", " h ", "é✓"].map(str::to_owned).to_vec(),
        scores: vec![Some(1), None, Some(-3)],
        ratios: vec![0.1, -0.0, f64::INFINITY, f64::NEG_INFINITY, 1e300],
        // Years chrono and PostgreSQL write differently: 44 BC, 10000 AD.
        days: [(2024, 2, 29), (-43, 3, 15), (10000, 1, 2)]
            .map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
            .to_vec(),
        stamps: vec![Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap() + chrono::TimeDelta::microseconds(678)],
        blobs: vec![vec![0, 1, 255], vec![]],
        amounts: vec!["12.50".parse().unwrap(), "-0.001".parse().unwrap()],
        ids: vec![uuid::Uuid::from_u128(7)],
        docs: vec![serde_json::json!({"k": "v \"q\""}), serde_json::json!([1, null])],
        genres: vec![Genre::ScienceFiction, Genre::Drama],
        flags: Some(vec![true, false]),
    }
}

fn empty() -> Article {
    Article {
        id: 0,
        tags: vec![],
        scores: vec![],
        ratios: vec![],
        days: vec![],
        stamps: vec![],
        blobs: vec![],
        amounts: vec![],
        ids: vec![],
        docs: vec![],
        genres: vec![],
        flags: None,
    }
}

#[orm::test(Article)]
async fn arrays_of_every_element_type_round_trip_through_batched_writes(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    let [full, none, other] = s.add_all([hostile(), empty(), Article { tags: vec!["x".into()], ..empty() }])[..] else {
        unreachable!()
    };
    s.commit().await.unwrap();

    let mut fresh = engine.session();
    let loaded = fresh.query::<Article>().order_by(Article::id.asc()).all().await.unwrap();
    let loaded: Vec<Article> = loaded.into_iter().map(|h| fresh[h].clone()).collect();
    assert_eq!(loaded, [&s[full], &s[none], &s[other]].map(Clone::clone));
    assert!(loaded[0].ratios[1].is_sign_negative(), "-0.0 keeps its sign");

    // Two objects changing the same array columns: one batched UPDATE.
    s[none].tags = vec!["now".into(), "tagged".into()];
    s[other].tags = vec![];
    s[other].flags = Some(vec![false]);
    s[none].flags = Some(vec![]);
    s.commit().await.unwrap();
    let tags: Vec<(Vec<String>, Option<Vec<bool>>)> =
        engine.session().select((Article::tags, Article::flags)).order_by(Article::id.asc()).all().await.unwrap();
    assert_eq!(tags[1], (vec!["now".to_owned(), "tagged".to_owned()], Some(vec![])));
    assert_eq!(tags[2], (vec![], Some(vec![false])));

    // An array is a value in filters, and PostgreSQL's array functions apply
    // to it in raw SQL.
    let tagged = engine.session().query::<Article>().filter(Article::tags.eq(vec!["x".to_owned()])).count().await;
    assert_eq!(tagged.unwrap(), 0, "`other` was cleared");
    let n = engine.session().query::<Article>().filter(Article::tags.eq(Vec::<String>::new())).count().await;
    assert_eq!(n.unwrap(), 1);
    let mut raw = engine.session();
    let with_null: Vec<(i64,)> = raw
        .query_sql("SELECT count(*) FROM articles WHERE 'NULL' = ANY(tags) AND scores[2] IS NULL", ())
        .await
        .unwrap();
    assert_eq!(with_null, [(1,)], "the string \"NULL\" and a NULL element stay apart");
}

#[orm::test(Article)]
async fn one_new_object_binds_its_arrays_as_they_are(db: TestDb) {
    // One row is sent as a parameter per column, not through `unnest`: each
    // array is bound in its own type, not as text.
    let engine = db.engine();
    for article in [hostile(), empty()] {
        let mut s = engine.session();
        let written = s.add(article);
        s.commit().await.unwrap();
        let mut fresh = engine.session();
        let loaded = fresh.get::<Article>(s[written].id).await.unwrap().expect("the row was written");
        assert_eq!(fresh[loaded], s[written]);
    }
}

/// An array column the database fills when the object leaves it unset.
#[derive(Model, Debug)]
#[orm(table = "playlists")]
struct Playlist {
    #[orm(primary_key)]
    id: i32,
    name: String,
    #[orm(default = "'{7}'")]
    tracks: Defaulted<Vec<i32>>,
}

#[orm::test(Playlist)]
async fn new_objects_read_back_a_defaulted_array_column_of_any_length(db: TestDb) {
    let mut s = db.engine().session();
    let unset = s.add(Playlist::new("unset"));
    let mut longer = Playlist::new("longer");
    longer.tracks = vec![1, 2].into();
    let longer = s.add(longer);
    s.commit().await.unwrap();
    assert_eq!(s[unset].tracks, Defaulted::Set(vec![7]), "the default, read back");
    assert_eq!(s[longer].tracks, Defaulted::Set(vec![1, 2]));
    assert!(s[unset].id > 0 && s[longer].id > s[unset].id, "keys in the order the objects were added");
    assert_eq!(s.get::<Playlist>(s[longer].id).await.unwrap(), Some(longer));
}
