use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[orm(default = now())]
    created_at: chrono::DateTime<chrono::Utc>,
}

fn main() {}
