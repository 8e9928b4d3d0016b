//! Relationships: the four patterns, back-populates in memory, the flush
//! walking them, cascades, lazy and eager loading, and joins.

use chrono::NaiveDate;
use orm::prelude::*;
use orm::testing::TestDb;
use orm::{Connection, Many, ObjectState, One, Value};

use crate::common::{date, statements_during};

#[derive(Model, Debug)]
#[orm(table = "movies")]
pub(crate) struct Movie {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) title: String,
    pub(crate) release_date: NaiveDate,
    #[relationship(many_to_many, secondary = MovieActor, back_populates = movies, order_by = Actor::id)]
    pub(crate) actors: Many<Actor>,
}

#[derive(Model, Debug)]
#[orm(table = "movies_actors")]
pub(crate) struct MovieActor {
    #[orm(primary_key, foreign_key = Movie::id)]
    pub(crate) movie_id: i32,
    #[orm(primary_key, foreign_key = Actor::id)]
    pub(crate) actor_id: i32,
}

#[derive(Model, Debug)]
#[orm(table = "actors")]
pub(crate) struct Actor {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) name: String,
    pub(crate) birthday: NaiveDate,
    #[relationship(many_to_many, secondary = MovieActor, back_populates = actors)]
    pub(crate) movies: Many<Movie>,
    #[relationship(one_to_many, back_populates = actor, order_by = ContactDetails::id, cascade = "all, delete-orphan")]
    pub(crate) contact_details: Many<ContactDetails>,
    #[relationship(one_to_one, back_populates = actor)]
    pub(crate) stuntman: One<Stuntman>,
}

#[derive(Model, Debug)]
#[orm(table = "stuntmen")]
pub(crate) struct Stuntman {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) name: String,
    pub(crate) active: bool,
    #[orm(foreign_key = Actor::id, index)]
    pub(crate) actor_id: Option<i32>,
    #[relationship(one_to_one, back_populates = stuntman)]
    pub(crate) actor: One<Actor>,
}

#[derive(Model, Debug)]
#[orm(table = "contact_details")]
pub(crate) struct ContactDetails {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) phone_number: String,
    pub(crate) address: String,
    #[orm(foreign_key = Actor::id)]
    pub(crate) actor_id: Option<i32>,
    #[relationship(many_to_one, back_populates = contact_details)]
    pub(crate) actor: One<Actor>,
}

#[derive(Model, Debug)]
#[orm(table = "employees")]
pub(crate) struct Employee {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) name: String,
    #[orm(foreign_key = Employee::id)]
    pub(crate) manager_id: Option<i32>,
    #[orm(foreign_key = Employee::id)]
    pub(crate) mentor_id: Option<i32>,
    #[relationship(many_to_one, foreign_key = Employee::manager_id, back_populates = reports)]
    pub(crate) manager: One<Employee>,
    #[relationship(one_to_many, foreign_key = Employee::manager_id, back_populates = manager)]
    pub(crate) reports: Many<Employee>,
    #[relationship(many_to_one, foreign_key = Employee::mentor_id)]
    pub(crate) mentor: One<Employee>,
}

async fn setup() -> TestDb {
    let db = TestDb::new().await.expect("a test database");
    let tables =
        [Movie::TABLE, Actor::TABLE, MovieActor::TABLE, Stuntman::TABLE, ContactDetails::TABLE, Employee::TABLE];
    db.engine().create_all(&tables).await.expect("create the tables");
    db
}

async fn count_rows(engine: &Engine, table: &str) -> i64 {
    let mut conn = engine.connect().await.unwrap();
    let rows = conn.query(&format!("SELECT count(*) FROM {table}"), &[]).await.unwrap();
    match rows.values[..] {
        [Value::I64(n)] => n,
        ref other => panic!("{other:?}"),
    }
}

/// The tutorial's data: three movies, three actors, their links, contact
/// details and stuntmen.
async fn tutorial_data(session: &mut Session) -> [Handle<Actor>; 3] {
    let bourne = session.add(Movie::new("The Bourne Identity", date(2002, 10, 11)));
    let furious = session.add(Movie::new("Furious 7", date(2015, 4, 2)));
    let pain = session.add(Movie::new("Pain & Gain", date(2013, 8, 23)));
    let matt = session.add(Actor::new("Matt Damon", date(1970, 10, 8)));
    let dwayne = session.add(Actor::new("Dwayne Johnson", date(1972, 5, 2)));
    let mark = session.add(Actor::new("Mark Wahlberg", date(1971, 6, 5)));
    session.link(bourne, Movie::actors, matt).unwrap();
    session.link(furious, Movie::actors, dwayne).unwrap();
    session.link(pain, Movie::actors, dwayne).unwrap();
    session.link(pain, Movie::actors, mark).unwrap();
    for (actor, phone, address) in [
        (matt, "415 555 2671", "Burbank, CA"),
        (dwayne, "423 555 5623", "Glendale, CA"),
        (dwayne, "421 444 2323", "West Hollywood, CA"),
        (mark, "421 333 9428", "Glendale, CA"),
    ] {
        let details = session.add(ContactDetails::new(phone, address, None));
        session.link(details, ContactDetails::actor, actor).unwrap();
    }
    for (name, actor) in [("John Doe", matt), ("John Roe", dwayne), ("Richard Roe", mark)] {
        let stuntman = session.add(Stuntman::new(name, true, None));
        session.link(actor, Actor::stuntman, stuntman).unwrap();
    }
    session.commit().await.unwrap();
    [matt, dwayne, mark]
}

fn names<T: Model>(session: &Session, handles: &[Handle<T>], name: impl Fn(&T) -> &str) -> Vec<String> {
    handles.iter().map(|&h| name(&session[h]).to_owned()).collect()
}

/// With autoflush off, an eager load leaves alone the relationships the
/// session changed and has not flushed, since the rows read do not show the
/// change; once flushed, a load sets them from the rows again.
#[tokio::test]
async fn an_eager_load_keeps_unflushed_link_changes_with_autoflush_off() {
    let db = setup().await;
    let mut s = db.engine().session();
    let [matt, dwayne, _] = tutorial_data(&mut s).await;
    s.set_autoflush(false);
    s.query::<Actor>().load(Actor::contact_details.selectin()).all().await.unwrap();
    let moved = s[dwayne].contact_details.handles().unwrap()[0];
    s.link(matt, Actor::contact_details, moved).unwrap();
    let fresh = s.add(ContactDetails::new("000 000 0000", "Nowhere", None));
    s.link(matt, Actor::contact_details, fresh).unwrap();
    let matts = s[matt].contact_details.handles().unwrap();
    let dwaynes = s[dwayne].contact_details.handles().unwrap();
    assert_eq!((matts.len(), dwaynes.len()), (3, 1));

    s.query::<Actor>().load(Actor::contact_details.selectin()).all().await.unwrap();
    assert_eq!(s[matt].contact_details.handles().unwrap(), matts, "selectin");
    assert_eq!(s[dwayne].contact_details.handles().unwrap(), dwaynes, "selectin");
    s.query::<Actor>().load(Actor::contact_details.joined()).all().await.unwrap();
    assert_eq!(s[matt].contact_details.handles().unwrap(), matts, "joined");
    assert_eq!(s[dwayne].contact_details.handles().unwrap(), dwaynes, "joined");
    s.query::<ContactDetails>().load(ContactDetails::actor.joined()).all().await.unwrap();
    assert_eq!(s[moved].actor.handles().unwrap(), [matt], "the many-to-one side");

    s.flush().await.unwrap();
    s.query::<Actor>().load(Actor::contact_details.selectin()).all().await.unwrap();
    assert_eq!(s[matt].contact_details.handles().unwrap(), matts, "read from the flushed rows");
    assert_eq!(s[dwayne].contact_details.handles().unwrap(), dwaynes, "read from the flushed rows");

    // Flushed, the change no longer holds the links, even while something
    // else waits for the next flush: a load shows what the rows say.
    let moved_id = s[moved].id;
    s.execute("UPDATE contact_details SET actor_id = $1 WHERE id = $2", (s[dwayne].id, moved_id)).await.unwrap();
    s.add(ContactDetails::new("111 111 1111", "Elsewhere", None));
    s.query::<Actor>().load(Actor::contact_details.selectin()).all().await.unwrap();
    assert_eq!(s[matt].contact_details.handles().unwrap().len(), 2, "the row moved back");
    assert_eq!(s[dwayne].contact_details.handles().unwrap().len(), 2, "the row moved back");
}

