use orm::Model;

#[derive(Model)]
struct Movie<T> {
    #[orm(primary_key)]
    id: i32,
    extra: T,
}

fn main() {}
