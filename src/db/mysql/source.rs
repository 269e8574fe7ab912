//! MySQL / MariaDB source, read through connectorx's binary protocol into Arrow.
//!
//! connectorx runs on a blocking thread and hands batches over a bounded channel, so a slow
//! consumer holds the reader back. It reports a failure mid-stream by panicking; that panic is
//! caught here and becomes an error naming the table.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Decimal128Array, Decimal256Array, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use connectorx::prelude::{new_record_batch_iter, CXQuery, SourceConn};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use mysql::prelude::Queryable;

use chrono::NaiveDateTime;
use datafusion::logical_expr::Operator;
use datafusion::sql::unparser::dialect::{Dialect as UnparserDialect, MySqlDialect};

use super::connect::{mysql_connect, reader_url};
use crate::connection::Endpoint;
use crate::db::{
    comparison, key_ranges, select_sql, time_text, Pushdown, ReadRequest, SizeEstimate, SourceDatabase, PG_TYPE,
    TEXT_FORM,
};
use crate::decimal::parse_unscaled;
use crate::error::{FerryError, Result};

const BATCH_ROWS: usize = 16 * 1024;

#[derive(Debug)]
pub struct MysqlSource {
    endpoint: Endpoint,
}

impl MysqlSource {
    pub fn new(endpoint: Endpoint) -> Self {
        MysqlSource { endpoint }
    }
}

/// The Arrow type of a MySQL column, from `information_schema.columns` (read and written as).
pub fn mysql_arrow_type(data_type: &str, column_type: &str, precision: Option<u64>, scale: Option<u64>) -> DataType {
    let unsigned = column_type.contains("unsigned");
    match (data_type, unsigned) {
        ("tinyint", _) if column_type.starts_with("tinyint(1)") => DataType::Boolean,
        ("tinyint", false) => DataType::Int8,
        ("tinyint", true) => DataType::UInt8,
        ("smallint", false) | ("year", _) => DataType::Int16,
        ("smallint", true) => DataType::UInt16,
        ("mediumint" | "int", false) => DataType::Int32,
        ("mediumint" | "int", true) => DataType::UInt32,
        ("bigint", false) => DataType::Int64,
        ("bigint", true) => DataType::UInt64,
        ("decimal", _) => match (precision, scale) {
            (Some(p), Some(s)) if p <= 38 => DataType::Decimal128(p as u8, s as i8),
            (Some(p), Some(s)) if p <= 76 => DataType::Decimal256(p as u8, s as i8),
            _ => DataType::Utf8,
        },
        ("bit", _) if precision.is_some_and(|bits| bits < 64) => DataType::Int64,
        ("bit", _) => DataType::UInt64,
        ("float", _) => DataType::Float32,
        ("double", _) => DataType::Float64,
        ("date", _) => DataType::Date32,
        ("datetime" | "timestamp", _) => DataType::Timestamp(TimeUnit::Microsecond, None),
        ("time", _) => DataType::Time64(TimeUnit::Microsecond),
        ("binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob", _) => DataType::Binary,
        _ => DataType::Utf8,
    }
}

/// Runs connectorx on `sql` and calls `each` with every batch; a panic becomes an error.
fn with_connectorx(url: &str, sql: &str, each: &mut dyn FnMut(RecordBatch) -> bool) -> Result<(), String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        let connection = SourceConn::try_from(url).map_err(|e| e.to_string())?;
        let queries = [CXQuery::naked(sql)];
        let mut batches =
            new_record_batch_iter(&connection, None, &queries, BATCH_ROWS, None).map_err(|e| e.to_string())?;
        batches.prepare();
        while let Some(batch) = batches.next_batch() {
            if !each(batch) {
                break;
            }
        }
        Ok(())
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the connectorx reader failed".into());
        Err(message)
    })
}

