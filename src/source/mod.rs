//! The DataFusion side of reading, for every engine: a database's tables become
//! [`DatabaseTable`]s (`TableProvider`s with projection, filter and limit pushdown, read in
//! parts), an engine whose tables are files gives its own tables, and every table counts the
//! rows it yields into the run's [`ReadCounter`].

mod counted;
pub mod pushdown;
mod table;

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use crate::connection::Endpoint;
use crate::db::{self, ReadCounter, Reading, SourceDatabase};
use crate::error::{FerryError, Result};
use crate::job::Connection;

pub use counted::CountedTable;
pub use table::{DatabaseTable, SplitBySize};

/// `config` for a query kept in `parts` partitions that may hold `memory`: as many target
/// partitions and, for `auto`, tables read in fewer parts when they are small.
pub fn partitioned(
    config: datafusion::prelude::SessionConfig,
    parts: crate::job::Parts,
    memory: usize,
) -> datafusion::prelude::SessionConfig {
    let config = config.with_target_partitions(parts.count(memory));
    match parts {
        crate::job::Parts::Auto => config.with_extension(Arc::new(SplitBySize)),
        crate::job::Parts::Exactly(_) => config,
    }
}

/// A connection's tables for DataFusion: a database's through [`DatabaseSchema`], a file
/// location's as the backend lists them, each counted.
pub async fn schema_provider(
    ctx: &SessionContext,
    connection: &Connection,
    counter: Option<Arc<ReadCounter>>,
) -> Result<Arc<dyn SchemaProvider>> {
    let endpoint = &connection.endpoint;
    let backend = connection.backend();
    if let Some(database) = backend.database() {
        let counter = counter.unwrap_or_default();
        return Ok(Arc::new(DatabaseSchema::connect(database, counter).await?.reading(connection.reading.clone())));
    }
    let schema = MemorySchemaProvider::new();
    for (name, table) in backend.files(ctx).await? {
        // Uncounted, a file table stays the `ListingTable` it is (a cluster can only be sent those).
        let table: Arc<dyn TableProvider> = match &counter {
            Some(counter) => Arc::new(CountedTable::new(table, counter.clone())),
            None => table,
        };
        schema
            .register_table(name, table)
            .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })?;
    }
    Ok(Arc::new(schema))
}

/// The database behind `endpoint`, to read with SQL; an error for a location of files.
pub fn database(endpoint: &Endpoint) -> Result<Arc<dyn SourceDatabase>> {
    let backend = db::open(endpoint);
    backend.database().ok_or_else(|| {
        FerryError::Job(format!("`{endpoint}` is a {} location, not a database; it has no SQL to run", backend.name()))
    })
}

/// One connection's tables as a DataFusion schema. The table list is read once, when the
/// schema is made, so that unknown names can be reported with what exists.
#[derive(Debug)]
pub struct DatabaseSchema {
    database: Arc<dyn SourceDatabase>,
    tables: Vec<String>,
    counter: Arc<ReadCounter>,
    cache: tokio::sync::Mutex<BTreeMap<String, Arc<dyn TableProvider>>>,
    reading: Reading,
}

impl DatabaseSchema {
    pub async fn connect(database: Arc<dyn SourceDatabase>, counter: Arc<ReadCounter>) -> Result<Self> {
        let tables = database.tables().await?;
        Ok(DatabaseSchema { database, tables, counter, cache: Default::default(), reading: Reading::default() })
    }

    /// Reads as a whole-database copy does.
    pub fn reading(mut self, reading: Reading) -> Self {
        self.reading = reading;
        self
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
        let table = DatabaseTable::new(self.database.clone(), actual.clone(), schema, estimate, self.counter.clone())
            .reading(&self.reading);
        let table: Arc<dyn TableProvider> = Arc::new(table);
        cache.insert(actual.clone(), table.clone());
        Ok(Some(table))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.iter().any(|t| t.eq_ignore_ascii_case(name))
    }
}
