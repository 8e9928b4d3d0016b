//! The SQLAlchemy ORM tutorial's practice project, in Rust: movies, actors,
//! stuntmen and contact details, with all four relationship patterns, then
//! the tutorial's four queries.
//!
//! Run with `cargo run --example tutorial` (DATABASE_URL as for the tests;
//! the example uses a database of its own, `orm_tutorial`, and can run any
//! number of times).

use chrono::NaiveDate;
use orm::prelude::*;

/// A movie (table `movies`).
#[derive(Model, Debug)]
#[orm(table = "movies")]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    title: String,
    release_date: NaiveDate,
    /// Many-to-many, through `movies_actors`.
    #[relationship(many_to_many, secondary = MovieActor, back_populates = movies, order_by = Actor::id)]
    actors: Many<Actor>,
}

/// The association of movies and actors (table `movies_actors`).
#[derive(Model, Debug)]
#[orm(table = "movies_actors")]
struct MovieActor {
    #[orm(primary_key, foreign_key = Movie::id)]
    movie_id: i32,
    #[orm(primary_key, foreign_key = Actor::id)]
    actor_id: i32,
}

/// An actor (table `actors`).
#[derive(Model, Debug)]
#[orm(table = "actors")]
struct Actor {
    #[orm(primary_key)]
    id: i32,
    name: String,
    birthday: NaiveDate,
    #[relationship(many_to_many, secondary = MovieActor, back_populates = actors, order_by = Movie::id)]
    movies: Many<Movie>,
    /// One-to-many: an actor has several contact details.
    #[relationship(one_to_many, back_populates = actor, order_by = ContactDetails::id)]
    contact_details: Many<ContactDetails>,
    /// One-to-one (SQLAlchemy's `uselist=False`): an actor has one stuntman.
    #[relationship(one_to_one, back_populates = actor)]
    stuntman: One<Stuntman>,
}

/// A stuntman (table `stuntmen`), the double of one actor.
#[derive(Model, Debug)]
#[orm(table = "stuntmen")]
struct Stuntman {
    #[orm(primary_key)]
    id: i32,
    name: String,
    active: bool,
    #[orm(foreign_key = Actor::id)]
    actor_id: Option<i32>,
    #[relationship(one_to_one, back_populates = stuntman)]
    actor: One<Actor>,
}

