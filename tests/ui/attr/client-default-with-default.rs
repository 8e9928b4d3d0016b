use orm::Model;

fn now() -> i64 {
    0
}

#[derive(Model)]
struct Event {
    #[orm(primary_key, client_default = now)]
    id: i64,
    #[orm(default = "0", client_default = now)]
    at: i64,
}

fn main() {}
