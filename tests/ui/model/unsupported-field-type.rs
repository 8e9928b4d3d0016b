use orm::Model;

struct Rating(u8);

#[derive(Model)]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    rating: Rating,
}

fn main() {}
