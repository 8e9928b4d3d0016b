use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[orm(column = "title")]
    #[orm(column = "name")]
    title: String,
}

fn main() {}
