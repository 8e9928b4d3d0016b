// SQLAlchemy's `lazy = "selectin"` is a query option here, not a key.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "articles")]
struct Article {
    #[orm(primary_key)]
    id: i32,
    #[relationship(one_to_many, lazy = "selectin")]
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
