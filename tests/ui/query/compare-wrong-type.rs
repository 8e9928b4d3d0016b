use orm::Model;

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    title: String,
}

fn main() {
    let _ = Movie::title.gt(5);
}
