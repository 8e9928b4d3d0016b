//! SQL logging through `tracing` (SQLAlchemy's `echo=True`). A binary of its
//! own: `tracing` caches per call site whether anyone listens, so a scoped
//! subscriber must not share a process with tests running on other threads.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use orm::prelude::*;
use orm::testing::TestDb;
use tracing::field::{Field, Visit};

/// A model to query.
#[derive(Model, Debug)]
#[orm(table = "people")]
struct Person {
    #[orm(primary_key)]
    id: i32,
    #[orm(unique)]
    name: String,
}

/// One event on target `orm::sql`: its level and its fields as text.
#[derive(Debug, Clone)]
struct Logged {
    level: tracing::Level,
    fields: Vec<(String, String)>,
}

impl Logged {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        format!("{:?}", self.fields)
    }
}

#[derive(Default, Clone)]
struct Collector(Arc<Mutex<Vec<Logged>>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
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
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Logged { level: *event.metadata().level(), fields });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn statements_are_logged_failures_with_their_error_slow_ones_at_warn_and_values_only_on_request() {
    let collector = Collector::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let password_error = tracing::subscriber::with_default(collector.clone(), || {
        runtime.block_on(async {
            let db = TestDb::new().await.expect("a test database");
            db.engine().create_all(&[Person::TABLE]).await.expect("create table");
            let mut session = db.engine().session();
            session.add(Person { id: 0, name: "x".into() });
            session.query::<Person>().filter(Person::name.eq("hidden-value")).all().await.unwrap();
            session.add(Person { id: 0, name: "x".into() });
            session.commit().await.unwrap_err();

            let revealing = Engine::builder(db.url()).log_parameters(true).build().unwrap();
            revealing.session().query::<Person>().filter(Person::name.eq("shown-value")).all().await.unwrap();
            let slow = Engine::builder(db.url()).slow_statement(Duration::from_millis(20)).build().unwrap();
            slow.session().execute("SELECT pg_sleep(0.05)", ()).await.unwrap();

            let secret = "postgres://postgres:hunter2@127.0.0.1:1/nothing";
            let unreachable = Engine::builder(secret).pool_timeout(Duration::from_secs(2)).build().unwrap();
            let error = unreachable.session().query::<Person>().count().await.unwrap_err();
            format!("{error} {error:?}")
        })
    });
    let logged = collector.0.lock().unwrap().clone();
    let sql = |e: &Logged| e.field("sql").unwrap_or_default().to_owned();
    assert!(logged.iter().any(|e| sql(e).starts_with("SELECT \"people\".\"id\"")), "{logged:?}");
    assert!(logged.iter().any(|e| sql(e) == "BEGIN" && e.level == tracing::Level::DEBUG), "{logged:?}");

    let failed = logged.iter().find(|e| e.field("message") == Some("statement failed")).expect("a failure logged");
    assert!(sql(failed).starts_with("INSERT INTO \"people\""), "{failed:?}");
    assert!(failed.field("error").is_some_and(|e| e.contains("people_name_key")), "{failed:?}");

    assert!(logged.iter().all(|e| !e.text().contains("hidden-value")), "values are not logged by default");
    assert!(logged.iter().any(|e| e.text().contains("shown-value")), "unless the engine asks: {logged:?}");

    let slow = logged.iter().find(|e| e.field("message") == Some("slow statement")).expect("a slow statement");
    assert_eq!((slow.level, sql(slow).as_str()), (tracing::Level::WARN, "SELECT pg_sleep(0.05)"));

    assert!(!password_error.contains("hunter2"), "{password_error}");
    assert!(logged.iter().all(|e| !e.text().contains("hunter2")));
}
