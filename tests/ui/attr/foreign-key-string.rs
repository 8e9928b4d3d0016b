use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
}

#[derive(Model)]
struct Review {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = "movies.id")]
    movie_id: i32,
}

fn main() {}
