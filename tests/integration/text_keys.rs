//! Relationships whose keys are text: the loaders match rows to their
//! owners by key values that are not integers.

use orm::prelude::*;
use orm::testing::TestDb;
use orm::{Many, One};

#[derive(Model, Debug)]
#[orm(table = "countries")]
pub(crate) struct Country {
    #[orm(primary_key)]
    pub(crate) code: String,
    #[relationship(one_to_many, back_populates = country, order_by = City::name)]
    pub(crate) cities: Many<City>,
    #[relationship(many_to_many, secondary = Spoken, back_populates = countries)]
    pub(crate) languages: Many<Language>,
}

#[derive(Model, Debug)]
#[orm(table = "cities")]
pub(crate) struct City {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[orm(foreign_key = Country::code)]
    pub(crate) country_code: Option<String>,
    pub(crate) name: String,
    #[relationship(many_to_one, back_populates = cities)]
    pub(crate) country: One<Country>,
    #[relationship(one_to_many, back_populates = city)]
    pub(crate) districts: Many<District>,
}

#[derive(Model, Debug)]
#[orm(table = "districts")]
pub(crate) struct District {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[orm(foreign_key = City::id)]
    pub(crate) city_id: i32,
    pub(crate) name: String,
    #[relationship(many_to_one, back_populates = districts)]
    pub(crate) city: One<City>,
}

#[derive(Model, Debug)]
#[orm(table = "languages")]
pub(crate) struct Language {
    #[orm(primary_key)]
    pub(crate) code: String,
    #[relationship(many_to_many, secondary = Spoken, back_populates = languages)]
    pub(crate) countries: Many<Country>,
}

#[derive(Model, Debug)]
#[orm(table = "spoken")]
pub(crate) struct Spoken {
    #[orm(primary_key, foreign_key = Country::code)]
    pub(crate) country_code: String,
    #[orm(primary_key, foreign_key = Language::code)]
    pub(crate) language_code: String,
}

/// Three countries, four cities (one in none), a district in Paris, and
/// the languages spoken: Switzerland's three, one each in France and
/// Germany.
async fn setup() -> TestDb {
    let db = TestDb::new().await.expect("a test database");
    let tables = [Country::TABLE, City::TABLE, District::TABLE, Language::TABLE, Spoken::TABLE];
    db.engine().create_all(&tables).await.expect("create the tables");
    let mut s = db.engine().session();
    s.add_all(["ch", "de", "fr"].map(|code| Country::new(code.to_owned())));
    s.add_all(["de", "fr", "it"].map(|code| Language::new(code.to_owned())));
    s.flush().await.unwrap();
    let cities = [(Some("fr"), "Paris"), (Some("fr"), "Lyon"), (Some("de"), "Berlin"), (None, "Atlantis")];
    let cities = s.add_all(cities.map(|(country, name)| City::new(country.map(str::to_owned), name.to_owned())));
    s.flush().await.unwrap();
    let paris = s[cities[0]].id;
    s.add(District::new(paris, "Marais".to_owned()));
    let spoken = [("ch", "de"), ("ch", "fr"), ("ch", "it"), ("de", "de"), ("fr", "fr")];
    s.add_all(spoken.map(|(country, language)| Spoken::new(country.to_owned(), language.to_owned())));
    s.commit().await.unwrap();
    db
}

fn codes<T: Model>(session: &Session, handles: &[Handle<T>], code: impl Fn(&T) -> &str) -> Vec<String> {
    handles.iter().map(|&h| code(&session[h]).to_owned()).collect()
}

