//! MySQL and MariaDB: sessions (`connect`), reads through connectorx (`source`), loads as
//! batched INSERTs in one transaction (`sink`), the catalog and DDL (`catalog`, `ddl`),
//! and the `GET_LOCK` lock.

pub mod catalog;
pub mod connect;
pub mod ddl;
mod digest;
mod sink;
mod source;
mod swap;
mod tls;

use std::sync::Arc;

use async_trait::async_trait;
use mysql::prelude::Queryable;

use super::{
    blocking, busy, lock_name, target_error, Backend, Capabilities, Catalog, CheckDef, ColumnDef, ColumnType,
    ForeignKeyDef, HeldLock, IndexDef, MigrationLock, Sink, SourceDatabase, Statement, TableDef, TextRows,
};
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
pub use connect::{mysql_connect, mysql_text_rows};
pub use source::{mysql_arrow_type, MysqlSource};

#[derive(Debug)]
pub struct MysqlBackend {
    endpoint: Endpoint,
}

impl MysqlBackend {
    pub fn new(endpoint: Endpoint) -> Self {
        MysqlBackend { endpoint }
    }
}

#[async_trait]
impl Backend for MysqlBackend {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn name(&self) -> &'static str {
        "MySQL"
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
            one_integer_type: false,
            files: false,
            text_forms: false,
            comments: true,
            updates_now: true,
            builds_beside_reads: false,
            one_writer: false,
            writes_at_once: false,
            decimals_without_precision: false,
        }
    }

    fn database(&self) -> Option<Arc<dyn SourceDatabase>> {
        Some(Arc::new(MysqlSource::new(self.endpoint.clone())))
    }

    fn sink(&self) -> Result<Box<dyn Sink>> {
        Ok(Box::new(sink::MysqlSink::new(self.endpoint.clone())))
    }

    async fn ping(&self) -> Result<()> {
        let endpoint = self.endpoint.clone();
        blocking(move || {
            let mut connection = mysql_connect(&endpoint)?;
            connection
                .query_drop("SELECT 1")
                .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })
        })
        .await
    }

    async fn lock(&self, migration: &str) -> Result<MigrationLock> {
        let endpoint = self.endpoint.clone();
        let name = lock_name(migration);
        let locked = blocking(move || -> Result<Option<MysqlLock>> {
            let mut connection = mysql_connect(&endpoint)?;
            // GET_LOCK names are server-wide: the database is part of the name (64 bytes at most).
            let got: Option<i64> = connection
                .exec_first("SELECT GET_LOCK(LEFT(CONCAT(DATABASE(), ':', ?), 64), 0)", (name.clone(),))
                .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })?;
            Ok((got == Some(1)).then_some(MysqlLock { connection, name }))
        })
        .await?;
        locked.map(MigrationLock::new).ok_or_else(|| busy(migration, &self.endpoint.masked()))
    }

    async fn catalog(&self) -> Result<Catalog> {
        let endpoint = self.endpoint.clone();
        blocking(move || {
            let mut connection = mysql_connect(&endpoint)?;
            catalog::read(&mut connection).map_err(|e| target_error(&endpoint, "(catalog)", e))
        })
        .await
    }

    fn create_table_sql(&self, table: &TableDef) -> Result<String> {
        Ok(ddl::create_table(table))
    }

    fn add_check_sql(&self, table: &str, check: &CheckDef) -> Option<String> {
        Some(ddl::add_check(table, check))
    }

    async fn zero_dates(&self, table: &TableDef) -> Result<Vec<(String, u64)>> {
        let dated: Vec<&ColumnDef> = table
            .columns
            .iter()
            .filter(|c| {
                matches!(c.column_type.portable(), ColumnType::Date | ColumnType::Timestamp | ColumnType::TimestampTz)
            })
            .collect();
        if dated.is_empty() {
            return Ok(Vec::new());
        }
        let sums: Vec<String> =
            dated.iter().map(|c| format!("COALESCE(SUM({} = 0), 0)", ddl::quote(&c.name))).collect();
        let sql = format!("SELECT {} FROM {}", sums.join(", "), ddl::quote_table(&table.name));
        let rows = self.text_rows(&sql, Vec::new()).await?;
        let counts = rows.into_iter().next().unwrap_or_default();
        Ok(dated
            .iter()
            .zip(counts)
            .filter_map(|(column, count)| Some((column.name.clone(), count?.parse::<u64>().ok()?)))
            .filter(|(_, count)| *count > 0)
            .collect())
    }

    fn type_sql(&self, column: &ColumnDef) -> String {
        ddl::type_sql(column, false)
    }

    fn create_index_sql(&self, table: &str, index: &IndexDef) -> Result<String> {
        Ok(ddl::create_index(table, index))
    }

    fn add_foreign_key_sql(&self, table: &str, key: &ForeignKeyDef) -> Result<Option<String>> {
        Ok(Some(ddl::add_foreign_key(table, key)))
    }

    fn drop_table_sql(&self, table: &str) -> Result<String> {
        Ok(format!("DROP TABLE IF EXISTS {}", ddl::quote_table(table)))
    }

    async fn execute(&self, sql: &str) -> Result<()> {
        let (endpoint, sql) = (self.endpoint.clone(), sql.to_string());
        blocking(move || {
            let mut connection = mysql_connect(&endpoint)?;
            connect::run_script(&mut connection, &sql).map_err(|e| target_error(&endpoint, "(schema)", e))
        })
        .await
    }

    async fn transaction(&self, setup: &str, statements: Vec<Statement>) -> Result<()> {
        let (endpoint, setup) = (self.endpoint.clone(), setup.to_string());
        blocking(move || {
            let mut connection = mysql_connect(&endpoint)?;
            // DDL commits implicitly in MySQL: the setup first, then the transaction.
            connect::run_script(&mut connection, &setup).map_err(|e| target_error(&endpoint, "(setup)", e))?;
            let mut transaction = connection
                .start_transaction(mysql::TxOpts::default())
                .map_err(|e| target_error(&endpoint, "(transaction)", e))?;
            for (sql, values) in statements {
                let params: Vec<mysql::Value> = values.into_iter().map(mysql::Value::from).collect();
                transaction.exec_drop(&sql, params).map_err(|e| target_error(&endpoint, &sql, e))?;
            }
            transaction.commit().map_err(|e| target_error(&endpoint, "(commit)", e))
        })
        .await
    }

    async fn text_rows(&self, sql: &str, values: Vec<Option<String>>) -> Result<TextRows> {
        let (endpoint, sql) = (self.endpoint.clone(), sql.to_string());
        blocking(move || {
            let mut connection = mysql_connect(&endpoint)?;
            let params: Vec<mysql::Value> = values.into_iter().map(mysql::Value::from).collect();
            mysql_text_rows(&mut connection, &sql, params).map_err(|e| target_error(&endpoint, &sql, e))
        })
        .await
    }

    async fn has_table(&self, table: &str) -> Result<bool> {
        let sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?";
        Ok(!self.text_rows(sql, vec![Some(table.to_string())]).await?.is_empty())
    }
}

/// `GET_LOCK` belongs to the session that took it.
struct MysqlLock {
    connection: mysql::Conn,
    name: String,
}

#[async_trait]
impl HeldLock for MysqlLock {
    async fn release(self: Box<Self>) {
        let MysqlLock { mut connection, name } = *self;
        let _ = tokio::task::spawn_blocking(move || {
            connection.exec_drop("DO RELEASE_LOCK(LEFT(CONCAT(DATABASE(), ':', ?), 64))", (name,))
        })
        .await;
    }
}
