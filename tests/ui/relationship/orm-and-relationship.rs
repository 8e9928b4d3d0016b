// A relationship field is not a column: the foreign key goes on its own field.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "authors")]
struct Author {
    #[orm(primary_key)]
    id: i32,
}

#[derive(Model)]
#[orm(table = "articles")]
struct Article {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = Author::id)]
    #[relationship(many_to_one)]
    author: One<Author>,
}

fn main() {}
