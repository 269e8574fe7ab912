//! SQLite: opening the file (`connect`), reads with rusqlite (`source`), loads as prepared
//! INSERTs in one transaction (`sink`), the catalog and DDL (`catalog`, `ddl`), and a
//! lock file beside nothing (in the system's temporary folder).

pub mod catalog;
pub mod connect;
pub mod ddl;
mod sink;
mod source;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use super::{
    blocking, busy, target_error, Backend, Capabilities, Catalog, ColumnDef, FileLock, ForeignKeyDef, IndexDef,
    MigrationLock, RoutineDef, Sink, SourceDatabase, Statement, TableDef, TextRows,
};
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
pub use connect::sqlite_open;
pub use source::{arrow_type, SqliteSource};

#[derive(Debug)]
pub struct SqliteBackend {
    endpoint: Endpoint,
    path: PathBuf,
    /// Loads check the foreign keys as rows arrive (see [`Backend::keys_unchecked`]).
    check_keys: bool,
}

impl SqliteBackend {
    pub fn new(endpoint: Endpoint, path: PathBuf) -> Self {
        SqliteBackend { endpoint, path, check_keys: true }
    }

    fn error(&self, table: &str, error: impl ToString) -> FerryError {
        target_error(&self.endpoint, table, error)
    }
}

/// Opens the file for writing, creating its folder first.
fn open_for_writing(endpoint: &Endpoint, path: &std::path::Path) -> Result<rusqlite::Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| target_error(endpoint, "(file)", e))?;
    }
    sqlite_open(endpoint, false)
}

