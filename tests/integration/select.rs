//! Typed selects: columns, tuples, whole models, aggregates, expressions,
//! subqueries, set operations, CTEs, aliases, ordering and pagination. Each
//! test checks the rows PostgreSQL returns.

use chrono::TimeDelta;
use orm::func::{self, TimeUnit};
use orm::prelude::*;
use orm::{Alias, Cte};
use rust_decimal::Decimal;

use crate::bookshop::{bookshop, day, dec, Author, Book, Employee};

#[tokio::test]
async fn columns_and_aggregates_come_back_as_typed_tuples() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let per_author: Vec<(String, i64)> = s
        .select((Author::name, func::count(Book::id)))
        .join(Author::books)
        .group_by(Author::name)
        .order_by(Author::name.asc())
        .all()
        .await
        .unwrap();
    assert_eq!(per_author, [("Iain Banks".into(), 1), ("Terry Pratchett".into(), 3), ("Ursula Le Guin".into(), 2)]);

    let sold_out: Vec<String> = s.select(Book::title).filter(Book::stock.eq(0)).all().await.unwrap();
    assert_eq!(sold_out, ["The Dispossessed"]);

    let prolific: Vec<String> = s
        .select(Author::name)
        .join(Author::books)
        .group_by(Author::name)
        .having(func::count(Book::id).gt(1))
        .order_by(Author::name.asc())
        .all()
        .await
        .unwrap();
    assert_eq!(prolific, ["Terry Pratchett", "Ursula Le Guin"]);
}

#[tokio::test]
async fn aggregates_have_postgresql_result_types() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let (stock, average_stock, total, cheapest, dearest): (Option<i64>, Option<Decimal>, Option<Decimal>, _, _) = s
        .select((
            func::sum(Book::stock),
            func::avg(Book::stock),
            func::sum(Book::price),
            func::min(Book::price),
            func::max(Book::title),
        ))
        .one()
        .await
        .unwrap();
    assert_eq!(stock, Some(27));
    assert_eq!(average_stock.map(|a| a.round_dp(2)), Some(dec("4.50")));
    assert_eq!(total, Some(dec("60.49")));
    assert_eq!(cheapest, Some(dec("8.00")));
    assert_eq!(dearest, Some("The Dispossessed".to_owned()));
    let (authors, rated, average_rating): (i64, i64, Option<Decimal>) = s
        .select((func::count_distinct(Book::author_id), func::count(Book::rating), func::avg(Book::rating)))
        .one()
        .await
        .unwrap();
    assert_eq!((authors, rated), (3, 5));
    assert_eq!(average_rating.map(|a| a.round_dp(1)), Some(dec("4.6")));
    let sold_out = func::sum(func::case_when(Book::stock.eq(0), func::value(1)).otherwise(0));
    let (sold_out, unrated): (Option<i64>, i64) =
        s.select((sold_out, func::count_all())).filter(Book::rating.is_not_null()).one().await.unwrap();
    assert_eq!((sold_out, unrated), (Some(1), 5), "typed values in CASE, summed");
    let none: Option<i64> = s.select(func::sum(Book::stock)).filter(Book::stock.gt(100)).one().await.unwrap();
    assert_eq!(none, None, "sum over no rows is NULL");
}

#[tokio::test]
async fn a_whole_model_beside_columns_comes_through_the_identity_map() {
    let (db, shop) = bookshop().await;
    let mut s = db.engine().session();
    let le_guin = s.get::<Author>(shop.le_guin).await.unwrap().unwrap();
    let rows = s
        .select((Author::ENTITY, func::count(Book::id)))
        .outer_join(Author::books)
        .group_by(Author::id)
        .order_by(Author::id.asc())
        .all()
        .await
        .unwrap();
    let counts: Vec<(String, i64)> = rows.iter().map(|&(a, n)| (s[a].name.clone(), n)).collect();
    assert_eq!(counts[0], ("Ursula Le Guin".into(), 2));
    assert_eq!(counts[3], ("Nobody".into(), 0));
    assert_eq!(rows[0].0, le_guin, "the same object, not a copy");
    let first = s.select((Book::ENTITY, Book::price)).order_by(Book::price.asc()).first().await.unwrap();
    let (mort, price) = first.expect("a book");
    assert_eq!((s[mort].title.as_str(), price), ("Mort", dec("8.00")));
}

