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
    #[orm(foreign_key = Studio::idd)]
    studio_id: Option<i32>,
}

fn main() {}
