use orm::prelude::*;

include!("models/bookshop.rs");

async fn run(session: &mut Session) -> orm::Result<()> {
    session.query::<Book>().order_by(Author::name.asc()).all().await?;
    Ok(())
}

fn main() {}
