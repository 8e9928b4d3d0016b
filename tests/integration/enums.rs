//! Rust enums in columns: a PostgreSQL enum type that `create_all` creates
//! and `drop_all` drops, or text.

use orm::func;
use orm::prelude::*;
use orm::testing::TestDb;

#[derive(SqlEnum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Genre {
    Drama,
    #[orm(rename = "sci-fi")]
    ScienceFiction,
    Comedy,
}

#[derive(SqlEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[orm(text)]
pub(crate) enum Format {
    Hardcover,
    Ebook,
}

#[derive(Model, Debug)]
#[orm(table = "films")]
pub(crate) struct Film {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) title: String,
    pub(crate) genre: Genre,
    pub(crate) second_genre: Option<Genre>,
    pub(crate) format: Format,
}

#[orm::test(Film)]
async fn enums_round_trip_filter_group_and_update(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    let films = s.add_all([
        Film::new("Heat", Genre::Drama, None, Format::Hardcover),
        Film::new("Alien", Genre::ScienceFiction, Some(Genre::Drama), Format::Ebook),
        Film::new("Dune", Genre::ScienceFiction, None, Format::Ebook),
    ]);
    s.commit().await.unwrap();

    let kind: Vec<(String, String)> = s
        .query_sql(
            "SELECT data_type, udt_name FROM information_schema.columns WHERE table_name = 'films' AND \
             column_name IN ('genre', 'format') ORDER BY column_name",
            (),
        )
        .await
        .unwrap();
    assert_eq!(kind, [("text".into(), "text".into()), ("USER-DEFINED".into(), "genre".into())]);
    let labels: Vec<String> = s.query_sql("SELECT unnest(enum_range(NULL::genre))::text", ()).await.unwrap();
    assert_eq!(labels, ["drama", "sci-fi", "comedy"]);

    let sci_fi = s.select(Film::title).filter(Film::genre.eq(Genre::ScienceFiction)).order_by(Film::title.asc());
    let sci_fi: Vec<String> = sci_fi.all().await.unwrap();
    assert_eq!(sci_fi, ["Alien", "Dune"]);
    let either: Vec<String> = s
        .select(Film::title)
        .filter(Film::genre.in_list([Genre::Drama, Genre::Comedy]))
        .filter(Film::second_genre.is_null())
        .all()
        .await
        .unwrap();
    assert_eq!(either, ["Heat"]);
    let per_genre = s.select((Film::genre, func::count(Film::id))).group_by(Film::genre).order_by(Film::genre.asc());
    let per_genre: Vec<(Genre, i64)> = per_genre.all().await.unwrap();
    assert_eq!(per_genre, [(Genre::Drama, 1), (Genre::ScienceFiction, 2)]);

    s[films[0]].genre = Genre::Comedy;
    s[films[2]].second_genre = Some(Genre::Comedy);
    s.commit().await.unwrap();
    let mut other = engine.session();
    let stored = other.query::<Film>().order_by(Film::id.asc()).all().await.unwrap();
    let genres: Vec<(Genre, Option<Genre>, Format)> =
        stored.iter().map(|&f| (other[f].genre, other[f].second_genre, other[f].format)).collect();
    assert_eq!(
        genres,
        [
            (Genre::Comedy, None, Format::Hardcover),
            (Genre::ScienceFiction, Some(Genre::Drama), Format::Ebook),
            (Genre::ScienceFiction, Some(Genre::Comedy), Format::Ebook),
        ]
    );
    drop(other);
    drop(s);

    engine.drop_all(&[Film::TABLE]).await.unwrap();
    let types: Vec<i64> =
        engine.session().query_sql("SELECT count(*) FROM pg_type WHERE typname = 'genre'", ()).await.unwrap();
    assert_eq!(types, [0], "drop_all drops the enum type");
    engine.create_all(&[Film::TABLE]).await.unwrap();
    engine.create_all(&[Film::TABLE]).await.unwrap();
}

/// A database enum as the key, with a column the database fills: the
/// INSERT reads the key back to tell its rows apart, and the enum sent
/// must match the label read.
#[derive(Model, Debug)]
#[orm(table = "genre_notes")]
pub(crate) struct GenreNote {
    #[orm(primary_key)]
    pub(crate) genre: Genre,
    #[orm(default = "'none'")]
    pub(crate) note: Defaulted<String>,
}

#[orm::test(GenreNote)]
async fn an_enum_key_matches_the_rows_its_insert_returns(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    let drama = s.add(GenreNote { genre: Genre::Drama, note: Defaulted::Unset });
    let comedy = s.add(GenreNote { genre: Genre::Comedy, note: "funny".to_owned().into() });
    s.commit().await.unwrap();
    assert_eq!(s[drama].note, Defaulted::Set("none".to_owned()), "the default, read back");
    assert_eq!(s[comedy].note, Defaulted::Set("funny".to_owned()));
    assert_eq!(s.get::<GenreNote>(Genre::Comedy).await.unwrap(), Some(comedy));
}
