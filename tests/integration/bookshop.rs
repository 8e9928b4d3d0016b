//! The bookshop the query-language tests run against: authors, books, tags
//! and a tree of employees.

use chrono::{NaiveDate, NaiveDateTime};
use orm::prelude::*;
use orm::testing::TestDb;
use rust_decimal::Decimal;

#[derive(Model, Debug)]
#[orm(table = "authors")]
pub(crate) struct Author {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) name: String,
    pub(crate) country: Option<String>,
    #[relationship(one_to_many, back_populates = author, order_by = Book::id)]
    pub(crate) books: Many<Book>,
}

#[derive(Model, Debug)]
#[orm(table = "books")]
pub(crate) struct Book {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[orm(unique)]
    pub(crate) isbn: String,
    pub(crate) title: String,
    pub(crate) price: Decimal,
    pub(crate) stock: i32,
    pub(crate) published: NaiveDateTime,
    pub(crate) rating: Option<i32>,
    #[orm(foreign_key = Author::id)]
    pub(crate) author_id: i32,
    #[relationship(many_to_one, back_populates = books)]
    pub(crate) author: One<Author>,
    #[relationship(many_to_many, secondary = BookTag, back_populates = books)]
    pub(crate) tags: Many<Tag>,
}

#[derive(Model, Debug)]
#[orm(table = "tags")]
pub(crate) struct Tag {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) name: String,
    #[relationship(many_to_many, secondary = BookTag, back_populates = tags)]
    pub(crate) books: Many<Book>,
}

#[derive(Model, Debug)]
#[orm(table = "book_tags")]
pub(crate) struct BookTag {
    #[orm(primary_key, foreign_key = Book::id)]
    pub(crate) book_id: i32,
    #[orm(primary_key, foreign_key = Tag::id)]
    pub(crate) tag_id: i32,
}

#[derive(Model, Debug)]
#[orm(table = "staff")]
pub(crate) struct Employee {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) name: String,
    #[orm(foreign_key = Employee::id)]
    pub(crate) manager_id: Option<i32>,
    #[relationship(many_to_one, foreign_key = Employee::manager_id, back_populates = reports)]
    pub(crate) manager: One<Employee>,
    #[relationship(one_to_many, foreign_key = Employee::manager_id, back_populates = manager)]
    pub(crate) reports: Many<Employee>,
}

pub(crate) fn day(y: i32, m: u32, d: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d).and_then(|d| d.and_hms_opt(12, 0, 0)).expect("a valid date")
}

pub(crate) fn dec(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

/// The keys of the rows `fill` wrote.
#[derive(Debug)]
pub(crate) struct Shop {
    pub(crate) le_guin: i32,
    pub(crate) pratchett: i32,
    pub(crate) banks: i32,
    pub(crate) earthsea: i32,
    pub(crate) small_gods: i32,
}

/// A fresh database with the bookshop's tables and rows:
///
/// | author | country | books (price, stock, rating, tags) |
/// |---|---|---|
/// | Ursula Le Guin | US | A Wizard of Earthsea (9.99, 5, 5, fantasy classic), The Dispossessed (12.50, 0, 4, sf classic) |
/// | Terry Pratchett | UK | Mort (8.00, 10, 4, fantasy), Small Gods (9.00, 3, none, no tags), Guards! Guards! (10.00, 7, 5, fantasy) |
/// | Iain Banks | UK | Excession (11.00, 2, 5, sf) |
/// | Nobody | none | none |
///
/// Staff: Ada manages Bob and Cy, Bob manages Dee, Dee manages Eve; Zed
/// manages nobody and has no manager.
pub(crate) async fn bookshop() -> (TestDb, Shop) {
    let db = TestDb::new().await.expect("a test database");
    let tables = [Author::TABLE, Book::TABLE, Tag::TABLE, BookTag::TABLE, Employee::TABLE];
    db.engine().create_all(&tables).await.expect("create the bookshop tables");
    let mut s = db.engine().session();
    let authors = [("Ursula Le Guin", Some("US")), ("Terry Pratchett", Some("UK")), ("Iain Banks", Some("UK"))];
    let [le_guin, pratchett, banks] =
        authors.map(|(name, country)| s.add(Author::new(name, country.map(str::to_owned))));
    s.add(Author::new("Nobody", None));
    let tags = ["fantasy", "sf", "classic"].map(|name| s.add(Tag::new(name)));
    let [fantasy, sf, classic] = tags;
    s.commit().await.expect("commit the authors");
    let books = [
        ("A Wizard of Earthsea", "9.99", 5, day(1968, 9, 1), Some(5), le_guin, vec![fantasy, classic]),
        ("The Dispossessed", "12.50", 0, day(1974, 5, 1), Some(4), le_guin, vec![sf, classic]),
        ("Mort", "8.00", 10, day(1987, 11, 12), Some(4), pratchett, vec![fantasy]),
        ("Small Gods", "9.00", 3, day(1992, 5, 1), None, pratchett, vec![]),
        ("Guards! Guards!", "10.00", 7, day(1989, 11, 1), Some(5), pratchett, vec![fantasy]),
        ("Excession", "11.00", 2, day(1996, 7, 1), Some(5), banks, vec![sf]),
    ];
    let mut handles = Vec::new();
    for (i, (title, price, stock, published, rating, author, tags)) in books.into_iter().enumerate() {
        let author_id = s[author].id;
        let book = s.add(Book::new(format!("isbn-{i}"), title, dec(price), stock, published, rating, author_id));
        for tag in tags {
            s.link(book, Book::tags, tag).expect("link a tag");
        }
        handles.push(book);
    }
    let ada = s.add(Employee::new("Ada", None));
    let zed = s.add(Employee::new("Zed", None));
    s.commit().await.expect("commit the books");
    let mut manage = |manager: Handle<Employee>, name: &str| {
        let manager_id = s[manager].id;
        s.add(Employee::new(name, Some(manager_id)))
    };
    let bob = manage(ada, "Bob");
    manage(ada, "Cy");
    let _ = zed;
    s.commit().await.expect("commit the managers' reports");
    let dee = {
        let bob_id = s[bob].id;
        s.add(Employee::new("Dee", Some(bob_id)))
    };
    s.commit().await.expect("commit Dee");
    let dee_id = s[dee].id;
    s.add(Employee::new("Eve", Some(dee_id)));
    s.commit().await.expect("commit Eve");
    let shop = Shop {
        le_guin: s[le_guin].id,
        pratchett: s[pratchett].id,
        banks: s[banks].id,
        earthsea: s[handles[0]].id,
        small_gods: s[handles[3]].id,
    };
    (db, shop)
}
