use orm::Model;

#[derive(Model)]
#[orm(crate = "orm")]
struct Movie {
    #[orm(primary_key)]
    id: i32,
}

fn main() {}
