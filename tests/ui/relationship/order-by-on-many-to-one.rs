// `order_by` sorts a collection; a many-to-one holds at most one object.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "articles")]
struct Article {
    #[orm(primary_key)]
    id: i32,
}

#[derive(Model)]
#[orm(table = "comments")]
struct Comment {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = Article::id)]
    article_id: i32,
    #[relationship(many_to_one, order_by = Article::id, secondary = Article)]
    article: One<Article>,
}

fn main() {}
