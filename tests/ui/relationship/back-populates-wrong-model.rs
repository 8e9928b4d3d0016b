// `back_populates` names a relationship of the target to another model.
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
    author_id: i32,
    #[relationship(many_to_one)]
    author: One<Author>,
    #[relationship(one_to_many, back_populates = article)]
    comments: Many<Comment>,
}

#[derive(Model)]
#[orm(table = "comments")]
struct Comment {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = Article::id)]
    article_id: i32,
    #[relationship(many_to_one, back_populates = author)]
    article: One<Article>,
}

fn main() {}
