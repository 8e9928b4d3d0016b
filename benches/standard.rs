//! The standard workloads of the Rust ORM benchmarks (diesel's
//! diesel_bench), on its schema: users(id, name, hair_color), posts(id,
//! user_id, title, body), comments(id, post_id, text), with no index on the
//! foreign keys (the association workload runs again with them indexed,
//! in a database of its own, with and without generic plans forced). This
//! ORM against hand-written tokio-postgres (prepared statements) in one
//! process, against the same database, interleaved in every round; both
//! sides autocommit, except where both run in one transaction. Prints
//! medians and the ratio ORM / raw.
//!
//! Run with `cargo bench --bench standard` (DATABASE_URL as for the tests).
//! `ROUNDS=n` changes the number of rounds (default 101: at 31, cells moved
//! by up to 0.2 between runs on these machines). See
//! docs/performance.md for the latest table.

mod common;
#[path = "common/new_users.rs"]
mod new_users;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicIsize, Ordering};

use common::{median, ms, pin_all, plain, report, timed};
use futures_util::{pin_mut, TryStreamExt};
use new_users::{new_user, values_insert, NewUsers};
use orm::postgres::tokio_postgres::types::ToSql;
use orm::postgres::tokio_postgres::{self, Client, NoTls, Row, Statement};
use orm::prelude::*;
use orm::testing::TestDb;

/// Counts the bytes allocated and not yet freed, for the memory workload.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only a
// counter is updated around it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The standard schema's models and the association workload over them.
/// `standard_models!(index)` declares the foreign keys indexed, so that
/// `create_all` creates the indexes and the loads match keys through them.
macro_rules! standard_models {
    ($($index:ident)?) => {
        #[derive(Model, Debug)]
        #[orm(table = "users")]
        struct User {
            #[orm(primary_key)]
            id: i32,
            name: String,
            hair_color: Option<String>,
            #[relationship(one_to_many, back_populates = user)]
            posts: Many<Post>,
        }

        #[derive(Model, Debug)]
        #[orm(table = "posts")]
        struct Post {
            #[orm(primary_key)]
            id: i32,
            #[orm(foreign_key = User::id $(, $index)?)]
            user_id: i32,
            title: String,
            body: Option<String>,
            #[relationship(many_to_one, back_populates = posts)]
            user: One<User>,
            #[relationship(one_to_many, back_populates = post)]
            comments: Many<Comment>,
        }

        #[derive(Model, Debug)]
        #[orm(table = "comments")]
        struct Comment {
            #[orm(primary_key)]
            id: i32,
            #[orm(foreign_key = Post::id $(, $index)?)]
            post_id: i32,
            text: String,
            #[relationship(many_to_one, back_populates = comments)]
            post: One<Post>,
        }

        /// The tables, for `create_all`.
        pub(crate) const TABLES: [&orm::TableMeta; 3] = [User::TABLE, Post::TABLE, Comment::TABLE];

        /// Users 1..=100 with their posts and the posts' comments, by
        /// selectin.
        pub(crate) async fn orm_users_posts_comments(engine: &Engine) -> usize {
            let mut session = engine.session();
            let options = User::posts.selectin().then(Post::comments.selectin());
            let users = session.query::<User>().filter(User::id.le(100)).load(options).all().await.unwrap();
            std::hint::black_box(users.len())
        }
    };
}

standard_models!();

/// The same schema with its foreign keys indexed.
mod indexed {
    use orm::prelude::*;

    standard_models!(index);
}

/// What the raw side reads rows into.
#[allow(dead_code, reason = "read into, as a user's structs would be, and never looked at")]
struct RawUser {
    id: i32,
    name: String,
    hair_color: Option<String>,
}

#[allow(dead_code, reason = "read into, as a user's structs would be, and never looked at")]
struct RawPost {
    id: i32,
    user_id: i32,
    title: String,
    body: Option<String>,
}

#[allow(dead_code, reason = "read into, as a user's structs would be, and never looked at")]
struct RawComment {
    id: i32,
    post_id: i32,
    text: String,
}

/// Users in the table (the memory workload loads them all).
const USERS: i32 = 100_000;
/// Users 1..=1,000 have this many posts each.
const POSTS_PER_USER: i32 = 10;
/// Posts of users 1..=100 have this many comments each.
const COMMENTS_PER_POST: i32 = 10;
const LOOKUPS: i32 = 1_000;

fn user(row: &Row) -> RawUser {
    RawUser { id: row.get(0), name: row.get(1), hair_color: row.get(2) }
}

fn post(row: &Row, at: usize) -> RawPost {
    RawPost { id: row.get(at), user_id: row.get(at + 1), title: row.get(at + 2), body: row.get(at + 3) }
}