/// A failed flush rolls back what the transaction's earlier flushes wrote,
/// and their link changes are pending again: a load (autoflush off) keeps
/// showing them, whether the whole transaction was rolled back or only the
/// part after a savepoint.
#[tokio::test]
async fn link_changes_a_failed_flush_makes_pending_again_survive_a_load() {
    let db = setup().await;
    for with_savepoint in [false, true] {
        let mut s = db.engine().session();
        let [matt, dwayne, mark] = tutorial_data(&mut s).await;
        s.set_autoflush(false);
        s.query::<Actor>().load(Actor::contact_details.selectin()).all().await.unwrap();
        s.execute("ALTER TABLE contact_details ADD CONSTRAINT not_nowhere CHECK (address <> 'Nowhere')", ())
            .await
            .unwrap();
        let [first, second] = s[dwayne].contact_details.handles().unwrap()[..] else { panic!("two rows") };
        s.link(matt, Actor::contact_details, first).unwrap();
        s.flush().await.unwrap();
        let savepoint = if with_savepoint { Some(s.begin_nested().await.unwrap()) } else { None };
        s.link(mark, Actor::contact_details, second).unwrap();
        s.flush().await.unwrap();
        s.add(ContactDetails::new("000 000 0000", "Nowhere", None));
        s.flush().await.expect_err("the CHECK refuses the row");

        s.query::<Actor>().load(Actor::contact_details.selectin()).all().await.unwrap();
        let context = if with_savepoint { "after a savepoint" } else { "the whole transaction" };
        assert!(s[matt].contact_details.handles().unwrap().contains(&first), "{context}");
        assert!(s[mark].contact_details.handles().unwrap().contains(&second), "{context}");
        assert_eq!(s[dwayne].contact_details.handles().unwrap(), [], "{context}");
        if let Some(savepoint) = savepoint {
            // Written before the savepoint, and still written: no mark holds
            // Matt's links, and a load reads them from the rows.
            s.execute("UPDATE contact_details SET actor_id = NULL WHERE id = $1", (s[first].id,)).await.unwrap();
            s.query::<Actor>().load(Actor::contact_details.selectin()).all().await.unwrap();
            assert!(!s[matt].contact_details.handles().unwrap().contains(&first), "the rows before the savepoint");
            s.rollback_to(savepoint).await.unwrap();
        }
        s.rollback().await.unwrap();
    }
}

/// A relationship refreshed after `link` changed it shows the rows again
/// at its next load, and at the loads after it.
#[tokio::test]
async fn a_refreshed_parent_loads_its_links_from_the_rows_again() {
    let db = setup().await;
    let mut s = db.engine().session();
    let [matt, dwayne, _] = tutorial_data(&mut s).await;
    s.set_autoflush(false);
    s.query::<Actor>().load(Actor::contact_details.selectin()).all().await.unwrap();
    let moved = s[dwayne].contact_details.handles().unwrap()[0];
    s.link(matt, Actor::contact_details, moved).unwrap();
    s.refresh(matt).await.unwrap();
    s.query::<Actor>().load(Actor::contact_details.selectin()).all().await.unwrap();
    assert!(!s[matt].contact_details.handles().unwrap().contains(&moved), "the rows, not the change");

    let moved_id = s[moved].id;
    s.execute("UPDATE contact_details SET actor_id = $1 WHERE id = $2", (s[matt].id, moved_id)).await.unwrap();
    s.query::<Actor>().load(Actor::contact_details.selectin()).all().await.unwrap();
    assert!(s[matt].contact_details.handles().unwrap().contains(&moved), "a later load reads the rows too");
}

/// With autoflush off, a relationship linked before it was loaded can
/// still be loaded; the load reads the rows.
#[tokio::test]
async fn a_relationship_linked_before_it_was_loaded_still_loads_with_autoflush_off() {
    let db = setup().await;
    let mark_id = {
        let mut s = db.engine().session();
        let [_, _, mark] = tutorial_data(&mut s).await;
        s[mark].id
    };
    let mut s = db.engine().session();
    s.set_autoflush(false);
    let mark = s.get::<Actor>(mark_id).await.unwrap().unwrap();
    let fresh = s.add(ContactDetails::new("000 000 0000", "Nowhere", None));
    s.link(mark, Actor::contact_details, fresh).unwrap();
    let details = s.load(mark, Actor::contact_details).await.unwrap();
    assert_eq!(details.len(), 1, "Mark's row; the new one is not flushed");
    assert!(s[mark].contact_details.is_loaded());
}

#[tokio::test]
async fn many_to_many_links_follow_both_sides_and_write_secondary_rows() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let bourne = session.add(Movie::new("The Bourne Identity", date(2002, 10, 11)));
    let matt = session.add(Actor::new("Matt Damon", date(1970, 10, 8)));
    session.link(bourne, Movie::actors, matt).unwrap();
    // The other side follows at once, before any flush.
    assert_eq!(session.related(matt, Actor::movies).unwrap(), [bourne]);
    // Linking again from the other side changes nothing.
    session.link(matt, Actor::movies, bourne).unwrap();
    session.commit().await.unwrap();
    assert_eq!(count_rows(engine, "movies_actors").await, 1);
    assert_eq!(session.related(bourne, Movie::actors).unwrap(), [matt], "and after the flush");

    let mut fresh = engine.session();
    let movie = fresh.get::<Movie>(session[bourne].id).await.unwrap().unwrap();
    let actors = fresh.load(movie, Movie::actors).await.unwrap();
    assert_eq!(names(&fresh, &actors, |a| &a.name), ["Matt Damon"]);
    fresh.unlink(movie, Movie::actors, actors[0]).unwrap();
    assert_eq!(fresh.related(movie, Movie::actors).unwrap(), []);
    fresh.commit().await.unwrap();
    assert_eq!(count_rows(engine, "movies_actors").await, 0);
    assert_eq!(count_rows(engine, "actors").await, 1, "unlinking deletes the association, not the actor");
}

