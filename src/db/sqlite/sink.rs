//! SQLite sink: one `BEGIN IMMEDIATE` transaction holding the table creation, replace mode's
//! `DELETE`, every row (one prepared INSERT) and the rejects; `COMMIT` publishes them at once.

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};

use super::connect::sqlite_open;
use super::ddl::create_table;
use super::source::arrow_type as sqlite_arrow_type;
use crate::connection::Endpoint;
use crate::db::insert::{publish, InsertSession};
use crate::db::merge::{check_unique_key, Dialect, STAGING};
use crate::db::state::{SavedState, STATE_TABLE};
use crate::db::target_error;
use crate::db::values::{cell, column_type, write_type, Cell};
use crate::db::{
    feed_blocking, instants_as_utc, match_columns, new_table_columns, LoadSpec, Loaded, PreparedLoad, RowStream, Sink,
    TableDef, TargetColumn, TextRows, WriteMode,
};
use crate::error::{FerryError, Result};

pub struct SqliteSink {
    endpoint: Endpoint,
    check_keys: bool,
}

/// A prepared load: the table as the load will find it.
struct SqliteLoad {
    endpoint: Endpoint,
    check_keys: bool,
    spec: LoadSpec,
    /// The `CREATE TABLE` to run first when the table does not exist.
    create: Option<String>,
    target: SchemaRef,
}

impl SqliteSink {
    /// `check_keys`: foreign keys are checked as the rows arrive (else the copy checks them later).
    pub fn new(endpoint: Endpoint, check_keys: bool) -> Self {
        SqliteSink { endpoint, check_keys }
    }
}

fn quote(identifier: &str) -> String {
    crate::db::merge::quote(Dialect::Sqlite, identifier)
}

