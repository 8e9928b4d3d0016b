use orm::Model;

#[derive(Model)]
#[orm(unique(shelf_id, titel), index(stars), check = "stars > 0")]
struct Review {
    #[orm(primary_key)]
    id: i32,
    #[orm(on_delete = "cascade")]
    shelf_id: i32,
    #[orm(foreign_key = Review::id, on_delete = "set null")]
    parent_id: i32,
    #[orm(foreign_key = Review::id, on_key_update = "explode")]
    other_id: Option<i32>,
    title: String,
    stars: i32,
}

fn main() {}