#[tokio::test]
async fn distinct_and_distinct_on() {
    let (db, shop) = bookshop().await;
    let mut s = db.engine().session();
    let authors: Vec<i32> = s.select(Book::author_id).distinct().order_by(Book::author_id.asc()).all().await.unwrap();
    assert_eq!(authors, [shop.le_guin, shop.pratchett, shop.banks]);
    let cheapest: Vec<(i32, String)> = s
        .select((Book::author_id, Book::title))
        .distinct_on(Book::author_id)
        .order_by(Book::author_id.asc())
        .order_by(Book::price.asc())
        .all()
        .await
        .unwrap();
    let titles: Vec<&str> = cheapest.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(titles, ["A Wizard of Earthsea", "Mort", "Excession"]);
}

#[tokio::test]
async fn arithmetic_text_and_conditional_expressions() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let discounted: Vec<(String, Decimal, i32)> = s
        .select((Book::title, Book::price * dec("0.5") + dec("1"), Book::stock - 1))
        .filter(Book::title.eq("Mort"))
        .all()
        .await
        .unwrap();
    assert_eq!(discounted, [("Mort".into(), dec("5.000"), 9)]);

    let labels: Vec<(String, i32, String)> = s
        .select((
            func::upper(Author::name.concat(" / ").concat(Book::title)),
            func::length(Book::title),
            func::case_when(Book::stock.eq(0), "sold out".to_owned())
                .when(Book::stock.lt(3), "few left".to_owned())
                .otherwise("in stock"),
        ))
        .join(Author::books)
        .filter(Author::name.eq(Author::name))
        .filter(Book::author_id.eq(Author::id))
        .order_by(Book::stock.asc())
        .limit(3)
        .all()
        .await
        .unwrap();
    assert_eq!(
        labels,
        [
            ("URSULA LE GUIN / THE DISPOSSESSED".into(), 16, "sold out".into()),
            ("IAIN BANKS / EXCESSION".into(), 9, "few left".into()),
            ("TERRY PRATCHETT / SMALL GODS".into(), 10, "in stock".into()),
        ]
    );

    let ratings: Vec<(i32, String)> = s
        .select((func::coalesce(Book::rating, 0), func::lower(Book::title)))
        .filter(Book::rating.is_null().or(Book::rating.eq(4)))
        .order_by(Book::title.asc())
        .all()
        .await
        .unwrap();
    assert_eq!(ratings, [(4, "mort".into()), (0, "small gods".into()), (4, "the dispossessed".into())]);
}

#[tokio::test]
async fn comparisons_of_comparisons_keep_their_meaning() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let rows: Vec<(String, bool, bool)> = s
        .select((Book::title, Book::stock.gt(3).eq(Book::price.gt(dec("9.50"))), (!Book::stock.gt(3)).is_null()))
        .order_by(Book::id.asc())
        .all()
        .await
        .unwrap();
    let agree: Vec<bool> = rows.iter().map(|r| r.1).collect();
    assert_eq!(agree, [true, false, false, true, true, false]);
    assert!(rows.iter().all(|r| !r.2), "NOT (stock > 3) is never NULL here");
}

#[tokio::test]
async fn dates_times_and_intervals() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let rows: Vec<(chrono::NaiveDateTime, chrono::NaiveDateTime, Option<Decimal>)> = s
        .select((
            Book::published + TimeDelta::days(30),
            func::date_trunc(TimeUnit::Month, Book::published),
            func::extract(TimeUnit::Year, Book::published),
        ))
        .filter(Book::title.eq("Mort"))
        .all()
        .await
        .unwrap();
    assert_eq!(rows, [(day(1987, 12, 12), day(1987, 11, 1) - TimeDelta::hours(12), Some(dec("1987")))]);
    let recent: Vec<String> =
        s.select(Book::title).filter(Book::published.gt(day(1996, 7, 1) - TimeDelta::days(1))).all().await.unwrap();
    assert_eq!(recent, ["Excession"]);
    let (_, yesterday): (String, chrono::DateTime<chrono::Utc>) =
        s.select((Book::title, func::now() - TimeDelta::days(1))).first().await.unwrap().unwrap();
    let lag = chrono::Utc::now() - yesterday;
    assert!(lag > TimeDelta::hours(23) && lag < TimeDelta::hours(25), "now() - 1 day is a day ago: {lag}");
}

#[tokio::test]
async fn like_escapes_user_input() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let bang: Vec<String> =
        s.select(Book::title).filter(Book::title.like(format!("%{}%", func::escape_like("s!")))).all().await.unwrap();
    assert_eq!(bang, ["Guards! Guards!"]);
    let percent: Vec<String> =
        s.select(Book::title).filter(Book::title.like(format!("%{}%", func::escape_like("%")))).all().await.unwrap();
    assert!(percent.is_empty(), "an escaped % matches only a literal %: {percent:?}");
    let any: Vec<String> = s.select(Book::title).filter(Book::title.ilike("%GOD%")).all().await.unwrap();
    assert_eq!(any, ["Small Gods"]);
}

