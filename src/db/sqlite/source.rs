//! SQLite source, read with rusqlite. A column's Arrow type comes from its declared type; each
//! value is converted from whatever storage class it actually has (SQLite lets the two disagree),
//! exactly or with an error naming the row and column, never by guessing from the first row.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray,
    Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use async_trait::async_trait;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use rusqlite::types::Value;

use chrono::NaiveDateTime;
use datafusion::logical_expr::Operator;
use datafusion::sql::unparser::dialect::{Dialect as UnparserDialect, SqliteDialect};

use super::connect::sqlite_open;
use crate::connection::Endpoint;
use crate::db::{
    key_ranges, select_sql, time_text, Pushdown, ReadRequest, SizeEstimate, SourceDatabase, COMPARES_OTHERWISE, PG_TYPE,
};
use crate::decimal::parse_decimal;
use crate::error::{FerryError, Result};

const BATCH_ROWS: usize = 16 * 1024;

#[derive(Debug)]
pub struct SqliteSource {
    endpoint: Endpoint,
}

impl SqliteSource {
    pub fn new(endpoint: Endpoint) -> Self {
        SqliteSource { endpoint }
    }

    fn open(&self) -> Result<rusqlite::Connection> {
        sqlite_open(&self.endpoint, true)
    }

    /// The name the table's rowid answers to, its lowest and its highest value; None for a
    /// view, a table WITHOUT ROWID or an empty one.
    fn rowid_span(&self, table: &str) -> Result<Option<(&'static str, i64, i64)>> {
        let connection = self.open()?;
        // A column may be named like the rowid and hide it: one of its other names, then.
        let mut statement = connection.prepare("SELECT name FROM pragma_table_info(?1)").map_err(|e| {
            FerryError::Source { url: self.endpoint.masked(), table: table.to_string(), message: e.to_string() }
        })?;
        let columns: Vec<String> = statement
            .query_map([table], |row| row.get::<_, String>(0))
            .map(|rows| rows.flatten().map(|name| name.to_ascii_lowercase()).collect())
            .unwrap_or_default();
        let Some(rowid) = ["rowid", "_rowid_", "oid"].into_iter().find(|name| !columns.iter().any(|c| c == name))
        else {
            return Ok(None);
        };
        let sql = format!("SELECT min({rowid}), max({rowid}) FROM {}", self.quote(table));
        let bounds: Option<(Option<i64>, Option<i64>)> =
            connection.query_row(&sql, [], |row| Ok((row.get(0)?, row.get(1)?))).ok();
        Ok(match bounds {
            Some((Some(low), Some(high))) => Some((rowid, low, high)),
            _ => None,
        })
    }
}

/// The Arrow type for a declared SQLite column type, by SQLite's own affinity rules, refined
/// for the names that say more (BOOLEAN, DECIMAL(p,s), DATE, DATETIME).
pub fn arrow_type(declared: &str) -> DataType {
    let upper = declared.to_ascii_uppercase();
    let decimal = |upper: &str| -> Option<DataType> {
        let inner = upper.split_once('(')?.1.trim_end_matches(')');
        let (p, s) = inner.split_once(',')?;
        let (p, s): (u8, i8) = (p.trim().parse().ok()?, s.trim().parse().ok()?);
        ((1..=38).contains(&p) && s >= 0 && s as u8 <= p).then_some(DataType::Decimal128(p, s))
    };
    if upper.starts_with("BOOL") {
        DataType::Boolean
    } else if upper.contains("INT") {
        DataType::Int64
    } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
        DataType::Utf8
    } else if upper.contains("BLOB") {
        DataType::Binary
    } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
        DataType::Float64
    } else if upper.starts_with("DECIMAL") || upper.starts_with("NUMERIC") {
        decimal(&upper).unwrap_or(DataType::Utf8)
    } else if upper == "TIME" {
        DataType::Time64(TimeUnit::Microsecond)
    } else if upper == "DATE" {
        DataType::Date32
    } else if upper.starts_with("DATETIME") || upper.starts_with("TIMESTAMP") {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    } else {
        // No declared type, or NUMERIC without precision: text keeps every value as written.
        DataType::Utf8
    }
}

