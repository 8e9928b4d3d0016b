use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[orm(colum = "movie_title")]
    title: String,
}

fn main() {}
