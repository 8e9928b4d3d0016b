//! `Model::builder()` names the fields: required ones in any order, optional
//! ones (nullable, skipped, `client_default`, server default) when wanted.

use orm::prelude::*;

fn stamp() -> i64 {
    42
}

#[derive(Model, Debug)]
pub struct Book {
    #[orm(primary_key)]
    pub id: i64,
    pub title: String,
    pub r#type: String,
    pub pages: i16,
    pub subtitle: Option<String>,
    #[orm(client_default = stamp)]
    pub stamp: i64,
    #[orm(skip)]
    pub note: String,
    #[orm(version)]
    pub version: i32,
}

fn main() {
    let book = Book::builder().pages(320).r#type("novel").title("Dune").build();
    assert_eq!((book.id, book.title.as_str(), book.r#type.as_str(), book.pages), (0, "Dune", "novel", 320));
    assert_eq!((book.subtitle, book.stamp, book.note.as_str(), book.version), (None, 42, "", 1));
    let book = Book::builder().title("Emma").r#type("novel").pages(1).subtitle("A Novel".to_owned()).stamp(7).note("x").build();
    assert_eq!((book.subtitle.as_deref(), book.stamp, book.note.as_str()), (Some("A Novel"), 7, "x"));
    // A required field set twice keeps the last value.
    let book = Book::builder().title("a").title("b").r#type("t").pages(2).build();
    assert_eq!(book.title, "b");
}
