use orm::Model;

#[derive(Model)]
struct Movie(i32, String);

fn main() {}