#[async_trait]
impl SourceDatabase for MysqlSource {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn tables(&self) -> Result<Vec<String>> {
        let endpoint = self.endpoint.clone();
        let tables = tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
            let mut connection = mysql_connect(&endpoint)?;
            connection
                .query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name NOT LIKE '\\_ferry\\_%' ORDER BY 1")
                .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })
        })
        .await
        .map_err(FerryError::internal)??;
        Ok(tables)
    }

    async fn schema(&self, table: &str) -> Result<SchemaRef> {
        let endpoint = self.endpoint.clone();
        let name = table.to_string();
        let fields = tokio::task::spawn_blocking(move || -> Result<Vec<Field>> {
            let mut connection = mysql_connect(&endpoint)?;
            type Column = (String, String, String, String, Option<u64>, Option<u64>);
            let columns: Vec<Column> = connection
                .exec(
                    "SELECT column_name, data_type, column_type, is_nullable, numeric_precision, numeric_scale \
                     FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
                    (name.clone(),),
                )
                .map_err(|e| FerryError::Source { url: endpoint.masked(), table: name.clone(), message: e.to_string() })?;
            let json = json_columns(&mut connection, &name);
            Ok(columns
                .into_iter()
                .map(|(column, data_type, column_type, nullable, precision, scale)| {
                    let mut arrow = mysql_arrow_type(&data_type, &column_type, precision, scale);
                    let mut metadata = HashMap::new();
                    // connectorx carries DECIMAL through a 38,10 decimal and TIME as a time of
                    // day, and reads TIMESTAMP in the session's zone; the text forms are exact.
                    if matches!(data_type.as_str(), "decimal" | "bit" | "time" | "timestamp") {
                        metadata.insert(TEXT_FORM.to_string(), data_type.clone());
                    }
                    if data_type == "timestamp" {
                        arrow = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
                    }
                    if data_type == "json" || json.contains(&column) {
                        metadata.insert(PG_TYPE.to_string(), "jsonb".to_string());
                    }
                    Field::new(column, arrow, nullable == "YES").with_metadata(metadata)
                })
                .collect())
        })
        .await
        .map_err(FerryError::internal)??;
        Ok(Arc::new(Schema::new(fields)))
    }

    async fn estimate(&self, table: &str) -> Result<SizeEstimate> {
        let endpoint = self.endpoint.clone();
        let table = table.to_string();
        tokio::task::spawn_blocking(move || -> Result<SizeEstimate> {
            let mut connection = mysql_connect(&endpoint)?;
            let row: Option<(Option<u64>, Option<u64>)> = connection
                .exec_first(
                    "SELECT table_rows, data_length FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
                    (table,),
                )
                .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })?;
            Ok(row
                .map(|(rows, bytes)| SizeEstimate { rows: rows.map(|r| r as usize), bytes: bytes.map(|b| b as usize) })
                .unwrap_or_default())
        })
        .await
        .map_err(FerryError::internal)?
    }

    fn quote(&self, identifier: &str) -> String {
        format!("`{}`", identifier.replace('`', "``"))
    }

    /// Key ranges of a single-column integer primary key. MySQL cannot share one snapshot
    /// between sessions: each part is a consistent read of its own, taken moments apart.
    async fn split(&self, table: &str, parts: usize) -> Result<Vec<String>> {
        let endpoint = self.endpoint.clone();
        let name = table.to_string();
        let quote = |identifier: &str| format!("`{}`", identifier.replace('`', "``"));
        let quoted_table = quote(table);
        let range = tokio::task::spawn_blocking(move || -> Result<Option<(String, i64, i64)>> {
            let error =
                |e: mysql::Error| FerryError::Source { url: endpoint.masked(), table: name.clone(), message: e.to_string() };
            let mut connection = mysql_connect(&endpoint)?;
            let keys: Vec<(String, String)> = connection
                .exec(
                    "SELECT k.column_name, c.data_type FROM information_schema.key_column_usage k \
                     JOIN information_schema.columns c ON c.table_schema = k.table_schema \
                     AND c.table_name = k.table_name AND c.column_name = k.column_name \
                     WHERE k.table_schema = DATABASE() AND k.table_name = ? AND k.constraint_name = 'PRIMARY'",
                    (name.clone(),),
                )
                .map_err(error)?;
            let [(key, data_type)] = keys.as_slice() else { return Ok(None) };
            if !matches!(data_type.as_str(), "tinyint" | "smallint" | "mediumint" | "int" | "bigint") {
                return Ok(None);
            }
            let column = format!("`{}`", key.replace('`', "``"));
            // Unsigned bigints beyond i64 are read whole.
            let bounds: Option<(Option<i64>, Option<i64>)> = connection
                .query_first(format!(
                    "SELECT CAST(MIN({column}) AS SIGNED), CAST(LEAST(MAX({column}), 9223372036854775807) AS SIGNED) FROM {quoted_table}"
                ))
                .map_err(error)?;
            Ok(match bounds {
                Some((Some(low), Some(high))) => Some((column, low, high)),
                _ => None,
            })
        })
        .await
        .map_err(FerryError::internal)??;
        Ok(range.map(|(column, low, high)| key_ranges(&column, low, high, parts)).unwrap_or_default())
    }

    fn text_form(&self, quoted: &str, source_type: &str) -> String {
        match source_type {
            "bit" => format!("CAST({quoted} + 0 AS CHAR)"),
            // Seconds since the epoch, whatever the session's time zone; 0 is the zero timestamp.
            "timestamp" => format!("CAST(UNIX_TIMESTAMP({quoted}) AS CHAR)"),
            _ => format!("CAST({quoted} AS CHAR)"),
        }
    }

    fn zero_date_as_null(&self, quoted: &str) -> Option<String> {
        Some(format!("IF({quoted} = 0, NULL, {quoted})"))
    }

    fn unparser_dialect(&self) -> Box<dyn UnparserDialect> {
        Box::new(MySqlDialect {})
    }

    /// Text compares by collation (case and trailing spaces folded), `LIKE` too, and `ORDER BY`
    /// has no `NULLS FIRST`/`LAST`: text stays in DataFusion except as plain columns.
    fn pushdown(&self) -> Option<Pushdown> {
        Some(Pushdown {
            text_equality: false,
            text_order: false,
            like: false,
            nulls_order: false,
            temporal: true,
            decimals: true,
            booleans: false,
        })
    }

    /// Integers come as MySQL computes them (a `SUM` as a decimal) and are narrowed on reading,
    /// which fails on overflow (`CAST(... AS SIGNED)` would clamp).
    fn cast_to(&self, expression: &str, data_type: &DataType) -> Option<String> {
        match data_type {
            // As text (the driver carries decimals through a 38,10 decimal), read exactly or not
            // at all: a value wider than the column fails (a CAST to DECIMAL would clamp it).
            DataType::Decimal128(..) => Some(format!("CAST({expression} AS CHAR)")),
            _ => None,
        }
    }

    /// A TIMESTAMP, read as an instant, compares through UNIX_TIMESTAMP (exact, whatever the
    /// session's time zone).
    fn compare_time(&self, quoted: &str, op: Operator, at: NaiveDateTime, is_date: bool, zoned: bool) -> String {
        let op = comparison(op).unwrap_or("=");
        if !zoned {
            return format!("{quoted} {op} '{}'", time_text(at, is_date));
        }
        let micros = at.and_utc().timestamp_micros();
        format!("UNIX_TIMESTAMP({quoted}) {op} {}.{:06}", micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000))
    }

    fn read(&self, request: ReadRequest) -> SendableRecordBatchStream {
        let sql = select_sql(self, &request);
        let endpoint = self.endpoint.clone();
        let masked = self.endpoint.masked();
        let mut builder = RecordBatchReceiverStream::builder(request.schema.clone(), 2);
        let tx = builder.tx();
        builder.spawn_blocking(move || {
            let url = reader_url(&endpoint)?;
            let schema = request.schema.clone();
            let mut failure = None;
            let result = with_connectorx(&url, &sql, &mut |batch| {
                let batch = if schema.fields().is_empty() {
                    // A scan that needs no column (COUNT(*)) still needs the row count.
                    let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                    RecordBatch::try_new_with_options(schema.clone(), vec![], &options).map_err(|e| e.to_string())
                } else {
                    conform(&batch, &schema)
                };
                match batch {
                    Ok(batch) => tx.blocking_send(Ok(batch)).is_ok(),
                    Err(e) => {
                        failure = Some(e);
                        false
                    }
                }
            });
            match result.err().or(failure) {
                None => Ok(()),
                Some(message) => Err(FerryError::Source {
                    url: masked,
                    table: request.table,
                    message: crate::connection::mask_text(&message),
                }
                .into()),
            }
        });
        builder.build()
    }
}

