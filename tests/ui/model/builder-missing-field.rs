use orm::prelude::*;

#[derive(Model)]
pub struct Book {
    #[orm(primary_key)]
    pub id: i64,
    pub title: String,
    pub pages: i16,
    pub subtitle: Option<String>,
}

fn main() {
    let _ = Book::builder().title("Dune").build();
}
