use orm::prelude::*;

include!("models/bookshop.rs");

async fn run(session: &mut Session) -> orm::Result<()> {
    session.query::<Tag>().join(Author::books).all().await?;
    Ok(())
}

fn main() {}
