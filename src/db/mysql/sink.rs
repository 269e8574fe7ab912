//! MySQL / MariaDB sink: multi-row prepared INSERTs in one InnoDB transaction, with replace
//! mode's `DELETE` and the rejects in the same transaction. The session runs in strict SQL mode
//! (a value that does not fit is an error, never a silent cut) and in UTC.
//!
//! MySQL commits DDL implicitly, so a table ferry creates is created before the transaction and
//! dropped again if the load fails.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use mysql::prelude::Queryable;

use super::connect::{mysql_connect, mysql_text_rows};
use super::ddl::create_table;
use super::digest::MysqlDigest;
use super::source::mysql_arrow_type;
use super::swap;
use crate::connection::Endpoint;
use crate::db::insert::{publish, InsertSession};
use crate::db::merge::{check_unique_key, Dialect, STAGING};
use crate::db::state::{SavedState, STATE_TABLE};
use crate::db::target_error;
use crate::db::values::{cell, column_type, write_type, Cell};
use crate::db::{
    feed_blocking, instants_as_utc, match_columns, new_table_columns, LoadSpec, Loaded, PreparedLoad, Publish,
    RowStream, Sink, TableDef, TableDigest, TargetColumn, TextRows, WriteMode,
};
use crate::error::{FerryError, Result};

/// Placeholders per INSERT statement stay well under MySQL's limit of 65,535.
const MAX_PLACEHOLDERS: usize = 30_000;

pub struct MysqlSink {
    endpoint: Endpoint,
}

/// A prepared load: the table as the load will find it.
struct MysqlLoad {
    endpoint: Endpoint,
    spec: LoadSpec,
    /// The columns of the `CREATE TABLE` to run first when the table does not exist.
    create: Option<String>,
    target: SchemaRef,
}

fn create_sql(table: &str, columns: &str) -> String {
    format!("CREATE TABLE {} ({columns}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4", quote_table(table))
}

impl MysqlSink {
    pub fn new(endpoint: Endpoint) -> Self {
        MysqlSink { endpoint }
    }
}

fn quote(identifier: &str) -> String {
    crate::db::merge::quote(Dialect::Mysql, identifier)
}

fn quote_table(table: &str) -> String {
    crate::db::merge::quote_table(Dialect::Mysql, table)
}

fn to_value(cell: Cell) -> mysql::Value {
    match cell {
        Cell::Null => mysql::Value::NULL,
        Cell::Int(i) => mysql::Value::Int(i),
        Cell::UInt(u) => mysql::Value::UInt(u),
        Cell::Float(f) => mysql::Value::Double(f),
        Cell::Text(t) => mysql::Value::Bytes(t.as_bytes().to_vec()),
        Cell::Bytes(b) => mysql::Value::Bytes(b.to_vec()),
    }
}

/// Inserts `batch` in multi-row statements of at most [`MAX_PLACEHOLDERS`] values.
/// Inserts the batch's rows; returns how many rows the server says it inserted.
fn insert_batch(connection: &mut mysql::Conn, table: &str, batch: &RecordBatch) -> Result<u64, String> {
    let schema = batch.schema();
    let columns: Vec<String> = schema.fields().iter().map(|f| quote(f.name())).collect();
    let width = columns.len().max(1);
    let per_statement = (MAX_PLACEHOLDERS / width).max(1);
    let row_marks = format!("({})", vec!["?"; width].join(", "));
    let (mut start, mut inserted) = (0, 0);
    while start < batch.num_rows() {
        let count = per_statement.min(batch.num_rows() - start);
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            quote_table(table),
            columns.join(", "),
            vec![row_marks.as_str(); count].join(", ")
        );
        let mut values = Vec::with_capacity(count * width);
        let mut scratch = String::new();
        for row in start..start + count {
            for (index, array) in batch.columns().iter().enumerate() {
                let value = cell(array.as_ref(), row, &mut scratch)
                    .map_err(|e| format!("column `{}`: {e}", schema.field(index).name()))?;
                values.push(to_value(value));
            }
        }
        connection
            .exec_drop(sql, mysql::Params::Positional(values))
            .map_err(|e| format!("rows {}..{}: {e}", start + 1, start + count))?;
        inserted += connection.affected_rows();
        start += count;
    }
    Ok(inserted)
}

fn session(connection: &mut mysql::Conn) -> Result<(), mysql::Error> {
    connection.query_drop(
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'",
    )
}

