use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[relationship(many_to_many, secondary = MovieActor)]
    actors: Vec<i32>,
}

fn main() {}
