use orm::prelude::*;

include!("models/bookshop.rs");

async fn run(session: &mut Session) -> orm::Result<()> {
    session.select(Book::author_id).group_by(Book::author_id).having(func::count(Tag::id).gt(1)).all().await?;
    Ok(())
}

fn main() {}
