use orm::Model;

#[derive(Model)]
#[orm(table = "studios")]
struct Studio {
    #[orm(primary_key)]
    id: i32,
    name: String,
}

#[derive(Model)]
#[orm(table = "movies")]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = Studio::name)]
    studio_name: String,
}

fn main() {}
