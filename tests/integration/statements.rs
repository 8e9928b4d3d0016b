//! Statements by criteria (bulk UPDATE and DELETE), upserts, raw SQL and
//! row locks, all inside the session's transaction and kept in step with
//! its identity map.

use orm::func;
use orm::prelude::*;
use orm::testing::TestDb;
use orm::ObjectState;

use crate::bookshop::{bookshop, day, dec, Author, Book};
use crate::common::statements_during;

#[tokio::test]
async fn a_bulk_update_sets_rows_and_the_loaded_objects_in_one_statement() {
    let (db, shop) = bookshop().await;
    let engine = db.engine();
    let mut s = engine.session();
    let books = s.query::<Book>().filter(Book::author_id.eq(shop.pratchett)).order_by(Book::id.asc()).all();
    let books = books.await.unwrap();
    let (statements, updated) = statements_during(engine, async {
        s.query::<Book>()
            .filter(Book::author_id.eq(shop.pratchett))
            .update([Book::price.set(Book::price * dec("0.5")), Book::stock.set(Book::stock + 1)])
            .await
            .unwrap()
    })
    .await;
    assert_eq!(updated, 3);
    assert_eq!(statements, 1, "the UPDATE with BEGIN, no statement per object");
    let prices: Vec<_> = books.iter().map(|&b| (s[b].price, s[b].stock)).collect();
    assert_eq!(prices, [(dec("4.000"), 11), (dec("4.500"), 4), (dec("5.000"), 8)]);
    assert!(!s.has_changes(), "what the database already holds is not a change to flush");

    s.rollback().await.unwrap();
    assert_eq!(s[books[0]].price, dec("8.00"), "a rollback puts the loaded values back");
    let mut other = engine.session();
    let stored: Vec<i32> = other.select(Book::stock).filter(Book::author_id.eq(shop.pratchett)).all().await.unwrap();
    assert_eq!(stored.iter().sum::<i32>(), 20, "and the database never committed it");

    let n = s.query::<Book>().join(Book::author).filter(Author::country.eq("UK")).update([Book::stock.set(0)]);
    assert_eq!(n.await.unwrap(), 4, "a joined filter selects the rows by key");
    s.commit().await.unwrap();
    let zero: i64 = other.select(func::count(Book::id)).filter(Book::stock.eq(0)).one().await.unwrap();
    assert_eq!(zero, 5);
}

#[tokio::test]
async fn bulk_statements_refuse_what_they_would_ignore_or_break() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let limited = s.query::<Book>().order_by(Book::price.asc()).limit(1).delete().await;
    assert!(
        matches!(limited, Err(Error::InvalidStatement { ref reason, .. }) if reason.contains("limit")),
        "{limited:?}"
    );
    let key = s.query::<Book>().update([Book::id.set(Book::id + 100)]).await;
    assert!(
        matches!(key, Err(Error::InvalidStatement { ref reason, .. }) if reason.contains("primary key `id`")),
        "{key:?}"
    );
    let excluded = s.query::<Book>().update([Book::price.set(Book::price.excluded())]).await;
    assert!(
        matches!(excluded, Err(Error::InvalidStatement { ref reason, .. }) if reason.contains("excluded")),
        "{excluded:?}"
    );
    assert_eq!(s.query::<Book>().count().await.unwrap(), 6, "nothing was deleted");
}

#[tokio::test]
async fn a_bulk_delete_removes_rows_and_detaches_the_loaded_objects() {
    let (db, shop) = bookshop().await;
    let mut s = db.engine().session();
    let small_gods = s.get::<Book>(shop.small_gods).await.unwrap().unwrap();
    let deleted = s.query::<Book>().filter(Book::rating.is_null()).delete().await.unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(s.state(small_gods), Some(ObjectState::Detached));
    assert_eq!(s.get::<Book>(shop.small_gods).await.unwrap(), None);
    s.commit().await.unwrap();
    assert_eq!(s.query::<Book>().count().await.unwrap(), 5);
}

