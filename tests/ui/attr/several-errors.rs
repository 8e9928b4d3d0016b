use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[orm(colum = "movie_title")]
    title: String,
    #[orm(max_len = 4)]
    year: i32,
}

fn main() {}
