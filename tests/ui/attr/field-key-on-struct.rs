use orm::Model;

#[derive(Model)]
#[orm(table = "movies", primary_key)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
}

fn main() {}
