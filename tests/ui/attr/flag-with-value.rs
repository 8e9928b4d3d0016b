use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key = true)]
    id: i32,
}

fn main() {}
