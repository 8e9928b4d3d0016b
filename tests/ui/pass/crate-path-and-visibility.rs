//! `#[orm(crate = ..)]` for a re-exported `orm`, `no_constructor`, and models
//! private to a module.

mod reexport {
    pub use orm as database;
}

mod private {
    use crate::reexport::database;

    #[derive(database::Model)]
    #[orm(crate = crate::reexport::database, no_constructor)]
    pub(crate) struct Counter {
        #[orm(primary_key)]
        pub(crate) name: String,
        value: i64,
    }

    impl Counter {
        pub(crate) fn new(name: &str) -> Self {
            Counter { name: name.to_owned(), value: 0 }
        }

        pub(crate) fn value_column() -> orm::Column<Counter, i64> {
            Counter::value
        }
    }

    #[derive(orm::Model)]
    struct Hidden {
        #[orm(primary_key)]
        id: i16,
    }

    pub(crate) fn hidden() -> usize {
        use orm::Model;
        Hidden::new().id as usize + Hidden::TABLE.columns.len()
    }
}

fn main() {
    use orm::Model;
    let counter = private::Counter::new("visits");
    assert_eq!(counter.key(), "visits");
    assert_eq!(private::Counter::name.name(), "name");
    assert_eq!(private::Counter::value_column().index(), 1);
    assert_eq!(private::hidden(), 1);
}
