//! One-to-one: a user has one mobile phone, a phone belongs to one user
//! (SQLAlchemy's `uselist=False`; the foreign key is on `mobiles`).
//!
//! Run with `cargo run --example one_to_one`.

use orm::prelude::*;

/// A user (table `users`).
#[derive(Model, Debug)]
#[orm(table = "users")]
struct User {
    #[orm(primary_key)]
    id: i32,
    name: String,
    #[relationship(one_to_one, back_populates = user)]
    mobile: One<Mobile>,
}

/// A mobile phone (table `mobiles`).
#[derive(Model, Debug)]
#[orm(table = "mobiles")]
struct Mobile {
    #[orm(primary_key)]
    id: i32,
    number: String,
    #[orm(foreign_key = User::id, unique)]
    user_id: Option<i32>,
    #[relationship(one_to_one, back_populates = mobile)]
    user: One<User>,
}

const TABLES: [&orm::TableMeta; 2] = [User::TABLE, Mobile::TABLE];

#[tokio::main]
async fn main() -> orm::Result<()> {
    let engine = Engine::new(&orm::testing::example_database("orm_example_one_to_one").await?)?;
    engine.drop_all(&TABLES).await?;
    engine.create_all(&TABLES).await?;

    let mut session = engine.session();
    for (name, number) in [("Ada", "+44 20 7946 0001"), ("Alan", "+44 20 7946 0002")] {
        let user = session.add(User::new(name));
        let mobile = session.add(Mobile::new(number, None));
        session.link(user, User::mobile, mobile)?;
    }
    session.commit().await?;

    let mut session = engine.session();
    println!("### Users and their phones:");
    let users = session.query::<User>().order_by(User::id.asc()).load(User::mobile.joined()).all().await?;
    for user in users {
        if let Some(mobile) = session.related(user, User::mobile)? {
            println!("{} can be reached at {}", session[user].name, session[mobile].number);
        }
    }
    println!();

    println!("### Phones and their owners:");
    let mobiles = session.query::<Mobile>().order_by(Mobile::id.asc()).all().await?;
    for mobile in mobiles {
        // One query for the owners of all phones of the result; the users
        // it finds are the objects already in the session.
        if let Some(user) = session.load(mobile, Mobile::user).await? {
            println!("{} belongs to {}", session[mobile].number, session[user].name);
        }
    }
    Ok(())
}
