//! Bridging [`Value`] to and from tokio-postgres' `ToSql` / `FromSql`.

use std::error::Error as StdError;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use orm_core::{SqlType, Value};
use rust_decimal::Decimal;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

type BoxError = Box<dyn StdError + Sync + Send>;

/// A [`Value`] bound as a statement parameter.
#[derive(Debug)]
pub(crate) struct Param<'a>(pub(crate) &'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(v) => v.to_sql_checked(ty, out),
            Value::I16(v) => v.to_sql_checked(ty, out),
            Value::I32(v) => v.to_sql_checked(ty, out),
            Value::I64(v) => v.to_sql_checked(ty, out),
            Value::F32(v) => v.to_sql_checked(ty, out),
            Value::F64(v) => v.to_sql_checked(ty, out),
            Value::Text(v) => v.to_sql_checked(ty, out),
            Value::Bytes(v) => v.to_sql_checked(ty, out),
            Value::Decimal(v) => v.to_sql_checked(ty, out),
            Value::Date(v) => v.to_sql_checked(ty, out),
            Value::Time(v) => v.to_sql_checked(ty, out),
            Value::Timestamp(v) => v.to_sql_checked(ty, out),
            Value::TimestampTz(v) => v.to_sql_checked(ty, out),
            Value::Json(v) => v.to_sql_checked(ty, out),
            Value::Array(element, values) => array_to_sql(*element, values, ty, out),
        }
    }

    // Each variant checks the server's type itself through `to_sql_checked`.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Collects the values of an array into a typed `Vec<Option<T>>`, which
/// tokio-postgres encodes as a one-dimensional array.
fn typed<T>(values: &[Value], pick: impl Fn(&Value) -> Option<T>) -> Result<Vec<Option<T>>, BoxError> {
    values
        .iter()
        .map(|v| match v {
            Value::Null => Ok(None),
            other => {
                pick(other).map(Some).ok_or_else(|| format!("{} in an array of another type", other.describe()).into())
            }
        })
        .collect()
}

fn array_to_sql(element: SqlType, values: &[Value], ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
    macro_rules! encode {
        ($variant:ident) => {
            typed(values, |v| match v {
                Value::$variant(x) => Some(x.clone()),
                _ => None,
            })?
            .to_sql_checked(ty, out)
        };
    }
    match element {
        SqlType::Bool => encode!(Bool),
        SqlType::SmallInt => encode!(I16),
        SqlType::Integer => encode!(I32),
        SqlType::BigInt => encode!(I64),
        SqlType::Real => encode!(F32),
        SqlType::Double => encode!(F64),
        SqlType::Text => encode!(Text),
        SqlType::Bytea => encode!(Bytes),
        SqlType::Numeric => encode!(Decimal),
        SqlType::Date => encode!(Date),
        SqlType::Time => encode!(Time),
        SqlType::Timestamp => encode!(Timestamp),
        SqlType::TimestampTz => encode!(TimestampTz),
        SqlType::Jsonb => encode!(Json),
    }
}

/// A column value decoded by the column's own type: accepts every type this
/// crate maps, so decoding never needs to know the model.
pub(crate) struct Decoded(pub(crate) Value);

impl<'a> FromSql<'a> for Decoded {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let value = match *ty {
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => Value::I16(i16::from_sql(ty, raw)?),
            Type::INT4 => Value::I32(i32::from_sql(ty, raw)?),
            Type::INT8 => Value::I64(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::F32(f32::from_sql(ty, raw)?),
            Type::FLOAT8 => Value::F64(f64::from_sql(ty, raw)?),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Value::Text(String::from_sql(ty, raw)?)
            }
            Type::BYTEA => Value::Bytes(Vec::<u8>::from_sql(ty, raw)?),
            Type::NUMERIC => Value::Decimal(Decimal::from_sql(ty, raw)?),
            Type::DATE => Value::Date(NaiveDate::from_sql(ty, raw)?),
            Type::TIME => Value::Time(NaiveTime::from_sql(ty, raw)?),
            Type::TIMESTAMP => Value::Timestamp(NaiveDateTime::from_sql(ty, raw)?),
            Type::TIMESTAMPTZ => Value::TimestampTz(DateTime::<Utc>::from_sql(ty, raw)?),
            Type::JSON | Type::JSONB => Value::Json(serde_json::Value::from_sql(ty, raw)?),
            _ => return Err(format!("the column type `{ty}` has no mapping").into()),
        };
        Ok(Decoded(value))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Decoded(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}