/// Runs a prepared statement and reads each row as it arrives into what
/// the caller keeps, as diesel_bench's tokio-postgres side does
/// (`query_raw` + `map` + `collect::<Vec<_>>`).
async fn read<T>(
    client: &Client,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
    mut each: impl FnMut(&Row) -> T,
) -> Vec<T> {
    let stream = client.query_raw(statement, params.iter().copied()).await.unwrap();
    pin_mut!(stream);
    let mut read = Vec::new();
    while let Some(row) = stream.try_next().await.unwrap() {
        read.push(each(&row));
    }
    read
}

/// The raw side: one connection, every statement prepared once, rows read
/// as they arrive into structs that are kept (as diesel_bench does).
struct Raw {
    client: Client,
    users: Statement,
    join: Statement,
    lookup: Statement,
    posts_of: Statement,
    comments_of: Statement,
    inserts: HashMap<usize, Statement>,
}

const INSERT_SIZES: [usize; 4] = [1, 100, 1_000, 10_000];

impl Raw {
    async fn connect(url: &str) -> Raw {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
        tokio::spawn(connection);
        let mut inserts = HashMap::new();
        for n in INSERT_SIZES {
            inserts.insert(n, client.prepare(&values_insert(n)).await.unwrap());
        }
        Raw {
            users: client.prepare("SELECT id, name, hair_color FROM users WHERE id <= $1").await.unwrap(),
            join: client
                .prepare(
                    "SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body FROM users u \
                     LEFT JOIN posts p ON p.user_id = u.id WHERE u.id <= $1",
                )
                .await
                .unwrap(),
            lookup: client.prepare("SELECT id, name, hair_color FROM users WHERE id = $1").await.unwrap(),
            posts_of: client
                .prepare("SELECT id, user_id, title, body FROM posts WHERE user_id = ANY($1)")
                .await
                .unwrap(),
            comments_of: client
                .prepare("SELECT id, post_id, text FROM comments WHERE post_id = ANY($1)")
                .await
                .unwrap(),
            inserts,
            client,
        }
    }

    async fn select_users(&self, n: i32) -> usize {
        read(&self.client, &self.users, &[&n], user).await.len()
    }

    /// Each user with its posts, as a user of the driver would assemble them.
    async fn users_with_posts(&self, n: i32) -> usize {
        let mut by_user: HashMap<i32, (RawUser, Vec<RawPost>)> = HashMap::new();
        read(&self.client, &self.join, &[&n], |row| {
            let entry = by_user.entry(row.get(0)).or_insert_with(|| (user(row), Vec::new()));
            if row.get::<_, Option<i32>>(3).is_some() {
                entry.1.push(post(row, 3));
            }
        })
        .await;
        by_user.len()
    }

    async fn insert_users(&self, n: usize) {
        let users = NewUsers::new(n);
        self.client.execute(&self.inserts[&n], &users.row_params()).await.unwrap();
    }

    /// Users 1..=100, their posts and the posts' comments: three queries,
    /// grouped in memory.
    async fn users_posts_comments(&self) -> usize {
        let users: Vec<RawUser> = read(&self.client, &self.users, &[&100], user).await;
        let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
        let mut posts: HashMap<i32, Vec<RawPost>> = HashMap::new();
        let mut post_ids = Vec::new();
        read(&self.client, &self.posts_of, &[&ids], |row| {
            let post = post(row, 0);
            post_ids.push(post.id);
            posts.entry(post.user_id).or_default().push(post);
        })
        .await;
        let mut comments: HashMap<i32, Vec<RawComment>> = HashMap::new();
        read(&self.client, &self.comments_of, &[&post_ids], |row| {
            let comment = RawComment { id: row.get(0), post_id: row.get(1), text: row.get(2) };
            comments.entry(comment.post_id).or_default().push(comment);
        })
        .await;
        std::hint::black_box((&users, &posts));
        comments.values().map(Vec::len).sum()
    }

    async fn lookups(&self) {
        for id in 1..=LOOKUPS {
            let row = self.client.query_one(&self.lookup, &[&id]).await.unwrap();
            std::hint::black_box(user(&row));
        }
    }
}

async fn orm_select_users(engine: &Engine, n: i32) -> usize {
    engine.session().query::<User>().filter(User::id.le(n)).all().await.unwrap().len()
}

/// The same rows as tuples of the three columns: no objects, no identity
/// map, to show what the map costs.
async fn orm_select_user_tuples(engine: &Engine, n: i32) -> usize {
    let mut session = engine.session();
    let tuples = session.select((User::id, User::name, User::hair_color)).filter(User::id.le(n));
    tuples.all().await.unwrap().len()
}

