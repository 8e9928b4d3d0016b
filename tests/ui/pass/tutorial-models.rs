//! The seed tutorial's models: a generated key, a composite key of foreign
//! keys, nullable foreign keys, server defaults and the constructors.

use chrono::NaiveDate;
use orm::prelude::*;

#[derive(Model, Debug)]
#[orm(table = "movies")]
pub struct Movie {
    #[orm(primary_key)]
    pub id: i32,
    #[orm(max_len = 200)]
    pub title: String,
    pub release_date: NaiveDate,
}

#[derive(Model, Debug)]
#[orm(table = "actors")]
pub struct Actor {
    #[orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub birthday: NaiveDate,
}

#[derive(Model, Debug)]
#[orm(table = "movies_actors")]
pub struct MovieActor {
    #[orm(primary_key, foreign_key = Movie::id)]
    pub movie_id: i32,
    #[orm(primary_key, foreign_key = Actor::id)]
    pub actor_id: i32,
}

#[derive(Model, Debug)]
#[orm(table = "stuntmen")]
pub struct Stuntman {
    #[orm(primary_key)]
    pub id: i32,
    pub name: String,
    #[orm(default = "true")]
    pub active: Defaulted<bool>,
    #[orm(foreign_key = Actor::id, unique)]
    pub actor_id: Option<i32>,
}

/// A self-reference and a key the application chooses.
#[derive(Model, Debug)]
pub struct Category {
    #[orm(primary_key, autoincrement = false)]
    pub id: i64,
    #[orm(foreign_key = Self::id)]
    pub parent_id: Option<i64>,
    #[orm(skip)]
    pub depth: u8,
}

fn main() {
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let movie = Movie::new("The Bourne Identity", date(2002, 10, 11));
    assert_eq!((movie.id, movie.title.as_str()), (0, "The Bourne Identity"));
    let _ = Actor::new(String::from("Matt Damon"), date(1970, 10, 8));
    let link = MovieActor::new(1, 2);
    assert_eq!(link.key(), (1, 2));
    assert_eq!(MovieActor::key_values(&(1, 2)), vec![Value::I32(1), Value::I32(2)]);
    assert!(MovieActor::TABLE.columns.iter().all(|c| c.primary_key && !c.generated));
    let fk = MovieActor::TABLE.columns[1].foreign_key.unwrap();
    assert_eq!((fk.table, fk.column), ("actors", "id"));
    let stuntman = Stuntman::new("Dar Robinson", 7);
    assert_eq!(stuntman.actor_id, Some(7));
    let _ = Stuntman::new("Nobody", None);
    assert_eq!(Stuntman::TABLE.columns[2].default, Some("true"));
    let category = Category::new(3, None);
    assert_eq!((category.id, category.depth), (3, 0));
    assert_eq!(Category::TABLE.name, "category");
    assert!(!Category::TABLE.columns[0].generated);
    assert_eq!(Category::TABLE.columns[1].foreign_key.unwrap().table, "category");
    let _ = Movie::release_date.gt(date(2015, 1, 1)).and(Movie::title.ne("Alien"));
    let _ = Movie::id.in_list([1, 2, 3]);
}
