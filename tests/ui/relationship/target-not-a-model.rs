// The target of a relationship is a plain struct, not a model.
use orm::prelude::*;

struct Studio {
    id: i32,
}

#[derive(Model)]
#[orm(table = "movies")]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[relationship(one_to_many)]
    studios: Many<Studio>,
}

fn main() {}
