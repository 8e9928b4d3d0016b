// A many-to-one relationship from a model that has no foreign key to the target.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "actors")]
struct Actor {
    #[orm(primary_key)]
    id: i32,
}

#[derive(Model)]
#[orm(table = "stuntmen")]
struct Stuntman {
    #[orm(primary_key)]
    id: i32,
    actor_id: Option<i32>,
    #[relationship(many_to_one)]
    actor: One<Actor>,
}

fn main() {}
