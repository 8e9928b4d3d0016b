use orm::Model;

fn one() -> i32 {
    1
}

#[derive(Model)]
#[orm(table = "orm_things", unique(name, name))]
struct Thing {
    #[orm(primary_key, onupdate = "nextval('s')")]
    id: i32,
    name: String,
    orm_row: i32,
    #[orm(version, client_default = one)]
    version: i32,
    #[orm(foreign_key = Thing::id, on_delete = "set default")]
    parent_id: i32,
}

fn main() {}
