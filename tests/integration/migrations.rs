//! Migrations generated from the models: the round trip through two
//! versions of the models and back, the ledger, and the embedded folder.

use std::path::PathBuf;

use orm::migrations::{self, RenameProposal};
use orm::prelude::*;
use orm::testing::TestDb;

mod v1 {
    use orm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "m_authors")]
    pub(super) struct Author {
        #[orm(primary_key)]
        pub(super) id: i32,
        pub(super) name: String,
        pub(super) bio: Option<String>,
    }

    #[derive(Model, Debug)]
    #[orm(table = "m_books")]
    pub(super) struct Book {
        #[orm(primary_key)]
        pub(super) id: i32,
        pub(super) title: String,
        pub(super) author_id: i32,
    }

    pub(super) const TABLES: [&orm::TableMeta; 2] = [Author::TABLE, Book::TABLE];
}

/// A column added, one renamed, an index and a foreign key added.
mod v2 {
    use orm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "m_authors")]
    pub(super) struct Author {
        #[orm(primary_key)]
        pub(super) id: i32,
        pub(super) name: String,
        pub(super) biography: Option<String>,
        #[orm(default = "'en'")]
        pub(super) language: Defaulted<String>,
    }

    #[derive(Model, Debug)]
    #[orm(table = "m_books")]
    pub(super) struct Book {
        #[orm(primary_key)]
        pub(super) id: i32,
        pub(super) title: String,
        #[orm(foreign_key = Author::id, index)]
        pub(super) author_id: i32,
    }

    pub(super) const TABLES: [&orm::TableMeta; 2] = [Author::TABLE, Book::TABLE];
}

/// A folder of its own under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("orm-migrations-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn verify_clean(engine: &Engine, tables: &[&'static orm::TableMeta]) {
    let report = engine.verify_schema(tables).await.unwrap();
    assert!(report.is_clean(), "{report}");
}

#[tokio::test]
async fn models_v1_then_v2_then_down_each_generate_run_and_verify_clean() {
    let dir = TempDir::new("round-trip");
    let db = TestDb::new().await.expect("a test database");
    let engine = db.engine();

    // v1: generate, run, verify.
    let plan = migrations::generate(&dir.0, &v1::TABLES).unwrap();
    assert!(plan.proposals().is_empty());
    migrations::write(&dir.0, "init", &plan).unwrap();
    let applied = migrations::read_dir(&dir.0).unwrap().run(engine).await.unwrap();
    assert_eq!(applied, ["0001_init"]);
    verify_clean(engine, &v1::TABLES).await;
    let mut s = engine.session();
    let author = s.add(v1::Author::new("Ann", Some("wrote things".to_owned())));
    s.flush().await.unwrap();
    let author_id = s[author].id;
    s.add(v1::Book::new("First", author_id));
    s.commit().await.unwrap();

    // v2: the rename is proposed, and applied because it is confirmed.
    let mut plan = migrations::generate(&dir.0, &v2::TABLES).unwrap();
    let rename = RenameProposal { table: "m_authors".into(), from: "bio".into(), to: "biography".into() };
    assert_eq!(plan.proposals(), std::slice::from_ref(&rename));
    plan.accept(&rename);
    let up = plan.up();
    for expected in [
        "ALTER TABLE \"m_authors\" RENAME COLUMN \"bio\" TO \"biography\"",
        "ALTER TABLE \"m_authors\" ADD COLUMN \"language\" text NOT NULL DEFAULT 'en'",
        "CREATE INDEX \"ix_m_books_author_id\" ON \"m_books\" (\"author_id\")",
        "ADD CONSTRAINT \"m_books_author_id_fkey\" FOREIGN KEY (\"author_id\") REFERENCES \"m_authors\" (\"id\")",
    ] {
        assert!(up.contains(expected), "{expected} in\n{up}");
    }
    assert!(!up.contains("DANGER"), "nothing here loses data: {up}");
    migrations::write(&dir.0, "authors_v2", &plan).unwrap();
    let migrator = migrations::read_dir(&dir.0).unwrap();
    assert_eq!(migrator.run(engine).await.unwrap(), ["0002_authors_v2"]);
    assert!(migrator.run(engine).await.unwrap().is_empty(), "each migration runs once");
    verify_clean(engine, &v2::TABLES).await;
    let mut s = engine.session();
    let kept = s.get::<v2::Author>(author_id).await.unwrap().unwrap();
    assert_eq!(s[kept].biography.as_deref(), Some("wrote things"), "the renamed column kept its data");
    assert_eq!(s[kept].language.get().map(String::as_str), Some("en"));

    // Down: back to v1.
    assert_eq!(migrator.revert(engine).await.unwrap().as_deref(), Some("0002_authors_v2"));
    verify_clean(engine, &v1::TABLES).await;
    let mut s = engine.session();
    let back = s.get::<v1::Author>(author_id).await.unwrap().unwrap();
    assert_eq!(s[back].bio.as_deref(), Some("wrote things"));
    assert_eq!(migrator.applied(engine).await.unwrap(), ["0001_init"]);

    // The last migration's schema is v2: generating for v2 again is empty.
    assert!(migrations::generate(&dir.0, &v2::TABLES).unwrap().is_empty());
}

