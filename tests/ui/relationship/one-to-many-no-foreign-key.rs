// A one-to-many relationship to a model that has no foreign key back.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "articles")]
struct Article {
    #[orm(primary_key)]
    id: i32,
    #[relationship(one_to_many)]
    comments: Many<Comment>,
}

#[derive(Model)]
#[orm(table = "comments")]
struct Comment {
    #[orm(primary_key)]
    id: i32,
    article_id: i32,
}

fn main() {}
