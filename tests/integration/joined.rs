//! Joined eager loads: the statement they send, and collections in their
//! order whatever order the rows arrive in (the loader sorts what the
//! database does not).

use orm::prelude::*;
use orm::testing::TestDb;
use orm::{Connection, Many, One, Value};

#[derive(Model, Debug)]
#[orm(table = "users")]
pub(crate) struct User {
    #[orm(primary_key)]
    pub(crate) id: i32,
    pub(crate) name: String,
    #[relationship(one_to_many, back_populates = user)]
    pub(crate) posts: Many<Post>,
    /// In the database's collation: the database sorts it.
    #[relationship(one_to_many, order_by = Post::title)]
    pub(crate) posts_by_title: Many<Post>,
}

#[derive(Model, Debug)]
#[orm(table = "posts")]
pub(crate) struct Post {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[orm(foreign_key = User::id)]
    pub(crate) user_id: i32,
    pub(crate) title: String,
    #[relationship(many_to_one, back_populates = posts)]
    pub(crate) user: One<User>,
    #[relationship(one_to_many, back_populates = post, order_by = Comment::votes, order_desc)]
    pub(crate) comments: Many<Comment>,
}

#[derive(Model, Debug)]
#[orm(table = "comments")]
pub(crate) struct Comment {
    #[orm(primary_key)]
    pub(crate) id: i32,
    #[orm(foreign_key = Post::id)]
    pub(crate) post_id: i32,
    pub(crate) votes: Option<i32>,
    #[relationship(many_to_one, back_populates = comments)]
    pub(crate) post: One<Post>,
}

/// `users` users, `posts` posts dealt to them in turn (post i to user
/// i % users), then the first half of the posts rewritten: their new row
/// versions go to the end of the table, so scans and joins meet them last.
async fn users_and_scrambled_posts(db: &TestDb, users: i32, posts: i32) -> Vec<i32> {
    let mut s = db.engine().session();
    let added = s.add_all((1..=users).map(|i| User::new(format!("user {i}"))));
    s.flush().await.unwrap();
    let ids: Vec<i32> = added.iter().map(|&u| s[u].id).collect();
    s.add_all((0..posts).map(|i| Post::new(ids[(i % users) as usize], format!("post {i}"))));
    s.commit().await.unwrap();
    let moved = format!(
        "UPDATE posts SET title = title || '.' WHERE id IN (SELECT id FROM posts ORDER BY id LIMIT {})",
        posts / 2
    );
    s.execute(&moved, ()).await.unwrap();
    s.commit().await.unwrap();
    ids
}

/// Runs `sql` with `params` as it is and groups column `child` of its
/// rows by column `owner`, in the order the rows arrive (NULLs left out).
async fn arrival(db: &TestDb, sql: &str, params: &[Value], owner: usize, child: usize) -> Vec<Vec<i32>> {
    let mut conn = db.engine().connect().await.unwrap();
    let rows = conn.query(sql, params).await.unwrap();
    let mut groups: Vec<(Value, Vec<i32>)> = Vec::new();
    for row in rows.values.chunks(rows.width) {
        let position = match groups.iter().position(|(o, _)| *o == row[owner]) {
            Some(i) => i,
            None => {
                groups.push((row[owner].clone(), Vec::new()));
                groups.len() - 1
            }
        };
        if let Value::I32(id) = row[child] {
            groups[position].1.push(id);
        }
    }
    groups.into_iter().map(|(_, children)| children).collect()
}

fn ids<T: Model>(s: &Session, handles: &[Handle<T>], id: impl Fn(&T) -> i32) -> Vec<i32> {
    handles.iter().map(|&h| id(&s[h])).collect()
}

fn sorted(mut ids: Vec<i32>) -> Vec<i32> {
    ids.sort_unstable();
    ids
}

#[orm::test(User, Post, Comment)]
async fn joined_collections_come_in_key_order_and_each_user_once_whatever_order_the_rows_arrive_in(db: TestDb) {
    let user_ids = users_and_scrambled_posts(&db, 3, 12).await;
    let mut s = db.engine().session();
    s.record_statements();
    let users = s.query::<User>().filter(User::id.le(user_ids[2])).load(User::posts.joined()).all().await.unwrap();
    let sent = s.recorded_statements();
    assert_eq!(
        sent,
        [
            r#"SELECT "users"."id", "users"."name", "j1"."id", "j1"."user_id", "j1"."title" FROM "users" LEFT OUTER JOIN "posts" AS "j1" ON "j1"."user_id" = "users"."id" WHERE "users"."id" <= $1::integer"#
        ],
        "no subquery and no ORDER BY"
    );
    let arrived = arrival(&db, &sent[0], &[Value::I32(user_ids[2])], 0, 2).await;
    assert!(arrived.iter().any(|posts| !posts.is_sorted()), "the rows arrive out of key order: {arrived:?}");

    assert_eq!(sorted(ids(&s, &users, |u| u.id)), user_ids, "each user once");
    for &user in &users {
        let posts = s.related(user, User::posts).unwrap();
        let post_ids = ids(&s, &posts, |p| p.id);
        assert_eq!(post_ids, sorted(post_ids.clone()), "in key order");
        assert_eq!(post_ids.len(), 4);
        assert!(posts.iter().all(|&p| s[p].user_id == s[user].id));
    }
}

