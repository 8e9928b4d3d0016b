use orm::prelude::*;

include!("models/bookshop.rs");

async fn run(session: &mut Session) -> orm::Result<()> {
    session.query::<Book>().filter(Tag::name.eq("sf")).all().await?;
    Ok(())
}

fn main() {}
