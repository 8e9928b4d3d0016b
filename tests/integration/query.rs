//! Queries: every filter operator, ordering, paging, and the terminal methods.

use orm::prelude::*;
use orm::query::scope::InScope;

use crate::common::{date, person, setup, Person};

/// Ada 150, Bob 160, Cy 170, Dee 180, Eve without a height.
async fn people(session: &mut Session) {
    for (name, height) in [("Ada", Some(150)), ("Bob", Some(160)), ("Cy", Some(170)), ("Dee", Some(180)), ("Eve", None)]
    {
        session.add(person(name, height));
    }
    session.commit().await.unwrap();
}

async fn names<S: InScope<(Person,), I>, I>(session: &mut Session, filter: Expr<bool, S>) -> Vec<String> {
    let found = session.query::<Person>().filter(filter).order_by(Person::name.asc()).all().await.unwrap();
    found.into_iter().map(|h| session[h].name.clone()).collect()
}

#[tokio::test]
async fn every_comparison_operator() {
    let db = setup().await;
    let mut s = db.engine().session();
    people(&mut s).await;
    assert_eq!(names(&mut s, Person::height.eq(160)).await, ["Bob"]);
    assert_eq!(names(&mut s, Person::height.ne(160)).await, ["Ada", "Cy", "Dee"]);
    assert_eq!(names(&mut s, Person::height.lt(160)).await, ["Ada"]);
    assert_eq!(names(&mut s, Person::height.le(160)).await, ["Ada", "Bob"]);
    assert_eq!(names(&mut s, Person::height.gt(170)).await, ["Dee"]);
    assert_eq!(names(&mut s, Person::height.ge(170)).await, ["Cy", "Dee"]);
    assert_eq!(names(&mut s, Person::height.between(155, 175)).await, ["Bob", "Cy"]);
    assert_eq!(names(&mut s, Person::height.is_null()).await, ["Eve"]);
    assert_eq!(names(&mut s, Person::height.is_not_null()).await.len(), 4);
    assert_eq!(names(&mut s, Person::name.in_list(["Cy", "Eve", "Zed"])).await, ["Cy", "Eve"]);
    assert_eq!(names(&mut s, Person::name.in_list(Vec::<String>::new())).await, Vec::<String>::new());
    assert_eq!(names(&mut s, Person::date_of_birth.eq(date(1980, 1, 2))).await.len(), 5);
}

#[tokio::test]
async fn pattern_matching_and_boolean_combinators() {
    let db = setup().await;
    let mut s = db.engine().session();
    people(&mut s).await;
    assert_eq!(names(&mut s, Person::name.like("%e%")).await, ["Dee", "Eve"]);
    assert_eq!(names(&mut s, Person::name.like("E%")).await, ["Eve"]);
    assert_eq!(names(&mut s, Person::name.ilike("e%")).await, ["Eve"]);
    assert_eq!(names(&mut s, Person::name.eq("Ada").or(Person::height.gt(170))).await, ["Ada", "Dee"]);
    assert_eq!(names(&mut s, Person::height.gt(150).and(Person::height.lt(180))).await, ["Bob", "Cy"]);
    assert_eq!(names(&mut s, !Person::name.like("%e%")).await, ["Ada", "Bob", "Cy"]);
    // Several filters are joined with AND.
    let found = s.query::<Person>().filter(Person::height.gt(150)).filter(Person::height.lt(180)).count().await;
    assert_eq!(found.unwrap(), 2);
}

#[tokio::test]
async fn values_are_bound_never_spliced() {
    let db = setup().await;
    let mut s = db.engine().session();
    people(&mut s).await;
    let hostile = "x'; DROP TABLE people; --";
    assert_eq!(names(&mut s, Person::name.eq(hostile)).await, Vec::<String>::new());
    s.add(person(hostile, None));
    s.commit().await.unwrap();
    assert_eq!(names(&mut s, Person::name.eq(hostile)).await, [hostile]);
}

