// The secondary model of a many-to-many has a foreign key to one side only.
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
    #[orm(primary_key, foreign_key = Movie::id)]
    movie_id: i32,
    #[orm(primary_key)]
    actor_id: i32,
}

fn main() {}