/// Comments on every post: `per_post` each, dealt in turn, with votes that
/// fall as the ids rise, one NULL per post; then the first half of them
/// rewritten, as the posts are.
async fn scrambled_comments(db: &TestDb, per_post: i32) {
    let mut s = db.engine().session();
    s.execute(
        "INSERT INTO comments (post_id, votes) SELECT p.id, CASE WHEN c > 1 THEN 100 * c + p.id END \
         FROM generate_series(1, $1) AS c, posts AS p ORDER BY c, p.id",
        (per_post,),
    )
    .await
    .unwrap();
    s.execute("UPDATE comments SET votes = votes WHERE id IN (SELECT id FROM comments ORDER BY id LIMIT (SELECT count(*) / 2 FROM comments))", ())
        .await
        .unwrap();
    s.commit().await.unwrap();
}

/// The votes of each of `posts`' comments, as the session holds them.
fn votes(s: &Session, posts: &[Handle<Post>]) -> Vec<Vec<Option<i32>>> {
    posts.iter().map(|&p| s.related(p, Post::comments).unwrap().iter().map(|&c| s[c].votes).collect()).collect()
}

#[orm::test(User, Post, Comment)]
async fn nested_joined_loads_link_every_level_once_in_its_order(db: TestDb) {
    let user_ids = users_and_scrambled_posts(&db, 2, 6).await;
    scrambled_comments(&db, 4).await;
    let mut s = db.engine().session();
    s.record_statements();
    let options = User::posts.joined().then(Post::comments.joined());
    let users = s.query::<User>().load(options).all().await.unwrap();
    let sent = s.recorded_statements();
    assert!(!sent[0].contains("ORDER BY"), "key order and an integer order_by are sorted in memory: {}", sent[0]);
    let arrived = arrival(&db, &sent[0], &[], 2, 5).await;
    assert!(arrived.iter().any(|comments| !comments.is_sorted()), "comments arrive out of key order: {arrived:?}");

    assert_eq!(sorted(ids(&s, &users, |u| u.id)), user_ids, "each user once, though a row per comment");
    for &user in &users {
        let posts = s.related(user, User::posts).unwrap();
        let post_ids = ids(&s, &posts, |p| p.id);
        assert_eq!(post_ids, sorted(post_ids.clone()), "each post once, in key order");
        assert_eq!(post_ids.len(), 3);
        for (post, votes) in posts.iter().zip(votes(&s, &posts)) {
            let id = s[*post].id;
            // Descending puts NULL first, as PostgreSQL does.
            assert_eq!(votes, [None, Some(400 + id), Some(300 + id), Some(200 + id)]);
        }
    }

    // The same objects and order as selectin, which sorts them alike.
    let mut other = db.engine().session();
    let options = User::posts.selectin().then(Post::comments.selectin());
    let mut again = other.query::<User>().load(options).all().await.unwrap();
    let mut users = users;
    users.sort_by_key(|&u| s[u].id);
    again.sort_by_key(|&u| other[u].id);
    for (&a, &b) in users.iter().zip(&again) {
        let (mine, theirs) = (s.related(a, User::posts).unwrap(), other.related(b, User::posts).unwrap());
        assert_eq!(ids(&s, &mine, |p| p.id), ids(&other, &theirs, |p| p.id));
        assert_eq!(votes(&s, &mine), votes(&other, &theirs));
    }
}

