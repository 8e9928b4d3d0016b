//! A result row as tokio-postgres received it, read column by column
//! straight from its bytes ([`RawRow`]).

use orm_core::{RawRow, Value};
use tokio_postgres::types::Type;
use tokio_postgres::Row;

use crate::types::{fixed, text, unreadable, BoxError, ColumnKind, RawValue};

/// One row of a result, with the kind of each column, found once per
/// statement.
pub(crate) struct PgRow<'r> {
    row: &'r Row,
    columns: &'r [(ColumnKind, Type)],
    /// How many rows the statement returned the last time (0: unknown).
    rows_hint: usize,
}

impl<'r> PgRow<'r> {
    pub(crate) fn new(row: &'r Row, columns: &'r [(ColumnKind, Type)], rows_hint: usize) -> Self {
        PgRow { row, columns, rows_hint }
    }

    /// The bytes of column `column`; `None` for NULL.
    // Inline: every read of a column calls it, and out of line its frame
    // cost 15 instructions of each (2 % of a three-level association load).
    #[inline(always)]
    fn raw(&self, column: usize) -> Option<&'r [u8]> {
        // `RawValue` takes every type, so only a column past the last fails.
        self.row.try_get::<_, RawValue<'r>>(column).ok().and_then(|RawValue(raw)| raw)
    }

    /// Decodes column `column` with `decode` when it is of `kind`; hands
    /// back its [`Value`] when it is of another kind.
    #[inline]
    fn typed<T>(
        &mut self,
        column: usize,
        kind: ColumnKind,
        decode: impl FnOnce(&'r [u8]) -> Result<T, BoxError>,
    ) -> Result<Option<T>, Value> {
        let Some((found, ty)) = self.columns.get(column) else { return Ok(None) };
        let found = *found;
        if found != kind {
            return Err(self.value(column));
        }
        match self.raw(column) {
            None => Ok(None),
            Some(raw) => decode(raw).map(Some).map_err(|e| unreadable(ty, Some(raw), &*e)),
        }
    }
}

/// The typed reads of numbers, which PostgreSQL's binary format sends
/// big-endian at their width. Decoded here, not through the driver's
/// `FromSql`: its out-of-line call and boxed-error result were about 20
/// instructions of each read (a 1,000-user LEFT JOIN reads four integers
/// a row).
macro_rules! number_reads {
    ($($method:ident: $ty:ty => $kind:ident;)*) => {$(
        fn $method(&mut self, column: usize) -> Result<Option<$ty>, Value> {
            self.typed(column, ColumnKind::$kind, |raw| Ok(<$ty>::from_be_bytes(fixed(raw)?)))
        }
    )*};
}

impl RawRow for PgRow<'_> {
    fn width(&self) -> usize {
        self.columns.len()
    }

    fn rows_hint(&self) -> usize {
        self.rows_hint
    }

    fn is_null(&self, column: usize) -> bool {
        self.raw(column).is_none()
    }

    fn value(&mut self, column: usize) -> Value {
        match self.columns.get(column) {
            Some((kind, ty)) => kind.decode_or_unreadable(ty, self.raw(column)),
            None => Value::Null,
        }
    }

    fn read_bool(&mut self, column: usize) -> Result<Option<bool>, Value> {
        self.typed(column, ColumnKind::Bool, |raw| Ok(fixed::<1>(raw)?[0] != 0))
    }

    number_reads! {
        read_i16: i16 => I16;
        read_i32: i32 => I32;
        read_i64: i64 => I64;
        read_f32: f32 => F32;
        read_f64: f64 => F64;
    }

    fn read_text(&mut self, column: usize) -> Result<Option<String>, Value> {
        // The text kinds (text, varchar, char, name) are UTF-8 on the wire.
        self.typed(column, ColumnKind::Text, |raw| Ok(text(raw)?.to_owned()))
    }
}
