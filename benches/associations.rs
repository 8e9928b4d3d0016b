//! Loading associations: 100 users, each with 10 posts, each with 10
//! comments, loaded three levels deep with `selectin`, against hand-written
//! tokio-postgres running the same three queries and stitching the results,
//! in one process, against the same database, interleaved in every round.
//!
//! Run with `cargo bench --bench associations` (DATABASE_URL as for the
//! tests). `ROUNDS=n` changes the number of rounds (default 31).

mod common;

use std::collections::HashMap;

use common::{pin_all, plain, report, timed};
use orm::postgres::tokio_postgres::{self, Client, NoTls, Statement};
use orm::prelude::*;
use orm::testing::TestDb;

#[derive(Model, Debug)]
#[orm(table = "users")]
struct User {
    #[orm(primary_key)]
    id: i32,
    name: String,
    #[relationship(one_to_many, back_populates = user)]
    posts: Many<Post>,
}

#[derive(Model, Debug)]
#[orm(table = "posts")]
struct Post {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = User::id, index)]
    user_id: i32,
    title: String,
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
    #[orm(foreign_key = Post::id, index)]
    post_id: i32,
    body: String,
    #[relationship(many_to_one, back_populates = comments)]
    post: One<Post>,
}

/// What the raw side builds: the same tree, owned.
#[allow(dead_code, reason = "built as a user's code would build it, and never read")]
struct RawUser {
    id: i32,
    name: String,
    posts: Vec<RawPost>,
}

#[allow(dead_code, reason = "built as a user's code would build it, and never read")]
struct RawPost {
    id: i32,
    user_id: i32,
    title: String,
    comments: Vec<RawComment>,
}

#[allow(dead_code, reason = "built as a user's code would build it, and never read")]
struct RawComment {
    id: i32,
    post_id: i32,
    body: String,
}

const USERS: i32 = 100;
const POSTS_PER_USER: i32 = 10;
const COMMENTS_PER_POST: i32 = 10;

/// The raw side's three prepared statements.
struct Raw {
    client: Client,
    users: Statement,
    posts: Statement,
    comments: Statement,
}

impl Raw {
    async fn connect(url: &str) -> Raw {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
        tokio::spawn(connection);
        Raw {
            users: client.prepare("SELECT id, name FROM users ORDER BY id").await.unwrap(),
            posts: client
                .prepare("SELECT id, user_id, title FROM posts WHERE user_id = ANY($1) ORDER BY id")
                .await
                .unwrap(),
            comments: client
                .prepare("SELECT id, post_id, body FROM comments WHERE post_id = ANY($1) ORDER BY id")
                .await
                .unwrap(),
            client,
        }
    }

    /// Three queries, then the tree stitched together by key.
    async fn load(&self) -> Vec<RawUser> {
        let users = self.client.query(&self.users, &[]).await.unwrap();
        let user_ids: Vec<i32> = users.iter().map(|r| r.get(0)).collect();
        let posts = self.client.query(&self.posts, &[&user_ids]).await.unwrap();
        let post_ids: Vec<i32> = posts.iter().map(|r| r.get(0)).collect();
        let comments = self.client.query(&self.comments, &[&post_ids]).await.unwrap();

        let mut comments_by_post: HashMap<i32, Vec<RawComment>> = HashMap::new();
        for row in comments {
            let comment = RawComment { id: row.get(0), post_id: row.get(1), body: row.get(2) };
            comments_by_post.entry(comment.post_id).or_default().push(comment);
        }
        let mut posts_by_user: HashMap<i32, Vec<RawPost>> = HashMap::new();
        for row in posts {
            let id: i32 = row.get(0);
            let comments = comments_by_post.remove(&id).unwrap_or_default();
            let post = RawPost { id, user_id: row.get(1), title: row.get(2), comments };
            posts_by_user.entry(post.user_id).or_default().push(post);
        }
        users
            .into_iter()
            .map(|row| {
                let id: i32 = row.get(0);
                RawUser { id, name: row.get(1), posts: posts_by_user.remove(&id).unwrap_or_default() }
            })
            .collect()
    }
}

async fn orm_load(engine: &Engine) -> usize {
    let mut session = engine.session();
    let options = User::posts.selectin().then(Post::comments.selectin());
    let users = session.query::<User>().order_by(User::id.asc()).load(options).all().await.unwrap();
    users.len()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds = common::rounds(31);
    let db = TestDb::new().await.expect("a benchmark database");
    let engine = Engine::builder(&plain(db.url())).pool_size(1).build().unwrap();
    engine.create_all(&[User::TABLE, Post::TABLE, Comment::TABLE]).await.unwrap();
    let raw = Raw::connect(db.url()).await;
    raw.client
        .batch_execute(&format!(
            "INSERT INTO users (name) SELECT 'user ' || u FROM generate_series(1, {USERS}) AS u;
             INSERT INTO posts (user_id, title) SELECT u, 'post ' || p
                 FROM generate_series(1, {USERS}) AS u, generate_series(1, {POSTS_PER_USER}) AS p;
             INSERT INTO comments (post_id, body) SELECT p.id, 'comment ' || c
                 FROM posts AS p, generate_series(1, {COMMENTS_PER_POST}) AS c;
             ANALYZE"
        ))
        .await
        .unwrap();
    pin_all(&engine, &raw.client).await;

    // Warm both sides, and check they load the same tree.
    let tree = raw.load().await;
    let comments: usize = tree.iter().flat_map(|u| &u.posts).map(|p| p.comments.len()).sum();
    assert_eq!((tree.len(), comments), (USERS as usize, (USERS * POSTS_PER_USER * COMMENTS_PER_POST) as usize));
    assert_eq!(orm_load(&engine).await, USERS as usize);

    println!("{rounds} rounds, medians, ORM / raw tokio-postgres in the same process");
    let (mut orm, mut raw_times) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        raw_times.push(
            timed(async {
                std::hint::black_box(raw.load().await.len());
            })
            .await,
        );
        orm.push(
            timed(async {
                std::hint::black_box(orm_load(&engine).await);
            })
            .await,
        );
    }
    report("users -> posts -> comments, selectin", ("orm", orm), ("raw", raw_times));
}
