//! A model with every supported column type, nullable and not, plus a custom
//! `SqlValue` type and a skipped field.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use orm::{Defaulted, Model, SqlType, SqlValue, Value};
use rust_decimal::Decimal;

/// An e-mail address, stored as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Email(String);

impl SqlValue for Email {
    const SQL_TYPE: SqlType = SqlType::Text;
    fn to_value(&self) -> Value {
        Value::Text(self.0.clone())
    }
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Text(text) => Ok(Email(text)),
            other => Err(other),
        }
    }
}

#[derive(Model, Debug)]
pub struct EveryType {
    #[orm(primary_key)]
    pub id: i64,
    pub small: i16,
    pub int: i32,
    pub real: f32,
    pub double: f64,
    pub flag: bool,
    #[orm(max_len = 80, unique, index)]
    pub text: String,
    pub bytes: Vec<u8>,
    pub decimal: Decimal,
    pub date: NaiveDate,
    pub time: NaiveTime,
    pub timestamp: NaiveDateTime,
    #[orm(default = "now()")]
    pub timestamptz: Defaulted<DateTime<Utc>>,
    pub json: serde_json::Value,
    pub email: Email,
    pub opt_small: Option<i16>,
    pub opt_int: Option<i32>,
    pub opt_big: Option<i64>,
    pub opt_real: Option<f32>,
    pub opt_double: Option<f64>,
    pub opt_flag: Option<bool>,
    #[orm(max_len = 10)]
    pub opt_text: Option<String>,
    pub opt_bytes: Option<Vec<u8>>,
    pub opt_decimal: Option<Decimal>,
    pub opt_date: Option<NaiveDate>,
    pub opt_time: Option<NaiveTime>,
    pub opt_timestamp: Option<NaiveDateTime>,
    pub opt_timestamptz: Option<DateTime<Utc>>,
    pub opt_json: Option<serde_json::Value>,
    pub opt_email: Option<Email>,
    #[orm(column = "type")]
    pub r#type: std::string::String,
    #[orm(skip)]
    pub cache: Vec<String>,
}

fn main() {
    let table = EveryType::TABLE;
    assert_eq!(table.name, "every_type");
    assert_eq!(table.columns.len(), 31);
    assert!(table.columns[0].generated && table.columns[0].primary_key);
    assert_eq!(table.columns[6].max_len, Some(80));
    assert!(table.columns[15].nullable && !table.columns[1].nullable);
    assert_eq!(table.columns[30].name, "type");
    assert_eq!(table.columns[30].field, "type");
    assert_eq!(EveryType::email.index(), 14);
    let _ = EveryType::text.eq("Alien");
    let _ = EveryType::opt_int.eq(5).and(EveryType::opt_text.is_null());
    let _ = EveryType::email.eq(Email("a@b.c".into()));
    let _ = EveryType::r#type.like("a%");
}
