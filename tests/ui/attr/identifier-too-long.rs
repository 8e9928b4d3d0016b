use orm::prelude::*;

#[derive(Model)]
#[orm(table = "a_table_name_that_is_much_longer_than_what_postgresql_keeps_whole")]
pub struct Long {
    #[orm(primary_key)]
    pub id: i32,
    #[orm(column = "a_column_name_that_is_much_longer_than_what_postgresql_keeps_whole")]
    pub value: i32,
    pub a_field_name_that_is_much_longer_than_what_postgresql_keeps_whole: i32,
}

fn main() {}
