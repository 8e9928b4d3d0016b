use orm::Model;

#[derive(Model)]
struct Document {
    #[orm(primary_key)]
    id: i32,
    #[orm(version)]
    version: i32,
    #[orm(version)]
    revision: i64,
}

fn main() {}