async fn orm_users_with_posts(engine: &Engine, n: i32) -> usize {
    let mut session = engine.session();
    session.query::<User>().filter(User::id.le(n)).load(User::posts.joined()).all().await.unwrap().len()
}

async fn orm_insert_users(engine: &Engine, n: usize) {
    let mut session = engine.session();
    session.add_all((0..n).map(|i| {
        let (name, hair_color) = new_user(i);
        User::new(name, hair_color)
    }));
    session.commit().await.unwrap();
}

async fn orm_lookups(engine: &Engine) {
    let mut session = engine.session();
    for id in 1..=LOOKUPS {
        std::hint::black_box(session.get::<User>(id).await.unwrap());
    }
}

async fn orm_get_many(engine: &Engine) {
    let mut session = engine.session();
    std::hint::black_box(session.get_many::<User>(1..=LOOKUPS).await.unwrap());
}

/// The heap 100,000 loaded users take in a session, against a plain `Vec`
/// of the same structs read by the driver.
async fn memory(engine: &Engine, raw: &Raw) -> (isize, isize) {
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let read_user =
        |row: &Row| User { id: row.get(0), name: row.get(1), hair_color: row.get(2), posts: Many::default() };
    let mut users: Vec<User> = read(&raw.client, &raw.users, &[&USERS], read_user).await;
    // The Vec at its length, not at the capacity its growth left.
    users.shrink_to_fit();
    let plain = LIVE_BYTES.load(Ordering::Relaxed) - before;
    drop(users);
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let mut session = engine.session();
    let loaded = session.query::<User>().filter(User::id.le(USERS)).all().await.unwrap();
    // A lookup, so that the keys are in the identity map, which a load
    // fills only when it is first used.
    std::hint::black_box(session.get::<User>(1).await.unwrap());
    let orm = LIVE_BYTES.load(Ordering::Relaxed) - before;
    std::hint::black_box((&session, loaded));
    (orm, plain)
}

async fn seed(client: &Client) {
    client
        .batch_execute(&format!(
            "INSERT INTO users (name, hair_color) SELECT 'user ' || i, CASE WHEN i % 2 = 0 THEN 'brown' END \
             FROM generate_series(1, {USERS}) AS i;
             INSERT INTO posts (user_id, title, body) SELECT u, 'post ' || p, 'body' FROM generate_series(1, 1000) \
             AS u, generate_series(1, {POSTS_PER_USER}) AS p;
             INSERT INTO comments (post_id, text) SELECT p.id, 'comment ' || c FROM posts p, \
             generate_series(1, {COMMENTS_PER_POST}) AS c WHERE p.user_id <= 100;
             ANALYZE"
        ))
        .await
        .unwrap();
}

