use orm::SqlEnum;

#[derive(SqlEnum)]
#[orm(type_name = "Book Format")]
enum Format {
    Hardcover,
    Ebook(u8),
    #[orm(rename = "hardcover")]
    Paperback,
}

fn main() {}
