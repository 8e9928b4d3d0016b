//! Linking many objects in one session, in memory (no statement is sent):
//! the time must grow linearly with the number of links.
//!
//! Run with `cargo bench --bench links`. `ROUNDS=n` changes the number of
//! rounds (default 11).

#[allow(dead_code, reason = "the rest of it times database round trips")]
mod common;

use std::time::{Duration, Instant};

use common::median;
use orm::prelude::*;

#[derive(Model, Debug)]
#[orm(table = "movies")]
struct Movie {
    #[orm(primary_key)]
    id: i32,
    title: String,
    #[relationship(many_to_many, secondary = MovieActor, back_populates = movies)]
    actors: Many<Actor>,
}

#[derive(Model, Debug)]
#[orm(table = "actors")]
struct Actor {
    #[orm(primary_key)]
    id: i32,
    name: String,
    #[relationship(many_to_many, secondary = MovieActor, back_populates = actors)]
    movies: Many<Movie>,
}

#[derive(Model, Debug)]
#[orm(table = "movies_actors")]
struct MovieActor {
    #[orm(primary_key, foreign_key = Movie::id)]
    movie_id: i32,
    #[orm(primary_key, foreign_key = Actor::id)]
    actor_id: i32,
}

#[derive(Model, Debug)]
#[orm(table = "posts")]
struct Post {
    #[orm(primary_key)]
    id: i32,
    #[relationship(one_to_many, back_populates = post)]
    comments: Many<Comment>,
}

#[derive(Model, Debug)]
#[orm(table = "comments")]
struct Comment {
    #[orm(primary_key)]
    id: i32,
    #[orm(foreign_key = Post::id)]
    post_id: Option<i32>,
    #[relationship(many_to_one, back_populates = comments)]
    post: One<Post>,
}

/// Links `n` new actors to one new movie.
fn many_to_many(engine: &Engine, n: usize) -> Duration {
    let mut session = engine.session();
    let movie = session.add(Movie::new("Crowd Scene"));
    let actors: Vec<_> = (0..n).map(|i| session.add(Actor::new(format!("extra {i}")))).collect();
    let started = Instant::now();
    for actor in actors {
        session.link(movie, Movie::actors, actor).unwrap();
    }
    started.elapsed()
}

/// Links `n` new comments to one new post.
fn one_to_many(engine: &Engine, n: usize) -> Duration {
    let mut session = engine.session();
    let post = session.add(Post::new());
    let comments: Vec<_> = (0..n).map(|_| session.add(Comment::new(None))).collect();
    let started = Instant::now();
    for comment in comments {
        session.link(post, Post::comments, comment).unwrap();
    }
    started.elapsed()
}

fn main() {
    let rounds = common::rounds(11);
    // No I/O: the engine only hands out sessions here.
    let engine = Engine::builder("postgres://postgres@127.0.0.1:5432/postgres").build().unwrap();
    println!("{rounds} rounds, medians");
    for n in [2_000, 4_000, 8_000, 100_000] {
        let m2m = median((0..rounds).map(|_| many_to_many(&engine, n)).collect());
        let o2m = median((0..rounds).map(|_| one_to_many(&engine, n)).collect());
        println!(
            "link {n:>7} objects to one: many-to-many {:>8.2} ms, one-to-many {:>8.2} ms",
            m2m.as_secs_f64() * 1e3,
            o2m.as_secs_f64() * 1e3
        );
    }
}