/// A plain query's text is kept for its shape, and each later query of that
/// shape binds its own values to it, in their places, whatever the values
/// of the query that had the text kept.
#[tokio::test]
async fn a_kept_query_text_binds_each_querys_own_values() {
    let db = setup().await;
    let mut s = db.engine().session();
    people(&mut s).await;
    let kept = db.engine().cached_query_texts();
    assert_eq!(names(&mut s, Person::height.le(160)).await, ["Ada", "Bob"]);
    assert_eq!(db.engine().cached_query_texts(), kept + 1);
    assert_eq!(names(&mut s, Person::height.le(170)).await, ["Ada", "Bob", "Cy"]);
    assert_eq!(names(&mut s, Person::height.le(140)).await, Vec::<String>::new());
    assert_eq!(db.engine().cached_query_texts(), kept + 1);
    // Kept from equal values: which one is bound where shows all the same.
    let within = |low: i32, high: i32| Person::height.ge(low).and(Person::height.le(high));
    assert_eq!(names(&mut s, within(160, 160)).await, ["Bob"]);
    assert_eq!(db.engine().cached_query_texts(), kept + 2);
    assert_eq!(names(&mut s, within(155, 175)).await, ["Bob", "Cy"]);
    assert_eq!(db.engine().cached_query_texts(), kept + 2);
    assert_eq!(names(&mut s, within(170, 170)).await, ["Cy"]);
    assert_eq!(names(&mut s, within(175, 155)).await, Vec::<String>::new());
    assert_eq!(names(&mut s, within(150, 160)).await, ["Ada", "Bob"]);
    // Another column, operator, type or clause is another shape.
    assert_eq!(names(&mut s, Person::name.le("Bob")).await, ["Ada", "Bob"]);
    assert_eq!(names(&mut s, Person::height.lt(160)).await, ["Ada"]);
    let two = s.query::<Person>().filter(Person::height.le(170)).order_by(Person::name.desc()).limit(2);
    let two: Vec<_> = two.all().await.unwrap().into_iter().map(|h| s[h].name.clone()).collect();
    assert_eq!(two, ["Cy", "Bob"]);
    assert_eq!(db.engine().cached_query_texts(), kept + 5);
    let one = s.query::<Person>().filter(Person::height.le(150)).order_by(Person::name.desc()).limit(3);
    let one: Vec<_> = one.all().await.unwrap().into_iter().map(|h| s[h].name.clone()).collect();
    assert_eq!(one, ["Ada"]);
    assert_eq!(db.engine().cached_query_texts(), kept + 5);
}

#[tokio::test]
async fn order_limit_and_offset() {
    let db = setup().await;
    let mut s = db.engine().session();
    people(&mut s).await;
    let page =
        s.query::<Person>().filter(Person::height.is_not_null()).order_by(Person::height.desc()).limit(2).offset(1);
    let page = page.all().await.unwrap();
    let got: Vec<_> = page.iter().map(|&h| s[h].name.as_str()).collect();
    assert_eq!(got, ["Cy", "Bob"]);
    let tallest = s.query::<Person>().order_by(Person::height.desc()).filter(Person::height.is_not_null()).first();
    let tallest = tallest.await.unwrap().unwrap();
    assert_eq!(s[tallest].name, "Dee");
}

#[tokio::test]
async fn one_first_count_and_exists() {
    let db = setup().await;
    let mut s = db.engine().session();
    people(&mut s).await;
    let bob = s.query::<Person>().filter(Person::name.eq("Bob")).one().await.unwrap();
    assert_eq!(s[bob].height, Some(160));
    let none = s.query::<Person>().filter(Person::name.eq("Zed")).one().await;
    assert!(matches!(none, Err(Error::NotFound { model: "Person" })), "{none:?}");
    let many = s.query::<Person>().filter(Person::height.gt(150)).one().await;
    assert!(matches!(many, Err(Error::MultipleRows { model: "Person" })), "{many:?}");
    assert_eq!(s.query::<Person>().filter(Person::name.eq("Zed")).first().await.unwrap(), None);
    assert_eq!(s.query::<Person>().filter(Person::name.eq("Zed")).one().await.optional().unwrap(), None);
    assert_eq!(s.query::<Person>().count().await.unwrap(), 5);
    assert_eq!(s.query::<Person>().limit(2).count().await.unwrap(), 2);
    assert!(s.query::<Person>().filter(Person::name.eq("Eve")).exists().await.unwrap());
    assert!(!s.query::<Person>().filter(Person::name.eq("Zed")).exists().await.unwrap());
}

#[tokio::test]
async fn autoflush_lets_a_query_see_pending_changes() {
    let db = setup().await;
    let mut s = db.engine().session();
    people(&mut s).await;
    s.add(person("Fay", Some(190)));
    let bob = s.query::<Person>().filter(Person::name.eq("Bob")).one().await.unwrap();
    s[bob].height = Some(200);
    assert_eq!(names(&mut s, Person::height.gt(185)).await, ["Bob", "Fay"]);

    // With autoflush off the query sees only what was flushed.
    s.set_autoflush(false);
    s.add(person("Gus", Some(210)));
    assert_eq!(names(&mut s, Person::height.gt(205)).await, Vec::<String>::new());
    s.rollback().await.unwrap();
}
