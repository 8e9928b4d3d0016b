use orm::prelude::*;

include!("models/bookshop.rs");

async fn run(session: &mut Session) -> orm::Result<()> {
    let rows: Vec<(String, String)> = session.select((Book::title, func::count(Book::id))).all().await?;
    Ok(())
}

fn main() {}
