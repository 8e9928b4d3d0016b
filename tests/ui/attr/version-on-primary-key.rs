use orm::Model;

#[derive(Model)]
struct Document {
    #[orm(primary_key, version)]
    id: i32,
    title: String,
}

fn main() {}