#[tokio::test]
async fn subqueries_in_filters_and_selects() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let british = select(Author::id).filter(Author::country.eq("UK")).subquery();
    let mut titles: Vec<String> =
        s.select(Book::title).filter(Book::author_id.in_subquery(british)).all().await.unwrap();
    titles.sort();
    assert_eq!(titles, ["Excession", "Guards! Guards!", "Mort", "Small Gods"]);

    let sold_out =
        select(Book::id).correlate::<Author>().filter(Book::author_id.eq(Author::id)).filter(Book::stock.eq(0));
    let with_sold_out: Vec<String> =
        s.select(Author::name).filter(func::exists(sold_out.subquery())).all().await.unwrap();
    assert_eq!(with_sold_out, ["Ursula Le Guin"]);
    let any_book = select(Book::id).correlate::<Author>().filter(Book::author_id.eq(Author::id));
    let without_books: Vec<String> =
        s.select(Author::name).filter(func::not_exists(any_book.subquery())).all().await.unwrap();
    assert_eq!(without_books, ["Nobody"]);

    let books_of_author =
        select(func::count(Book::id)).correlate::<Author>().filter(Book::author_id.eq(Author::id)).scalar();
    let counts: Vec<(String, i64)> =
        s.select((Author::name, books_of_author)).order_by(Author::name.asc()).all().await.unwrap();
    assert_eq!(counts[1], ("Nobody".into(), 0));
    assert_eq!(counts[2], ("Terry Pratchett".into(), 3));

    let average = select(func::avg(Book::price)).scalar();
    let mut dear: Vec<String> = s.select(Book::title).filter(Book::price.gt(average)).all().await.unwrap();
    dear.sort();
    assert_eq!(dear, ["Excession", "The Dispossessed"], "above the average of 10.08");
}

#[tokio::test]
async fn union_intersect_and_except() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let cheap = || select(Book::title).filter(Book::price.lt(dec("10.00")));
    let rated_five = || select(Book::title).filter(Book::rating.eq(5));
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let union = s.select(Book::title).filter(Book::price.lt(dec("10.00"))).union(rated_five()).all().await.unwrap();
    assert_eq!(sorted(union), ["A Wizard of Earthsea", "Excession", "Guards! Guards!", "Mort", "Small Gods"]);
    let both = s.select(Book::title).filter(Book::rating.eq(5)).intersect(cheap()).all().await.unwrap();
    assert_eq!(both, ["A Wizard of Earthsea"]);
    let only_cheap =
        s.select(Book::title).filter(Book::price.lt(dec("10.00"))).except(rated_five()).all().await.unwrap();
    assert_eq!(sorted(only_cheap), ["Mort", "Small Gods"]);
    let twice = s.select(Book::title).filter(Book::title.eq("Mort")).union_all(cheap()).all().await.unwrap();
    assert_eq!(twice.iter().filter(|t| *t == "Mort").count(), 2, "UNION ALL keeps duplicates: {twice:?}");

    // Sorted in SQL, and applied in order: (cheap UNION rated five) INTERSECT
    // sold in small numbers, not cheap UNION (rated five INTERSECT ..).
    let few = select(Book::title).filter(Book::stock.lt(4));
    let ordered = s.select(Book::title).filter(Book::price.lt(dec("10.00"))).union(rated_five()).intersect(few);
    let ordered = ordered.order_by(Book::title.desc()).all().await.unwrap();
    assert_eq!(ordered, ["Small Gods", "Excession"]);
}

#[tokio::test]
async fn a_recursive_cte_walks_a_tree_of_employees() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let team = s
        .query::<Employee>()
        .filter(Employee::name.eq("Ada"))
        .recursive(Employee::reports)
        .order_by(Employee::name.asc())
        .all()
        .await
        .unwrap();
    let names: Vec<&str> = team.iter().map(|&e| s[e].name.as_str()).collect();
    assert_eq!(names, ["Ada", "Bob", "Cy", "Dee", "Eve"]);
    let bosses = s.query::<Employee>().filter(Employee::name.eq("Eve")).recursive(Employee::manager).count().await;
    assert_eq!(bosses.unwrap(), 4, "Eve, Dee, Bob and Ada");
}

