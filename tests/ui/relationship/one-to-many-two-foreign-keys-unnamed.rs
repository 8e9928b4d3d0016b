// The target has two foreign keys to this model: the relationship must name one.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "users")]
struct User {
    #[orm(primary_key)]
    id: i32,
    #[relationship(one_to_many)]
    sent: Many<Message>,
}

#[derive(Model)]
#[orm(table = "messages")]
struct Message {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = User::id)]
    sender_id: i32,
    #[orm(foreign_key = User::id)]
    recipient_id: i32,
}

fn main() {}
