// `order_by` sorts the related objects, so it names a column of the target.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "articles")]
struct Article {
    #[orm(primary_key)]
    id: i32,
    #[relationship(one_to_many, order_by = Article::id)]
    comments: Many<Comment>,
}

#[derive(Model)]
#[orm(table = "comments")]
struct Comment {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = Article::id)]
    article_id: i32,
}

fn main() {}
