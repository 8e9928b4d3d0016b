// The SQLAlchemy seed has `ForeignKey('movie.id')` for the table `movies`; in
// a typed path the model is `Movie`, not the table name.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "movies")]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[relationship(many_to_many, secondary = MovieActor, back_populates = movies)]
    actors: Many<Actor>,
}

#[derive(Model)]
#[orm(table = "actors")]
struct Actor {
    #[orm(primary_key)]
    id: i32,
    #[relationship(many_to_many, secondary = MovieActor, back_populates = actors)]
    movies: Many<Movie>,
}

#[derive(Model)]
#[orm(table = "movies_actors")]
struct MovieActor {
    #[orm(primary_key, foreign_key = movie::id)]
    movie_id: i32,
    #[orm(primary_key, foreign_key = Actor::id)]
    actor_id: i32,
}

fn main() {}
