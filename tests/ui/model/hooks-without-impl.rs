use orm::Model;

#[derive(Model)]
#[orm(hooks)]
struct Note {
    #[orm(primary_key)]
    id: i32,
}

fn main() {}
