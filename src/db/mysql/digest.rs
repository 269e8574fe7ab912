//! The reconciliation's figures computed by MySQL / MariaDB itself: the row count and the sum of
//! each row's CRC-32 over its columns' CRC-32s (`CRC32(CONCAT_WS(',', IFNULL(CRC32(c), 'n'), ...))`),
//! which ferry computes over the rows it sends from each value's text as the server prints it.
//!
//! Covered: integers, booleans (`TINYINT(1)`), decimals (printed with the column's scale), text
//! types in the load's utf8mb4, dates, datetimes and timestamps (through `DATE_FORMAT` with six
//! fractional digits, in the session's UTC) and binary types. Anything else (floats, whose text
//! MySQL prints its own way, JSON, times, a column of another charset), or figures that differ,
//! answer "no match", and the caller reads the table back. A row's 32-bit checksum lets one
//! changed row in 2^32 go unseen by the sum; the read-back is there for the rest.

use std::fmt::Write as _;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
    TimestampMicrosecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use mysql::prelude::Queryable;

use super::connect::mysql_connect;
use crate::connection::Endpoint;
use crate::db::merge::{quote, quote_table, Dialect};
use crate::db::{blocking, target_error, TableDigest};
use crate::decimal::format_unscaled;
use crate::error::Result;

/// How ferry prints a column's values, from the Arrow type they are sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Printing {
    Integer,
    Boolean,
    Decimal(i8),
    Text,
    Date,
    Timestamp,
    Bytes,
}

impl Printing {
    fn of(data_type: &DataType) -> Option<Printing> {
        Some(match data_type {
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Printing::Integer,
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Printing::Integer,
            DataType::Boolean => Printing::Boolean,
            DataType::Decimal128(_, scale) if *scale >= 0 => Printing::Decimal(*scale),
            DataType::Utf8 => Printing::Text,
            DataType::Date32 => Printing::Date,
            DataType::Timestamp(TimeUnit::Microsecond, _) => Printing::Timestamp,
            DataType::Binary => Printing::Bytes,
            _ => return None,
        })
    }

    /// The text MySQL hashes for a column of `data_type` (`information_schema.columns`) in
    /// `charset`, or None when it may not print as ferry does.
    fn expression(self, column: &str, data_type: &str, charset: Option<&str>) -> Option<String> {
        let column = quote(Dialect::Mysql, column);
        let integer = ["tinyint", "smallint", "mediumint", "int", "bigint"];
        let text = ["char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"];
        let binary = ["binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"];
        let fits = match self {
            Printing::Integer | Printing::Boolean => integer.contains(&data_type),
            Printing::Decimal(_) => data_type == "decimal",
            Printing::Text => text.contains(&data_type) && charset == Some("utf8mb4"),
            Printing::Date => data_type == "date",
            Printing::Timestamp => {
                return matches!(data_type, "datetime" | "timestamp")
                    .then(|| format!("DATE_FORMAT({column}, '%Y-%m-%d %H:%i:%s.%f')"))
            }
            Printing::Bytes => binary.contains(&data_type),
        };
        fits.then_some(column)
    }
}

/// The digest of a load into a MySQL / MariaDB table.
pub struct MysqlDigest {
    endpoint: Endpoint,
    table: String,
    columns: Option<Vec<(String, Printing)>>,
    rows: u64,
    sum: u64,
}

impl MysqlDigest {
    pub fn new(endpoint: Endpoint, table: String, schema: &arrow::datatypes::Schema) -> MysqlDigest {
        let columns = schema.fields().iter().map(|f| Some((f.name().clone(), Printing::of(f.data_type())?))).collect();
        MysqlDigest { endpoint, table, columns, rows: 0, sum: 0 }
    }
}

