// SQLAlchemy's tutorial has `ForeignKey('movie.id')` for the table `movies`; a
// typed path catches the same slip at compile time.
use orm::Model;

#[derive(Model)]
#[orm(table = "movies")]
struct Movie {
    #[orm(primary_key)]
    id: i32,
}

#[derive(Model)]
#[orm(table = "movies_actors")]
struct MovieActor {
    #[orm(primary_key, foreign_key = Movi::id)]
    movie_id: i32,
    #[orm(primary_key)]
    actor_id: i32,
}

fn main() {}
