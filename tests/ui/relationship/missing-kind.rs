// A relationship says which of the four kinds it is.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "articles")]
struct Article {
    #[orm(primary_key)]
    id: i32,
    #[relationship(back_populates = article)]
    comments: Many<Comment>,
}

#[derive(Model)]
#[orm(table = "comments")]
struct Comment {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = Article::id)]
    article_id: i32,
    #[relationship(many_to_one, back_populates = comments)]
    article: One<Article>,
}

fn main() {}
