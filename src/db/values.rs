//! Arrow values as SQL parameters, for sinks that bind values row by row (SQLite, MySQL).
//! Decimals travel as exact text; temporal values as ISO text the databases parse.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};

use std::fmt::Write;

use crate::decimal::format_unscaled;

/// One value, in the form both row-binding drivers accept, borrowed from its array (or from the
/// scratch text it was formatted into): SQLite binds it as it lies, MySQL's driver copies it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// The value at `row` of `array`; values bound as text (decimals, dates, times) are formatted
/// into `scratch`, which the caller keeps per column and reuses row after row.
pub fn cell<'a>(array: &'a dyn Array, row: usize, scratch: &'a mut String) -> Result<Cell<'a>, String> {
    if array.is_null(row) {
        return Ok(Cell::Null);
    }
    Ok(match array.data_type() {
        DataType::Boolean => Cell::Int(array.as_boolean().value(row) as i64),
        DataType::Int8 => Cell::Int(array.as_primitive::<Int8Type>().value(row) as i64),
        DataType::Int16 => Cell::Int(array.as_primitive::<Int16Type>().value(row) as i64),
        DataType::Int32 => Cell::Int(array.as_primitive::<Int32Type>().value(row) as i64),
        DataType::Int64 => Cell::Int(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Cell::UInt(array.as_primitive::<UInt8Type>().value(row) as u64),
        DataType::UInt16 => Cell::UInt(array.as_primitive::<UInt16Type>().value(row) as u64),
        DataType::UInt32 => Cell::UInt(array.as_primitive::<UInt32Type>().value(row) as u64),
        DataType::UInt64 => Cell::UInt(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float32 => Cell::Float(array.as_primitive::<Float32Type>().value(row) as f64),
        DataType::Float64 => Cell::Float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(_, scale) => formatted(
            scratch,
            format_unscaled(array.as_primitive::<arrow::datatypes::Decimal128Type>().value(row), *scale),
        ),
        DataType::Decimal256(_, scale) => formatted(
            scratch,
            format_unscaled(array.as_primitive::<arrow::datatypes::Decimal256Type>().value(row), *scale),
        ),
        DataType::Utf8 => Cell::Text(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Cell::Text(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Cell::Text(array.as_string_view().value(row)),
        DataType::Binary => Cell::Bytes(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => Cell::Bytes(array.as_binary::<i64>().value(row)),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            let date = chrono::NaiveDate::default() + chrono::Duration::days(days as i64);
            formatted(scratch, IsoDate(date))
        }
        DataType::Timestamp(unit, _) => {
            let value = array.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
            let micros = match unit {
                TimeUnit::Microsecond => value.value(row),
                _ => return Err(format!("timestamps in {unit:?} must be cast to microseconds first")),
            };
            let time = chrono::DateTime::from_timestamp_micros(micros).ok_or("timestamp out of range")?;
            formatted(scratch, IsoDateTime(time.naive_utc()))
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let micros = array.as_primitive::<arrow::datatypes::Time64MicrosecondType>().value(row);
            let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(
                (micros / 1_000_000) as u32,
                ((micros % 1_000_000) * 1000) as u32,
            )
            .ok_or("time out of range")?;
            formatted(scratch, IsoTime(time))
        }
        other => return Err(format!("ferry cannot write Arrow type {other} to this target; cast it in the query")),
    })
}

/// `%Y-%m-%d`, written directly for years 0-9999 (chrono's strftime parses its pattern on every
/// value, which showed as a sixth of a SQLite load's time); chrono's own form for other years.
struct IsoDate(chrono::NaiveDate);

impl std::fmt::Display for IsoDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::Datelike;
        match self.0.year() {
            year @ 0..=9999 => write!(f, "{year:04}-{:02}-{:02}", self.0.month(), self.0.day()),
            _ => write!(f, "{}", self.0.format("%Y-%m-%d")),
        }
    }
}

/// `%H:%M:%S%.6f`, as [`IsoDate`].
struct IsoTime(chrono::NaiveTime);

impl std::fmt::Display for IsoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::Timelike;
        let micros = self.0.nanosecond() / 1000;
        write!(f, "{:02}:{:02}:{:02}.{micros:06}", self.0.hour(), self.0.minute(), self.0.second())
    }
}

