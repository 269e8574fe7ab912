//! Arrow values as SQL parameters, for sinks that bind values row by row (SQLite, MySQL).
//! Decimals travel as exact text; temporal values as ISO text the databases parse.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};

use crate::decimal::format_unscaled;

/// One value, in the form both row-binding drivers accept.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// The value at `row` of `array`.
pub fn cell(array: &dyn Array, row: usize) -> Result<Cell, String> {
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
        DataType::Decimal128(_, scale) => {
            Cell::Text(format_unscaled(array.as_primitive::<arrow::datatypes::Decimal128Type>().value(row), *scale))
        }
        DataType::Decimal256(_, scale) => {
            Cell::Text(format_unscaled(array.as_primitive::<arrow::datatypes::Decimal256Type>().value(row), *scale))
        }
        DataType::Utf8 => Cell::Text(array.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Cell::Text(array.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Cell::Text(array.as_string_view().value(row).to_string()),
        DataType::Binary => Cell::Bytes(array.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Cell::Bytes(array.as_binary::<i64>().value(row).to_vec()),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            let date = chrono::NaiveDate::default() + chrono::Duration::days(days as i64);
            Cell::Text(date.format("%Y-%m-%d").to_string())
        }
        DataType::Timestamp(unit, _) => {
            let value = array.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
            let micros = match unit {
                TimeUnit::Microsecond => value.value(row),
                _ => return Err(format!("timestamps in {unit:?} must be cast to microseconds first")),
            };
            let time = chrono::DateTime::from_timestamp_micros(micros).ok_or("timestamp out of range")?;
            Cell::Text(time.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let micros = array.as_primitive::<arrow::datatypes::Time64MicrosecondType>().value(row);
            let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(
                (micros / 1_000_000) as u32,
                ((micros % 1_000_000) * 1000) as u32,
            )
            .ok_or("time out of range")?;
            Cell::Text(time.format("%H:%M:%S%.6f").to_string())
        }
        other => return Err(format!("ferry cannot write Arrow type {other} to this target; cast it in the query")),
    })
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
        assert_eq!(cell(&decimals, 0), Ok(Cell::Text("100.50".into())));
        assert_eq!(cell(&decimals, 1), Ok(Cell::Null));
        let times = TimestampMicrosecondArray::from(vec![1_698_832_800_000_001]);
        assert_eq!(cell(&times, 0), Ok(Cell::Text("2023-11-01 10:00:00.000001".into())));
    }
}
