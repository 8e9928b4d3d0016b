use orm::prelude::*;

include!("models/bookshop.rs");

async fn run(session: &mut Session) -> orm::Result<()> {
    session.select(func::count(Book::id)).group_by(Author::name).all().await?;
    Ok(())
}

fn main() {}