/// Converts one column of SQLite values to the Arrow type.
fn to_array(values: &[Value], data_type: &DataType) -> Result<ArrayRef, (usize, String)> {
    let mismatch = |row: usize, value: &Value| (row, format!("value {value:?} does not fit type {data_type}"));
    macro_rules! column {
        ($array:ty, $convert:expr) => {{
            let mut out = Vec::with_capacity(values.len());
            for (row, value) in values.iter().enumerate() {
                out.push(match value {
                    Value::Null => None,
                    other => Some($convert(other).ok_or_else(|| mismatch(row, other))?),
                });
            }
            Arc::new(<$array>::from(out)) as ArrayRef
        }};
    }
    Ok(match data_type {
        DataType::Boolean => column!(BooleanArray, |v: &Value| match v {
            Value::Integer(i) => Some(*i != 0),
            Value::Text(t) => match t.to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }),
        DataType::Int64 => column!(Int64Array, |v: &Value| match v {
            Value::Integer(i) => Some(*i),
            Value::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Value::Text(t) => t.trim().parse().ok(),
            _ => None,
        }),
        DataType::Float64 => column!(Float64Array, |v: &Value| match v {
            Value::Integer(i) => Some(*i as f64),
            Value::Real(f) => Some(*f),
            Value::Text(t) => t.trim().parse().ok(),
            _ => None,
        }),
        DataType::Utf8 => column!(StringArray, |v: &Value| match v {
            Value::Integer(i) => Some(i.to_string()),
            Value::Real(f) => Some(f.to_string()),
            Value::Text(t) => Some(t.clone()),
            Value::Blob(b) => String::from_utf8(b.clone()).ok(),
            Value::Null => None,
        }),
        DataType::Binary => {
            let out: Vec<Option<Vec<u8>>> = values
                .iter()
                .map(|v| match v {
                    Value::Null => None,
                    Value::Blob(b) => Some(b.clone()),
                    Value::Text(t) => Some(t.as_bytes().to_vec()),
                    Value::Integer(i) => Some(i.to_string().into_bytes()),
                    Value::Real(f) => Some(f.to_string().into_bytes()),
                })
                .collect();
            Arc::new(BinaryArray::from_iter(out))
        }
        DataType::Decimal128(precision, scale) => {
            let mut out = Vec::with_capacity(values.len());
            for (row, value) in values.iter().enumerate() {
                let text = match value {
                    Value::Null => None,
                    Value::Integer(i) => Some(i.to_string()),
                    // Rust prints the shortest text that reads back as the same double.
                    Value::Real(f) => Some(f.to_string()),
                    Value::Text(t) => Some(t.clone()),
                    Value::Blob(_) => return Err(mismatch(row, value)),
                };
                out.push(match text {
                    None => None,
                    Some(text) => Some(parse_decimal(&text, *precision, *scale).map_err(|e| (row, e))?),
                });
            }
            Arc::new(
                Decimal128Array::from(out)
                    .with_precision_and_scale(*precision, *scale)
                    .map_err(|e| (0, e.to_string()))?,
            )
        }
        DataType::Date32 => column!(Date32Array, |v: &Value| match v {
            Value::Text(t) => chrono::NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
                .ok()
                .map(|d| (d - chrono::NaiveDate::default()).num_days() as i32),
            _ => None,
        }),
        DataType::Timestamp(TimeUnit::Microsecond, None) => column!(TimestampMicrosecondArray, |v: &Value| match v {
            Value::Text(t) => parse_timestamp(t.trim()),
            Value::Integer(seconds) => seconds.checked_mul(1_000_000),
            _ => None,
        }),
        DataType::Time64(TimeUnit::Microsecond) => column!(Time64MicrosecondArray, |v: &Value| match v {
            Value::Text(t) => chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M:%S%.f").ok().map(|t| {
                use chrono::Timelike;
                t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64
            }),
            _ => None,
        }),
        other => return Err((0, format!("no SQLite conversion to {other}"))),
    })
}

/// The storage classes a column read as `data_type` may hold without a value being refused.
fn storage_classes(field: &Field) -> &'static str {
    if field.metadata().contains_key(PG_TYPE) {
        return "'integer', 'real'"; // a numeric without precision
    }
    match field.data_type() {
        DataType::Int64 | DataType::Boolean => "'integer'",
        DataType::Float64 | DataType::Decimal128(..) => "'integer', 'real'",
        DataType::Binary => "'blob', 'text'",
        DataType::Utf8 => "'text', 'integer', 'real'",
        DataType::Timestamp(..) => "'text', 'integer'",
        _ => "'text'",
    }
}