/// MariaDB's JSON is LONGTEXT with a `json_valid` check; the checks name those columns. MySQL's
/// catalog has no table name there (and its JSON has a type of its own), hence best effort.
fn json_columns(connection: &mut mysql::Conn, table: &str) -> Vec<String> {
    let clauses: Vec<String> = connection
        .exec(
            "SELECT check_clause FROM information_schema.check_constraints \
             WHERE constraint_schema = DATABASE() AND table_name = ?",
            (table,),
        )
        .unwrap_or_default();
    clauses
        .iter()
        .filter_map(|clause| clause.strip_prefix("json_valid(`")?.strip_suffix("`)"))
        .map(|column| column.replace("``", "`"))
        .collect()
}

/// connectorx's batch in the catalog's types: decimals parsed exactly from their text,
/// TIMESTAMPs from epoch seconds, other columns cast (checked: a value that does not fit is an
/// error naming the column).
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, String> {
    let options = arrow::compute::CastOptions { safe: false, ..Default::default() };
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(array, field)| {
            let column_error = |e: String| format!("column `{}`: {e}", field.name());
            let text = || arrow::compute::cast(array, &DataType::Utf8).map_err(|e| e.to_string());
            match (array.data_type(), field.data_type()) {
                (from, to) if from == to => Ok(array.clone()),
                (DataType::Utf8 | DataType::LargeUtf8, DataType::Decimal128(precision, scale)) => {
                    let values =
                        parse_each(&text()?, |v| parse_unscaled(v, *precision, *scale)).map_err(column_error)?;
                    let decimals = Decimal128Array::from(values).with_precision_and_scale(*precision, *scale);
                    decimals.map(|d| Arc::new(d) as ArrayRef).map_err(|e| e.to_string())
                }
                (DataType::Utf8 | DataType::LargeUtf8, DataType::Decimal256(precision, scale)) => {
                    let values =
                        parse_each(&text()?, |v| parse_unscaled(v, *precision, *scale)).map_err(column_error)?;
                    let decimals = Decimal256Array::from(values).with_precision_and_scale(*precision, *scale);
                    decimals.map(|d| Arc::new(d) as ArrayRef).map_err(|e| e.to_string())
                }
                (DataType::Utf8 | DataType::LargeUtf8, DataType::Timestamp(TimeUnit::Microsecond, Some(zone))) => {
                    let values = parse_each(&text()?, epoch_micros).map_err(column_error)?;
                    Ok(Arc::new(TimestampMicrosecondArray::from(values).with_timezone(zone.clone())) as ArrayRef)
                }
                (_, to) => arrow::compute::cast_with_options(array, to, &options)
                    .map_err(|e| column_error(format!("cannot read as {to}: {e}"))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
}

fn parse_each<T>(text: &ArrayRef, parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<Option<T>>, String> {
    text.as_string::<i32>().iter().map(|value| value.map(&parse).transpose()).collect()
}

/// `UNIX_TIMESTAMP(ts)` text (`1698832800.123456`) as microseconds since the epoch.
fn epoch_micros(text: &str) -> Result<i64, String> {
    let micros: i128 = parse_unscaled(text, 38, 6)?;
    if micros == 0 {
        return Err(
            "the zero TIMESTAMP ('0000-00-00 00:00:00') is not a point in time; filter or cast it in the query".into(),
        );
    }
    i64::try_from(micros).map_err(|_| format!("`{text}` is out of range"))
}
