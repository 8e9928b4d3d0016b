// SQLAlchemy's `merge` cascade has no equivalent: handles are always in the session.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "articles")]
struct Article {
    #[orm(primary_key)]
    id: i32,
    #[relationship(one_to_many, cascade = "all, merge")]
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
