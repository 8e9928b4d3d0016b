use orm::Model;

#[derive(Model)]
#[orm(tabel = "movies")]
struct Movie {
    #[orm(primary_key)]
    id: i32,
}

fn main() {}