#[async_trait]
impl Backend for SqliteBackend {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn name(&self) -> &'static str {
        "SQLite"
    }

    /// Its reads cannot share one snapshot (MySQL's cannot be exported; SQLite and Parquet
    /// are read as they are).
    fn one_snapshot(self: Arc<Self>) -> Arc<dyn Backend> {
        self
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            runs_sql: true,
            merges: true,
            one_integer_type: true,
            files: false,
            text_forms: false,
            comments: false,
            updates_now: false,
            builds_beside_reads: false,
            one_writer: true,
            writes_at_once: false,
            decimals_without_precision: true,
        }
    }

    fn database(&self) -> Option<Arc<dyn SourceDatabase>> {
        Some(Arc::new(SqliteSource::new(self.endpoint.clone())))
    }

    fn sink(&self) -> Result<Box<dyn Sink>> {
        Ok(Box::new(sink::SqliteSink::new(self.endpoint.clone(), self.check_keys)))
    }

    /// After the update, as SQLite's BEFORE triggers cannot change the row (its recursive
    /// triggers are off by default: the trigger's own update does not fire it again).
    fn updated_now_trigger(&self, table: &str, column: &str) -> Option<RoutineDef> {
        let name = format!("{table}_{column}_on_update");
        let (quoted, column) = (ddl::quote(table), ddl::quote(column));
        let create = format!(
            "CREATE TRIGGER {} AFTER UPDATE ON {quoted} FOR EACH ROW WHEN NEW.{column} IS OLD.{column} \
             BEGIN UPDATE {quoted} SET {column} = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END",
            ddl::quote(&name)
        );
        Some(RoutineDef { kind: "trigger".into(), name, create })
    }

    fn keys_unchecked(&self) -> Option<Arc<dyn Backend>> {
        let (endpoint, path) = (self.endpoint.clone(), self.path.clone());
        Some(Arc::new(SqliteBackend { endpoint, path, check_keys: false }))
    }

    async fn unchecked_rows(&self, table: &str, key: &ForeignKeyDef) -> Result<u64> {
        let (endpoint, table, key) = (self.endpoint.clone(), table.to_string(), key.clone());
        blocking(move || {
            let connection = sqlite_open(&endpoint, true)?;
            match ddl::unchecked_rows(&connection, &table, &key) {
                Ok(Some(rows)) => Ok(rows),
                Ok(None) => {
                    let message = format!("the table has no foreign key to `{}`", key.referenced_table);
                    Err(target_error(&endpoint, &table, message))
                }
                Err(e) => Err(target_error(&endpoint, &table, e)),
            }
        })
        .await
    }

    /// A target file that does not exist yet is fine if its folder does.
    async fn ping(&self) -> Result<()> {
        let unreachable = |message: String| FerryError::Connection { url: self.endpoint.masked(), message };
        if !self.path.exists() {
            return match self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(folder) if !folder.exists() => {
                    Err(unreachable(format!("the folder `{}` does not exist", folder.display())))
                }
                _ => Ok(()),
            };
        }
        let connection = sqlite_open(&self.endpoint, true)?;
        connection.query_row("SELECT 1", [], |_| Ok(())).map_err(|e| unreachable(e.to_string()))
    }

    async fn lock(&self, migration: &str) -> Result<MigrationLock> {
        let masked = self.endpoint.masked();
        Ok(MigrationLock::new(FileLock::take(&self.path, migration, || busy(migration, &masked))?))
    }

    async fn catalog(&self) -> Result<Catalog> {
        if !self.path.exists() {
            return Ok(Catalog::default());
        }
        let endpoint = self.endpoint.clone();
        blocking(move || {
            let connection = sqlite_open(&endpoint, true)?;
            catalog::read(&connection).map_err(|e| target_error(&endpoint, "(catalog)", e))
        })
        .await
    }

    fn create_table_sql(&self, table: &TableDef) -> Result<String> {
        Ok(ddl::create_table(table))
    }

    fn type_sql(&self, column: &ColumnDef) -> String {
        ddl::type_sql(column)
    }

    fn create_index_sql(&self, table: &str, index: &IndexDef) -> Result<String> {
        Ok(ddl::create_index(table, index))
    }

    fn drop_table_sql(&self, table: &str) -> Result<String> {
        Ok(format!("DROP TABLE IF EXISTS {}", ddl::quote(table)))
    }

    async fn execute(&self, sql: &str) -> Result<()> {
        let (endpoint, path, sql) = (self.endpoint.clone(), self.path.clone(), sql.to_string());
        blocking(move || {
            open_for_writing(&endpoint, &path)?.execute_batch(&sql).map_err(|e| target_error(&endpoint, "(schema)", e))
        })
        .await
    }

    async fn transaction(&self, setup: &str, statements: Vec<Statement>) -> Result<()> {
        let (endpoint, path, setup) = (self.endpoint.clone(), self.path.clone(), setup.to_string());
        blocking(move || {
            let error = |table: &str, e: rusqlite::Error| target_error(&endpoint, table, e);
            let mut connection = open_for_writing(&endpoint, &path)?;
            connection.execute_batch(&setup).map_err(|e| error("(setup)", e))?;
            let transaction = connection.transaction().map_err(|e| error("(transaction)", e))?;
            for (sql, values) in statements {
                transaction.execute(&sql, rusqlite::params_from_iter(values)).map_err(|e| error(&sql, e))?;
            }
            transaction.commit().map_err(|e| error("(commit)", e))
        })
        .await
    }

    async fn text_rows(&self, sql: &str, values: Vec<Option<String>>) -> Result<TextRows> {
        if !self.path.exists() {
            return Err(self.error(sql, "the file does not exist"));
        }
        let (endpoint, sql) = (self.endpoint.clone(), sql.to_string());
        blocking(move || {
            let connection = sqlite_open(&endpoint, true)?;
            connect::text_rows(&connection, &sql, values).map_err(|e| target_error(&endpoint, &sql, e))
        })
        .await
    }

    async fn has_table(&self, table: &str) -> Result<bool> {
        if !self.path.exists() {
            return Ok(false);
        }
        let sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?";
        Ok(!self.text_rows(sql, vec![Some(table.to_string())]).await?.is_empty())
    }
}
