use orm::{Model, SqlType, SqlValue, Value};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Slug(String);

impl SqlValue for Slug {
    const SQL_TYPE: SqlType = SqlType::Text;
    fn to_value(&self) -> Value {
        Value::Text(self.0.clone())
    }
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Text(text) => Ok(Slug(text)),
            other => Err(other),
        }
    }
}

/// A key the database fills in: `new` leaves it as `Default::default()`.
#[derive(Model)]
struct Movie {
    #[orm(primary_key, default = "gen_slug()")]
    slug: Slug,
    title: String,
}

fn main() {}
