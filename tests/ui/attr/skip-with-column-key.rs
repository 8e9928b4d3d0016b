use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[orm(skip, unique)]
    cached_title: String,
}

fn main() {}
