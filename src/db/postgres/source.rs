//! PostgreSQL source: the catalog gives each column its exact Arrow type, and rows stream as
//! binary `COPY (SELECT ...) TO STDOUT`, decoded straight into Arrow (see `decode`). Types
//! without a native decoder are read as their text form, so nothing is lost or refused.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use tokio_postgres::Client;

use super::connect::{pg_connect, pg_message};
use super::session::{Cache, Session, Shared};

use chrono::NaiveDateTime;
use datafusion::logical_expr::Operator;
use datafusion::sql::unparser::dialect::{Dialect as UnparserDialect, PostgreSqlDialect};

use super::copy::CopySession;
use super::decode::CopyDecoder;
use crate::connection::Endpoint;
use crate::db::{
    comparison, key_ranges, quote_table, select_sql, time_text, Pushdown, ReadRequest, SizeEstimate, SourceDatabase,
    COMPARES_OTHERWISE, PG_TYPE, TEXT_FORM,
};
use crate::error::{FerryError, Result};

/// Session settings for reads: ISO dates, ISO 8601 intervals (which every PostgreSQL accepts
/// back whatever its IntervalStyle), UTC offsets in text forms.
const TEXT_SETTINGS: &str = "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; SET TimeZone = 'UTC'";

/// Rows per Arrow batch read from PostgreSQL.
const BATCH_ROWS: usize = 16 * 1024;

#[derive(Debug)]
pub struct PostgresSource {
    endpoint: Endpoint,
    /// The snapshot every read shares (every table, every part), exported on the first read by
    /// a transaction that stays open as long as the backend; None with `snapshot=off`.
    snapshot: Option<SharedSnapshot>,
    /// The connection of a single transaction, which reads what it has written.
    shared: Option<Shared>,
    /// The connection catalog questions (tables, columns, sizes, key ranges) go through.
    catalog: Cache,
}

/// The snapshot of one backend's reads.
pub type SharedSnapshot = Arc<tokio::sync::OnceCell<Snapshot>>;

pub struct Snapshot {
    _exporter: Client,
    id: String,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Snapshot({})", self.id)
    }
}

impl PostgresSource {
    /// A source whose reads share `snapshot` (None: each read sees the database as it is then).
    pub fn new(endpoint: Endpoint, snapshot: Option<SharedSnapshot>) -> Self {
        PostgresSource { endpoint, snapshot, shared: None, catalog: Cache::default() }
    }

    /// Reads through the shared connection, when there is one.
    pub(super) fn shared(mut self, shared: Option<Shared>) -> Self {
        self.shared = shared;
        self
    }

    async fn session(&self) -> Result<Session> {
        Session::kept(&self.endpoint, &self.catalog, self.shared.as_ref()).await
    }
}

/// The id of the shared snapshot, exported on first use; a failure is an error, since reads
/// apart could see a table's parts, or related tables, at different moments.
async fn shared_snapshot(endpoint: &Endpoint, cell: &SharedSnapshot) -> std::result::Result<String, String> {
    let snapshot = cell
        .get_or_try_init(|| async {
            let client = pg_connect(endpoint).await.map_err(|e| e.to_string())?;
            let export = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot()";
            let exported = async {
                client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
                client.query_one("SELECT pg_export_snapshot()", &[]).await
            };
            match exported.await {
                Ok(row) => Ok(Snapshot { id: row.get(0), _exporter: client }),
                Err(error) => Err(format!(
                    "the snapshot all reads share could not be exported ({export}: {}); \
                     behind a pooler that does not keep sessions, add `snapshot=off` to the URL to read without one",
                    pg_message(&error)
                )),
            }
        })
        .await?;
    Ok(snapshot.id.clone())
}

/// Whether the URL leaves reads their shared snapshot (anything but `snapshot=off`; a value
/// other than `on` or `off` is refused when a connection is opened).
pub fn snapshot_wanted(endpoint: &Endpoint) -> bool {
    let Ok(url) = url::Url::parse(&endpoint.secret_url()) else { return true };
    !url.query_pairs().any(|(key, value)| key == "snapshot" && value == "off")
}

/// The Arrow type ferry reads a PostgreSQL column as; `None` means "read its text form".
pub fn arrow_type(type_name: &str, modifier: i32) -> Option<DataType> {
    Some(match type_name {
        "boolean" => DataType::Boolean,
        "smallint" => DataType::Int16,
        "integer" => DataType::Int32,
        "bigint" => DataType::Int64,
        "real" => DataType::Float32,
        "double precision" => DataType::Float64,
        "numeric" if modifier >= 4 => {
            let precision = ((modifier - 4) >> 16) & 0xffff;
            // PostgreSQL 15 allows a negative scale (stored in 11 bits); those go as text.
            let scale = (modifier - 4) & 0x7ff;
            match precision {
                1..=38 if scale <= precision => DataType::Decimal128(precision as u8, scale as i8),
                39..=76 if scale <= precision => DataType::Decimal256(precision as u8, scale as i8),
                _ => return None,
            }
        }
        "text" | "character varying" | "character" | "name" | "bpchar" => DataType::Utf8,
        "bytea" => DataType::Binary,
        "date" => DataType::Date32,
        "timestamp without time zone" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "timestamp with time zone" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "time without time zone" => DataType::Time64(TimeUnit::Microsecond),
        _ => return None,
    })
}

