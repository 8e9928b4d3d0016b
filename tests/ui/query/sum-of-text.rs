use orm::prelude::*;

include!("models/bookshop.rs");

fn main() {
    let _ = select(func::sum(Book::title));
}
