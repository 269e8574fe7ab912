//! SQLite sink: one `BEGIN IMMEDIATE` transaction holding the table creation, replace mode's
//! `DELETE`, every row (one prepared INSERT) and the rejects; `COMMIT` publishes them at once.

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use rusqlite::types::Value;

use super::values::{cell, column_type, write_type, Cell};
use super::{
    feed_blocking, instants_as_utc, match_columns, new_table_columns, LoadSpec, RowStream, Sink, SinkBatch,
    TargetColumn, REJECTS_TABLE,
};
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
use crate::job::Mode;
use crate::source::{sqlite_arrow_type, sqlite_open};

pub struct SqliteSink {
    endpoint: Endpoint,
    create: Option<String>,
    target: Option<SchemaRef>,
}

impl SqliteSink {
    pub fn new(endpoint: Endpoint) -> Self {
        SqliteSink { endpoint, create: None, target: None }
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

fn to_value(cell: Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Int(i) => Value::Integer(i),
        Cell::UInt(u) => i64::try_from(u).map(Value::Integer).unwrap_or_else(|_| Value::Text(u.to_string())),
        Cell::Float(f) => Value::Real(f),
        Cell::Text(t) => Value::Text(t),
        Cell::Bytes(b) => Value::Blob(b),
    }
}

/// Inserts every row of `batch` with the prepared `insert`.
fn insert_batch(connection: &rusqlite::Connection, insert: &str, batch: &RecordBatch) -> Result<(), String> {
    let mut statement = connection.prepare_cached(insert).map_err(|e| e.to_string())?;
    let mut values = Vec::with_capacity(batch.num_columns());
    for row in 0..batch.num_rows() {
        values.clear();
        for (index, array) in batch.columns().iter().enumerate() {
            let value = cell(array.as_ref(), row)
                .map_err(|e| format!("column `{}`: {e}", batch.schema().field(index).name()))?;
            values.push(to_value(value));
        }
        statement.execute(rusqlite::params_from_iter(values.iter())).map_err(|e| format!("row {}: {e}", row + 1))?;
    }
    Ok(())
}

fn insert_sql(table: &str, schema: &Schema) -> String {
    let columns: Vec<String> = schema.fields().iter().map(|f| quote(f.name())).collect();
    let marks = vec!["?"; columns.len()].join(", ");
    format!("INSERT INTO {} ({}) VALUES ({marks})", quote(table), columns.join(", "))
}

#[async_trait]
impl Sink for SqliteSink {
    async fn prepare(&mut self, spec: &LoadSpec) -> Result<SchemaRef> {
        if let Endpoint::Sqlite(path) = &self.endpoint {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| FerryError::Connection {
                    url: self.endpoint.masked(),
                    message: format!("cannot create the folder: {e}"),
                })?;
            }
        }
        let connection = sqlite_open(&self.endpoint, false)?;
        let error = |e: rusqlite::Error| FerryError::Target {
            url: self.endpoint.masked(),
            table: spec.table.clone(),
            message: e.to_string(),
        };
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
            self.create = Some(format!("CREATE TABLE {} ({columns})", quote(&spec.table)));
            target
        } else {
            // SQLite has no zones; ferry writes instants as UTC date-time text.
            match_columns(spec, &instants_as_utc(spec, existing))?
        };
        self.target = Some(target.clone());
        Ok(target)
    }

    async fn write_all(&mut self, spec: &LoadSpec, rows: RowStream) -> Result<u64> {
        let endpoint = self.endpoint.clone();
        let spec = spec.clone();
        let create = self.create.clone();
        let target = self.target.clone().ok_or_else(|| FerryError::internal("SqliteSink::write_all before prepare"))?;
        feed_blocking(rows, move |batches| {
            let connection = sqlite_open(&endpoint, false)?;
            let error = |table: &str, message: String| FerryError::Target {
                url: endpoint.masked(),
                table: table.to_string(),
                message,
            };
            connection.execute_batch("BEGIN IMMEDIATE").map_err(|e| error(&spec.table, e.to_string()))?;
            let result = (|| -> Result<u64> {
                let table_error = |e: String| error(&spec.table, e);
                let rejects_error = |e: String| error(REJECTS_TABLE, e);
                match &create {
                    Some(create) => connection.execute_batch(create).map_err(|e| table_error(e.to_string()))?,
                    None if spec.mode == Mode::Replace => connection
                        .execute_batch(&format!("DELETE FROM {}", quote(&spec.table)))
                        .map_err(|e| table_error(e.to_string()))?,
                    None => {}
                }
                // The quarantine table is made (and, replacing, cleared of this migration's
                // earlier rejects) before the first reject, or at once in replace mode.
                let mut rejects_ready = false;
                let mut prepare_rejects = || -> Result<()> {
                    if rejects_ready {
                        return Ok(());
                    }
                    connection
                        .execute_batch(&format!(
                            "CREATE TABLE IF NOT EXISTS {REJECTS_TABLE} (run_id TEXT NOT NULL, migration TEXT NOT NULL, \
                             source_key TEXT, reason TEXT NOT NULL, source_row TEXT NOT NULL, \
                             rejected_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
                        ))
                        .map_err(|e| rejects_error(e.to_string()))?;
                    if spec.mode == Mode::Replace {
                        connection
                            .execute(&format!("DELETE FROM {REJECTS_TABLE} WHERE migration = ?"), [&spec.migration])
                            .map_err(|e| rejects_error(e.to_string()))?;
                    }
                    rejects_ready = true;
                    Ok(())
                };
                if spec.mode == Mode::Replace {
                    prepare_rejects()?;
                }
                let insert_rows = insert_sql(&spec.table, &target);
                let insert_rejects = insert_sql(REJECTS_TABLE, &super::rejects_schema());
                let mut loaded = 0u64;
                for batch in batches {
                    match batch? {
                        SinkBatch::Rows(batch) => {
                            insert_batch(&connection, &insert_rows, &batch).map_err(table_error)?;
                            loaded += batch.num_rows() as u64;
                        }
                        SinkBatch::Rejects(batch) => {
                            prepare_rejects()?;
                            insert_batch(&connection, &insert_rejects, &batch).map_err(rejects_error)?;
                        }
                    }
                }
                Ok(loaded)
            })();
            match result {
                Ok(loaded) => {
                    connection.execute_batch("COMMIT").map_err(|e| error(&spec.table, e.to_string()))?;
                    Ok(loaded)
                }
                Err(failure) => {
                    let _ = connection.execute_batch("ROLLBACK");
                    Err(failure)
                }
            }
        })
        .await
    }
}
