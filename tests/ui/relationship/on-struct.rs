// `#[relationship]` belongs on a field.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "articles")]
#[relationship(one_to_many)]
struct Article {
    #[orm(primary_key)]
    id: i32,
}

fn main() {}
