// Two foreign keys reference the target: the relationship must name one.
use orm::prelude::*;

#[derive(Model)]
#[orm(table = "employees")]
struct Employee {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = Employee::id)]
    manager_id: Option<i32>,
    #[orm(foreign_key = Employee::id)]
    mentor_id: Option<i32>,
    #[relationship(many_to_one)]
    manager: One<Employee>,
}

fn main() {}
