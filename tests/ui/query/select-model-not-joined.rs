use orm::prelude::*;

include!("models/bookshop.rs");

async fn run(session: &mut Session) -> orm::Result<()> {
    session.select((Book::title, Author::name)).all().await?;
    Ok(())
}

fn main() {}
