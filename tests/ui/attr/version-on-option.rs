use orm::Model;

#[derive(Model)]
struct Document {
    #[orm(primary_key)]
    id: i32,
    #[orm(version)]
    version: Option<i32>,
}

fn main() {}