/// A database of its own with `tables`, seeded; an engine of one
/// connection and the raw side on it, pinned to CPU 0.
async fn seeded_database(tables: &[&'static orm::TableMeta]) -> (TestDb, Engine, Raw) {
    let db = TestDb::new().await.expect("a benchmark database");
    let engine = Engine::builder(&plain(db.url())).pool_size(1).build().unwrap();
    engine.create_all(tables).await.unwrap();
    let raw = Raw::connect(db.url()).await;
    seed(&raw.client).await;
    pin_all(&engine, &raw.client).await;
    (db, engine, raw)
}

/// An engine of one connection and a raw side on the database at `url`,
/// both with generic plans forced, as PostgreSQL may choose them after five
/// runs of a prepared statement; pinned to CPU 0.
async fn generic_plans(url: &str) -> (Engine, Raw) {
    let engine = Engine::builder(&plain(url))
        .pool_size(1)
        .on_connect("SET plan_cache_mode = force_generic_plan")
        .build()
        .unwrap();
    let raw = Raw::connect(url).await;
    raw.client.batch_execute("SET plan_cache_mode = force_generic_plan").await.unwrap();
    pin_all(&engine, &raw.client).await;
    (engine, raw)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds = common::rounds(101);
    let (db, engine, raw) = seeded_database(&TABLES).await;
    println!("{rounds} rounds, medians, ORM / raw tokio-postgres in the same process");

    for n in [1, 100, 10_000] {
        compare(&format!("select {n} users"), rounds, || raw.select_users(n), || orm_select_users(&engine, n)).await;
    }
    let name = "select 10000 users as tuples, no identity map";
    compare(name, rounds, || raw.select_users(10_000), || orm_select_user_tuples(&engine, 10_000)).await;
    for n in [1, 100, 1_000] {
        let name = format!("{n} users LEFT JOIN posts");
        compare(&name, rounds, || raw.users_with_posts(n), || orm_users_with_posts(&engine, n)).await;
    }
    for n in INSERT_SIZES {
        let name = format!("insert {n} users, committed");
        compare(&name, rounds, || raw.insert_users(n), || orm_insert_users(&engine, n)).await;
    }
    compare(
        "users -> posts -> comments (100x10x10)",
        rounds,
        || raw.users_posts_comments(),
        || orm_users_posts_comments(&engine),
    )
    .await;
    let (generic, raw_generic) = generic_plans(db.url()).await;
    compare(
        "users -> posts -> comments, generic plans",
        rounds,
        || raw_generic.users_posts_comments(),
        || orm_users_posts_comments(&generic),
    )
    .await;
    // The same with the foreign keys indexed, in a database of its own,
    // with the plans PostgreSQL chooses and with generic plans.
    let indexed_rows =
        ["users -> posts -> comments, foreign keys indexed", "users -> posts -> comments, indexed, generic plans"];
    if indexed_rows.iter().any(|name| selected(name)) {
        let (indexed_db, indexed, raw_indexed) = seeded_database(&indexed::TABLES).await;
        let orm = || indexed::orm_users_posts_comments(&indexed);
        compare(indexed_rows[0], rounds, || raw_indexed.users_posts_comments(), orm).await;
        let (generic, raw_generic) = generic_plans(indexed_db.url()).await;
        let orm = || indexed::orm_users_posts_comments(&generic);
        compare(indexed_rows[1], rounds, || raw_generic.users_posts_comments(), orm).await;
    }
    compare("1,000 lookups by key, one by one", rounds, || raw.lookups(), || orm_lookups(&engine)).await;
    compare("get_many of 1,000 keys vs raw one by one", rounds, || raw.lookups(), || orm_get_many(&engine)).await;

    if !selected("heap of 100,000 loaded users") {
        return;
    }
    let (orm, plain) = memory(&engine, &raw).await;
    println!(
        "{:<42} orm {:>8.1} MB   Vec {:>8.1} MB   ratio {:.2}x",
        "heap of 100,000 loaded users",
        orm as f64 / 1e6,
        plain as f64 / 1e6,
        orm as f64 / plain as f64
    );
}

/// Whether workload `name` runs: all of them, those whose name contains the
/// `ONLY` environment variable (`ONLY=insert cargo bench --bench standard`),
/// or, when it starts with `=`, the one named by the rest (`ONLY="=select
/// 10000 users"`, which leaves out the same read as tuples).
fn selected(name: &str) -> bool {
    std::env::var("ONLY").map_or(true, |only| match only.strip_prefix('=') {
        Some(exact) => name == exact,
        None => name.contains(&only),
    })
}

/// Runs both sides once to warm them, then `rounds` times each, alternating
/// which goes first, and reports the medians. With `SIDE=orm` or `SIDE=raw`
/// only that side runs, for a tool that measures the whole process
/// (`strace -c`, `/usr/bin/time`), and only its median is printed.
async fn compare<R, O, RF, OF, A, B>(name: &str, rounds: usize, raw: R, orm: O)
where
    R: Fn() -> RF,
    O: Fn() -> OF,
    RF: std::future::Future<Output = A>,
    OF: std::future::Future<Output = B>,
{
    if !selected(name) {
        return;
    }
    let (run_orm, run_raw) = sides();
    if run_raw {
        std::hint::black_box(raw().await);
    }
    if run_orm {
        std::hint::black_box(orm().await);
    }
    let raw_side = || {
        timed(async {
            std::hint::black_box(raw().await);
        })
    };
    let orm_side = || {
        timed(async {
            std::hint::black_box(orm().await);
        })
    };
    let (mut orm_times, mut raw_times) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let raw_first = round % 2 == 0;
        if run_raw && raw_first {
            raw_times.push(raw_side().await);
        }
        if run_orm {
            orm_times.push(orm_side().await);
        }
        if run_raw && !raw_first {
            raw_times.push(raw_side().await);
        }
    }
    match (run_orm, run_raw) {
        (true, true) => report(name, ("orm", orm_times), ("raw", raw_times)),
        (true, false) => report_one(name, ("orm", orm_times)),
        _ => report_one(name, ("raw", raw_times)),
    }
}

/// Prints the median of one side's rounds, run without the other.
fn report_one(name: &str, (label, times): (&str, Vec<std::time::Duration>)) {
    println!("{name:<44} {label} {:>10.3} ms   (alone)", ms(median(times)));
}

/// Which sides run, `(orm, raw)`: both, or the one `SIDE` names.
fn sides() -> (bool, bool) {
    match std::env::var("SIDE").as_deref() {
        Err(_) => (true, true),
        Ok("orm") => (true, false),
        Ok("raw") => (false, true),
        Ok(other) => panic!("SIDE names the side to run alone, `orm` or `raw`, not `{other}`"),
    }
}