#[tokio::test]
async fn a_cte_is_joined_and_read_by_typed_columns() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let stock = select((Book::author_id, func::sum(Book::stock))).group_by(Book::author_id);
    let totals = Cte::<_, 1>::new("stock_per_author", stock);
    let rows: Vec<(String, Option<i64>)> = s
        .select((Author::name, totals.col::<1>()))
        .join_cte(&totals, Author::id.eq(totals.col::<0>()))
        .filter(totals.col::<1>().gt(5))
        .order_by(Author::name.asc())
        .all()
        .await
        .unwrap();
    assert_eq!(rows, [("Terry Pratchett".to_owned(), Some(20))]);
}

#[tokio::test]
async fn the_same_model_twice_under_an_alias() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let boss = Alias::<Employee, 1>::new();
    let pairs: Vec<(String, String)> = s
        .select((Employee::name, boss.col(Employee::name)))
        .join_as(Employee::manager, boss)
        .order_by(Employee::name.asc())
        .all()
        .await
        .unwrap();
    let expected = [("Bob", "Ada"), ("Cy", "Ada"), ("Dee", "Bob"), ("Eve", "Dee")];
    assert_eq!(pairs, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    let managed_by_ada: Vec<String> = s
        .select(Employee::name)
        .join_as(Employee::manager, boss)
        .filter(boss.col(Employee::name).eq("Ada"))
        .all()
        .await
        .unwrap();
    assert_eq!(managed_by_ada.len(), 2);
}

#[tokio::test]
async fn objects_sort_by_joined_columns_with_nulls_placed() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let books = s.query::<Book>().join(Book::author).order_by(Author::name.desc()).order_by(Book::title.asc()).all();
    let books = books.await.unwrap();
    let titles: Vec<&str> = books.iter().map(|&b| s[b].title.as_str()).collect();
    assert_eq!(
        titles,
        ["A Wizard of Earthsea", "The Dispossessed", "Guards! Guards!", "Mort", "Small Gods", "Excession"]
    );
    let authors = s.query::<Author>().join(Author::books).order_by(Book::price.desc()).limit(2).all().await.unwrap();
    let names: Vec<&str> = authors.iter().map(|&a| s[a].name.as_str()).collect();
    assert_eq!(names, ["Ursula Le Guin", "Iain Banks"], "each author once, by their dearest book");

    let first = s.query::<Book>().order_by(Book::rating.asc().nulls_first()).first().await.unwrap().unwrap();
    assert_eq!(s[first].title, "Small Gods");
    let last = s.query::<Book>().order_by(Book::rating.desc().nulls_last()).order_by(Book::id.desc()).all();
    let last = *last.await.unwrap().last().unwrap();
    assert_eq!(s[last].title, "Small Gods");
}

#[tokio::test]
async fn pages_by_offset_by_key_and_with_the_total() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    let titles = |s: &Session, books: &[Handle<Book>]| books.iter().map(|&b| s[b].title.clone()).collect::<Vec<_>>();
    let second = s.query::<Book>().order_by(Book::id.asc()).limit(2).offset(2).all().await.unwrap();
    assert_eq!(titles(&s, &second), ["Mort", "Small Gods"]);
    let last_id = s[second[1]].id;
    let next = s.query::<Book>().order_by(Book::title.asc()).after(Book::id, last_id).limit(2).all().await.unwrap();
    assert_eq!(titles(&s, &next), ["Guards! Guards!", "Excession"]);
    let page = s.query::<Book>().filter(Book::stock.gt(0)).order_by(Book::title.asc()).page(2, 2).await.unwrap();
    assert_eq!((page.total, page.pages(), page.number), (5, 3, 2));
    assert_eq!(titles(&s, &page.items), ["Guards! Guards!", "Mort"]);
    let far = s.query::<Book>().page(i64::MAX, i64::MAX).await;
    assert!(
        matches!(far, Err(Error::InvalidStatement { .. })),
        "an out-of-range page is an error, not an overflow: {far:?}"
    );
}

#[tokio::test]
async fn first_one_count_and_exists_of_a_select() {
    let (db, _) = bookshop().await;
    let mut s = db.engine().session();
    assert_eq!(s.select(Book::title).filter(Book::stock.eq(0)).one().await.unwrap(), "The Dispossessed");
    assert!(matches!(s.select(Book::title).one().await, Err(Error::MultipleRows { .. })));
    assert!(matches!(s.select(Book::title).filter(Book::stock.lt(0)).one().await, Err(Error::NotFound { .. })));
    assert_eq!(s.select(Book::title).filter(Book::stock.lt(0)).first().await.unwrap(), None);
    assert_eq!(s.select(Book::author_id).distinct().count().await.unwrap(), 3);
    assert!(s.select(Author::name).filter(Author::country.is_null()).exists().await.unwrap());
    assert!(!s.select(Author::name).filter(Author::name.eq("Tolkien")).exists().await.unwrap());
}
