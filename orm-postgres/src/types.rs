//! Bridging [`Value`] to and from tokio-postgres' `ToSql` / `FromSql`.

use std::error::Error as StdError;

#[cfg(feature = "chrono")]
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use orm_core::{CopySource, SqlType, Value};
#[cfg(feature = "rust_decimal")]
use rust_decimal::Decimal;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, Kind, ToSql, Type};

pub(crate) type BoxError = Box<dyn StdError + Sync + Send>;

/// A [`Value`] bound as a statement parameter.
#[derive(Debug)]
pub(crate) struct Param<'a>(pub(crate) &'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        if write_plain(self.0, ty, out) {
            return Ok(IsNull::No);
        }
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
            #[cfg(feature = "rust_decimal")]
            Value::Decimal(v) => v.to_sql_checked(ty, out),
            #[cfg(feature = "chrono")]
            Value::Date(v) => v.to_sql_checked(ty, out),
            #[cfg(feature = "chrono")]
            Value::Time(v) => v.to_sql_checked(ty, out),
            #[cfg(feature = "chrono")]
            Value::Timestamp(v) => v.to_sql_checked(ty, out),
            #[cfg(feature = "chrono")]
            Value::TimestampTz(v) => v.to_sql_checked(ty, out),
            #[cfg(feature = "json")]
            Value::Json(v) => v.to_sql_checked(ty, out),
            #[cfg(feature = "uuid")]
            Value::Uuid(v) => v.to_sql_checked(ty, out),
            Value::Inet(v) => v.to_sql_checked(ty, out),
            Value::Enum(_, label) => EnumLabel(label).to_sql_checked(ty, out),
            Value::Array(element, values) => array_to_sql(*element, values, ty, out),
            Value::Unreadable(u) => Err(format!("a {} value that could not be read cannot be sent", u.sql_type).into()),
        }
    }

    // Each variant checks the server's type itself through `to_sql_checked`.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Writes `value` when it is a text for a `text` or `varchar`, an integer
/// for an `integer` or a bigint for a `bigint`: what most parameters and
/// array elements are. Through the driver, a text's type was checked by
/// name and its encoder chosen by name again, for every value: about 60
/// instructions a value of a COPY, 150 an element of an array. `false`,
/// having written nothing, for any other value or type, which the driver
/// then takes, with its type check. Always inlined: as a call, it cost a
/// COPY of 10,000 users 60 instructions a row more.
#[inline(always)]
fn write_plain(value: &Value, ty: &Type, out: &mut bytes::BytesMut) -> bool {
    use bytes::BufMut;
    match (value, ty) {
        (Value::Text(text), &Type::TEXT | &Type::VARCHAR) => out.put_slice(text.as_bytes()),
        (Value::I32(n), &Type::INT4) => out.put_i32(*n),
        (Value::I64(n), &Type::INT8) => out.put_i64(*n),
        _ => return false,
    }
    true
}

/// The rows of `rows`, one value per column of `types`, in PostgreSQL's
/// binary COPY format, from its header to its trailer; `None` when a value
/// does not fit its column's type: binary COPY takes each value in its
/// column's own format, where an INSERT would cast. With
/// `keep_row_starts`, where each row starts is kept, for
/// [`CopyData::put_keys`].
///
/// Written here rather than through tokio-postgres' `BinaryCopyInWriter`,
/// whose future per row and driver type check per value (of text and
/// integers too, which [`write_plain`] writes unchecked once they match)
/// cost a COPY of 10,000 users about 540 instructions a row. A row of
/// another length than `types` is an error, and a source that goes on
/// after being told to stop is not written past that point.
pub(crate) fn binary_copy(
    rows: &mut dyn CopySource,
    types: &[Type],
    keep_row_starts: bool,
) -> Result<Option<CopyData>, BoxError> {
    use bytes::BufMut;
    const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
    let mut out = bytes::BytesMut::with_capacity(SIGNATURE.len() + 10 + rows.row_count() * (2 + types.len() * 10));
    // After the signature: no flags, and no header extension.
    out.put_slice(SIGNATURE);
    out.put_i32(0);
    out.put_i32(0);
    let fields = i16::try_from(types.len())?;
    let mut fitting = vec![None; types.len()];
    let mut row_starts = Vec::with_capacity(if keep_row_starts { rows.row_count() } else { 0 });
    let mut written = Ok(true);
    rows.each_row(&mut |row| {
        if matches!(written, Ok(true)) {
            written = if row.len() == types.len() {
                if keep_row_starts {
                    row_starts.push(out.len());
                }
                out.put_i16(fields);
                write_copy_row(row, types, &mut fitting, &mut out)
            } else {
                Err(format!("a row of {} values for a COPY of {} columns", row.len(), types.len()).into())
            };
        }
        matches!(written, Ok(true))
    });
    if !written? {
        return Ok(None);
    }
    out.put_i16(-1);
    Ok(Some(CopyData { bytes: out, row_starts }))
}

/// The rows of a binary COPY, written, and where each row starts when
/// their keys are still to come.
#[derive(Debug)]
pub(crate) struct CopyData {
    pub(crate) bytes: bytes::BytesMut,
    row_starts: Vec<usize>,
}

