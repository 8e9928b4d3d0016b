// A misspelled referenced column is one error, though the foreign key also
// serves a many-to-many relationship.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "movies")]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[relationship(many_to_many, secondary = MovieActor)]
    actors: Many<Actor>,
}

#[derive(Model)]
#[orm(table = "actors")]
struct Actor {
    #[orm(primary_key)]
    id: i32,
}

#[derive(Model)]
#[orm(table = "movies_actors")]
struct MovieActor {
    #[orm(primary_key, foreign_key = Movie::idd)]
    movie_id: i32,
    #[orm(primary_key, foreign_key = Actor::id)]
    actor_id: i32,
}

fn main() {}