#[orm::test(User, Post, Comment)]
async fn a_collection_sorted_by_text_keeps_the_database_order(db: TestDb) {
    users_and_scrambled_posts(&db, 2, 8).await;
    let mut s = db.engine().session();
    s.execute("UPDATE posts SET title = chr(ascii('z') - id) || title", ()).await.unwrap();
    s.commit().await.unwrap();
    s.record_statements();
    let users = s.query::<User>().load(User::posts_by_title.joined()).all().await.unwrap();
    let sent = s.recorded_statements();
    assert!(sent[0].ends_with(r#"ORDER BY "j1"."title""#), "the collation is the database's: {}", sent[0]);
    for user in users {
        let titles: Vec<String> =
            s.related(user, User::posts_by_title).unwrap().iter().map(|&p| s[p].title.clone()).collect();
        let mut expected = titles.clone();
        expected.sort();
        assert_eq!(titles, expected);
        assert_eq!(titles.len(), 4);
    }
}

#[orm::test(User, Post, Comment)]
async fn order_by_with_a_joined_load_keeps_the_users_in_order(db: TestDb) {
    let user_ids = users_and_scrambled_posts(&db, 4, 12).await;
    let mut s = db.engine().session();
    s.record_statements();
    let users = s.query::<User>().order_by(User::name.desc()).load(User::posts.joined()).all().await.unwrap();
    let sent = s.recorded_statements();
    assert!(sent[0].ends_with(r#"ORDER BY "users"."name" DESC"#), "the users' order only: {}", sent[0]);
    let names: Vec<&str> = users.iter().map(|&u| s[u].name.as_str()).collect();
    assert_eq!(names, ["user 4", "user 3", "user 2", "user 1"]);
    for posts in users.iter().map(|&u| ids(&s, &s.related(u, User::posts).unwrap(), |p| p.id)) {
        assert_eq!(posts, sorted(posts.clone()));
        assert_eq!(posts.len(), 3);
    }

    // Sorted by a joined model's column, through the key subquery: each
    // user by the first title of its posts.
    s.execute(
        "UPDATE posts SET title = 'first' WHERE id = (SELECT max(id) FROM posts WHERE user_id = $1)",
        (user_ids[2],),
    )
    .await
    .unwrap();
    let users = s
        .query::<User>()
        .join(User::posts)
        .order_by(Post::title.asc())
        .order_by(User::id.asc())
        .load(User::posts.joined())
        .all()
        .await
        .unwrap();
    let names: Vec<&str> = users.iter().map(|&u| s[u].name.as_str()).collect();
    assert_eq!(names, ["user 3", "user 1", "user 2", "user 4"]);
    let posts: Vec<usize> = users.iter().map(|&u| s.related(u, User::posts).unwrap().len()).collect();
    assert_eq!(posts, [3, 3, 3, 3]);
}

#[orm::test(User, Post, Comment)]
async fn limit_offset_first_one_and_locks_with_a_joined_load_count_users_not_rows(db: TestDb) {
    let user_ids = users_and_scrambled_posts(&db, 4, 12).await;
    let mut s = db.engine().session();
    let two = s.query::<User>().limit(2).load(User::posts.joined()).all().await.unwrap();
    assert_eq!(two.len(), 2);
    assert!(posts_of(&s, &two).iter().all(|posts| posts.len() == 3 && posts.is_sorted()), "every post of both");

    let page = s.query::<User>().order_by(User::id.asc()).offset(1).limit(2).load(User::posts.joined()).all();
    let page = page.await.unwrap();
    assert_eq!(ids(&s, &page, |u| u.id), user_ids[1..3]);

    let first = s.query::<User>().order_by(User::id.desc()).load(User::posts.joined()).first().await.unwrap();
    assert_eq!(first.map(|u| s[u].id), Some(user_ids[3]));
    let one = s.query::<User>().filter(User::id.eq(user_ids[0])).load(User::posts.joined()).one().await.unwrap();
    assert_eq!(posts_of(&s, &[one])[0].len(), 3);

    // FOR UPDATE cannot lock the nullable side of an outer join: the users
    // are locked in the subquery.
    let locked = s.query::<User>().for_update().load(User::posts.joined()).all().await.unwrap();
    assert_eq!(locked.len(), 4);
    s.commit().await.unwrap();
}

/// The posts of each user in `users`, as ids.
fn posts_of(s: &Session, users: &[Handle<User>]) -> Vec<Vec<i32>> {
    users.iter().map(|&u| ids(s, &s.related(u, User::posts).unwrap(), |p| p.id)).collect()
}

#[orm::test(User, Post, Comment)]
async fn a_nested_joined_owner_without_children_is_loaded_and_empty(db: TestDb) {
    users_and_scrambled_posts(&db, 1, 2).await;
    let mut s = db.engine().session();
    let users = s.query::<User>().load(User::posts.joined().then(Post::comments.joined())).all().await.unwrap();
    let posts = s.related(users[0], User::posts).unwrap();
    assert_eq!(posts.len(), 2);
    for post in posts {
        let comments = s.related(post, Post::comments).expect("loaded by the joined load, though no row had one");
        assert!(comments.is_empty());
    }
}
