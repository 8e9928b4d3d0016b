// A many-to-many relationship needs the model of its association table.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "movies")]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    #[relationship(many_to_many)]
    actors: Many<Actor>,
}

#[derive(Model)]
#[orm(table = "actors")]
struct Actor {
    #[orm(primary_key)]
    id: i32,
}

fn main() {}
