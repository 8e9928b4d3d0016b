use orm::prelude::*;

#[derive(Model)]
pub struct Grid {
    #[orm(primary_key)]
    pub id: i32,
    pub cells: Vec<Vec<i32>>,
}

fn main() {}
