use orm::prelude::*;

include!("models/bookshop.rs");

    let _ = Book::price + Book::author_id;
}
