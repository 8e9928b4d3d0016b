use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    title: String,
    #[orm(column = "title")]
    original_title: String,
}

fn main() {}
