use orm::Model;

#[derive(Model)]
struct Studio {
    #[orm(primary_key)]
    id: i32,
}

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = Studio::id)]
    studio_id: i64,
}

fn main() {}