/// The column sets of the table's primary key and unique indexes.
fn unique_keys(connection: &rusqlite::Connection, table: &str) -> rusqlite::Result<Vec<Vec<String>>> {
    let mut primary: Vec<(i64, String)> = connection
        .prepare(&format!("PRAGMA table_info({})", quote(table)))?
        .query_map([], |row| Ok((row.get::<_, i64>(5)?, row.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    primary.retain(|(position, _)| *position > 0);
    primary.sort();
    let mut sets = vec![primary.into_iter().map(|(_, name)| name).collect::<Vec<_>>()];
    let indexes: Vec<(String, bool, bool)> = connection
        .prepare(&format!("PRAGMA index_list({})", quote(table)))?
        .query_map([], |row| Ok((row.get(1)?, row.get(2)?, row.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (index, unique, partial) in indexes {
        if unique && !partial {
            let columns: Vec<Option<String>> = connection
                .prepare(&format!("PRAGMA index_info({})", quote(&index)))?
                .query_map([], |row| row.get(2))?
                .collect::<rusqlite::Result<_>>()?;
            sets.push(columns.into_iter().flatten().collect());
        }
    }
    Ok(sets)
}

fn to_sql(cell: Cell<'_>) -> ToSqlOutput<'_> {
    match cell {
        Cell::Null => ToSqlOutput::Borrowed(ValueRef::Null),
        Cell::Int(i) => ToSqlOutput::Owned(Value::Integer(i)),
        Cell::UInt(u) => {
            ToSqlOutput::Owned(i64::try_from(u).map(Value::Integer).unwrap_or_else(|_| Value::Text(u.to_string())))
        }
        Cell::Float(f) => ToSqlOutput::Owned(Value::Real(f)),
        Cell::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
        Cell::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
    }
}

/// Inserts every row of `batch` with the prepared `insert`, binding values where they lie.
/// Inserts the batch's rows; returns how many rows SQLite says it inserted.
fn insert_batch(connection: &rusqlite::Connection, insert: &str, batch: &RecordBatch) -> Result<u64, String> {
    let mut statement = connection.prepare_cached(insert).map_err(|e| e.to_string())?;
    let mut scratch = vec![String::new(); batch.num_columns()];
    let mut inserted = 0;
    for row in 0..batch.num_rows() {
        for (index, (array, scratch)) in batch.columns().iter().zip(scratch.iter_mut()).enumerate() {
            let value = cell(array.as_ref(), row, scratch)
                .map_err(|e| format!("column `{}`: {e}", batch.schema().field(index).name()))?;
            statement.raw_bind_parameter(index + 1, to_sql(value)).map_err(|e| format!("row {}: {e}", row + 1))?;
        }
        inserted += statement.raw_execute().map_err(|e| format!("row {}: {e}", row + 1))? as u64;
    }
    Ok(inserted)
}

fn insert_sql(table: &str, schema: &Schema) -> String {
    let columns: Vec<String> = schema.fields().iter().map(|f| quote(f.name())).collect();
    let marks = vec!["?"; columns.len()].join(", ");
    format!("INSERT INTO {} ({}) VALUES ({marks})", quote(table), columns.join(", "))
}

#[async_trait]
impl Sink for SqliteSink {
    async fn state(&mut self, migration: &str, table: &str) -> Result<Option<SavedState>> {
        if matches!(&self.endpoint, Endpoint::Sqlite(path) if !path.exists()) {
            return Ok(None);
        }
        let connection = sqlite_open(&self.endpoint, true)?;
        let error = |table: &str, e: rusqlite::Error| target_error(&self.endpoint, table, e);
        let present: i64 = connection
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (?1, ?2)",
                [STATE_TABLE, table],
                |row| row.get(0),
            )
            .map_err(|e| error(STATE_TABLE, e))?;
        if present < 2 {
            return Ok(None);
        }
        let has_rows = connection
            .query_row(&format!("SELECT EXISTS (SELECT 1 FROM {})", quote(table)), [], |row| row.get::<_, bool>(0))
            .map_err(|e| error(table, e))?;
        if !has_rows {
            return Ok(None);
        }
        let mut statement = connection
            .prepare(&format!("SELECT cursor_column, watermark FROM {STATE_TABLE} WHERE migration = ?1"))
            .map_err(|e| error(STATE_TABLE, e))?;
        let mut rows = statement
            .query_map([migration], |row| Ok(SavedState { cursor: row.get(0)?, watermark: row.get(1)? }))
            .map_err(|e| error(STATE_TABLE, e))?;
        rows.next().transpose().map_err(|e| error(STATE_TABLE, e))
    }

    async fn prepare(&mut self, spec: &LoadSpec) -> Result<Box<dyn PreparedLoad>> {
        let mut create = None;
        if let Endpoint::Sqlite(path) = &self.endpoint {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| FerryError::Connection {
                    url: self.endpoint.masked(),
                    message: format!("cannot create the folder: {e}"),
                })?;
            }
        }
        let connection = sqlite_open(&self.endpoint, false)?;
        let error = |e: rusqlite::Error| target_error(&self.endpoint, &spec.table, e);
        let mut statement = connection.prepare(&format!("PRAGMA table_info({})", quote(&spec.table))).map_err(error)?;
        let existing = statement
            .query_map([], |row| {
                let declared: String = row.get(2)?;
                Ok(TargetColumn {
                    name: row.get(1)?,
                    data_type: sqlite_arrow_type(&declared),
                    sql_type: declared,
                    not_null: row.get(3)?,
                    has_default: row.get::<_, Option<String>>(4)?.is_some(),
                })
            })
            .map_err(error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(error)?;
        let target = if existing.is_empty() {
            let (columns, target) =
                new_table_columns(spec, "SQLite", |f| column_type(f.data_type(), false), quote, write_type)?;
            create = Some(format!("CREATE TABLE {} ({columns})", quote(&spec.table)));
            target
        } else {
            if spec.mode == WriteMode::Merge {
                check_unique_key(spec, &unique_keys(&connection, &spec.table).map_err(error)?)?;
            }
            // SQLite has no zones; ferry writes instants as UTC date-time text.
            match_columns(spec, &instants_as_utc(spec, existing))?
        };
        let endpoint = self.endpoint.clone();
        let check_keys = self.check_keys;
        Ok(Box::new(SqliteLoad { endpoint, check_keys, spec: spec.clone(), create, target }))
    }
}

#[async_trait]
impl PreparedLoad for SqliteLoad {
    fn schema(&self) -> SchemaRef {
        self.target.clone()
    }

    async fn write_all(self: Box<Self>, rows: RowStream) -> Result<Loaded> {
        let SqliteLoad { endpoint, check_keys, spec, create, target } = *self;
        feed_blocking(rows, move |batches| {
            let connection = sqlite_open(&endpoint, false)?;
            if !check_keys {
                // Per connection, and only outside a transaction.
                connection
                    .execute_batch("PRAGMA foreign_keys = OFF")
                    .map_err(|e| target_error(&endpoint, &spec.table, e))?;
            }
            publish(&mut SqliteSession { connection }, &spec, create.as_deref(), &target, batches, &endpoint)
        })
        .await
    }
}

/// The load's session, for the INSERT engines' shared publish sequence.
struct SqliteSession {
    connection: rusqlite::Connection,
}

impl InsertSession for SqliteSession {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn ddl_commits(&self) -> bool {
        false
    }

    fn create_table_sql(&self, table: &TableDef) -> String {
        create_table(table)
    }

    /// Foreign keys are checked at the commit, on all the rows: a table that references itself
    /// loads in any row order.
    fn begin_sql(&self) -> &'static str {
        "BEGIN IMMEDIATE; PRAGMA defer_foreign_keys = ON"
    }

    fn staging_sql(&self, table: &str, columns: &[String]) -> String {
        let columns: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        format!("CREATE TEMP TABLE {STAGING} AS SELECT {} FROM main.{} WHERE 0", columns.join(", "), quote(table))
    }

    fn drop_staging_sql(&self) -> String {
        format!("DROP TABLE temp.{STAGING}")
    }

    fn quote(&self, identifier: &str) -> String {
        quote(identifier)
    }

    fn quote_table(&self, table: &str) -> String {
        quote(table)
    }

    fn execute(&mut self, sql: &str) -> std::result::Result<(), String> {
        self.connection.execute_batch(sql).map_err(|e| e.to_string())
    }

    fn execute_with(&mut self, sql: &str, values: Vec<Option<String>>) -> std::result::Result<(), String> {
        self.connection.execute(sql, rusqlite::params_from_iter(values)).map(|_| ()).map_err(|e| e.to_string())
    }

    fn text_rows(&mut self, sql: &str) -> std::result::Result<TextRows, String> {
        super::connect::text_rows(&self.connection, sql, Vec::new()).map_err(|e| e.to_string())
    }

    fn insert(&mut self, table: &str, batch: &RecordBatch) -> std::result::Result<u64, String> {
        insert_batch(&self.connection, &insert_sql(table, &batch.schema()), batch)
    }
}
