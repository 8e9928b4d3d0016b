use orm::prelude::*;

#[derive(Model)]
pub struct Book {
    #[orm(primary_key)]
    pub id: i32,
    #[orm(default = "0")]
    pub stock: i32,
    #[orm(default = "'draft'")]
    pub status: Option<String>,
    #[orm(default = "true")]
    pub active: Defaulted<bool>,
}

fn main() {}
