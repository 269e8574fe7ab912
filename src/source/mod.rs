//! Sources: each database kind is a [`SourceDatabase`]; [`DatabaseSchema`] exposes its tables to
//! DataFusion as [`DatabaseTable`]s (`TableProvider`s with projection and filter pushdown).
//!
//! Adding a source: one file implementing [`SourceDatabase`], one variant of
//! [`crate::connection::Endpoint`], one arm in [`open`].

mod counted;
mod mysql;
mod parquet;
pub mod pg_binary;
mod pg_copy;
mod postgres;
mod sqlite;
mod table;

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;

use crate::connection::Endpoint;
use crate::error::{FerryError, Result};

pub use mysql::{mysql_arrow_type, mysql_connect, mysql_text_rows};
pub use pg_binary::{numeric_to_i128, numeric_to_unscaled};
pub use postgres::{arrow_type as postgres_arrow_type, pg_connect, pg_message, PostgresSource};
pub use sqlite::{arrow_type as sqlite_arrow_type, sqlite_open};
pub use table::DatabaseTable;

/// A database ferry reads from.
#[async_trait]
pub trait SourceDatabase: Debug + Send + Sync {
    fn endpoint(&self) -> &Endpoint;
    /// The tables (and views) a query may name.
    async fn tables(&self) -> Result<Vec<String>>;
    /// A table's columns as Arrow fields, from the database's own catalog.
    async fn schema(&self, table: &str) -> Result<SchemaRef>;
    /// A rough size from the database's catalog, for DataFusion's join planning (the smaller
    /// side of a join builds the hash table). Unknown by default.
    async fn estimate(&self, _table: &str) -> Result<SizeEstimate> {
        Ok(SizeEstimate::default())
    }
    /// Quotes an identifier for this database's SQL.
    fn quote(&self, identifier: &str) -> String;
    /// A quoted column of `source_type` read as its exact text form (for types with no exact
    /// Arrow reading through the database's driver).
    fn text_form(&self, quoted: &str, _source_type: &str) -> String {
        format!("CAST({quoted} AS TEXT)")
    }
    /// The dialect filters are written back in.
    fn dialect(&self) -> Dialect;
    /// Conditions splitting `table` into about `parts` disjoint parts that together hold every
    /// row, to be read at once; empty when the table cannot be split (the default).
    async fn split(&self, _table: &str, _parts: usize) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    /// Streams the rows of `SELECT <columns> FROM <table> [WHERE ...] [LIMIT ...]`;
    /// the batches match `schema` (the projected columns).
    fn read(&self, request: ReadRequest) -> SendableRecordBatchStream;
}

/// A table's size as its database's catalog estimates it (not exact, possibly stale).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SizeEstimate {
    pub rows: Option<usize>,
    pub bytes: Option<usize>,
}

/// SQL dialects a filter can be written back in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

/// Field metadata marking a column read through its text form (the value is the source type).
pub const TEXT_FORM: &str = "ferry.read_as_text";

/// Field metadata naming the PostgreSQL type a PostgreSQL target column created for this field
/// gets: the source's own type (with its modifiers) for PostgreSQL sources, the closest one for
/// others. Used only while the field still has the Arrow type the source read it as.
pub const PG_TYPE: &str = "ferry.pg_type";

/// What one scan asks of a source.
#[derive(Clone, Debug)]
pub struct ReadRequest {
    pub table: String,
    /// The projected columns, in order, with the types the batches must have.
    pub schema: SchemaRef,
    pub filter_sql: Option<String>,
    pub limit: Option<usize>,
    /// This part's share of a table read in parts ([`SourceDatabase::split`]); all parts of one
    /// source read in one snapshot.
    pub part_sql: Option<String>,
}

/// Opens the database behind an endpoint. With [`schema_provider`], the only place that knows every kind.
pub fn open(endpoint: &Endpoint) -> Result<Arc<dyn SourceDatabase>> {
    Ok(match endpoint {
        Endpoint::Postgres(_) => Arc::new(PostgresSource::new(endpoint.clone())),
        Endpoint::Mysql(_) => Arc::new(mysql::MysqlSource::new(endpoint.clone())),
        Endpoint::Sqlite(_) => Arc::new(sqlite::SqliteSource::new(endpoint.clone())),
        Endpoint::Parquet(_) => {
            return Err(FerryError::Job(format!(
                "`{endpoint}` is a Parquet location, not a database; it has no SQL to run"
            )))
        }
    })
}

/// A connection's tables for DataFusion: a database's through [`DatabaseSchema`], a Parquet
/// location's as one `ListingTable` per folder.
pub async fn schema_provider(
    ctx: &SessionContext,
    endpoint: &Endpoint,
    counter: Arc<ReadCounter>,
) -> Result<Arc<dyn SchemaProvider>> {
    match endpoint {
        Endpoint::Parquet(url) => parquet::parquet_schema(ctx, url, counter).await,
        _ => Ok(Arc::new(DatabaseSchema::connect(open(endpoint)?, counter).await?)),
    }
}

/// Rows read so far through the tables of one schema: the "read" count and the progress bar.
#[derive(Debug, Default)]
pub struct ReadCounter(AtomicU64);

impl ReadCounter {
    pub fn add(&self, rows: usize) {
        self.0.fetch_add(rows as u64, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One connection's tables as a DataFusion schema. The table list is read once, when the
/// schema is made, so that unknown names can be reported with what exists.
#[derive(Debug)]
pub struct DatabaseSchema {
    database: Arc<dyn SourceDatabase>,
    tables: Vec<String>,
    counter: Arc<ReadCounter>,
    cache: tokio::sync::Mutex<BTreeMap<String, Arc<dyn TableProvider>>>,
}

impl DatabaseSchema {
    pub async fn connect(database: Arc<dyn SourceDatabase>, counter: Arc<ReadCounter>) -> Result<Self> {
        let tables = database.tables().await?;
        Ok(DatabaseSchema { database, tables, counter, cache: Default::default() })
    }
}

#[async_trait]
impl SchemaProvider for DatabaseSchema {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn table_names(&self) -> Vec<String> {
        self.tables.clone()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        // DataFusion folds unquoted names to lower case; databases may keep the case they were
        // created with, so match case-insensitively when there is exactly one candidate.
        let Some(actual) = self
            .tables
            .iter()
            .find(|t| t.as_str() == name)
            .or_else(|| self.tables.iter().find(|t| t.eq_ignore_ascii_case(name)))
        else {
            return Ok(None);
        };
        let mut cache = self.cache.lock().await;
        if let Some(table) = cache.get(actual) {
            return Ok(Some(table.clone()));
        }
        let schema = self.database.schema(actual).await?;
        // Only a planning hint: a catalog that cannot say leaves the size unknown.
        let estimate = self.database.estimate(actual).await.unwrap_or_default();
        let table: Arc<dyn TableProvider> =
            Arc::new(DatabaseTable::new(self.database.clone(), actual.clone(), schema, estimate, self.counter.clone()));
        cache.insert(actual.clone(), table.clone());
        Ok(Some(table))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.iter().any(|t| t.eq_ignore_ascii_case(name))
    }
}