/// `%Y-%m-%d %H:%M:%S%.6f`, as [`IsoDate`].
struct IsoDateTime(chrono::NaiveDateTime);

impl std::fmt::Display for IsoDateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", IsoDate(self.0.date()), IsoTime(self.0.time()))
    }
}

/// `value` written into `scratch` (emptied first), as a text cell.
fn formatted(scratch: &mut String, value: impl std::fmt::Display) -> Cell<'_> {
    scratch.clear();
    // Writing into a String cannot fail.
    let _ = write!(scratch, "{value}");
    Cell::Text(scratch)
}

/// The SQL type a new column gets for an Arrow type, in the dialects that bind row by row.
pub fn column_type(data_type: &DataType, mysql: bool) -> Option<String> {
    Some(match data_type {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 | DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => if mysql { "INT" } else { "INTEGER" }.into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 if mysql => "INT UNSIGNED".into(),
        DataType::UInt64 if mysql => "BIGINT UNSIGNED".into(),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => "INTEGER".into(),
        DataType::UInt64 => "DECIMAL(20, 0)".into(),
        DataType::Float32 => if mysql { "FLOAT" } else { "REAL" }.into(),
        DataType::Float64 => if mysql { "DOUBLE" } else { "REAL" }.into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => if mysql { "LONGTEXT" } else { "TEXT" }.into(),
        DataType::Binary | DataType::LargeBinary => if mysql { "LONGBLOB" } else { "BLOB" }.into(),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(_, _) => if mysql { "DATETIME(6)" } else { "TIMESTAMP" }.into(),
        DataType::Time64(_) => if mysql { "TIME(6)" } else { "TIME" }.into(),
        _ => return None,
    })
}

/// The Arrow type values are cast to before binding, for a column created from `data_type`.
pub fn write_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Timestamp(_, zone) => DataType::Timestamp(TimeUnit::Microsecond, zone.clone()),
        DataType::Time32(_) | DataType::Time64(_) => DataType::Time64(TimeUnit::Microsecond),
        DataType::Date64 => DataType::Date32,
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Decimal128Array, TimestampMicrosecondArray};

    #[test]
    fn decimals_and_timestamps_are_exact_text() {
        let decimals = Decimal128Array::from(vec![Some(10050), None]).with_precision_and_scale(10, 2).unwrap();
        let mut scratch = String::new();
        assert_eq!(cell(&decimals, 0, &mut scratch), Ok(Cell::Text("100.50")));
        assert_eq!(cell(&decimals, 1, &mut scratch), Ok(Cell::Null));
        let times = TimestampMicrosecondArray::from(vec![1_698_832_800_000_001]);
        assert_eq!(cell(&times, 0, &mut scratch), Ok(Cell::Text("2023-11-01 10:00:00.000001")));
    }

    #[test]
    fn dates_and_times_print_as_chrono_prints_them() {
        let mut scratch = String::new();
        let micros = [
            i64::MIN / 2,
            -62_167_219_200_000_001,
            -1,
            0,
            1,
            1_698_832_800_123_456,
            253_402_300_800_000_000,
            i64::MAX / 2,
        ];
        for micros in micros {
            let time = chrono::DateTime::from_timestamp_micros(micros).unwrap().naive_utc();
            let array = TimestampMicrosecondArray::from(vec![micros]);
            let expected = time.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
            assert_eq!(cell(&array, 0, &mut scratch), Ok(Cell::Text(expected.as_str())), "{micros}");
            let days = time.date().signed_duration_since(chrono::NaiveDate::default()).num_days() as i32;
            let of_day = time.time().signed_duration_since(chrono::NaiveTime::MIN).num_microseconds().unwrap();
            let expected = time.time().format("%H:%M:%S%.6f").to_string();
            let array = arrow::array::Time64MicrosecondArray::from(vec![of_day]);
            assert_eq!(cell(&array, 0, &mut scratch), Ok(Cell::Text(expected.as_str())));
            let expected = time.date().format("%Y-%m-%d").to_string();
            assert_eq!(
                cell(&arrow::array::Date32Array::from(vec![days]), 0, &mut scratch),
                Ok(Cell::Text(expected.as_str()))
            );
        }
    }
}