/// SQLite lets a column hold values of any storage class whatever its declared type. A column
/// holding values its declared type cannot carry exactly (`'abc'` in an INTEGER column) is read
/// as text instead, so every value survives as SQLite prints it. One scan finds them.
fn text_where_mixed(
    connection: &rusqlite::Connection,
    table: &str,
    fields: Vec<Field>,
) -> rusqlite::Result<Vec<Field>> {
    if fields.is_empty() {
        return Ok(fields);
    }
    let checks: Vec<String> = fields
        .iter()
        .map(|f| {
            let column = format!("\"{}\"", f.name().replace('"', "\"\""));
            format!("coalesce(max(typeof({column}) NOT IN ('null', {})), 0)", storage_classes(f))
        })
        .collect();
    let mixed: Vec<bool> = connection.query_row(&format!("SELECT {} FROM {table}", checks.join(", ")), [], |row| {
        (0..fields.len()).map(|i| row.get::<_, bool>(i)).collect()
    })?;
    Ok(fields
        .into_iter()
        .zip(mixed)
        .map(|(field, mixed)| {
            if mixed {
                tracing::warn!(column = %field.name(), declared = %field.data_type(), "the column holds values of another type; read as text");
                Field::new(field.name(), DataType::Utf8, field.is_nullable())
            } else {
                field
            }
        })
        .collect())
}

