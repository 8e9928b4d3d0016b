// The SQLAlchemy seed has `relationship("Mobile")` for the class `MobilePhone`;
// a typed target catches the slip at compile time.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "people")]
struct Person {
    #[orm(primary_key)]
    id: i32,
    #[relationship(one_to_one, back_populates = person)]
    mobile_phone: One<Mobile>,
}

#[derive(Model)]
#[orm(table = "mobile_phones")]
struct MobilePhone {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = Person::id)]
    person_id: Option<i32>,
    #[relationship(one_to_one, back_populates = mobile_phone)]
    person: One<Person>,
}

fn main() {}
