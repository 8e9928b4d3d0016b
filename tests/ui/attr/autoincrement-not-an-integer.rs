use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key, autoincrement = true)]
    code: String,
}

fn main() {}
