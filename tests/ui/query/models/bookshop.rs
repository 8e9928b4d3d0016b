// The models the query compile-fail cases share (included, not a case).

#[derive(Model)]
#[orm(table = "authors")]
struct Author {
    #[orm(primary_key)]
    id: i32,
    name: String,
    #[relationship(one_to_many, back_populates = author)]
    books: Many<Book>,
}

#[derive(Model)]
#[orm(table = "books")]
struct Book {
    #[orm(primary_key)]
    id: i32,
    title: String,
    price: rust_decimal::Decimal,
    #[orm(foreign_key = Author::id)]
    author_id: i32,
    #[relationship(many_to_one, back_populates = books)]
    author: One<Author>,
}

#[derive(Model)]
#[orm(table = "tags")]
struct Tag {
    #[orm(primary_key)]
    id: i32,
    name: String,
}

