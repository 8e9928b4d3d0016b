use orm::Model;

#[derive(Model)]
struct Movie {
    id: i32,
    title: String,
}

fn main() {}