#[async_trait]
impl SourceDatabase for PostgresSource {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn tables(&self) -> Result<Vec<String>> {
        let client = self.session().await?;
        let rows = client
            .query(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'm', 'p', 'f') \
                 AND c.relname NOT LIKE '\\_ferry\\_%' ORDER BY 1",
                &[],
            )
            .await
            .map_err(|e| self.source_error("(catalog)", &e))?;
        Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
    }

    async fn schema(&self, table: &str) -> Result<SchemaRef> {
        let client = self.session().await?;
        let rows = client
            .query(
                "SELECT a.attname, format_type(a.atttypid, NULL), a.atttypmod, a.attnotnull, \
                 format_type(a.atttypid, a.atttypmod), t.typnamespace = 'pg_catalog'::regnamespace \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid \
                 WHERE n.nspname = current_schema() AND c.relname = $1 AND a.attnum > 0 \
                 AND NOT a.attisdropped ORDER BY a.attnum",
                &[&table],
            )
            .await
            .map_err(|e| self.source_error(table, &e))?;
        let fields: Vec<Field> = rows
            .iter()
            .map(|row| {
                let name: String = row.get(0);
                let type_name: String = row.get(1);
                let modifier: i32 = row.get(2);
                let not_null: bool = row.get(3);
                let full_type: String = row.get(4);
                let built_in: bool = row.get(5);
                // A user-defined type (enum, domain, composite) may not exist in the target.
                let mut metadata: HashMap<String, String> = HashMap::new();
                if built_in {
                    metadata.insert(PG_TYPE.to_string(), full_type);
                }
                if matches!(type_name.as_str(), "character" | "bpchar") {
                    metadata.insert(COMPARES_OTHERWISE.to_string(), "trailing spaces".to_string());
                }
                let data_type = arrow_type(&type_name, modifier).unwrap_or_else(|| {
                    metadata.insert(TEXT_FORM.to_string(), type_name);
                    DataType::Utf8
                });
                Field::new(name, data_type, !not_null).with_metadata(metadata)
            })
            .collect();
        Ok(Arc::new(Schema::new(fields)))
    }

    async fn estimate(&self, table: &str) -> Result<SizeEstimate> {
        let client = self.session().await?;
        let row = client
            .query_opt(
                "SELECT c.reltuples::bigint, pg_relation_size(c.oid) FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = $1",
                &[&table],
            )
            .await
            .map_err(|e| self.source_error(table, &e))?;
        // reltuples is -1 until the table is first analyzed; the heap size is always known.
        Ok(row
            .map(|row| SizeEstimate {
                rows: usize::try_from(row.get::<_, i64>(0)).ok(),
                bytes: usize::try_from(row.get::<_, i64>(1)).ok().filter(|b| *b > 0),
            })
            .unwrap_or_default())
    }

    fn quote(&self, identifier: &str) -> String {
        format!("\"{}\"", identifier.replace('"', "\"\""))
    }

    fn table_reference(&self, table: &str, own_rows: bool) -> String {
        let quoted = super::ddl::quote_table(table);
        if own_rows {
            format!("ONLY {quoted}")
        } else {
            quoted
        }
    }

    fn text_form(&self, quoted: &str, _source_type: &str) -> String {
        format!("{quoted}::text")
    }

    fn unparser_dialect(&self) -> Box<dyn UnparserDialect> {
        Box::new(PostgreSqlDialect {})
    }

    /// Text sorts by the database's collation, not byte order, so text ordering stays in
    /// DataFusion; equality is bytewise (deterministic collations).
    fn pushdown(&self) -> Option<Pushdown> {
        Some(Pushdown {
            text_equality: true,
            text_order: false,
            like: true,
            nulls_order: true,
            temporal: true,
            decimals: true,
            booleans: true,
        })
    }

    fn cast_to(&self, expression: &str, data_type: &DataType) -> Option<String> {
        let name = match data_type {
            DataType::Int16 => "smallint".to_string(),
            DataType::Int32 => "integer".to_string(),
            DataType::Int64 => "bigint".to_string(),
            DataType::Float32 => "real".to_string(),
            DataType::Float64 => "double precision".to_string(),
            DataType::Decimal128(precision, scale) => format!("numeric({precision}, {scale})"),
            _ => return None,
        };
        Some(format!("CAST({expression} AS {name})"))
    }

    fn compare_time(&self, quoted: &str, op: Operator, at: NaiveDateTime, is_date: bool, zoned: bool) -> String {
        let (op, text) = (comparison(op).unwrap_or("="), time_text(at, is_date));
        let zone = if zoned { "+00" } else { "" };
        format!("{quoted} {op} '{text}{zone}'")
    }

    async fn split(&self, table: &str, parts: usize) -> Result<Vec<String>> {
        let client = self.session().await?;
        // A single-column integer primary key: its index answers min and max at once.
        let key = client
            .query_opt(
                "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] \
                 WHERE n.nspname = current_schema() AND c.relname = $1 AND i.indisprimary AND i.indnatts = 1 \
                 AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)",
                &[&table],
            )
            .await
            .map_err(|e| self.source_error(table, &e))?;
        let Some(key) = key.map(|row| row.get::<_, String>(0)) else { return Ok(Vec::new()) };
        let column = self.quote(&key);
        let range = client
            .query_one(
                &format!("SELECT min({column})::int8, max({column})::int8 FROM {}", quote_table(self, table)),
                &[],
            )
            .await
            .map_err(|e| self.source_error(table, &e))?;
        let (Some(low), Some(high)) = (range.get::<_, Option<i64>>(0), range.get::<_, Option<i64>>(1)) else {
            return Ok(Vec::new());
        };
        Ok(key_ranges(&column, low, high, parts))
    }

    fn read(&self, request: ReadRequest) -> SendableRecordBatchStream {
        let select = select_sql(self, &request);
        let copy = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
        let endpoint = self.endpoint.clone();
        if let Some(shared) = self.shared.clone() {
            return read_shared(shared, copy, endpoint, request);
        }
        let snapshot = self.snapshot.clone();
        let mut builder = RecordBatchReceiverStream::builder(request.schema.clone(), 2);
        let tx = builder.tx();
        builder.spawn(async move {
            // The first read connects while the snapshot is exported, not after.
            let exported = async {
                match &snapshot {
                    Some(cell) => Some(shared_snapshot(&endpoint, cell).await),
                    None => None,
                }
            };
            let (session, exported) = tokio::join!(CopySession::open(&endpoint), exported);
            let mut session = session?;
            let source_error =
                |message: String| FerryError::Source { url: endpoint.masked(), table: request.table.clone(), message };
            // Text forms that do not depend on the server's or the role's settings.
            session.execute(TEXT_SETTINGS).await.map_err(source_error)?;
            if let Some(exported) = exported {
                let id = exported.map_err(source_error)?;
                let join = format!(
                    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{}'",
                    id.replace('\'', "''")
                );
                session.execute(&join).await.map_err(source_error)?;
            }
            session.query(&copy).await.map_err(source_error)?;
            let mut decoder = CopyDecoder::new(request.schema.clone(), BATCH_ROWS);
            let mut decoded = Vec::new();
            loop {
                let more = session
                    .read_some(|data| {
                        decoded.extend(decoder.push(data)?);
                        Ok(())
                    })
                    .await
                    .map_err(source_error)?;
                if !more {
                    decoded.extend(decoder.finish().map_err(source_error)?);
                }
                for batch in decoded.drain(..) {
                    if tx.send(Ok(batch)).await.is_err() {
                        return Ok(()); // the consumer stopped reading
                    }
                }
                if !more {
                    break;
                }
            }
            Ok(())
        });
        builder.build()
    }
}