#[tokio::test]
async fn text_keys_link_owners_and_targets_in_eager_lazy_and_many_to_many_loads() {
    let db = setup().await;
    let mut s = db.engine().session();
    let options = Country::cities.selectin().then(City::districts.selectin());
    let countries = s.query::<Country>().order_by(Country::code.asc()).load(options).all().await.unwrap();
    let cities: Vec<Vec<String>> =
        countries.iter().map(|&c| codes(&s, &s.related(c, Country::cities).unwrap(), |c| &c.name)).collect();
    assert_eq!(cities, [vec![], vec!["Berlin"], vec!["Lyon", "Paris"]]);
    let paris = s.related(countries[2], Country::cities).unwrap()[1];
    assert_eq!(codes(&s, &s.related(paris, City::districts).unwrap(), |d| &d.name), ["Marais"]);

    // Many-to-one, a NULL key among them.
    let mut s = db.engine().session();
    let cities = s.query::<City>().order_by(City::name.asc()).load(City::country.selectin()).all().await.unwrap();
    let countries: Vec<Option<String>> =
        cities.iter().map(|&c| s.related(c, City::country).unwrap().map(|c| s[c].code.clone())).collect();
    let expected = [None, Some("de"), Some("fr"), Some("fr")].map(|c| c.map(str::to_owned));
    assert_eq!(countries, expected, "Atlantis, Berlin, Lyon, Paris");

    // Many-to-many, eager and then lazy from the other side.
    let mut s = db.engine().session();
    let countries =
        s.query::<Country>().order_by(Country::code.asc()).load(Country::languages.selectin()).all().await.unwrap();
    let spoken: Vec<Vec<String>> =
        countries.iter().map(|&c| codes(&s, &s.related(c, Country::languages).unwrap(), |l| &l.code)).collect();
    assert_eq!(spoken, [vec!["de", "fr", "it"], vec!["de"], vec!["fr"]]);
    let languages = s.query::<Language>().order_by(Language::code.asc()).all().await.unwrap();
    let french = s.load(languages[1], Language::countries).await.unwrap();
    assert_eq!(codes(&s, &french, |c| &c.code), ["ch", "fr"]);
    assert_eq!(french[0], countries[0], "the same object through both sides");
}

/// A `char(3)` foreign key equals the owner's `text` key in the database,
/// which ignores the padding, but reads back padded: the loader cannot
/// tell which collection its rows belong to, yet still loads them, and
/// the next level of the load reaches them.
#[tokio::test]
async fn rows_matched_by_a_key_that_reads_back_otherwise_are_loaded_with_their_relationships() {
    let db = setup().await;
    let mut s = db.engine().session();
    s.execute("ALTER TABLE cities ALTER COLUMN country_code TYPE char(3)", ()).await.unwrap();
    s.commit().await.unwrap();
    let mut s = db.engine().session();
    let options = Country::cities.selectin().then(City::districts.selectin());
    let countries = s.query::<Country>().order_by(Country::code.asc()).load(options).all().await.unwrap();
    assert_eq!(s.related(countries[2], Country::cities).unwrap(), [], "`fr ` is not `fr` to the loader");
    let paris = s.query::<City>().filter(City::name.eq("Paris")).one().await.unwrap();
    assert_eq!(s[paris].country_code.as_deref(), Some("fr "));
    let districts = s.related(paris, City::districts).expect("loaded with the cities");
    assert_eq!(codes(&s, &districts, |d| &d.name), ["Marais"]);
}

/// An upsert whose key another object of the session holds, added with
/// `add` or loaded after the upsert, is refused at the flush: the two
/// objects would write one row and both stay persistent, one of them
/// holding values the row does not.
#[tokio::test]
async fn an_upsert_of_a_key_another_object_holds_is_refused() {
    let db = setup().await;
    let engine = db.engine();
    let mut s = engine.session();
    s.add(Country::new("es".to_owned()));
    s.upsert(Country::new("es".to_owned())).unwrap();
    let refused = s.commit().await;
    assert!(matches!(refused, Err(orm::Error::InvalidStatement { model: "Country", .. })), "{refused:?}");

    let mut s = engine.session();
    s.set_autoflush(false);
    s.upsert(Country::new("fr".to_owned())).unwrap();
    assert!(s.get::<Country>("fr".to_owned()).await.unwrap().is_some());
    let refused = s.commit().await;
    assert!(matches!(refused, Err(orm::Error::InvalidStatement { model: "Country", .. })), "{refused:?}");

    let mut s = engine.session();
    s.upsert(Country::new("fr".to_owned())).unwrap();
    s.upsert(Country::new("es".to_owned())).unwrap();
    s.commit().await.unwrap();
    let count: Vec<i64> = s.query_sql("SELECT count(*) FROM countries", ()).await.unwrap();
    assert_eq!(count, [4], "one upsert per key is written");
}