/// The column sets of the table's unique indexes (the primary key included).
fn unique_keys(connection: &mut mysql::Conn, table: &str) -> Result<Vec<Vec<String>>, mysql::Error> {
    let rows: Vec<String> = connection.exec(
        "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR '\\n') FROM information_schema.statistics \
         WHERE table_schema = DATABASE() AND table_name = ? AND non_unique = 0 GROUP BY index_name",
        (table,),
    )?;
    Ok(rows.iter().map(|columns| columns.split('\n').map(str::to_string).collect()).collect())
}

#[async_trait]
impl Sink for MysqlSink {
    async fn state(&mut self, migration: &str, table: &str) -> Result<Option<SavedState>> {
        let endpoint = self.endpoint.clone();
        let (migration, table) = (migration.to_string(), table.to_string());
        tokio::task::spawn_blocking(move || -> Result<Option<SavedState>> {
            let error = |table: &str, e: mysql::Error| target_error(&endpoint, table, e);
            let mut connection = mysql_connect(&endpoint)?;
            let present: Vec<String> = connection
                .exec(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (?, ?)",
                    (STATE_TABLE, &table),
                )
                .map_err(|e| error(STATE_TABLE, e))?;
            if present.len() < 2 {
                return Ok(None);
            }
            let has_rows: Option<u8> = connection
                .query_first(format!("SELECT 1 FROM {} LIMIT 1", quote_table(&table)))
                .map_err(|e| error(&table, e))?;
            if has_rows.is_none() {
                return Ok(None);
            }
            let saved: Option<(String, Option<String>)> = connection
                .exec_first(format!("SELECT cursor_column, watermark FROM {STATE_TABLE} WHERE migration = ?"), (migration,))
                .map_err(|e| error(STATE_TABLE, e))?;
            Ok(saved.map(|(cursor, watermark)| SavedState { cursor, watermark }))
        })
        .await
        .map_err(FerryError::internal)?
    }

    async fn prepare(&mut self, spec: &LoadSpec) -> Result<Box<dyn PreparedLoad>> {
        let mut create = None;
        let endpoint = self.endpoint.clone();
        let table = spec.table.clone();
        let merge = spec.mode == WriteMode::Merge;
        let (existing, unique) = tokio::task::spawn_blocking(move || -> Result<(Vec<TargetColumn>, Vec<Vec<String>>)> {
            let mut connection = mysql_connect(&endpoint)?;
            let rows: Vec<(String, String, String, String, Option<String>, Option<u64>, Option<u64>)> = connection
                .exec(
                    "SELECT column_name, data_type, column_type, is_nullable, \
                     COALESCE(column_default, NULLIF(generation_expression, '')), numeric_precision, numeric_scale \
                     FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
                    (table.clone(),),
                )
                .map_err(|e| target_error(&endpoint, &table, e))?;
            let unique = if merge && !rows.is_empty() {
                unique_keys(&mut connection, &table).map_err(|e| target_error(&endpoint, &table, e))?
            } else {
                Vec::new()
            };
            let columns = rows
                .into_iter()
                .map(|(name, data_type, column_type, nullable, default, precision, scale)| TargetColumn {
                    name,
                    data_type: mysql_arrow_type(&data_type, &column_type, precision, scale),
                    sql_type: column_type,
                    not_null: nullable == "NO",
                    has_default: default.is_some(),
                })
                .collect();
            Ok((columns, unique))
        })
        .await
        .map_err(FerryError::internal)??;
        let target = if existing.is_empty() {
            let sql_type = |field: &arrow::datatypes::Field| {
                // A key column cannot be a TEXT type in MySQL.
                column_type(field.data_type(), true).map(|t| {
                    if spec.key.contains(field.name()) && t == "LONGTEXT" {
                        "VARCHAR(255)".to_string()
                    } else {
                        t
                    }
                })
            };
            let (columns, target) = new_table_columns(spec, "MySQL", sql_type, quote, write_type)?;
            create = Some(columns);
            target
        } else {
            // The session's zone is UTC: a TIMESTAMP column takes instants as exactly as the
            // naive date-times it is usually given, a DATETIME takes them as UTC date-times.
            let existing = instants_as_utc(spec, existing);
            if merge {
                check_unique_key(spec, &unique)?;
            }
            match_columns(spec, &existing)?
        };
        let endpoint = self.endpoint.clone();
        Ok(Box::new(MysqlLoad { endpoint, spec: spec.clone(), create, target }))
    }
}

#[async_trait]
impl PreparedLoad for MysqlLoad {
    fn schema(&self) -> SchemaRef {
        self.target.clone()
    }

    fn digest(&self) -> Option<Box<dyn TableDigest>> {
        Some(Box::new(MysqlDigest::new(self.endpoint.clone(), self.spec.table.clone(), &self.target)))
    }