#[tokio::test]
async fn a_new_parent_key_fills_the_foreign_keys_of_its_children() {
    let db = setup().await;
    let mut session = db.engine().session();
    // The child is added before its parent; the flush still inserts the
    // parent first and copies its generated key.
    let details = session.add(ContactDetails::new("415 555 2671", "Burbank, CA", None));
    let matt = session.add(Actor::new("Matt Damon", date(1970, 10, 8)));
    session.link(details, ContactDetails::actor, matt).unwrap();
    assert_eq!(session.related(matt, Actor::contact_details).unwrap(), [details]);
    session.commit().await.unwrap();
    assert_eq!(session[details].actor_id, Some(session[matt].id));

    // A persistent parent's key is copied at once.
    let more = session.add(ContactDetails::new("423 555 5623", "Glendale, CA", None));
    session.link(matt, Actor::contact_details, more).unwrap();
    assert_eq!(session[more].actor_id, Some(session[matt].id));
    assert_eq!(session.related(more, ContactDetails::actor).unwrap(), Some(matt));
}

#[tokio::test]
async fn one_to_one_replacement_and_unlink_clear_the_foreign_key() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let matt = session.add(Actor::new("Matt Damon", date(1970, 10, 8)));
    let john = session.add(Stuntman::new("John Doe", true, None));
    let jane = session.add(Stuntman::new("Jane Doe", true, None));
    session.link(john, Stuntman::actor, matt).unwrap();
    assert_eq!(session.related(matt, Actor::stuntman).unwrap(), Some(john));
    session.commit().await.unwrap();
    assert_eq!(session[john].actor_id, Some(session[matt].id));

    // One-to-one: a new stuntman replaces the old one, whose key is cleared.
    session.link(matt, Actor::stuntman, jane).unwrap();
    assert_eq!(session.related(john, Stuntman::actor).unwrap(), None);
    session.commit().await.unwrap();
    assert_eq!(session[john].actor_id, None);
    assert_eq!(session[jane].actor_id, Some(session[matt].id));

    // Without delete-orphan, an unlinked child stays, with a NULL key.
    session.unlink(jane, Stuntman::actor, matt).unwrap();
    session.commit().await.unwrap();
    assert_eq!(count_rows(engine, "stuntmen WHERE actor_id IS NULL").await, 2);
}

#[tokio::test]
async fn delete_orphan_deletes_a_child_that_leaves_its_parent() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let [matt, ..] = tutorial_data(&mut session).await;
    let details = session.related(matt, Actor::contact_details).unwrap();
    session.unlink(matt, Actor::contact_details, details[0]).unwrap();
    assert_eq!(session.state(details[0]), Some(orm::ObjectState::Deleted));
    session.commit().await.unwrap();
    assert_eq!(count_rows(engine, "contact_details").await, 3);
}

#[tokio::test]
async fn deleting_a_parent_cascades_nullifies_and_removes_associations() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let [_, dwayne, _] = tutorial_data(&mut session).await;
    let details = session.related(dwayne, Actor::contact_details).unwrap();
    let stuntman = session.related(dwayne, Actor::stuntman).unwrap().unwrap();
    session.delete(dwayne).unwrap();
    session.commit().await.unwrap();

    assert_eq!(count_rows(engine, "actors").await, 2);
    assert_eq!(count_rows(engine, "contact_details").await, 2, "cascade = delete");
    assert_eq!(count_rows(engine, "movies_actors").await, 2, "Dwayne's two associations are gone");
    assert_eq!(count_rows(engine, "movies").await, 3, "the movies stay");
    assert_eq!(count_rows(engine, "stuntmen WHERE actor_id IS NULL").await, 1, "no cascade: the key is nulled");
    // The loaded objects agree with the database.
    assert!(details.iter().all(|&d| session.state(d) == Some(orm::ObjectState::Detached)));
    assert_eq!(session[stuntman].actor_id, None);
}

