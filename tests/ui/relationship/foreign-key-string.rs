// SQLAlchemy's `foreign_keys="Employee.manager_id"` is a path here.
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
    #[relationship(many_to_one, foreign_key = "Employee.manager_id")]
    manager: One<Employee>,
}

fn main() {}