    /// A new table, and a replace, go into a shadow table renamed into place at the end (see
    /// `swap`); the rest into the table itself.
    async fn write_all(self: Box<Self>, rows: RowStream) -> Result<Loaded> {
        let MysqlLoad { endpoint, spec, create, target } = *self;
        feed_blocking(rows, move |batches| {
            let table = spec.table.clone();
            let error = |e: mysql::Error| target_error(&endpoint, &table, e);
            let mut connection = mysql_connect(&endpoint)?;
            session(&mut connection).map_err(error)?;
            let replace = spec.mode == WriteMode::Replace;
            if create.is_some() || replace {
                swap::clear(&mut connection, &table).map_err(error)?;
            }
            let (mut method, mut note) = (None, None);
            let shadowed = if create.is_some() {
                true
            } else if replace && spec.publish != Publish::InPlace {
                match swap::blocker(&mut connection, &table).map_err(error)? {
                    None => {
                        swap::shadow_like(&mut connection, &table).map_err(error)?;
                        method = Some("swap");
                        true
                    }
                    Some(why) if spec.publish == Publish::Swap => {
                        return Err(target_error(
                            &endpoint,
                            &table,
                            format!("`publish = \"swap\"`, but the table cannot be swapped: {why}; use `publish = \"in_place\"`, or change the table"),
                        ));
                    }
                    Some(why) => {
                        (method, note) = (Some("in place"), Some(why));
                        false
                    }
                }
            } else {
                method = replace.then_some("in place");
                false
            };
            let mut into = spec.clone();
            if shadowed {
                into.table = swap::shadow_name(&table);
            }
            let create = create.map(|columns| create_sql(&into.table, &columns));
            let published =
                publish(&mut MysqlSession { connection: &mut connection }, &into, create.as_deref(), &target, batches, &endpoint)
                    .and_then(|loaded| match shadowed {
                        true => swap::swap(&mut connection, &table, create.is_none()).map(|()| loaded).map_err(error),
                        false => Ok(loaded),
                    });
            match published {
                Ok(loaded) => Ok(Loaded { method, note, ..loaded }),
                Err(failure) => {
                    if shadowed {
                        let _ = swap::clear(&mut connection, &table);
                    }
                    Err(named_as_the_table(failure, &into.table, &table))
                }
            }
        })
        .await
    }
}

/// An error about the shadow names the table the user knows.
fn named_as_the_table(error: FerryError, shadow: &str, table: &str) -> FerryError {
    match error {
        FerryError::Target { url, table: named, message } if named == shadow => {
            FerryError::Target { url, table: table.to_string(), message: message.replace(shadow, table) }
        }
        other => other,
    }
}

/// The load's session, for the INSERT engines' shared publish sequence.
struct MysqlSession<'a> {
    connection: &'a mut mysql::Conn,
}

impl InsertSession for MysqlSession<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn ddl_commits(&self) -> bool {
        true
    }

    fn create_table_sql(&self, table: &TableDef) -> String {
        create_table(table)
    }

    fn begin_sql(&self) -> &'static str {
        "START TRANSACTION"
    }

    /// A temporary table neither commits the transaction nor carries the keys.
    fn staging_sql(&self, table: &str, columns: &[String]) -> String {
        let columns: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        format!(
            "DROP TEMPORARY TABLE IF EXISTS {STAGING}; CREATE TEMPORARY TABLE {STAGING} AS SELECT {} FROM {} WHERE 1 = 0",
            columns.join(", "),
            quote_table(table)
        )
    }

    fn drop_staging_sql(&self) -> String {
        format!("DROP TEMPORARY TABLE {STAGING}")
    }

    fn quote(&self, identifier: &str) -> String {
        quote(identifier)
    }

    fn quote_table(&self, table: &str) -> String {
        quote_table(table)
    }

    fn execute(&mut self, sql: &str) -> std::result::Result<(), String> {
        super::connect::run_script(self.connection, sql).map_err(|e| e.to_string())
    }

    fn execute_with(&mut self, sql: &str, values: Vec<Option<String>>) -> std::result::Result<(), String> {
        let params: Vec<mysql::Value> = values.into_iter().map(mysql::Value::from).collect();
        self.connection.exec_drop(sql, params).map_err(|e| e.to_string())
    }

    fn text_rows(&mut self, sql: &str) -> std::result::Result<TextRows, String> {
        mysql_text_rows(self.connection, sql, Vec::new()).map_err(|e| e.to_string())
    }

    fn insert(&mut self, table: &str, batch: &RecordBatch) -> std::result::Result<u64, String> {
        insert_batch(self.connection, table, batch)
    }
}
