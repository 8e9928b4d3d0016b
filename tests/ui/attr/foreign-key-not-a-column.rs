use orm::Model;

#[derive(Model)]
struct Review {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = id)]
    movie_id: i32,
}

fn main() {}
