use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: Option<i32>,
}

fn main() {}