fn parse_timestamp(text: &str) -> Option<i64> {
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
        .iter()
        .find_map(|format| {
            chrono::NaiveDateTime::parse_from_str(text, format)
                .ok()
                .or_else(|| chrono::NaiveDate::parse_from_str(text, format).ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        })
        .map(|t| t.and_utc().timestamp_micros())
}

#[async_trait]
impl SourceDatabase for SqliteSource {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn tables(&self) -> Result<Vec<String>> {
        let connection = self.open()?;
        let error = |e: rusqlite::Error| FerryError::Connection { url: self.endpoint.masked(), message: e.to_string() };
        let mut statement = connection
            .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_ferry\\_%' ESCAPE '\\' ORDER BY 1")
            .map_err(error)?;
        let names = statement.query_map([], |row| row.get(0)).map_err(error)?;
        names.collect::<Result<Vec<String>, _>>().map_err(error)
    }

    async fn schema(&self, table: &str) -> Result<SchemaRef> {
        let connection = self.open()?;
        let error = |e: rusqlite::Error| FerryError::Source {
            url: self.endpoint.masked(),
            table: table.to_string(),
            message: e.to_string(),
        };
        let mut statement = connection.prepare(&format!("PRAGMA table_info({})", self.quote(table))).map_err(error)?;
        let fields = statement
            .query_map([], |row| {
                let name: String = row.get(1)?;
                let declared: String = row.get(2)?;
                let not_null: bool = row.get(3)?;
                let data_type = arrow_type(&declared);
                let field = Field::new(name, data_type.clone(), !not_null);
                // NUMERIC / DECIMAL without a precision Arrow holds: text, a numeric in PostgreSQL.
                let upper = declared.to_ascii_uppercase();
                if data_type == DataType::Utf8 && (upper.starts_with("NUMERIC") || upper.starts_with("DECIMAL")) {
                    return Ok(field.with_metadata([(PG_TYPE.to_string(), "numeric".to_string())].into()));
                }
                Ok(field)
            })
            .map_err(error)?
            .collect::<Result<Vec<Field>, _>>()
            .map_err(error)?;
        let fields = text_where_mixed(&connection, &self.quote(table), fields).map_err(error)?;
        // A collation other than BINARY (`COLLATE NOCASE`) anywhere in the table's definition:
        // its text does not compare as ferry's, so none of it is compared in SQLite.
        let definition: Option<String> = connection
            .query_row("SELECT sql FROM sqlite_master WHERE name = ?1", [table], |row| row.get(0))
            .unwrap_or(None);
        let collated = definition.is_some_and(|sql| sql.to_ascii_lowercase().contains("collate"));
        let fields = fields.into_iter().map(|field| match field.data_type() {
            DataType::Utf8 if collated => {
                let mut metadata = field.metadata().clone();
                metadata.insert(COMPARES_OTHERWISE.to_string(), "collation".to_string());
                field.with_metadata(metadata)
            }
            _ => field,
        });
        Ok(Arc::new(Schema::new(fields.collect::<Vec<_>>())))
    }

    fn quote(&self, identifier: &str) -> String {
        format!("\"{}\"", identifier.replace('"', "\"\""))
    }

    /// Ranges of the table's rowid (its INTEGER PRIMARY KEY, where it has one); a view or a
    /// table WITHOUT ROWID is read whole.
    async fn split(&self, table: &str, parts: usize) -> Result<Vec<String>> {
        Ok(match self.rowid_span(table)? {
            Some((rowid, low, high)) => key_ranges(rowid, low, high, parts),
            None => Vec::new(),
        })
    }

    /// The span of the table's rowid (SQLite keeps no row count): as many rows, or fewer.
    async fn estimate(&self, table: &str) -> Result<SizeEstimate> {
        let span = self.rowid_span(table)?.and_then(|(_, low, high)| high.checked_sub(low)?.checked_add(1));
        let rows = span.and_then(|rows| usize::try_from(rows).ok());
        Ok(SizeEstimate { rows, bytes: None })
    }

    fn unparser_dialect(&self) -> Box<dyn UnparserDialect> {
        Box::new(SqliteDialect {})
    }

    /// Text compares and sorts bytewise (the BINARY collation; a table declaring another has
    /// its text marked `COMPARES_OTHERWISE`); `LIKE` folds ASCII case; dates and decimals are text or
    /// floating point, so they stay in DataFusion except as plain columns.
    fn pushdown(&self) -> Option<Pushdown> {
        Some(Pushdown {
            text_equality: true,
            text_order: true,
            like: false,
            nulls_order: true,
            temporal: false,
            decimals: false,
            booleans: false,
        })
    }

    /// SQLite keeps date-times as text or Unix seconds: text is compared on SQLite's own reading
    /// of it, to a few milliseconds (its precision), and let through where SQLite cannot read it;
    /// integers are Unix seconds. Looser than exact; DataFusion applies the exact test after.
    fn compare_time(&self, quoted: &str, op: Operator, at: NaiveDateTime, is_date: bool, _zoned: bool) -> String {
        let text = time_text(at, is_date);
        let seconds = at.and_utc().timestamp();
        let bound = |op: &str, margin: &str, integer: i64| {
            format!(
                "CASE typeof({quoted}) WHEN 'null' THEN 0 WHEN 'integer' THEN {quoted} {op} {integer} \
                 WHEN 'text' THEN coalesce(julianday(trim({quoted})) {op} julianday('{text}') {margin} 0.00000003, 1) ELSE 1 END"
            )
        };
        let lower = bound(">=", "-", seconds);
        let upper = bound("<=", "+", seconds + 1);
        match op {
            Operator::Gt | Operator::GtEq => lower,
            Operator::Lt | Operator::LtEq => upper,
            _ => format!("({lower}) AND ({upper})"),
        }
    }

    fn read(&self, request: ReadRequest) -> SendableRecordBatchStream {
        let sql = select_sql(self, &request);
        let endpoint = self.endpoint.clone();
        let mut builder = RecordBatchReceiverStream::builder(request.schema.clone(), 2);
        let tx = builder.tx();
        builder.spawn_blocking(move || {
            let error =
                |message: String| FerryError::Source { url: endpoint.masked(), table: request.table.clone(), message };
            let connection = sqlite_open(&endpoint, true)?;
            let mut statement = connection.prepare(&sql).map_err(|e| error(e.to_string()))?;
            let schema = request.schema.clone();
            let width = schema.fields().len();
            let mut rows = statement.query([]).map_err(|e| error(e.to_string()))?;
            let mut columns: Vec<Vec<Value>> = vec![Vec::with_capacity(BATCH_ROWS); width];
            let mut count = 0usize;
            let mut done = 0usize;
            loop {
                let row = rows.next().map_err(|e| error(e.to_string()))?;
                if let Some(row) = row {
                    for (index, column) in columns.iter_mut().enumerate() {
                        column.push(row.get::<_, Value>(index).map_err(|e| error(e.to_string()))?);
                    }
                    count += 1;
                }
                if count == BATCH_ROWS || (row.is_none() && count > 0) {
                    let arrays = columns
                        .iter_mut()
                        .zip(schema.fields())
                        .map(|(values, field)| {
                            let array = to_array(values, field.data_type()).map_err(|(row, message)| {
                                error(format!("row {}, column `{}`: {message}", done + row + 1, field.name()))
                            });
                            values.clear();
                            array
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let options = RecordBatchOptions::new().with_row_count(Some(count));
                    let batch = RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
                        .map_err(|e| error(e.to_string()))?;
                    done += count;
                    count = 0;
                    if tx.blocking_send(Ok(batch)).is_err() {
                        return Ok(());
                    }
                }
                if row.is_none() {
                    return Ok(());
                }
            }
        });
        builder.build()
    }
}