/// The rows of `copy` through the shared connection of a single transaction, which sees the
/// rows the transaction wrote.
fn read_shared(shared: Shared, copy: String, endpoint: Endpoint, request: ReadRequest) -> SendableRecordBatchStream {
    use futures::StreamExt;
    let mut builder = RecordBatchReceiverStream::builder(request.schema.clone(), 2);
    let tx = builder.tx();
    builder.spawn(async move {
        let client = shared.lock_owned().await;
        let source_error =
            |message: String| FerryError::Source { url: endpoint.masked(), table: request.table.clone(), message };
        let pg = |error: tokio_postgres::Error| source_error(pg_message(&error));
        client.batch_execute(TEXT_SETTINGS).await.map_err(pg)?;
        let stream = client.copy_out(copy.as_str()).await.map_err(pg)?;
        let mut stream = std::pin::pin!(stream);
        let mut decoder = CopyDecoder::new(request.schema.clone(), BATCH_ROWS);
        loop {
            let data = stream.next().await.transpose().map_err(pg)?;
            let decoded = match &data {
                Some(data) => decoder.push(data).map_err(source_error)?,
                None => decoder.finish().map_err(source_error)?.into_iter().collect(),
            };
            for batch in decoded {
                if tx.send(Ok(batch)).await.is_err() {
                    return Ok(()); // the consumer stopped reading
                }
            }
            if data.is_none() {
                return Ok(());
            }
        }
    });
    builder.build()
}

impl PostgresSource {
    fn source_error(&self, table: &str, error: &tokio_postgres::Error) -> FerryError {
        FerryError::Source { url: self.endpoint.masked(), table: table.to_string(), message: pg_message(error) }
    }
}