#[tokio::test]
async fn insert_many_upserts_on_a_unique_column() {
    let (db, shop) = bookshop().await;
    let mut s = db.engine().session();
    let earthsea = s.get::<Book>(shop.earthsea).await.unwrap().unwrap();
    let isbn = s[earthsea].isbn.clone();
    let book =
        |isbn: &str, title: &str, price: &str| Book::new(isbn, title, dec(price), 1, day(2000, 1, 1), None, shop.banks);
    let rows = [book(&isbn, "Earthsea, reprinted", "7.77"), book("isbn-new", "The Player of Games", "6.00")];
    let kept = s.insert_many(rows).on_conflict_do_nothing(Book::isbn).run().await.unwrap();
    assert_eq!(kept.len(), 1, "DO NOTHING returns only the rows inserted");
    assert_eq!(s[kept[0]].title, "The Player of Games");
    assert_eq!(s[earthsea].title, "A Wizard of Earthsea");

    let rows = [book(&isbn, "Earthsea, reprinted", "7.77"), book("isbn-newer", "Use of Weapons", "6.50")];
    let upserted = s
        .insert_many(rows)
        .on_conflict_do_update(Book::isbn, [Book::price.set(Book::price.excluded()), Book::stock.set(Book::stock + 1)])
        .run()
        .await
        .unwrap();
    assert_eq!(upserted.len(), 2);
    assert_eq!(upserted[0], earthsea, "the row already loaded keeps its handle");
    assert_eq!((s[earthsea].price, s[earthsea].stock), (dec("7.77"), 6));
    assert_eq!(s[earthsea].title, "A Wizard of Earthsea", "columns not in DO UPDATE are kept");
    s.commit().await.unwrap();
    let mut other = db.engine().session();
    assert_eq!(other.query::<Book>().count().await.unwrap(), 8);

    let rows = [book("isbn-rolled-back", "Matter", "5.00")];
    let matter = s.insert_many(rows).run().await.unwrap()[0];
    s.rollback().await.unwrap();
    assert_eq!(s.state(matter), Some(ObjectState::Detached), "a rolled-back insert leaves the identity map");
    assert_eq!(s.query::<Book>().filter(Book::isbn.eq("isbn-rolled-back")).count().await.unwrap(), 0);
}

#[tokio::test]
async fn session_upsert_inserts_or_updates_by_key_at_flush() {
    let (db, shop) = bookshop().await;
    let engine = db.engine();
    let mut s = engine.session();
    let mut renamed = Author::new("U. K. Le Guin", Some("US".into()));
    renamed.id = shop.le_guin;
    let mut fresh = Author::new("Ann Leckie", Some("US".into()));
    fresh.id = 1000;
    s.upsert(renamed).unwrap();
    s.upsert(fresh).unwrap();
    s.commit().await.unwrap();
    let mut other = engine.session();
    let names = other.select((Author::id, Author::name)).filter(Author::country.eq("US")).order_by(Author::id.asc());
    let names: Vec<(i32, String)> = names.all().await.unwrap();
    assert_eq!(names, [(shop.le_guin, "U. K. Le Guin".to_owned()), (1000, "Ann Leckie".to_owned())]);

    // A key the session holds: copied onto the loaded object, an UPDATE.
    let loaded = other.get::<Author>(1000).await.unwrap().unwrap();
    let mut again = Author::new("Ann Leckie", Some("UK".into()));
    again.id = 1000;
    assert_eq!(other.upsert(again).unwrap(), loaded);
    other.commit().await.unwrap();
    assert_eq!(
        engine.session().select(Author::country).filter(Author::id.eq(1000)).one().await.unwrap(),
        Some("UK".into())
    );
}

#[tokio::test]
async fn raw_sql_runs_on_the_sessions_connection_inside_its_transaction() {
    let (db, shop) = bookshop().await;
    let mut s = db.engine().session();
    let book = s.get::<Book>(shop.earthsea).await.unwrap().unwrap();
    s[book].stock = 42;
    // The UPDATE of the flush holds the row lock; raw SQL on another
    // connection would wait for it.
    s.flush().await.unwrap();
    let fut = s.execute("UPDATE books SET stock = stock + $1 WHERE id = $2", (1, shop.earthsea));
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), fut).await.expect("no self-deadlock").unwrap();
    assert_eq!(n, 1);
    let rows: Vec<(String, i32)> =
        s.query_sql("SELECT title, stock FROM books WHERE id = $1", (shop.earthsea,)).await.unwrap();
    assert_eq!(rows, [("A Wizard of Earthsea".to_owned(), 43)]);
    let titles: Vec<String> = s.query_sql("SELECT title FROM books WHERE stock = $1", (0,)).await.unwrap();
    assert_eq!(titles, ["The Dispossessed"]);

    let books = s.from_statement::<Book>("SELECT * FROM books WHERE id = $1", (shop.earthsea,)).await.unwrap();
    assert_eq!(books, [book], "rows become the objects the session holds");
    s.rollback().await.unwrap();
    let stock: i32 = s.query_sql("SELECT stock FROM books WHERE id = $1", (shop.earthsea,)).await.unwrap()[0];
    assert_eq!(stock, 5, "the raw UPDATE was part of the rolled-back transaction");
}

