use orm::Model;

struct Cache;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[orm(skip)]
    cache: Cache,
}

fn main() {}
