use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[orm(max_len = 0)]
    title: String,
}

fn main() {}