#[tokio::test]
async fn a_delete_cascades_by_keys_matched_as_selectin_matches_them() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let [_, dwayne, _] = tutorial_data(&mut session).await;
    let furious = session.query::<Movie>().filter(Movie::title.eq("Furious 7")).one().await.unwrap();
    session.delete(dwayne).unwrap();
    session.delete(furious).unwrap();
    session.record_statements();
    session.commit().await.unwrap();
    let sent = session.recorded_statements();
    let sent_for = |start: &str| -> Vec<&String> { sent.iter().filter(|s| s.starts_with(start)).collect() };
    let links = sent_for(r#"DELETE FROM "movies_actors""#);
    // `movie_id` leads the key; `actor_id` comes second.
    assert!(links.iter().any(|s| s.contains(r#""movie_id" = ANY($1::integer[])"#)), "{links:#?}");
    assert!(links.iter().any(|s| s.contains(r#""actor_id" IN (SELECT "#)), "{links:#?}");
    // The contact details' `actor_id` (deleted) has no index; the
    // stuntmen's (nulled) has one.
    let details = sent_for(r#"DELETE FROM "contact_details""#);
    assert!(!details.is_empty() && details.iter().all(|s| s.contains(r#""actor_id" IN (SELECT "#)), "{details:#?}");
    let stuntmen = sent_for(r#"UPDATE "stuntmen""#);
    assert!(!stuntmen.is_empty() && stuntmen.iter().all(|s| s.contains(r#""actor_id" = ANY("#)), "{stuntmen:#?}");
    assert_eq!(count_rows(engine, "movies_actors").await, 2, "Matt's in The Bourne Identity, Mark's in Pain & Gain");
    assert_eq!(count_rows(engine, "movies").await, 2);
    assert_eq!(count_rows(engine, "contact_details").await, 2);
    assert_eq!(count_rows(engine, "stuntmen WHERE actor_id IS NULL").await, 1);
}

#[tokio::test]
async fn lazy_loading_is_explicit_and_batched_across_siblings() {
    let db = setup().await;
    let engine = db.engine();
    tutorial_data(&mut engine.session()).await;

    let mut session = engine.session();
    let movies = session.query::<Movie>().order_by(Movie::id.asc()).all().await.unwrap();
    let err = session.related(movies[0], Movie::actors).unwrap_err();
    assert!(matches!(err, Error::NotLoaded { model: "Movie", relationship: "actors" }), "{err}");
    assert_eq!(err.to_string(), "`Movie.actors` is not loaded: load it with `Session::load` or an eager option");

    // A naive loop over the result: the first load fetches the actors of
    // every movie of that result, in one query.
    let (trips, loaded) = load_actors_one_movie_at_a_time(engine, &mut session, &movies).await;
    assert_eq!(trips, 1, "2 queries in all, not N+1");
    // The same actor is the same object through both movies.
    assert_eq!(loaded[1][0], loaded[2][0]);
}

#[tokio::test]
async fn lazy_loads_are_batched_across_a_result_that_brought_back_an_object_held_before() {
    let db = setup().await;
    let engine = db.engine();
    tutorial_data(&mut engine.session()).await;

    let mut session = engine.session();
    // Held first, so the next result's objects are not in consecutive slots.
    let pain = session.query::<Movie>().filter(Movie::title.eq("Pain & Gain")).one().await.unwrap();
    let movies = session.query::<Movie>().order_by(Movie::id.asc()).all().await.unwrap();
    assert_eq!(movies[2], pain);
    let (trips, _) = load_actors_one_movie_at_a_time(engine, &mut session, &movies).await;
    assert_eq!(trips, 1, "the first load fetches the actors of the whole result");
}

/// Loads the actors of each movie of the tutorial in turn, as a naive loop
/// would, and checks the casts; returns the statements sent and the actors.
async fn load_actors_one_movie_at_a_time(
    engine: &Engine,
    session: &mut Session,
    movies: &[Handle<Movie>],
) -> (u64, Vec<Vec<Handle<Actor>>>) {
    let (trips, loaded) = statements_during(engine, async {
        let mut all = Vec::new();
        for &movie in movies {
            all.push(session.load(movie, Movie::actors).await.unwrap());
        }
        all
    })
    .await;
    let cast: Vec<Vec<String>> = loaded.iter().map(|a| names(session, a, |a| &a.name)).collect();
    assert_eq!(cast, [vec!["Matt Damon"], vec!["Dwayne Johnson"], vec!["Dwayne Johnson", "Mark Wahlberg"]]);
    (trips, loaded)
}

#[tokio::test]
async fn selectin_loads_three_levels_in_a_fixed_number_of_statements() {
    let db = setup().await;
    let engine = db.engine();
    for copy in 0..3 {
        let mut session = engine.session();
        tutorial_data(&mut session).await;
        let mut session = engine.session();
        let options = Movie::actors.selectin().then(Actor::contact_details.selectin()).then(Actor::stuntman.selectin());
        let query = session.query::<Movie>().order_by(Movie::id.asc()).load(options);
        let (trips, movies) = statements_during(engine, query.all()).await;
        assert_eq!(trips, 4, "one per level, however many rows ({} movies)", movies.as_ref().unwrap().len());
        let movies = movies.unwrap();
        assert_eq!(movies.len(), 3 * (copy + 1));
        let (trips, _) = statements_during(engine, async {
            let pain = movies[2];
            let actors = session.related(pain, Movie::actors).unwrap();
            let details = session.related(actors[0], Actor::contact_details).unwrap();
            let addresses = names(&session, &details, |d| &d.address);
            assert_eq!(addresses, ["Glendale, CA", "West Hollywood, CA"]);
            let stuntman = session.related(actors[1], Actor::stuntman).unwrap();
            assert_eq!(names(&session, stuntman.as_slice(), |s| &s.name), ["Richard Roe"]);
        })
        .await;
        assert_eq!(trips, 0);
    }
}

#[tokio::test]
async fn selectin_matches_keys_through_a_declared_index_and_hashes_them_without_one() {
    let db = setup().await;
    let engine = db.engine();
    let mut first = engine.session();
    let [matt, dwayne, _] = tutorial_data(&mut first).await.map(|actor| first[actor].id);
    let mut session = engine.session();
    session.record_statements();
    let options = Movie::actors
        .selectin()
        .then(Actor::contact_details.selectin())
        .then(Actor::movies.selectin())
        .then(Actor::stuntman.selectin());
    session.query::<Movie>().load(options).all().await.unwrap();
    let sent = session.recorded_statements();
    let sent_for = |needle: &str| match sent.iter().find(|s| s.contains(needle)) {
        Some(statement) => statement.clone(),
        None => panic!("no statement with {needle}: {sent:#?}"),
    };
    // `movie_id` leads the secondary's primary key: PostgreSQL reads the
    // index for the keys.
    let actors = sent_for(r#""movies_actors"."movie_id" FROM "actors""#);
    assert!(actors.contains(r#"WHERE "movies_actors"."movie_id" = ANY($1::integer[])"#), "{actors}");
    // `actor_id` has no index of its own, and comes second in the key: the
    // keys are rows that PostgreSQL can hash.
    let details = sent_for(r#"FROM "contact_details""#);
    assert!(details.contains(r#"WHERE "contact_details"."actor_id" IN (SELECT "#), "{details}");
    assert!(details.contains("unnest($1::integer[])") && !details.contains("ANY"), "{details}");
    let movies = sent_for(r#""movies_actors"."actor_id" FROM "movies""#);
    assert!(movies.contains(r#"WHERE "movies_actors"."actor_id" IN (SELECT "#), "{movies}");
    // `#[orm(index)]` on the stuntmen's `actor_id`.
    let stuntmen = sent_for(r#"FROM "stuntmen""#);
    assert!(stuntmen.contains(r#"WHERE "stuntmen"."actor_id" = ANY($1::integer[])"#), "{stuntmen}");

    let loaded = |actor: Option<Handle<Actor>>| actor.expect("loaded by the query");
    let matt = loaded(session.get::<Actor>(matt).await.unwrap());
    let dwayne = loaded(session.get::<Actor>(dwayne).await.unwrap());
    let details = session.related(dwayne, Actor::contact_details).unwrap();
    assert_eq!(names(&session, &details, |d| &d.address), ["Glendale, CA", "West Hollywood, CA"]);
    let movies = session.related(dwayne, Actor::movies).unwrap();
    let mut titles = names(&session, &movies, |m| &m.title);
    titles.sort();
    assert_eq!(titles, ["Furious 7", "Pain & Gain"]);
    let movies = session.related(matt, Actor::movies).unwrap();
    assert_eq!(names(&session, &movies, |m| &m.title), ["The Bourne Identity"]);
}

#[tokio::test]
async fn joined_loads_in_the_same_statement_and_deduplicates_parents() {
    let db = setup().await;
    let engine = db.engine();
    tutorial_data(&mut engine.session()).await;
    let mut session = engine.session();
    let options = Movie::actors.joined().then(Actor::contact_details.joined());
    let query = session.query::<Movie>().order_by(Movie::title.asc()).limit(2).load(options);
    let (trips, movies) = statements_during(engine, query.all()).await;
    assert_eq!(trips, 1);
    let movies = movies.unwrap();
    assert_eq!(names(&session, &movies, |m| &m.title), ["Furious 7", "Pain & Gain"], "the limit counts movies");
    let cast = session.related(movies[1], Movie::actors).unwrap();
    assert_eq!(names(&session, &cast, |a| &a.name), ["Dwayne Johnson", "Mark Wahlberg"]);
    let details = session.related(cast[0], Actor::contact_details).unwrap();
    assert_eq!(details.len(), 2);

    // Joined and selectin combine: joined for the actors, selectin below.
    let mut session = engine.session();
    let options = Movie::actors.joined().then(Actor::stuntman.selectin());
    let query = session.query::<Movie>().filter(Movie::title.eq("Pain & Gain")).load(options);
    let (trips, movies) = statements_during(engine, query.all()).await;
    assert_eq!(trips, 2);
    let cast = session.related(movies.unwrap()[0], Movie::actors).unwrap();
    assert!(session.related(cast[1], Actor::stuntman).unwrap().is_some());

    // The other way round: no query joins what a selectin option loads, so
    // a joined option under it runs as selectin, and its own options too.
    let mut session = engine.session();
    let options = Movie::actors.selectin().then(Actor::stuntman.joined()).then(Actor::contact_details.joined());
    let query = session.query::<Movie>().filter(Movie::title.eq("Pain & Gain")).load(options);
    let (trips, movies) = statements_during(engine, query.all()).await;
    assert_eq!(trips, 4, "the movie, its actors, their stuntmen, their contact details");
    let cast = session.related(movies.unwrap()[0], Movie::actors).unwrap();
    assert!(session.related(cast[1], Actor::stuntman).unwrap().is_some());
    assert_eq!(session.related(cast[0], Actor::contact_details).unwrap().len(), 2);
}

#[tokio::test]
async fn queries_join_along_relationships_without_duplicates() {
    let db = setup().await;
    let engine = db.engine();
    tutorial_data(&mut engine.session()).await;
    let mut session = engine.session();
    let dwaynes = session
        .query::<Movie>()
        .join(Movie::actors)
        .filter(Actor::name.eq("Dwayne Johnson"))
        .order_by(Movie::id.asc())
        .all()
        .await
        .unwrap();
    assert_eq!(names(&session, &dwaynes, |m| &m.title), ["Furious 7", "Pain & Gain"]);

    let glendale = session
        .query::<Actor>()
        .join(Actor::contact_details)
        .filter(ContactDetails::address.ilike("%glendale%"))
        .order_by(Actor::id.asc())
        .all()
        .await
        .unwrap();
    assert_eq!(names(&session, &glendale, |a| &a.name), ["Dwayne Johnson", "Mark Wahlberg"]);
    let count = session.query::<Actor>().join(Actor::contact_details).count().await.unwrap();
    assert_eq!(count, 3, "an actor reached twice through the join counts once");
    let without_details =
        session.query::<Actor>().outer_join(Actor::contact_details).filter(ContactDetails::id.is_null()).count();
    assert_eq!(without_details.await.unwrap(), 0);
}

#[tokio::test]
async fn self_references_are_inserted_with_a_post_update() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let boss = session.add(Employee::new("Boss", None, None));
    let ann = session.add(Employee::new("Ann", None, None));
    let bob = session.add(Employee::new("Bob", None, None));
    session.link(ann, Employee::manager, boss).unwrap();
    session.link(boss, Employee::reports, bob).unwrap();
    // A cycle through the second foreign key: the boss's mentor is Ann.
    session.link(boss, Employee::mentor, ann).unwrap();
    assert_eq!(session.related(boss, Employee::reports).unwrap(), [ann, bob]);
    session.commit().await.unwrap();
    assert_eq!(session[ann].manager_id, Some(session[boss].id));
    assert_eq!(session[bob].manager_id, Some(session[boss].id));
    assert_eq!(session[boss].mentor_id, Some(session[ann].id));

    let mut fresh = engine.session();
    let boss = fresh.query::<Employee>().filter(Employee::name.eq("Boss")).one().await.unwrap();
    let reports = fresh.load(boss, Employee::reports).await.unwrap();
    assert_eq!(names(&fresh, &reports, |e| &e.name), ["Ann", "Bob"]);
    let manager = fresh.load(reports[0], Employee::manager).await.unwrap();
    assert_eq!(manager, Some(boss), "through the identity map");
}

#[tokio::test]
async fn a_failed_commit_keeps_links_pending_for_the_retry() {
    let db = setup().await;
    let engine = db.engine();
    let mut conn = engine.connect().await.unwrap();
    conn.batch_execute("ALTER TABLE actors ADD CONSTRAINT short_name CHECK (length(name) < 20)").await.unwrap();
    let mut session = engine.session();
    let movie = session.add(Movie::new("The Bourne Identity", date(2002, 10, 11)));
    let matt = session.add(Actor::new("Matt Damon, the actor", date(1970, 10, 8)));
    session.link(movie, Movie::actors, matt).unwrap();
    assert!(matches!(session.commit().await, Err(Error::CheckViolation(_))));
    session[matt].name = "Matt Damon".into();
    session.commit().await.unwrap();
    assert_eq!(count_rows(engine, "movies_actors").await, 1);
    assert_eq!(count_rows(engine, "actors").await, 1);
}

#[tokio::test]
async fn rollback_forgets_links_and_the_next_load_reads_the_database() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let [matt, dwayne, _] = tutorial_data(&mut session).await;
    let bourne = session.related(matt, Actor::movies).unwrap()[0];
    session.link(bourne, Movie::actors, dwayne).unwrap();
    assert_eq!(session.related(bourne, Movie::actors).unwrap(), [matt, dwayne]);
    session.rollback().await.unwrap();
    assert!(matches!(session.related(bourne, Movie::actors), Err(Error::NotLoaded { .. })));
    assert_eq!(session.load(bourne, Movie::actors).await.unwrap(), [matt]);
    session.commit().await.unwrap();
    assert_eq!(count_rows(engine, "movies_actors").await, 4);
}

#[tokio::test]
async fn a_membership_changed_back_and_forth_from_either_side_writes_nothing() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let [matt, dwayne, _] = tutorial_data(&mut session).await;
    let bourne = session.related(matt, Actor::movies).unwrap()[0];
    // Removed through one side, added back through the other.
    session.unlink(bourne, Movie::actors, matt).unwrap();
    session.link(matt, Actor::movies, bourne).unwrap();
    // Added through one side, removed through the other.
    session.link(bourne, Movie::actors, dwayne).unwrap();
    session.load(dwayne, Actor::movies).await.unwrap();
    session.unlink(dwayne, Actor::movies, bourne).unwrap();
    let (trips, result) = statements_during(engine, session.commit()).await;
    result.unwrap();
    assert_eq!(trips, 0, "nothing to write");
    assert_eq!(count_rows(engine, "movies_actors").await, 4);
}

#[tokio::test]
async fn unlink_works_from_a_side_that_is_not_loaded() {
    let db = setup().await;
    let engine = db.engine();
    let ids = {
        let mut session = engine.session();
        let [matt, ..] = tutorial_data(&mut session).await;
        let stuntman = session.related(matt, Actor::stuntman).unwrap().unwrap();
        (session[matt].id, session[stuntman].id)
    };
    let mut session = engine.session();
    let matt = session.get::<Actor>(ids.0).await.unwrap().unwrap();
    let stuntman = session.get::<Stuntman>(ids.1).await.unwrap().unwrap();
    // Neither side's relationship is loaded: the keys decide.
    session.unlink(matt, Actor::stuntman, stuntman).unwrap();
    assert_eq!(session[stuntman].actor_id, None);
    session.commit().await.unwrap();
    assert_eq!(count_rows(engine, "stuntmen WHERE actor_id IS NULL").await, 1);
}

#[tokio::test]
async fn a_child_moved_to_another_parent_leaves_the_first_one() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let [matt, dwayne, _] = tutorial_data(&mut session).await;
    let mut fresh = engine.session();
    let matt = fresh.get::<Actor>(session[matt].id).await.unwrap().unwrap();
    let dwayne = fresh.get::<Actor>(session[dwayne].id).await.unwrap().unwrap();
    let details = fresh.load(matt, Actor::contact_details).await.unwrap()[0];
    // The child's own side is not loaded; its key says where it was.
    fresh.link(dwayne, Actor::contact_details, details).unwrap();
    assert_eq!(fresh.related(matt, Actor::contact_details).unwrap(), []);
    // Matt's (stale) unlink must not undo the move, nor delete the orphan.
    fresh.unlink(matt, Actor::contact_details, details).unwrap();
    assert_eq!(fresh[details].actor_id, Some(fresh[dwayne].id));
    fresh.commit().await.unwrap();
    assert_eq!(count_rows(engine, "contact_details").await, 4);
    let on_dwayne = format!("contact_details WHERE actor_id = {}", fresh[dwayne].id);
    assert_eq!(count_rows(engine, &on_dwayne).await, 3);
}

#[tokio::test]
async fn a_link_to_a_parent_deleted_before_its_insert_is_dropped() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let matt = session.add(Actor::new("Matt Damon", date(1970, 10, 8)));
    let details = session.add(ContactDetails::new("415 555 2671", "Burbank, CA", None));
    session.link(details, ContactDetails::actor, matt).unwrap();
    session.delete(matt).unwrap();
    session.commit().await.unwrap();
    assert!(!session.has_changes(), "nothing left waiting for a parent that will never exist");
    assert_eq!(count_rows(engine, "contact_details WHERE actor_id IS NULL").await, 1);
}

#[tokio::test]
async fn a_nullified_child_gets_its_key_back_when_the_delete_fails() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let [matt, ..] = tutorial_data(&mut session).await;
    let stuntman = session.related(matt, Actor::stuntman).unwrap().unwrap();
    let matt_id = session[matt].id;
    // The actor cannot be deleted: a row of another table still references it.
    let mut conn = engine.connect().await.unwrap();
    conn.batch_execute("CREATE TABLE fans (actor_id int REFERENCES actors (id))").await.unwrap();
    conn.batch_execute(&format!("INSERT INTO fans VALUES ({matt_id})")).await.unwrap();
    session.delete(matt).unwrap();
    assert!(matches!(session.commit().await, Err(Error::ForeignKeyViolation(_))));
    assert_eq!(session[stuntman].actor_id, Some(matt_id), "the cascade's NULL was undone with the transaction");
    session.rollback().await.unwrap();
    assert_eq!(session[stuntman].actor_id, Some(matt_id));
}

/// A team and its players reference each other: a cycle across two tables.
#[derive(Model, Debug)]
#[orm(table = "teams")]
pub(crate) struct Team {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) name: String,
    #[orm(foreign_key = Player::id)]
    pub(crate) captain_id: Option<i32>,
    #[relationship(many_to_one, foreign_key = Team::captain_id)]
    pub(crate) captain: One<Player>,
}

#[derive(Model, Debug)]
#[orm(table = "players")]
pub(crate) struct Player {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) name: String,
    #[orm(foreign_key = Team::id)]
    pub(crate) team_id: Option<i32>,
    #[relationship(many_to_one, foreign_key = Player::team_id)]
    pub(crate) team: One<Team>,
}

#[tokio::test]
async fn a_cycle_across_two_tables_is_written_in_one_commit() {
    let db = TestDb::new().await.unwrap();
    let engine = db.engine();
    // Inline REFERENCES cannot create a cycle: the second key is added after.
    let mut conn = engine.connect().await.unwrap();
    conn.batch_execute(
        "CREATE TABLE teams (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL, captain_id int);
         CREATE TABLE players (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL,
                               team_id int REFERENCES teams (id));
         ALTER TABLE teams ADD FOREIGN KEY (captain_id) REFERENCES players (id);",
    )
    .await
    .unwrap();
    let mut session = engine.session();
    let team = session.add(Team::new("Reds", None));
    let captain = session.add(Player::new("Ann", None));
    session.link(team, Team::captain, captain).unwrap();
    session.link(captain, Player::team, team).unwrap();
    session.commit().await.unwrap();
    assert!(!session.has_changes());
    assert_eq!(session[team].captain_id, Some(session[captain].id));
    assert_eq!(session[captain].team_id, Some(session[team].id));
    let linked = "teams JOIN players ON players.team_id = teams.id AND teams.captain_id = players.id";
    assert_eq!(count_rows(engine, linked).await, 1);
}

#[tokio::test]
async fn limit_and_one_count_objects_not_joined_rows() {
    let db = setup().await;
    let engine = db.engine();
    tutorial_data(&mut engine.session()).await;
    let mut session = engine.session();
    // Dwayne has two numbers starting with 42, Mark one.
    fn session_query(session: &mut Session) -> orm::Query<'_, Actor, (Actor, ContactDetails)> {
        session.query::<Actor>().join(Actor::contact_details).filter(ContactDetails::phone_number.like("42%"))
    }
    let two = session_query(&mut session).order_by(Actor::id.asc()).limit(2).all().await.unwrap();
    assert_eq!(names(&session, &two, |a| &a.name), ["Dwayne Johnson", "Mark Wahlberg"]);
    let one = session_query(&mut session).one().await;
    assert!(matches!(one, Err(Error::MultipleRows { .. })), "two actors match: {one:?}");
}

#[tokio::test]
async fn an_object_entering_a_session_carries_no_links_from_another() {
    let db = setup().await;
    let engine = db.engine();
    let mut a = engine.session();
    let heat = a.add(Movie::new("Heat", date(1995, 12, 15)));
    let pacino = a.add(Actor::new("Al Pacino", date(1940, 4, 25)));
    a.link(heat, Movie::actors, pacino).unwrap();
    let heat = a.expunge(heat).expect("held");
    assert!(!heat.actors.is_loaded(), "an expunged object keeps no slots of its session");

    let mut b = engine.session();
    // Takes the slot that Al Pacino has in session A.
    let stranger = b.add(Actor::new("Somebody Else", date(1970, 1, 1)));
    let heat = b.add(heat);
    assert_eq!(b.related(heat, Movie::actors).unwrap(), Vec::<Handle<Actor>>::new());
    b.link(heat, Movie::actors, stranger).unwrap();
    assert_eq!(b.related(heat, Movie::actors).unwrap(), [stranger]);
    assert_eq!(b.related(stranger, Actor::movies).unwrap(), [heat]);
    b.commit().await.unwrap();
    let mut c = engine.session();
    let stored = c.query::<Movie>().load(Movie::actors.selectin()).one().await.unwrap();
    let cast: Vec<String> = c.related(stored, Movie::actors).unwrap().iter().map(|&h| c[h].name.clone()).collect();
    assert_eq!(cast, ["Somebody Else"]);
}

#[tokio::test]
async fn unlink_flush_and_link_again_survive_a_rollback_of_the_flush() {
    let db = setup().await;
    let engine = db.engine();
    let mut session = engine.session();
    let movie = session.add(Movie::new("Heat", date(1995, 12, 15)));
    let actor = session.add(Actor::new("Al Pacino", date(1940, 4, 25)));
    session.link(movie, Movie::actors, actor).unwrap();
    session.commit().await.unwrap();

    session.unlink(movie, Movie::actors, actor).unwrap();
    session.flush().await.unwrap(); // the DELETE of the row is written
    session.link(movie, Movie::actors, actor).unwrap(); // pending again
    assert!(session.execute("SELECT * FROM no_such_table", ()).await.is_err(), "rolls the transaction back");
    session.commit().await.unwrap();
    let rows: Vec<i64> = engine.session().query_sql("SELECT count(*) FROM movies_actors", ()).await.unwrap();
    assert_eq!(rows, [1], "the link stays, as the session shows it");
    assert_eq!(session.related(movie, Movie::actors).unwrap(), [actor]);
}

/// A deleted object's key may go to another object (the row inserted
/// again): expunging the first leaves the second under the key.
#[orm::test(Employee)]
async fn expunging_a_deleted_object_leaves_the_new_holder_of_its_key(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    s.execute("INSERT INTO employees (id, name) VALUES (1, 'a'), (2, 'b')", ()).await.unwrap();
    s.commit().await.unwrap();

    let mut s = engine.session();
    let a = s.get::<Employee>(1).await.unwrap().unwrap();
    s.get::<Employee>(2).await.unwrap().unwrap();
    s.delete(a).unwrap();
    s.flush().await.unwrap();
    s.execute("INSERT INTO employees (id, name) VALUES (1, 'a again')", ()).await.unwrap();
    let again = s.get::<Employee>(1).await.unwrap().unwrap();
    assert_ne!(again, a);
    s.expunge(a);
    let (trips, found) = statements_during(engine, s.get::<Employee>(1)).await;
    assert_eq!((trips, found.unwrap()), (0, Some(again)), "the object that holds key 1 now");
}

/// A rollback to a savepoint keeps an upsert flushed before it an upsert:
/// when a failed flush then undoes the transaction, the commit upserts it
/// again under its own key, not as a new row with a generated one.
#[orm::test(Employee)]
async fn an_upsert_undone_after_a_savepoint_rollback_keeps_its_key(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    s.execute("INSERT INTO employees (id, name, mentor_id) VALUES (1, 'mentor', NULL), (2, 'mentee', 1)", ())
        .await
        .unwrap();
    s.commit().await.unwrap();

    let mut s = engine.session();
    let mut up = Employee::new("upserted", None, None);
    up.id = 3001;
    let up = s.upsert(up).unwrap();
    s.flush().await.unwrap();
    let savepoint = s.begin_nested().await.unwrap();
    s.rollback_to(savepoint).await.unwrap();
    // A mentor's mentees are not loaded by a relationship of his: the
    // foreign key refuses the DELETE, and the failure undoes the flushes.
    let mentor = s.get::<Employee>(1).await.unwrap().unwrap();
    s.delete(mentor).unwrap();
    assert!(s.flush().await.is_err(), "the mentor still has a mentee");
    assert_eq!(s.state(up), Some(orm::ObjectState::Pending), "the upsert is pending again");
    s.expunge(mentor);
    s.commit().await.unwrap();
    assert_eq!(count_rows(engine, "employees WHERE id = 3001").await, 1, "upserted under its own key");
}

/// A joined load of a self-referential relationship meets one employee
/// as a root and as another's report, in two runs of keys into one arena:
/// each object stays one, in a fresh session as in one that holds them.
#[orm::test(Employee)]
async fn a_joined_load_meets_an_object_as_root_and_as_child_once(db: TestDb) {
    let mut s = db.engine().session();
    let boss = s.add(Employee::new("Boss", None, None));
    s.flush().await.unwrap();
    let alice = s.add(Employee::new("Alice", Some(s[boss].id), None));
    s.flush().await.unwrap();
    s.add(Employee::new("Bob", Some(s[alice].id), None));
    s.commit().await.unwrap();

    let mut fresh = db.engine().session();
    let loaded = fresh.query::<Employee>().order_by(Employee::id.asc()).load(Employee::reports.joined()).all();
    let roots = loaded.await.unwrap();
    let names: Vec<&str> = roots.iter().map(|&e| fresh[e].name.as_str()).collect();
    assert_eq!(names, ["Boss", "Alice", "Bob"]);
    assert_eq!(fresh.related(roots[0], Employee::reports).unwrap(), [roots[1]], "Alice: one object");
    assert_eq!(fresh.related(roots[1], Employee::reports).unwrap(), [roots[2]], "Bob: one object");
    let bob_id = fresh[roots[2]].id;
    assert_eq!(fresh.get::<Employee>(bob_id).await.unwrap(), Some(roots[2]), "in the identity map");
}

#[orm::test(Employee)]
async fn selectin_collections_come_in_key_order_whatever_order_the_rows_arrive_in(db: TestDb) {
    let mut s = db.engine().session();
    let boss = s.add(Employee::new("Boss", None, None));
    s.flush().await.unwrap();
    let boss_id = s[boss].id;
    s.add_all((0..6).map(|i| Employee::new(format!("report {i}"), Some(boss_id), None)));
    s.commit().await.unwrap();
    // New row versions go to the end of the table: a scan now meets the
    // first reports last.
    s.execute("UPDATE employees SET name = name || '.' WHERE id IN (SELECT id FROM employees ORDER BY id LIMIT 3)", ())
        .await
        .unwrap();
    s.commit().await.unwrap();
    let scanned: Vec<i32> = s.query_sql("SELECT id FROM employees WHERE manager_id IS NOT NULL", ()).await.unwrap();
    let mut sorted = scanned.clone();
    sorted.sort_unstable();
    assert_ne!(scanned, sorted, "the rows arrive out of key order");

    let mut fresh = db.engine().session();
    let loaded = fresh.query::<Employee>().filter(Employee::id.eq(boss_id)).load(Employee::reports.selectin()).all();
    let boss = loaded.await.unwrap()[0];
    let ids: Vec<i32> = fresh.related(boss, Employee::reports).unwrap().iter().map(|&e| fresh[e].id).collect();
    assert_eq!(ids, sorted);
}

/// An owner whose children's table does not enforce the key the model
/// declares (a view, or a table whose primary key is not the model's).
#[derive(Model, Debug)]
#[orm(table = "shelves")]
pub(crate) struct Shelf {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[relationship(one_to_many, back_populates = shelf)]
    pub(crate) slots: Many<ShelfSlot>,
}

#[derive(Model, Debug)]
#[orm(table = "shelf_slots")]
pub(crate) struct ShelfSlot {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[orm(foreign_key = Shelf::id)]
    pub(crate) shelf_id: i32,
    #[relationship(many_to_one, back_populates = slots)]
    pub(crate) shelf: One<Shelf>,
}

#[orm::test(Shelf, ShelfSlot)]
async fn selectin_and_lazy_collections_hold_a_target_once_when_two_rows_share_its_key(db: TestDb) {
    let engine = db.engine();
    let mut s = engine.session();
    s.execute("ALTER TABLE shelf_slots DROP CONSTRAINT shelf_slots_pkey", ()).await.unwrap();
    s.execute("INSERT INTO shelves (id) VALUES (1)", ()).await.unwrap();
    // Two rows with key 5: one object in the identity map.
    s.execute("INSERT INTO shelf_slots (id, shelf_id) VALUES (5, 1), (5, 1), (6, 1)", ()).await.unwrap();
    s.commit().await.unwrap();

    let mut j = engine.session();
    let shelves = j.query::<Shelf>().load(Shelf::slots.joined()).all().await.unwrap();
    let joined: Vec<i32> = j.related(shelves[0], Shelf::slots).unwrap().iter().map(|&t| j[t].id).collect();
    assert_eq!(joined, [5, 6], "a joined load lists each object once");

    let mut f = engine.session();
    let shelves = f.query::<Shelf>().load(Shelf::slots.selectin()).all().await.unwrap();
    let selectin: Vec<i32> = f.related(shelves[0], Shelf::slots).unwrap().iter().map(|&t| f[t].id).collect();

    let mut l = engine.session();
    let shelves = l.query::<Shelf>().all().await.unwrap();
    let lazy: Vec<i32> = l.load(shelves[0], Shelf::slots).await.unwrap().iter().map(|&t| l[t].id).collect();
    assert_eq!((selectin, lazy), (vec![5, 6], vec![5, 6]), "selectin and lazy loads list each object once too");
}

/// The stuntmen's table under a second, narrower model.
#[derive(Model, Debug)]
#[orm(table = "stuntmen")]
struct StuntmanName {
    #[orm(primary_key)]
    id: i32,
    name: String,
}

#[tokio::test]
async fn a_nullified_key_reaches_the_relationship_s_model_when_another_maps_its_table() {
    let db = setup().await;
    let engine = db.engine();
    let mut writer = engine.session();
    let [_, dwayne, _] = tutorial_data(&mut writer).await;
    let dwayne_id = writer[dwayne].id;
    let mut session = engine.session();
    // The narrower model's arena comes first in the session.
    let names = session.query::<StuntmanName>().all().await.unwrap();
    assert_eq!(names.len(), 3);
    let dwayne = session.get::<Actor>(dwayne_id).await.unwrap().unwrap();
    let stuntman = session.load(dwayne, Actor::stuntman).await.unwrap().unwrap();
    session.delete(dwayne).unwrap();
    session.commit().await.unwrap();

    assert_eq!(count_rows(engine, "stuntmen WHERE actor_id IS NULL").await, 1);
    assert_eq!(session[stuntman].actor_id, None, "the loaded stuntman agrees with the database");
}

/// The stuntmen's key and foreign key under a second model.
#[derive(Model, Debug)]
#[orm(table = "stuntmen")]
struct StuntmanLink {
    #[orm(primary_key)]
    id: i32,
    actor_id: Option<i32>,
}

/// The same, with a field that cannot hold the column's NULL.
#[derive(Model, Debug)]
#[orm(table = "stuntmen")]
struct StuntmanOfActor {
    #[orm(primary_key)]
    id: i32,
    actor_id: i32,
}

/// The contact details' phone numbers under a second model.
#[derive(Model, Debug)]
#[orm(table = "contact_details")]
struct Phone {
    #[orm(primary_key)]
    id: i32,
    phone_number: String,
}

/// A deleted parent's cascade (children deleted, foreign keys set to NULL)
/// reaches the loaded objects of every model of the children's table; a
/// failed flush undoes that, and the retry does it again. A bulk delete of
/// the table's rows reaches them too.
#[tokio::test]
async fn a_cascade_reaches_every_model_of_the_child_table() {
    let db = setup().await;
    let engine = db.engine();
    let mut writer = engine.session();
    let [matt, dwayne, _] = tutorial_data(&mut writer).await;
    let (matt_id, dwayne_id) = (writer[matt].id, writer[dwayne].id);
    let mut s = engine.session();
    let links = s.query::<StuntmanLink>().all().await.unwrap();
    let of_actor = s.query::<StuntmanOfActor>().all().await.unwrap();
    let details = s.query::<ContactDetails>().all().await.unwrap();
    let phones = s.query::<Phone>().all().await.unwrap();
    let dwaynes_link = links.iter().find(|&&l| s[l].actor_id == Some(dwayne_id)).copied().unwrap();
    let dwaynes_of_actor = of_actor.iter().find(|&&l| s[l].actor_id == dwayne_id).copied().unwrap();
    let detached = |s: &Session| {
        let details = details.iter().filter(|&&d| s.state(d) == Some(ObjectState::Detached)).count();
        (details, phones.iter().filter(|&&p| s.state(p) == Some(ObjectState::Detached)).count())
    };

    // A row of another table holds Dwayne: his delete fails after the cascade.
    let mut conn = engine.connect().await.unwrap();
    conn.batch_execute("CREATE TABLE fans (actor_id int REFERENCES actors (id))").await.unwrap();
    conn.batch_execute(&format!("INSERT INTO fans VALUES ({dwayne_id})")).await.unwrap();
    let dwayne = s.get::<Actor>(dwayne_id).await.unwrap().unwrap();
    s.delete(dwayne).unwrap();
    let refused = s.commit().await;
    assert!(matches!(refused, Err(Error::ForeignKeyViolation(_))), "{refused:?}");
    assert_eq!(detached(&s), (0, 0), "the cascade was undone with the transaction");
    assert_eq!((s[dwaynes_link].actor_id, s.state(dwaynes_of_actor)), (Some(dwayne_id), Some(ObjectState::Persistent)));

    conn.batch_execute("DELETE FROM fans").await.unwrap();
    s.commit().await.unwrap();
    assert_eq!(detached(&s), (2, 2), "Dwayne's two rows of contact details are gone, under both models");
    assert_eq!(s[dwaynes_link].actor_id, None, "the foreign key the database set to NULL");
    assert_eq!(s.state(dwaynes_of_actor), Some(ObjectState::Detached), "its field cannot hold the NULL");

    let bulk = s.query::<ContactDetails>().filter(ContactDetails::actor_id.eq(matt_id)).delete().await.unwrap();
    assert_eq!(bulk, 1);
    assert_eq!(detached(&s), (3, 3), "and Matt's one, by the bulk delete");
}

/// A child inserted and then deleted by its parent's cascade in a failed
/// transaction stays deleted, as an object inserted and deleted does: the
/// retry does not insert it again with its parent's old key.
#[tokio::test]
async fn a_child_inserted_and_cascaded_in_a_failed_transaction_stays_deleted() {
    let db = setup().await;
    let engine = db.engine();
    let mut s = engine.session();
    let actor = s.add(Actor::new("Ana de Armas", date(1988, 4, 30)));
    let details = s.add(ContactDetails::new("555 0100", "Madrid", None));
    s.link(details, ContactDetails::actor, actor).unwrap();
    s.flush().await.unwrap();
    s.execute("CREATE TABLE fans (actor_id int REFERENCES actors (id))", ()).await.unwrap();
    s.execute("INSERT INTO fans VALUES ($1)", (s[actor].id,)).await.unwrap();
    s.delete(actor).unwrap();
    let refused = s.commit().await;
    assert!(matches!(refused, Err(Error::ForeignKeyViolation(_))), "{refused:?}");
    assert_eq!((s.state(actor), s.state(details)), (Some(ObjectState::Detached), Some(ObjectState::Detached)));
    s.commit().await.unwrap();
    assert_eq!(count_rows(engine, "contact_details").await, 0);
}