/// A phone number and address of an actor (table `contact_details`).
#[derive(Model, Debug)]
#[orm(table = "contact_details")]
struct ContactDetails {
    #[orm(primary_key)]
    id: i32,
    phone_number: String,
    address: String,
    #[orm(foreign_key = Actor::id)]
    actor_id: Option<i32>,
    /// Many-to-one: the other side of `Actor::contact_details`.
    #[relationship(many_to_one, back_populates = contact_details)]
    actor: One<Actor>,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

const TABLES: [&orm::TableMeta; 5] =
    [Movie::TABLE, Actor::TABLE, MovieActor::TABLE, Stuntman::TABLE, ContactDetails::TABLE];

/// The tutorial's `inserts.py`.
async fn insert_data(engine: &Engine) -> orm::Result<()> {
    let mut session = engine.session();
    let bourne_identity = session.add(Movie::new("The Bourne Identity", date(2002, 10, 11)));
    let furious_7 = session.add(Movie::new("Furious 7", date(2015, 4, 2)));
    let pain_and_gain = session.add(Movie::new("Pain & Gain", date(2013, 8, 23)));

    let matt_damon = session.add(Actor::new("Matt Damon", date(1970, 10, 8)));
    let dwayne_johnson = session.add(Actor::new("Dwayne Johnson", date(1972, 5, 2)));
    let mark_wahlberg = session.add(Actor::new("Mark Wahlberg", date(1971, 6, 5)));

    session.link(bourne_identity, Movie::actors, matt_damon)?;
    session.link(furious_7, Movie::actors, dwayne_johnson)?;
    session.link(pain_and_gain, Movie::actors, dwayne_johnson)?;
    session.link(pain_and_gain, Movie::actors, mark_wahlberg)?;

    for (actor, phone_number, address) in [
        (matt_damon, "415 555 2671", "Burbank, CA"),
        (dwayne_johnson, "423 555 5623", "Glendale, CA"),
        (dwayne_johnson, "421 444 2323", "West Hollywood, CA"),
        (mark_wahlberg, "421 333 9428", "Glendale, CA"),
    ] {
        let contact = session.add(ContactDetails::new(phone_number, address, None));
        session.link(contact, ContactDetails::actor, actor)?;
    }

    for (name, actor) in [("John Doe", matt_damon), ("John Roe", dwayne_johnson), ("Richard Roe", mark_wahlberg)] {
        let stuntman = session.add(Stuntman::new(name, true, None));
        session.link(stuntman, Stuntman::actor, actor)?;
    }

    // One transaction: parents first, keys copied into their children,
    // association rows last.
    session.commit().await
}

/// The tutorial's `queries.py`.
async fn run_queries(engine: &Engine) -> orm::Result<()> {
    let mut session = engine.session();

    let movies = session.query::<Movie>().order_by(Movie::id.asc()).all().await?;
    println!("### All movies:");
    for movie in movies {
        println!("{} was released on {}", session[movie].title, session[movie].release_date);
    }
    println!();

    let recent = session.query::<Movie>().filter(Movie::release_date.gt(date(2015, 1, 1))).order_by(Movie::id.asc());
    println!("### Recent movies:");
    for movie in recent.all().await? {
        println!("{} was released after 2015", session[movie].title);
    }
    println!();

    let the_rock_movies = session
        .query::<Movie>()
        .join(Movie::actors)
        .filter(Actor::name.eq("Dwayne Johnson"))
        .order_by(Movie::id.asc())
        .all()
        .await?;
    println!("### Dwayne Johnson movies:");
    for movie in the_rock_movies {
        println!("The Rock starred in {}", session[movie].title);
    }
    println!();

    let glendale_stars = session
        .query::<Actor>()
        .join(Actor::contact_details)
        .filter(ContactDetails::address.ilike("%glendale%"))
        .order_by(Actor::id.asc())
        .all()
        .await?;
    println!("### Actors that live in Glendale:");
    for actor in glendale_stars {
        println!("{} has a house in Glendale", session[actor].name);
    }
    println!();
    Ok(())
}

/// Beyond the tutorial: the relationships, loaded eagerly.
async fn show_relationships(engine: &Engine) -> orm::Result<()> {
    let mut session = engine.session();

    // selectin: one extra query per relationship, however many actors.
    let actors = session
        .query::<Actor>()
        .order_by(Actor::id.asc())
        .load(Actor::stuntman.selectin())
        .load(Actor::contact_details.selectin())
        .all()
        .await?;
    println!("### Actors, their stuntmen and contact details:");
    for actor in actors {
        let stuntman = session.related(actor, Actor::stuntman)?;
        let double = stuntman.map_or("nobody", |s| session[s].name.as_str());
        println!("{} is doubled by {}", session[actor].name, double);
        for contact in session.related(actor, Actor::contact_details)? {
            println!("  {} in {}", session[contact].phone_number, session[contact].address);
        }
    }
    println!();

    // joined: the actors come in the same statement as the movies.
    let movies = session.query::<Movie>().order_by(Movie::id.asc()).load(Movie::actors.joined()).all().await?;
    println!("### Movies and their actors:");
    for movie in movies {
        let cast: Vec<&str> =
            session.related(movie, Movie::actors)?.iter().map(|&a| session[a].name.as_str()).collect();
        println!("{}: {}", session[movie].title, cast.join(", "));
    }
    println!();
    Ok(())
}

#[tokio::main]
async fn main() -> orm::Result<()> {
    // `-- --er-diagram mermaid|dot`: the schema's diagram, without a database
    // (docs/tutorial-schema.svg is `dot -Tsvg` of the DOT one).
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, format] = args.as_slice() {
        if flag == "--er-diagram" {
            let diagram = if format == "dot" { orm::schema::dot(&TABLES) } else { orm::schema::mermaid(&TABLES) };
            print!("{diagram}");
            return Ok(());
        }
    }
    // A database of its own on the server of DATABASE_URL (or a throwaway
    // local one); an application passes its own URL to `Engine::builder`.
    let url = orm::testing::example_database("orm_tutorial").await?;
    let engine = Engine::builder(&url).pool_size(5).max_overflow(10).build()?;
    // Start from empty tables, so the example can run again and again.
    engine.drop_all(&TABLES).await?;
    engine.create_all(&TABLES).await?;

    insert_data(&engine).await?;
    run_queries(&engine).await?;
    show_relationships(&engine).await
}
