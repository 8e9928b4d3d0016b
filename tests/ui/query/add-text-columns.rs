use orm::prelude::*;

include!("models/bookshop.rs");

fn main() {
    let _ = Book::title + Book::title;
}