impl CopyData {
    /// Writes `keys`, one per row, in order, over the values that stood in
    /// for them in field `column` of each row: integers of the same type,
    /// so of the same size. `false` when a key does not fit the value that
    /// stood in for it (a NULL, or an integer of another size): the rows then
    /// go to an INSERT, which casts.
    pub(crate) fn put_keys(&mut self, column: usize, keys: &[Value]) -> Result<bool, BoxError> {
        if keys.len() != self.row_starts.len() {
            return Err(format!("{} keys for a COPY of {} rows", keys.len(), self.row_starts.len()).into());
        }
        for (&row_start, key) in self.row_starts.iter().zip(keys) {
            let Some(field) = field_at(&self.bytes, row_start, column) else { return Ok(false) };
            let bytes = &mut self.bytes[field];
            match *key {
                Value::I16(n) if bytes.len() == 2 => bytes.copy_from_slice(&n.to_be_bytes()),
                Value::I32(n) if bytes.len() == 4 => bytes.copy_from_slice(&n.to_be_bytes()),
                Value::I64(n) if bytes.len() == 8 => bytes.copy_from_slice(&n.to_be_bytes()),
                _ => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// Where the bytes of field `column` are in the row of a binary COPY that
/// starts at `row_start` (its field count, then each field's size and
/// bytes); `None` past the data's end, or for a NULL.
fn field_at(data: &[u8], row_start: usize, column: usize) -> Option<std::ops::Range<usize>> {
    let size_at = |at: usize| Some(i32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?));
    let mut at = row_start + 2;
    for _ in 0..column {
        at += 4 + usize::try_from(size_at(at)?).unwrap_or(0);
    }
    let size = usize::try_from(size_at(at)?).ok()?;
    let start = at + 4;
    data.get(start..start + size).map(|_| start..start + size)
}

/// Writes the fields of one row of a binary COPY, each its size and its
/// bytes. `false` when a value does not fit its column, found before
/// anything is sent. A column's values are mostly of one variant: the fit
/// of each variant but an array (which depends on its elements' type) is
/// checked once per column, in `fitting`; the driver's encoders, which
/// write the values other than text and integers, check their type again
/// as they write.
#[inline]
fn write_copy_row(
    row: &[Value],
    types: &[Type],
    fitting: &mut [Option<std::mem::Discriminant<Value>>],
    out: &mut bytes::BytesMut,
) -> Result<bool, BoxError> {
    use bytes::BufMut;
    for (column, ((value, ty), fitting)) in row.iter().zip(types).zip(fitting).enumerate() {
        if matches!(value, Value::Null) {
            out.put_i32(-1);
            continue;
        }
        let size_at = out.len();
        out.put_i32(0);
        if !write_plain(value, ty, out) {
            let variant = std::mem::discriminant(value);
            if *fitting != Some(variant) {
                if !accepts(value, ty) {
                    return Ok(false);
                }
                if !matches!(value, Value::Array(..)) {
                    *fitting = Some(variant);
                }
            }
            let written = Param(value).to_sql(ty, out);
            let null =
                written.map_err(|e| format!("the value of column {} of a COPY, of type {ty}: {e}", column + 1))?;
            if let IsNull::Yes = null {
                out.truncate(size_at);
                out.put_i32(-1);
                continue;
            }
        }
        write_size(out, size_at)?;
    }
    Ok(true)
}

/// Writes the size of the value written after `size_at`, where four bytes
/// were kept for it: the form of a field of a COPY and of an array's
/// element.
#[inline]
fn write_size(out: &mut bytes::BytesMut, size_at: usize) -> Result<(), BoxError> {
    let size = i32::try_from(out.len() - size_at - 4).map_err(|_| "value too large to transmit")?;
    out[size_at..size_at + 4].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

/// Writes `values` in PostgreSQL's binary format when `ty` is an array of
/// text or integers of exactly their type (see [`write_plain`]): the
/// arrays a flush sends a column of many rows in, and a loader its keys.
/// `None` leaves any other array to the driver.
fn write_plain_array(
    element: SqlType,
    values: &[Value],
    ty: &Type,
    out: &mut bytes::BytesMut,
) -> Option<Result<IsNull, BoxError>> {
    use bytes::BufMut;
    let Kind::Array(member) = ty.kind() else { return None };
    let plain = matches!(
        (element, member),
        (SqlType::Text, &Type::TEXT | &Type::VARCHAR)
            | (SqlType::Integer, &Type::INT4)
            | (SqlType::BigInt, &Type::INT8)
    );
    let len = i32::try_from(values.len()).ok().filter(|_| plain)?;
    // The header: one dimension, whether there are NULLs (set at the end),
    // the element type, the dimension's length and its lower bound.
    out.put_i32(1);
    let nulls_at = out.len();
    out.put_i32(0);
    out.put_u32(member.oid());
    out.put_i32(len);
    out.put_i32(1);
    let mut nulls = false;
    for value in values {
        if matches!(value, Value::Null) {
            out.put_i32(-1);
            nulls = true;
            continue;
        }
        // Each element is its size, then its bytes.
        let size_at = out.len();
        out.put_i32(0);
        if !write_plain(value, member, out) {
            return Some(Err(format!("{} in an array of another type", value.describe()).into()));
        }
        if let Err(e) = write_size(out, size_at) {
            return Some(Err(e));
        }
    }
    out[nulls_at..nulls_at + 4].copy_from_slice(&i32::from(nulls).to_be_bytes());
    Some(Ok(IsNull::No))
}

/// Collects the values of an array into a typed `Vec<Option<T>>`, which
/// tokio-postgres encodes as a one-dimensional array.
fn typed<'v, T>(values: &'v [Value], pick: impl Fn(&'v Value) -> Option<T>) -> Result<Vec<Option<T>>, BoxError> {
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
    if let Some(written) = write_plain_array(element, values, ty, out) {
        return written;
    }
    // Borrowed, not cloned: a text array of 1,000 rows is 1,000 strings.
    macro_rules! encode {
        ($variant:ident) => {
            typed(values, |v| match v {
                Value::$variant(x) => Some(x),
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
        #[cfg(feature = "rust_decimal")]
        SqlType::Numeric => encode!(Decimal),
        #[cfg(feature = "chrono")]
        SqlType::Date => encode!(Date),
        #[cfg(feature = "chrono")]
        SqlType::Time => encode!(Time),
        #[cfg(feature = "chrono")]
        SqlType::Timestamp => encode!(Timestamp),
        #[cfg(feature = "chrono")]
        SqlType::TimestampTz => encode!(TimestampTz),
        #[cfg(feature = "json")]
        SqlType::Jsonb => encode!(Json),
        #[cfg(feature = "uuid")]
        SqlType::Uuid => encode!(Uuid),
        SqlType::Inet => encode!(Inet),
        SqlType::Enum(_) => typed(values, |v| match v {
            Value::Enum(_, label) => Some(EnumLabel(label)),
            _ => None,
        })?
        .to_sql_checked(ty, out),
        // A column of arrays in `unnest`'s rows (`render::rows_of_arrays`),
        // which would flatten an array of arrays: the text of each array,
        // cast back by the statement.
        SqlType::Array(_) => array_literals(values).to_sql_checked(ty, out),
        // A type whose crate feature is off has no values to send.
        #[allow(unreachable_patterns)]
        other => Err(format!("{} values need a crate feature that is off", other.name()).into()),
    }
}

/// The arrays of a column of arrays as the text form of each, which
/// PostgreSQL casts back: `{"1","2",NULL}`.
fn array_literals(rows: &[Value]) -> Vec<Option<String>> {
    rows.iter()
        .map(|row| match row {
            Value::Array(_, elements) => Some(array_literal(elements)),
            _ => None,
        })
        .collect()
}

/// `{"a","b \"c\"",NULL}`: every element quoted, `"` and `\` escaped.
fn array_literal(elements: &[Value]) -> String {
    let mut out = String::from("{");
    for (i, element) in elements.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match element_text(element) {
            None => out.push_str("NULL"),
            Some(text) => {
                out.push('"');
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    out
}

/// A value in PostgreSQL's text input form, `None` for NULL.
fn element_text(value: &Value) -> Option<String> {
    use std::fmt::Write;
    let float = |v: f64| match v {
        v if v.is_nan() => "NaN".to_owned(),
        v if v.is_infinite() => if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned(),
        v => v.to_string(),
    };
    Some(match value {
        Value::Null | Value::Array(..) | Value::Unreadable(_) => return None,
        Value::Bool(v) => if *v { "t" } else { "f" }.to_owned(),
        Value::I16(v) => v.to_string(),
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::F32(v) => match f64::from(*v) {
            finite if finite.is_finite() => v.to_string(),
            other => float(other),
        },
        Value::F64(v) => float(*v),
        Value::Text(v) => v.clone(),
        Value::Bytes(v) => v.iter().fold(String::from("\\x"), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        }),
        #[cfg(feature = "rust_decimal")]
        Value::Decimal(v) => v.to_string(),
        #[cfg(feature = "chrono")]
        Value::Date(v) => pg_datetime(*v, None, ""),
        #[cfg(feature = "chrono")]
        Value::Time(v) => v.to_string(),
        #[cfg(feature = "chrono")]
        Value::Timestamp(v) => pg_datetime(v.date(), Some(v.time()), ""),
        #[cfg(feature = "chrono")]
        Value::TimestampTz(v) => pg_datetime(v.date_naive(), Some(v.time()), "+00"),
        #[cfg(feature = "json")]
        Value::Json(v) => v.to_string(),
        #[cfg(feature = "uuid")]
        Value::Uuid(v) => v.to_string(),
        Value::Inet(v) => v.to_string(),
        Value::Enum(_, label) => (*label).to_owned(),
    })
}

/// A label of a database enum type, sent as its text (an enum's binary
/// form).
#[derive(Debug)]
struct EnumLabel(&'static str);

impl ToSql for EnumLabel {
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Enum(_))
    }

    to_sql_checked!();
}

/// How to decode one result column: chosen once per statement from the
/// column's type, so the per-row work is one jump on a small enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    Text,
    Bytes,
    #[cfg(feature = "rust_decimal")]
    Decimal,
    #[cfg(feature = "chrono")]
    Date,
    #[cfg(feature = "chrono")]
    Time,
    #[cfg(feature = "chrono")]
    Timestamp,
    #[cfg(feature = "chrono")]
    TimestampTz,
    #[cfg(feature = "json")]
    Json,
    #[cfg(feature = "uuid")]
    Uuid,
    Inet,
    /// A label of a database enum type, read as text.
    Label,
    /// A one-dimensional array; its elements are decoded by their own kind.
    Array,
    /// A type without a mapping: decoding it is an error.
    Unsupported,
}

impl ColumnKind {
    /// The SQL type of the values this kind decodes (an enum label reads as
    /// text; an array has no single element type and says text too).
    fn sql_type(self) -> SqlType {
        match self {
            ColumnKind::Bool => SqlType::Bool,
            ColumnKind::I16 => SqlType::SmallInt,
            ColumnKind::I32 => SqlType::Integer,
            ColumnKind::I64 => SqlType::BigInt,
            ColumnKind::F32 => SqlType::Real,
            ColumnKind::F64 => SqlType::Double,
            ColumnKind::Bytes => SqlType::Bytea,
            #[cfg(feature = "rust_decimal")]
            ColumnKind::Decimal => SqlType::Numeric,
            #[cfg(feature = "chrono")]
            ColumnKind::Date => SqlType::Date,
            #[cfg(feature = "chrono")]
            ColumnKind::Time => SqlType::Time,
            #[cfg(feature = "chrono")]
            ColumnKind::Timestamp => SqlType::Timestamp,
            #[cfg(feature = "chrono")]
            ColumnKind::TimestampTz => SqlType::TimestampTz,
            #[cfg(feature = "json")]
            ColumnKind::Json => SqlType::Jsonb,
            #[cfg(feature = "uuid")]
            ColumnKind::Uuid => SqlType::Uuid,
            ColumnKind::Inet => SqlType::Inet,
            ColumnKind::Text | ColumnKind::Label | ColumnKind::Array | ColumnKind::Unsupported => SqlType::Text,
        }
    }

    pub(crate) fn of(ty: &Type) -> ColumnKind {
        match *ty {
            Type::BOOL => ColumnKind::Bool,
            Type::INT2 => ColumnKind::I16,
            Type::INT4 => ColumnKind::I32,
            Type::INT8 => ColumnKind::I64,
            Type::FLOAT4 => ColumnKind::F32,
            Type::FLOAT8 => ColumnKind::F64,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => ColumnKind::Text,
            Type::BYTEA => ColumnKind::Bytes,
            #[cfg(feature = "rust_decimal")]
            Type::NUMERIC => ColumnKind::Decimal,
            #[cfg(feature = "chrono")]
            Type::DATE => ColumnKind::Date,
            #[cfg(feature = "chrono")]
            Type::TIME => ColumnKind::Time,
            #[cfg(feature = "chrono")]
            Type::TIMESTAMP => ColumnKind::Timestamp,
            #[cfg(feature = "chrono")]
            Type::TIMESTAMPTZ => ColumnKind::TimestampTz,
            #[cfg(feature = "json")]
            Type::JSON | Type::JSONB => ColumnKind::Json,
            #[cfg(feature = "uuid")]
            Type::UUID => ColumnKind::Uuid,
            Type::INET => ColumnKind::Inet,
            _ if matches!(ty.kind(), Kind::Enum(_)) => ColumnKind::Label,
            _ if matches!(ty.kind(), Kind::Array(member) if !matches!(ColumnKind::of(member), ColumnKind::Unsupported | ColumnKind::Array)) => {
                ColumnKind::Array
            }
            _ => ColumnKind::Unsupported,
        }
    }

    /// Decodes the raw bytes of a value of this column (`None` is NULL).
    pub(crate) fn decode(self, ty: &Type, raw: Option<&[u8]>) -> Result<Value, BoxError> {
        let Some(raw) = raw else { return Ok(Value::Null) };
        Ok(match self {
            ColumnKind::Bool => Value::Bool(bool::from_sql(ty, raw)?),
            ColumnKind::I16 => Value::I16(i16::from_sql(ty, raw)?),
            ColumnKind::I32 => Value::I32(i32::from_sql(ty, raw)?),
            ColumnKind::I64 => Value::I64(i64::from_sql(ty, raw)?),
            ColumnKind::F32 => Value::F32(f32::from_sql(ty, raw)?),
            ColumnKind::F64 => Value::F64(f64::from_sql(ty, raw)?),
            ColumnKind::Text => Value::Text(text(raw)?.to_owned()),
            ColumnKind::Bytes => Value::Bytes(Vec::<u8>::from_sql(ty, raw)?),
            #[cfg(feature = "rust_decimal")]
            ColumnKind::Decimal => decode_numeric(raw)?,
            #[cfg(feature = "chrono")]
            ColumnKind::Date => Value::Date(NaiveDate::from_sql(ty, raw)?),
            #[cfg(feature = "chrono")]
            ColumnKind::Time => Value::Time(NaiveTime::from_sql(ty, raw)?),
            #[cfg(feature = "chrono")]
            ColumnKind::Timestamp => Value::Timestamp(NaiveDateTime::from_sql(ty, raw)?),
            #[cfg(feature = "chrono")]
            ColumnKind::TimestampTz => Value::TimestampTz(DateTime::<Utc>::from_sql(ty, raw)?),
            #[cfg(feature = "json")]
            ColumnKind::Json => Value::Json(serde_json::Value::from_sql(ty, raw)?),
            #[cfg(feature = "uuid")]
            ColumnKind::Uuid => Value::Uuid(uuid::Uuid::from_sql(ty, raw)?),
            ColumnKind::Inet => Value::Inet(std::net::IpAddr::from_sql(ty, raw)?),
            ColumnKind::Label => Value::Text(text(raw)?.to_owned()),
            ColumnKind::Array => decode_array(ty, raw)?,
            ColumnKind::Unsupported => return Err("no Rust type maps to it".into()),
        })
    }

    /// Decodes as [`decode`](Self::decode), a value it cannot read becoming
    /// [`Value::Unreadable`], so that the field it was meant for names it.
    pub(crate) fn decode_or_unreadable(self, ty: &Type, raw: Option<&[u8]>) -> Value {
        match self.decode(ty, raw) {
            Ok(value) => value,
            Err(error) => unreadable(ty, raw, &*error),
        }
    }
}

#[cold]
pub(crate) fn unreadable(ty: &Type, raw: Option<&[u8]>, error: &(dyn StdError + Sync + Send)) -> Value {
    let infinite = |raw: &[u8]| match (ty, raw.len()) {
        (&Type::DATE, 4) => match i32::from_be_bytes(raw.try_into().unwrap_or_default()) {
            i32::MAX => Some("infinity"),
            i32::MIN => Some("-infinity"),
            _ => None,
        },
        (&Type::TIMESTAMP | &Type::TIMESTAMPTZ, 8) => match i64::from_be_bytes(raw.try_into().unwrap_or_default()) {
            i64::MAX => Some("infinity"),
            i64::MIN => Some("-infinity"),
            _ => None,
        },
        _ => None,
    };
    let problem = raw.and_then(infinite).map_or_else(|| error.to_string(), str::to_owned);
    Value::Unreadable(Box::new(orm_core::Unreadable { sql_type: ty.name().to_owned(), problem }))
}

#[cfg(feature = "rust_decimal")]
/// A `numeric` in its binary form, read exactly: an error for `NaN`, the
/// infinities, and values `Decimal` cannot hold without rounding (more than
/// 28 significant decimal places, or beyond its 96-bit range).
fn decode_numeric(raw: &[u8]) -> Result<Value, BoxError> {
    const NEGATIVE: u16 = 0x4000;
    const NAN: u16 = 0xC000;
    const POSITIVE_INFINITY: u16 = 0xD000;
    const NEGATIVE_INFINITY: u16 = 0xF000;
    let word =
        |i: usize| raw.get(2 * i..2 * i + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or("a truncated numeric");
    let (count, weight, sign, scale) = (word(0)? as usize, word(1)? as i16, word(2)?, word(3)? as usize);
    match sign {
        NAN => return Err("NaN".into()),
        POSITIVE_INFINITY => return Err("infinity".into()),
        NEGATIVE_INFINITY => return Err("-infinity".into()),
        _ => {}
    }
    let integer_digits = 4 * (usize::try_from(weight).map_or(0, |w| w + 1));
    if integer_digits + scale <= 28 {
        // At most 28 significant digits: the driver's decoder is exact here.
        return Ok(Value::Decimal(Decimal::from_sql(&Type::NUMERIC, raw)?));
    }
    let digits: Vec<u16> = (0..count).map(|i| word(4 + i)).collect::<Result<_, _>>()?;
    // Base-10000 digit `i` stands for digits[i] * 10000^(weight - i).
    let digit = |exponent: i32| {
        let i = i32::from(weight) - exponent;
        usize::try_from(i).ok().and_then(|i| digits.get(i)).copied().unwrap_or(0)
    };
    let mut text = String::with_capacity(4 * count + 8);
    if sign == NEGATIVE {
        text.push('-');
    }
    let mut integer = String::new();
    for exponent in (0..=i32::from(weight).max(0)).rev() {
        let d = digit(exponent);
        if integer.is_empty() {
            if d != 0 || exponent == 0 {
                integer.push_str(&d.to_string());
            }
        } else {
            integer.push_str(&format!("{d:04}"));
        }
    }
    text.push_str(&integer);
    let mut fraction = String::new();
    let mut exponent = -1;
    while fraction.len() < scale {
        fraction.push_str(&format!("{:04}", digit(exponent)));
        exponent -= 1;
    }
    fraction.truncate(scale);
    // Trailing zeros are not digits: kept as the column's scale where
    // `Decimal` can hold them (28 places, 96 bits), dropped where not.
    let significant = fraction.trim_end_matches('0').len();
    let kept = significant.max(fraction.len().min(28));
    let exact = |places: usize| {
        let mut number = text.clone();
        if places > 0 {
            number.push('.');
            number.push_str(&fraction[..places]);
        }
        Decimal::from_str_exact(&number)
    };
    let decimal = if significant > 28 { None } else { exact(kept).or_else(|_| exact(significant)).ok() };
    let text = format!("{text}.{fraction}");
    decimal
        .map(Value::Decimal)
        .ok_or_else(|| format!("{text} has more digits than Decimal holds (28 decimal places, 96 bits)").into())
}

/// A date (and time) in PostgreSQL's text form, which writes years before 1
/// as `BC` and takes years past 9999 as they are (chrono writes `-0044` and
/// `+10000`, which PostgreSQL refuses).
#[cfg(feature = "chrono")]
fn pg_datetime(date: NaiveDate, time: Option<NaiveTime>, zone: &str) -> String {
    use chrono::Datelike;
    let year = date.year();
    let mut text = format!("{:04}-{:02}-{:02}", if year < 1 { 1 - year } else { year }, date.month(), date.day());
    if let Some(time) = time {
        text.push(' ');
        text.push_str(&time.format("%H:%M:%S%.f").to_string());
        text.push_str(zone);
    }
    if year < 1 {
        text.push_str(" BC");
    }
    text
}

/// An array column: each element decoded by its own [`ColumnKind`].
fn decode_array(ty: &Type, raw: &[u8]) -> Result<Value, BoxError> {
    let Kind::Array(member) = ty.kind() else { return Err(format!("`{ty}` is not an array type").into()) };
    let kind = ColumnKind::of(member);
    // Generated keys come as one integer array (reserved for a COPY, or
    // returned by an INSERT of many rows): read straight, not through a
    // list of raw values first.
    let integers = match kind {
        ColumnKind::I32 => Some(integers(raw, |n| Value::I32(i32::from_be_bytes(n)))?),
        ColumnKind::I64 => Some(integers(raw, |n| Value::I64(i64::from_be_bytes(n)))?),
        _ => None,
    };
    if let Some(elements) = integers {
        return Ok(Value::Array(kind.sql_type(), elements));
    }
    let elements = Vec::<RawValue<'_>>::from_sql(ty, raw)?
        .into_iter()
        .map(|element| kind.decode(member, element.0))
        .collect::<Result<Vec<Value>, BoxError>>()?;
    Ok(Value::Array(kind.sql_type(), elements))
}

/// The elements of a one-dimensional array of `N`-byte integers, NULL
/// ones as [`Value::Null`], read from PostgreSQL's binary format in place:
/// through the driver's array iterator and a list of `Option`s first, an
/// element cost about 107 instructions.
fn integers<const N: usize>(raw: &[u8], value: impl Fn([u8; N]) -> Value) -> Result<Vec<Value>, BoxError> {
    let word = |at: usize| raw.get(at..at + 4).and_then(|b| b.try_into().ok()).map(i32::from_be_bytes);
    let cut_short = "the array ends early";
    // The header: dimensions, a has-NULLs flag, the element type, then the
    // length and lower bound of each dimension.
    let (count, mut at) = match word(0).ok_or(cut_short)? {
        0 => (0, 12),
        1 => (usize::try_from(word(12).ok_or(cut_short)?)?, 20),
        _ => return Err("array contains too many dimensions".into()),
    };
    if raw.len() < at {
        return Err(cut_short.into());
    }
    // Room for what the bytes can hold, whatever the header claims.
    let mut values = Vec::with_capacity(count.min((raw.len() - at) / 4));
    for _ in 0..count {
        let len = word(at).ok_or(cut_short)?;
        at += 4;
        let value = match len {
            // As the driver reads it: any negative length is NULL.
            ..0 => Value::Null,
            len if len as usize == N => {
                let bytes = raw.get(at..at + N).and_then(|b| b.try_into().ok()).ok_or(cut_short)?;
                at += N;
                value(bytes)
            }
            _ => return Err("invalid buffer size".into()),
        };
        values.push(value);
    }
    if at != raw.len() {
        return Err("arrayvalue not drained".into());
    }
    Ok(values)
}

/// The `N` bytes of a fixed-width value.
#[inline]
pub(crate) fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], BoxError> {
    raw.try_into().map_err(|_| "invalid buffer size".into())
}

/// A text as received, checked to be UTF-8. ASCII, the common case, is
/// checked a word at a time; std's check of short texts goes byte by byte
/// through its state machine, about 90 instructions a text.
#[inline]
pub(crate) fn text(raw: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if raw.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(raw) })
    } else {
        std::str::from_utf8(raw)
    }
}

/// The raw bytes of a column value, whatever its type; decoded afterwards by
/// the column's [`ColumnKind`].
pub(crate) struct RawValue<'a>(pub(crate) Option<&'a [u8]>);

impl<'a> FromSql<'a> for RawValue<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(RawValue(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(RawValue(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Whether the server's type `ty` of a parameter takes `value`, checked
/// before sending so that a mismatch names the parameter.
pub(crate) fn accepts(value: &Value, ty: &Type) -> bool {
    fn array<T: ToSql>(ty: &Type) -> bool {
        <Vec<Option<T>> as ToSql>::accepts(ty)
    }
    match value {
        Value::Null => true,
        Value::Bool(_) => <bool as ToSql>::accepts(ty),
        Value::I16(_) => <i16 as ToSql>::accepts(ty),
        Value::I32(_) => <i32 as ToSql>::accepts(ty),
        Value::I64(_) => <i64 as ToSql>::accepts(ty),
        Value::F32(_) => <f32 as ToSql>::accepts(ty),
        Value::F64(_) => <f64 as ToSql>::accepts(ty),
        Value::Text(_) => <String as ToSql>::accepts(ty),
        Value::Bytes(_) => <Vec<u8> as ToSql>::accepts(ty),
        #[cfg(feature = "rust_decimal")]
        Value::Decimal(_) => <Decimal as ToSql>::accepts(ty),
        #[cfg(feature = "chrono")]
        Value::Date(_) => <NaiveDate as ToSql>::accepts(ty),
        #[cfg(feature = "chrono")]
        Value::Time(_) => <NaiveTime as ToSql>::accepts(ty),
        #[cfg(feature = "chrono")]
        Value::Timestamp(_) => <NaiveDateTime as ToSql>::accepts(ty),
        #[cfg(feature = "chrono")]
        Value::TimestampTz(_) => <DateTime<Utc> as ToSql>::accepts(ty),
        #[cfg(feature = "json")]
        Value::Json(_) => <serde_json::Value as ToSql>::accepts(ty),
        #[cfg(feature = "uuid")]
        Value::Uuid(_) => <uuid::Uuid as ToSql>::accepts(ty),
        Value::Inet(_) => <std::net::IpAddr as ToSql>::accepts(ty),
        Value::Enum(..) => <EnumLabel as ToSql>::accepts(ty),
        Value::Unreadable(_) => false,
        Value::Array(element, _) => match element {
            SqlType::Bool => array::<bool>(ty),
            SqlType::SmallInt => array::<i16>(ty),
            SqlType::Integer => array::<i32>(ty),
            SqlType::BigInt => array::<i64>(ty),
            SqlType::Real => array::<f32>(ty),
            SqlType::Double => array::<f64>(ty),
            SqlType::Text => array::<String>(ty),
            SqlType::Bytea => array::<Vec<u8>>(ty),
            #[cfg(feature = "rust_decimal")]
            SqlType::Numeric => array::<Decimal>(ty),
            #[cfg(feature = "chrono")]
            SqlType::Date => array::<NaiveDate>(ty),
            #[cfg(feature = "chrono")]
            SqlType::Time => array::<NaiveTime>(ty),
            #[cfg(feature = "chrono")]
            SqlType::Timestamp => array::<NaiveDateTime>(ty),
            #[cfg(feature = "chrono")]
            SqlType::TimestampTz => array::<DateTime<Utc>>(ty),
            #[cfg(feature = "json")]
            SqlType::Jsonb => array::<serde_json::Value>(ty),
            #[cfg(feature = "uuid")]
            SqlType::Uuid => array::<uuid::Uuid>(ty),
            SqlType::Inet => array::<std::net::IpAddr>(ty),
            SqlType::Enum(_) => array::<EnumLabel>(ty),
            // Sent as the text of each array (`array_literals`).
            SqlType::Array(_) => array::<String>(ty),
            #[allow(unreachable_patterns)]
            _ => false,
        },
    }
}

/// Checks every parameter against the types the server expects.
///
/// # Errors
/// [`orm_core::Error::ParameterType`] for the first that does not fit.
pub(crate) fn check_params(expected: &[Type], params: &[Value]) -> orm_core::Result<()> {
    for (i, (value, ty)) in params.iter().zip(expected).enumerate() {
        if !accepts(value, ty) {
            return Err(orm_core::Error::ParameterType {
                position: i + 1,
                expected: ty.name().to_owned(),
                sent: value.describe().to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "rust_decimal")]
    fn numeric(text: &str) -> Value {
        // The binary form PostgreSQL sends, built through the driver's own encoder.
        let decimal: Decimal = text.parse().unwrap();
        let mut out = bytes::BytesMut::new();
        decimal.to_sql(&Type::NUMERIC, &mut out).unwrap();
        decode_numeric(&out).unwrap()
    }

    /// `value`'s binary form, as PostgreSQL would send it, through the
    /// driver's own encoder.
    fn encoded(value: &(dyn ToSql + Sync), ty: &Type) -> bytes::BytesMut {
        let mut out = bytes::BytesMut::new();
        value.to_sql_checked(ty, &mut out).unwrap();
        out
    }

    #[test]
    fn texts_and_integers_are_written_as_the_driver_writes_them() {
        let param = |value: Value, ty: &Type| encoded(&Param(&value), ty);
        assert_eq!(param(Value::Text("ä b".into()), &Type::TEXT), encoded(&"ä b", &Type::TEXT));
        assert_eq!(param(Value::Text("x".into()), &Type::VARCHAR), encoded(&"x", &Type::VARCHAR));
        assert_eq!(param(Value::I32(-2), &Type::INT4), encoded(&-2_i32, &Type::INT4));
        assert_eq!(param(Value::I64(1 << 40), &Type::INT8), encoded(&(1_i64 << 40), &Type::INT8));
        let mut out = bytes::BytesMut::new();
        assert!(Param(&Value::I32(1)).to_sql_checked(&Type::INT8, &mut out).is_err(), "no fast path across types");
    }

    /// Rows of a COPY from lists of values, `width` columns wide; a heedless
    /// source hands over every row whatever the answer.
    struct ListedRows<'a> {
        rows: Vec<&'a [Value]>,
        width: usize,
        heedless: bool,
    }

    impl CopySource for ListedRows<'_> {
        fn width(&self) -> usize {
            self.width
        }

        fn row_count(&self) -> usize {
            self.rows.len()
        }

        fn each_row(&mut self, row: &mut dyn FnMut(&[Value]) -> bool) {
            for values in &self.rows {
                if !row(values) && !self.heedless {
                    break;
                }
            }
        }

        // The writer never reserves keys: the executor does.
        fn take_keys(&mut self, _: orm_core::Rows) -> orm_core::Result<Option<&[Value]>> {
            Ok(None)
        }

        fn rows_sent(&mut self) -> orm_core::Result<()> {
            Ok(())
        }
    }

    /// `values`, rows of `types.len()`, in binary COPY format, with where
    /// each row starts kept when `keep_row_starts`.
    fn written(values: &[Value], types: &[Type], keep_row_starts: bool) -> Option<CopyData> {
        let rows = values.chunks(types.len()).collect();
        binary_copy(&mut ListedRows { rows, width: types.len(), heedless: false }, types, keep_row_starts).unwrap()
    }

    /// `values`, rows of `types.len()`, in binary COPY format.
    fn copied(values: &[Value], types: &[Type]) -> Option<bytes::BytesMut> {
        written(values, types, false).map(|data| data.bytes)
    }

    #[test]
    fn reserved_keys_are_written_over_the_values_that_stood_in_for_them() {
        let types = [Type::TEXT, Type::INT4, Type::INT8];
        let row = |name: &str, key: i32| [Value::Text(name.into()), Value::I32(key), Value::Null];
        let placeholders = [row("é", 0), row("b", 0)].concat();
        let mut data = written(&placeholders, &types, true).unwrap();
        assert!(data.put_keys(1, &[Value::I32(7), Value::I32(-9)]).unwrap());
        assert_eq!(data.bytes, copied(&[row("é", 7), row("b", -9)].concat(), &types).unwrap());

        let mut data = written(&placeholders, &types, true).unwrap();
        assert!(!data.put_keys(1, &[Value::I64(7), Value::I64(9)]).unwrap(), "a wider key does not fit");
        assert!(!data.put_keys(2, &[Value::I64(7), Value::I64(9)]).unwrap(), "nor does one over a NULL");
        let fewer = data.put_keys(1, &[Value::I32(7)]).unwrap_err().to_string();
        assert_eq!(fewer, "1 keys for a COPY of 2 rows");
    }

    #[test]
    fn copy_rows_are_framed_as_binary_copy_with_the_driver_s_encoding_of_each_field() {
        // PostgreSQL's binary COPY: the header, then per row the number of
        // fields and each field's size and bytes (-1: NULL), then -1; each
        // field's bytes as the driver encodes them.
        let mut expected = bytes::BytesMut::from(&b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0"[..]);
        let types = [Type::INT4, Type::TEXT, Type::BOOL, Type::FLOAT8, Type::INT4_ARRAY, Type::VARCHAR, Type::INT8];
        let row: [&(dyn ToSql + Sync); 7] =
            [&7_i32, &"ä", &true, &Option::<f64>::None, &vec![Some(1_i32), None], &"v", &(1_i64 << 40)];
        for _ in 0..2 {
            expected.extend_from_slice(&7_i16.to_be_bytes());
            for (value, ty) in row.iter().zip(&types) {
                let field = encoded(*value, ty);
                let null = value.to_sql_checked(ty, &mut bytes::BytesMut::new()).unwrap();
                let size = if matches!(null, IsNull::Yes) { -1 } else { i32::try_from(field.len()).unwrap() };
                expected.extend_from_slice(&size.to_be_bytes());
                expected.extend_from_slice(&field);
            }
        }
        expected.extend_from_slice(&(-1_i16).to_be_bytes());
        let array = Value::Array(SqlType::Integer, vec![Value::I32(1), Value::Null]);
        let values = [
            Value::I32(7),
            Value::Text("ä".into()),
            Value::Bool(true),
            Value::Null,
            array,
            Value::Text("v".into()),
            Value::I64(1 << 40),
        ];
        let both = [values.clone(), values].concat();
        assert_eq!(copied(&both, &types).unwrap(), expected);
        let none = copied(&[], &types).unwrap();
        assert_eq!(&none[..], b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0\xff\xff");
    }

    #[test]
    fn a_row_of_another_length_or_past_a_misfit_is_never_written() {
        fn heedless(rows: Vec<&[Value]>) -> ListedRows<'_> {
            ListedRows { rows, width: 2, heedless: true }
        }
        let types = [Type::INT4, Type::INT8];
        let (fits, misfit) = ([Value::I32(1), Value::I64(2)], [Value::I32(1), Value::I32(2)]);
        let short = binary_copy(&mut heedless(vec![&fits, &fits[..1]]), &types, false);
        assert_eq!(short.unwrap_err().to_string(), "a row of 1 values for a COPY of 2 columns");
        let past_a_misfit = binary_copy(&mut heedless(vec![&misfit, &fits]), &types, false).unwrap();
        assert!(past_a_misfit.is_none(), "the rows after a misfit do not make it fit");
        let mixed = Value::Array(SqlType::Integer, vec![Value::I32(1), Value::I64(2)]);
        let types = [Type::INT4, Type::INT4_ARRAY];
        let failed = binary_copy(&mut heedless(vec![&[Value::I32(1), mixed], &fits]), &types, false);
        let message = failed.unwrap_err().to_string();
        assert_eq!(message, "the value of column 2 of a COPY, of type _int4: bigint in an array of another type");
    }

    #[test]
    fn each_value_of_a_copy_fits_its_column_whatever_values_came_before() {
        let fits = |values: &[Value], types: &[Type]| copied(values, types).is_some();
        let text = |s: &str| Value::Text(s.to_owned());
        let types = [Type::BOOL, Type::FLOAT8];
        let rows = [Value::Null, Value::Null, Value::Bool(true), Value::F64(1.0), Value::Bool(false), Value::Null];
        assert!(fits(&rows, &types));
        let late = [Value::Bool(true), Value::F64(1.0), Value::Bool(false), Value::F32(3.0)];
        assert!(!fits(&late, &types), "a variant is checked when first met in its column");
        let a_bool_in_the_other_column = [Value::Bool(true), Value::F64(1.0), Value::Bool(false), Value::Bool(true)];
        assert!(!fits(&a_bool_in_the_other_column, &types), "a variant fitting one column says nothing of another");
        assert!(!fits(&[Value::I32(1), text("a")], &[Type::INT8, Type::TEXT]), "an integer of another width");
        let arrays = [Value::Array(SqlType::BigInt, Vec::new()), Value::Array(SqlType::Integer, Vec::new())];
        assert!(!fits(&arrays, &[Type::INT8_ARRAY]), "an array is checked by its elements' type each time");
    }

    #[test]
    fn text_and_integer_arrays_are_written_as_the_driver_writes_them() {
        let written = |element: SqlType, values: Vec<Value>, ty: &Type| {
            let mut out = bytes::BytesMut::new();
            write_plain_array(element, &values, ty, &mut out).map(|result| result.map(|_| out))
        };
        let text = |s: &str| Value::Text(s.to_owned());
        let texts = written(SqlType::Text, vec![text("ä"), Value::Null, text("")], &Type::TEXT_ARRAY);
        assert_eq!(texts.unwrap().unwrap(), encoded(&vec![Some("ä"), None, Some("")], &Type::TEXT_ARRAY));
        let varchars = written(SqlType::Text, vec![text("a")], &Type::VARCHAR_ARRAY);
        assert_eq!(varchars.unwrap().unwrap(), encoded(&vec![Some("a")], &Type::VARCHAR_ARRAY));
        let ints = written(SqlType::Integer, vec![Value::I32(-5), Value::I32(i32::MAX)], &Type::INT4_ARRAY);
        assert_eq!(ints.unwrap().unwrap(), encoded(&vec![Some(-5), Some(i32::MAX)], &Type::INT4_ARRAY));
        let bigs = written(SqlType::BigInt, vec![Value::Null, Value::I64(1 << 40)], &Type::INT8_ARRAY);
        assert_eq!(bigs.unwrap().unwrap(), encoded(&vec![None, Some(1_i64 << 40)], &Type::INT8_ARRAY));
        let empty = written(SqlType::Integer, Vec::new(), &Type::INT4_ARRAY);
        assert_eq!(empty.unwrap().unwrap(), encoded(&Vec::<i32>::new(), &Type::INT4_ARRAY));
        let mixed = written(SqlType::Integer, vec![Value::I32(1), Value::I64(2)], &Type::INT4_ARRAY);
        assert_eq!(mixed.unwrap().unwrap_err().to_string(), "bigint in an array of another type");
        assert!(written(SqlType::Integer, vec![Value::I32(1)], &Type::INT8_ARRAY).is_none(), "left to the driver");
        assert!(written(SqlType::Text, vec![text("a")], &Type::TEXT).is_none(), "not an array");
    }

    #[test]
    fn texts_are_checked_as_utf8_whether_ascii_or_not() {
        for valid in ["", "a", "8 chars!", "longer than two machine words", "héllo", "ascii first, then ü", "✓"] {
            assert_eq!(text(valid.as_bytes()), Ok(valid));
        }
        let invalid: [&[u8]; 4] = [b"\xff", b"ascii, then \xc3", b"\x80 continuation", b"long enough ascii \xe2\x9c"];
        for raw in invalid {
            assert!(text(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn integer_arrays_decode_in_place_with_their_nulls() {
        let ints = encoded(&vec![Some(7), None, Some(i32::MIN), Some(i32::MAX)], &Type::INT4_ARRAY);
        let expected = [Value::I32(7), Value::Null, Value::I32(i32::MIN), Value::I32(i32::MAX)];
        assert_eq!(decode_array(&Type::INT4_ARRAY, &ints).unwrap(), Value::Array(SqlType::Integer, expected.to_vec()));
        let bigs = encoded(&vec![Some(-1_i64), Some(1 << 40)], &Type::INT8_ARRAY);
        let expected = [Value::I64(-1), Value::I64(1 << 40)];
        assert_eq!(decode_array(&Type::INT8_ARRAY, &bigs).unwrap(), Value::Array(SqlType::BigInt, expected.to_vec()));
        let no_elements = Value::Array(SqlType::Integer, Vec::new());
        let empty = encoded(&Vec::<i32>::new(), &Type::INT4_ARRAY);
        assert_eq!(decode_array(&Type::INT4_ARRAY, &empty).unwrap(), no_elements);
        // `'{}'` as PostgreSQL sends it: no dimensions at all.
        let none = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23];
        assert_eq!(decode_array(&Type::INT4_ARRAY, &none).unwrap(), no_elements);
        assert!(decode_array(&Type::INT4_ARRAY, &none[..8]).is_err(), "a header cut short");
        assert!(decode_array(&Type::INT4_ARRAY, &ints[..ints.len() - 1]).is_err(), "an element cut short");
        assert!(decode_array(&Type::INT4_ARRAY, &[&ints[..], &[0, 0, 0, 1]].concat()).is_err(), "bytes left over");
        assert!(decode_array(&Type::INT8_ARRAY, &ints).is_err(), "elements of another width");
        let mut two_dimensions = ints.to_vec();
        two_dimensions[3] = 2;
        assert!(decode_array(&Type::INT4_ARRAY, &two_dimensions).unwrap_err().to_string().contains("dimensions"));
    }

    #[test]
    #[cfg(feature = "rust_decimal")]
    fn numerics_decode_exactly() {
        let long_exact =
            ["79228162514264337593543950335", "1234567890123456.123456789012", "-0.0000000000000000000000000001"];
        for text in ["0", "1", "-1", "12345.6789", "0.0001", "-0.000001", "100000000"].into_iter().chain(long_exact) {
            let expected: Decimal = text.parse().unwrap_or_else(|_| text.trim_end_matches('0').parse().unwrap());
            assert_eq!(numeric(text), Value::Decimal(expected), "{text}");
        }
        // `NaN`, with its sign word, and a value of 40 significant digits.
        let nan = [0, 0, 0, 0, 0xC0, 0, 0, 0];
        assert_eq!(decode_numeric(&nan).unwrap_err().to_string(), "NaN");
        let mut long = vec![0, 10, 0, 9, 0, 0, 0, 0];
        long.extend(std::iter::repeat_n([0x04, 0xD2], 10).flatten());
        assert!(decode_numeric(&long).unwrap_err().to_string().contains("more digits than Decimal holds"));
    }

    #[test]
    fn array_literals_quote_every_element_and_escape_quotes_and_backslashes() {
        let elements = [
            Value::Text(r#"a"b\c"#.into()),
            Value::Text("NULL".into()),
            Value::Null,
            Value::Bytes(vec![0, 255]),
            Value::F64(f64::NEG_INFINITY),
            Value::Bool(false),
        ];
        assert_eq!(array_literal(&elements), r#"{"a\"b\\c","NULL",NULL,"\\x00ff","-Infinity","f"}"#);
        assert_eq!(array_literal(&[]), "{}");
        #[cfg(feature = "chrono")]
        {
            let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let noon = NaiveTime::from_hms_opt(12, 0, 0);
            assert_eq!(pg_datetime(date(-43, 3, 15), noon, "+00"), "0044-03-15 12:00:00+00 BC");
            assert_eq!(pg_datetime(date(10000, 1, 2), None, ""), "10000-01-02");
            assert_eq!(pg_datetime(date(2024, 2, 29), noon, ""), "2024-02-29 12:00:00");
        }
    }

    #[test]
    fn a_column_of_arrays_is_bound_as_the_text_of_each_array() {
        const INTEGER_ARRAY: SqlType = SqlType::Array(&SqlType::Integer);
        let column = Value::Array(
            INTEGER_ARRAY,
            vec![Value::Array(SqlType::Integer, vec![Value::I32(1), Value::Null]), Value::Null],
        );
        assert!(accepts(&column, &Type::TEXT_ARRAY));
        assert!(!accepts(&column, &Type::INT4_ARRAY), "only as text");
        let (mut sent, mut literals) = (bytes::BytesMut::new(), bytes::BytesMut::new());
        Param(&column).to_sql(&Type::TEXT_ARRAY, &mut sent).unwrap();
        vec![Some(r#"{"1",NULL}"#), None].to_sql(&Type::TEXT_ARRAY, &mut literals).unwrap();
        assert_eq!(sent, literals);
    }
}