#[async_trait]
impl TableDigest for MysqlDigest {
    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let Some(columns) = &self.columns else { return Ok(()) };
        let mut rows = vec![String::new(); batch.num_rows()];
        let mut text = String::new();
        let mut bytes = Vec::new();
        for (position, ((_, printing), array)) in columns.iter().zip(batch.columns()).enumerate() {
            for (row, line) in rows.iter_mut().enumerate() {
                if position > 0 {
                    line.push(',');
                }
                if array.is_null(row) {
                    line.push('n');
                    continue;
                }
                text.clear();
                bytes.clear();
                print(array.as_ref(), *printing, row, &mut text, &mut bytes);
                let hash = if *printing == Printing::Bytes {
                    crc32fast::hash(&bytes)
                } else {
                    crc32fast::hash(text.as_bytes())
                };
                let _ = write!(line, "{hash}");
            }
        }
        self.rows += rows.len() as u64;
        self.sum = rows.iter().fold(self.sum, |sum, line| sum.wrapping_add(crc32fast::hash(line.as_bytes()) as u64));
        Ok(())
    }

    fn fork(&self) -> Box<dyn TableDigest> {
        let (endpoint, table, columns) = (self.endpoint.clone(), self.table.clone(), self.columns.clone());
        Box::new(MysqlDigest { endpoint, table, columns, rows: 0, sum: 0 })
    }

    fn figures(&self) -> (u64, u64) {
        (self.rows, self.sum)
    }

    fn absorb(&mut self, (rows, sum): (u64, u64)) {
        self.rows += rows;
        self.sum = self.sum.wrapping_add(sum);
    }

    async fn matches(self: Box<Self>) -> Result<bool> {
        let Some(columns) = self.columns.clone() else { return Ok(false) };
        let (endpoint, table, rows, sum) = (self.endpoint.clone(), self.table.clone(), self.rows, self.sum);
        blocking(move || {
            let error = |e: mysql::Error| target_error(&endpoint, &table, e);
            let mut connection = mysql_connect(&endpoint)?;
            connection.query_drop("SET SESSION time_zone = '+00:00'").map_err(error)?;
            let stored: Vec<(String, String, Option<String>)> = connection
                .exec(
                    "SELECT column_name, data_type, character_set_name FROM information_schema.columns \
                     WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
                    (&table,),
                )
                .map_err(error)?;
            if stored.len() != columns.len() {
                return Ok(false);
            }
            let mut expressions = Vec::new();
            for (name, printing) in &columns {
                let Some((_, data_type, charset)) = stored.iter().find(|(stored, _, _)| stored == name) else {
                    return Ok(false);
                };
                let Some(text) = printing.expression(name, &data_type.to_ascii_lowercase(), charset.as_deref()) else {
                    return Ok(false);
                };
                expressions.push(format!("IFNULL(CRC32({text}), 'n')"));
            }
            let sql = format!(
                "SELECT COUNT(*), CAST(COALESCE(SUM(CRC32(CONCAT_WS(',', {}))), 0) AS CHAR) FROM {}",
                expressions.join(", "),
                quote_table(Dialect::Mysql, &table)
            );
            let found: Option<(u64, String)> = connection.query_first(sql).map_err(error)?;
            Ok(found.is_some_and(|(count, total)| count == rows && total.parse::<u64>().ok() == Some(sum)))
        })
        .await
    }
}

/// Prints value `row` of `array` as MySQL prints it: text into `text`, binary into `bytes`.
fn print(array: &dyn Array, printing: Printing, row: usize, text: &mut String, bytes: &mut Vec<u8>) {
    macro_rules! number {
        ($type:ty) => {{
            let _ = write!(text, "{}", array.as_primitive::<$type>().value(row));
        }};
    }
    match (printing, array.data_type()) {
        (Printing::Integer, DataType::Int8) => number!(Int8Type),
        (Printing::Integer, DataType::Int16) => number!(Int16Type),
        (Printing::Integer, DataType::Int32) => number!(Int32Type),
        (Printing::Integer, DataType::Int64) => number!(Int64Type),
        (Printing::Integer, DataType::UInt8) => number!(UInt8Type),
        (Printing::Integer, DataType::UInt16) => number!(UInt16Type),
        (Printing::Integer, DataType::UInt32) => number!(UInt32Type),
        (Printing::Integer, _) => number!(UInt64Type),
        (Printing::Boolean, _) => text.push(if array.as_boolean().value(row) { '1' } else { '0' }),
        (Printing::Decimal(scale), _) => {
            text.push_str(&format_unscaled(array.as_primitive::<Decimal128Type>().value(row), scale))
        }
        (Printing::Text, _) => text.push_str(array.as_string::<i32>().value(row)),
        (Printing::Date, _) => {
            let days = array.as_primitive::<Date32Type>().value(row);
            if let Some(date) = chrono::DateTime::from_timestamp(days as i64 * 86_400, 0) {
                let _ = write!(text, "{}", date.format("%Y-%m-%d"));
            }
        }
        (Printing::Timestamp, _) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            if let Some(instant) = chrono::DateTime::from_timestamp_micros(micros) {
                let _ = write!(text, "{}", instant.format("%Y-%m-%d %H:%M:%S%.6f"));
            }
        }
        (Printing::Bytes, _) => bytes.extend_from_slice(array.as_binary::<i32>().value(row)),
    }
}