#[tokio::test]
async fn a_statement_without_every_column_of_the_model_is_refused_and_the_session_goes_on() {
    let (db, shop) = bookshop().await;
    let mut s = db.engine().session();
    let error = s.from_statement::<Book>("SELECT id, title FROM books ORDER BY id", ()).await.unwrap_err();
    match &error {
        Error::ResultShape { what, expected, returned } => {
            assert!(what.contains("Book"), "{what}");
            assert_eq!((*expected, *returned), (Book::TABLE.columns.len(), 2));
        }
        other => panic!("expected ResultShape, got {other:?}"),
    }
    let books = s.from_statement::<Book>("SELECT * FROM books WHERE id = $1", (shop.earthsea,)).await.unwrap();
    assert_eq!(s[books[0]].title, "A Wizard of Earthsea", "the session reads on after the refusal");
}

#[tokio::test]
async fn a_raw_parameter_of_the_wrong_type_names_its_position_and_types() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let error = s.execute("UPDATE books SET stock = $1 WHERE title = $2", ("ten", "Mort")).await.unwrap_err();
    match &error {
        Error::ParameterType { position, expected, sent } => {
            assert_eq!((*position, expected.as_str()), (1, "int4"));
            assert!(sent.contains("&str"), "{sent}");
        }
        other => panic!("expected ParameterType, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("$1") && message.contains("int4") && message.contains("&str"), "{message}");
    let rows: Vec<i32> = s.query_sql("SELECT stock FROM books WHERE title = $1", ("Mort",)).await.unwrap();
    assert_eq!(rows, [10], "the session works on after the error");

    // Refused before it was sent: the transaction and its work survive.
    s.execute("UPDATE books SET stock = 0 WHERE title = $1", ("Mort",)).await.unwrap();
    assert!(s.execute("UPDATE books SET stock = $1", ("ten",)).await.is_err());
    let wide = s.query_sql::<i32>("SELECT stock, id FROM books", ()).await;
    assert!(matches!(wide, Err(Error::ResultShape { expected: 1, returned: 2, .. })), "{wide:?}");
    s.commit().await.unwrap();
    let rows: Vec<i32> = s.query_sql("SELECT stock FROM books WHERE title = $1", ("Mort",)).await.unwrap();
    assert_eq!(rows, [0]);
}

#[tokio::test]
async fn row_locks_for_update_nowait_and_skip_locked() {
    let (db, shop) = bookshop().await;
    let engine = db.engine();
    let mut holder = engine.session();
    let locked = holder.query::<Book>().filter(Book::id.eq(shop.earthsea)).for_update().one().await.unwrap();
    assert!(holder.in_transaction(), "a locking read opens the transaction that holds the lock");

    let mut other = engine.session();
    let error = other.query::<Book>().filter(Book::id.eq(shop.earthsea)).for_update().nowait().all().await.unwrap_err();
    assert_eq!(error.db_error().map(|e| e.code.as_str()), Some("55P03"), "lock_not_available: {error}");
    other.rollback().await.unwrap();

    let free = other.query::<Book>().for_update().skip_locked().all().await.unwrap();
    assert_eq!(free.len(), 5, "every book but the locked one");
    other.rollback().await.unwrap();
    let shared = other.select(Book::title).filter(Book::id.ne(shop.earthsea)).for_share().all().await.unwrap();
    assert_eq!(shared.len(), 5);
    assert!(other.in_transaction(), "the shared locks are held by the session's transaction");
    other.rollback().await.unwrap();

    holder[locked].stock = 1;
    holder.commit().await.unwrap();
    let now = other.query::<Book>().filter(Book::id.eq(shop.earthsea)).for_update().nowait().one().await.unwrap();
    assert_eq!(other[now].stock, 1, "free once the holder committed");
}

/// A model whose only column the database fills: nothing to send but
/// defaults.
#[derive(Model, Debug)]
#[orm(table = "tickets")]
struct Ticket {
    #[orm(primary_key)]
    id: i32,
}

#[orm::test(Ticket)]
async fn insert_many_of_a_model_with_nothing_to_send_inserts_a_row_per_object(db: TestDb) {
    let mut s = db.engine().session();
    assert!(s.insert_many(Vec::<Ticket>::new()).run().await.unwrap().is_empty());
    assert_eq!(s.query::<Ticket>().count().await.unwrap(), 0, "nothing to insert, nothing inserted");

    let tickets = s.insert_many([Ticket::new(), Ticket::new(), Ticket::new()]).run().await.unwrap();
    assert_eq!(tickets.len(), 3, "a handle per object");
    let ids: Vec<i32> = tickets.iter().map(|&t| s[t].id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "a row of defaults each, in order: {ids:?}");
    s.commit().await.unwrap();
    assert_eq!(db.engine().session().query::<Ticket>().count().await.unwrap(), 3);
}
