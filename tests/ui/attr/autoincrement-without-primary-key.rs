use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[orm(autoincrement = false)]
    position: i32,
}

fn main() {}
