//! SQL logging through `tracing` (SQLAlchemy's `echo=True`). A binary of its
//! own: `tracing` caches per call site whether anyone listens, so a scoped
//! subscriber must not share a process with tests running on other threads.

use orm::prelude::*;
use orm::testing::TestDb;

/// A model to query.
#[derive(Model, Debug)]
#[orm(table = "people")]
struct Person {
    #[orm(primary_key)]
    id: i32,
    name: String,
}

#[test]
fn every_statement_is_logged_through_tracing() {
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};

    /// Collects the `sql` field of every event.
    #[derive(Default, Clone)]
    struct Collector(Arc<Mutex<Vec<String>>>);

    struct SqlField<'a>(&'a mut Option<String>);
    impl Visit for SqlField<'_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "sql" {
                *self.0 = Some(value.to_owned());
            }
        }
        fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
    }

    impl tracing::Subscriber for Collector {
        fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
            metadata.target() == "orm::sql"
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut sql = None;
            event.record(&mut SqlField(&mut sql));
            self.0.lock().unwrap().extend(sql);
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    let collector = Collector::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tracing::subscriber::with_default(collector.clone(), || {
        runtime.block_on(async {
            let db = TestDb::new().await.expect("a test database");
            db.engine().create_all(&[Person::TABLE]).await.expect("create table");
            let mut session = db.engine().session();
            session.add(Person { id: 0, name: "x".into() });
            session.query::<Person>().filter(Person::name.eq("x")).all().await.unwrap();
        })
    });
    let logged = collector.0.lock().unwrap().clone();
    assert!(logged.iter().any(|s| s.starts_with("SELECT \"people\".\"id\"")), "{logged:?}");
    assert!(logged.iter().any(|s| s == "BEGIN"), "{logged:?}");
}
