use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    runtime_minutes: u32,
    views: Option<u64>,
}

fn main() {}