#[tokio::test]
async fn an_applied_migration_whose_script_changed_is_refused() {
    let dir = TempDir::new("checksum");
    let db = TestDb::new().await.expect("a test database");
    let plan = migrations::generate(&dir.0, &v1::TABLES).unwrap();
    let folder = migrations::write(&dir.0, "init", &plan).unwrap();
    migrations::read_dir(&dir.0).unwrap().run(db.engine()).await.unwrap();
    std::fs::write(folder.join("up.sql"), format!("{}\n-- edited", plan.up())).unwrap();
    let error = migrations::read_dir(&dir.0).unwrap().run(db.engine()).await.unwrap_err();
    assert!(matches!(&error, Error::Migration { version, .. } if version == "0001_init"), "{error:?}");
    assert!(error.to_string().contains("changed"), "{error}");
}

#[tokio::test]
async fn two_processes_migrating_at_once_apply_each_migration_once() {
    let dir = TempDir::new("concurrent");
    let db = TestDb::new().await.expect("a test database");
    migrations::write(&dir.0, "init", &migrations::generate(&dir.0, &v1::TABLES).unwrap()).unwrap();
    let migrator = migrations::read_dir(&dir.0).unwrap();
    let (one, two) = (Engine::new(db.url()).unwrap(), Engine::new(db.url()).unwrap());
    let (a, b) = tokio::join!(migrator.run(&one), migrator.run(&two));
    let mut applied = [a.unwrap(), b.unwrap()].concat();
    applied.sort();
    assert_eq!(applied, ["0001_init"], "applied by exactly one of them");
}

#[tokio::test]
async fn embedded_migrations_carry_the_folder_into_the_binary() {
    let embedded = orm::embed_migrations!("tests/fixtures/migrations");
    let read = migrations::read_dir(std::path::Path::new("tests/fixtures/migrations")).unwrap();
    assert_eq!(embedded.migrations(), read.migrations());
    let db = TestDb::new().await.expect("a test database");
    assert_eq!(embedded.run(db.engine()).await.unwrap(), ["0001_notes"]);
    assert_eq!(embedded.revert(db.engine()).await.unwrap().as_deref(), Some("0001_notes"));
}

#[tokio::test]
async fn a_database_made_by_create_all_is_diffed_against_the_models() {
    let db = TestDb::new().await.expect("a test database");
    let engine = db.engine();
    engine.create_all(&v1::TABLES).await.unwrap();
    let plan = migrations::generate_from_database(engine, &v1::TABLES).await.unwrap();
    assert!(plan.is_empty(), "create_all's schema is the models':\n{}", plan.up());

    let mut plan = migrations::generate_from_database(engine, &v2::TABLES).await.unwrap();
    let rename = RenameProposal { table: "m_authors".into(), from: "bio".into(), to: "biography".into() };
    assert_eq!(plan.proposals(), std::slice::from_ref(&rename));
    plan.accept(&rename);
    let mut conn = engine.connect().await.unwrap();
    orm::Connection::batch_execute(&mut conn, &plan.up()).await.unwrap();
    verify_clean(engine, &v2::TABLES).await;
    orm::Connection::batch_execute(&mut conn, &plan.down()).await.unwrap();
    verify_clean(engine, &v1::TABLES).await;
}

#[tokio::test]
async fn a_failing_migration_keeps_the_earlier_ones_and_releases_the_lock() {
    let dir = TempDir::new("failing");
    let db = TestDb::new().await.expect("a test database");
    migrations::write(&dir.0, "init", &migrations::generate(&dir.0, &v1::TABLES).unwrap()).unwrap();
    let broken = dir.0.join("0002_broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("up.sql"),
        "ALTER TABLE m_authors ADD COLUMN x int;\nSELECT no_such_column FROM m_authors;",
    )
    .unwrap();
    std::fs::write(broken.join("down.sql"), "").unwrap();
    let migrator = migrations::read_dir(&dir.0).unwrap();
    let error = migrator.run(db.engine()).await.unwrap_err();
    assert!(matches!(&error, Error::Migration { version, .. } if version == "0002_broken"), "{error:?}");
    assert_eq!(migrator.applied(db.engine()).await.unwrap(), ["0001_init"], "the first stays, the second rolled back");
    verify_clean(db.engine(), &v1::TABLES).await;
    let again = tokio::time::timeout(std::time::Duration::from_secs(10), migrator.run(db.engine())).await;
    assert!(again.expect("the advisory lock was released").is_err());
}
