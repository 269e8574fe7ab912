//! Parquet locations (a local folder or an object store): each folder is a table of
//! `*.parquet` files (`source`), loads stage files and rename them into place (`sink`), and
//! `store` opens the object store behind a URL. No SQL runs here: no catalog keys, no history.

mod sink;
mod source;
pub mod store;

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::TableProvider;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use super::{
    busy, Backend, Capabilities, Catalog, ColumnDef, ColumnType, FileLock, MigrationLock, NoLock, Sink, SourceDatabase,
    TableDef,
};
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
pub use source::listing_table;

#[derive(Debug)]
pub struct ParquetBackend {
    endpoint: Endpoint,
    url: url::Url,
}

impl ParquetBackend {
    pub fn new(endpoint: Endpoint, url: url::Url) -> Self {
        ParquetBackend { endpoint, url }
    }
}

#[async_trait]
impl Backend for ParquetBackend {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn name(&self) -> &'static str {
        "Parquet"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { runs_sql: false, merges: false, one_integer_type: false, files: true }
    }

    fn database(&self) -> Option<Arc<dyn SourceDatabase>> {
        None
    }

    async fn files(&self, ctx: &SessionContext) -> Result<Vec<(String, Arc<dyn TableProvider>)>> {
        source::tables(ctx, &self.url).await
    }

    fn sink(&self) -> Result<Box<dyn Sink>> {
        Ok(Box::new(sink::ParquetSink::new(self.endpoint.clone())))
    }

    async fn ping(&self) -> Result<()> {
        let (store, prefix) = store::object_store(&self.url)?;
        match store.list(Some(&prefix)).next().await {
            Some(Err(object_store::Error::NotFound { .. })) | None | Some(Ok(_)) => Ok(()),
            Some(Err(error)) => Err(FerryError::Connection { url: self.endpoint.masked(), message: error.to_string() }),
        }
    }

    async fn lock(&self, migration: &str) -> Result<MigrationLock> {
        match self.url.to_file_path() {
            Ok(folder) if self.url.scheme() == "file" => {
                let masked = self.endpoint.masked();
                Ok(MigrationLock::new(FileLock::take(&folder, migration, || busy(migration, &masked))?))
            }
            _ => Ok(MigrationLock::new(NoLock)),
        }
    }

    /// The folders' tables with their columns; files have no keys, indexes or defaults.
    async fn catalog(&self) -> Result<Catalog> {
        let ctx = SessionContext::new();
        let mut tables = Vec::new();
        for (name, table) in self.files(&ctx).await? {
            let columns = table
                .schema()
                .fields()
                .iter()
                .map(|field| {
                    let column = ColumnDef::new(field.name(), column_type(field.data_type()));
                    ColumnDef { nullable: field.is_nullable(), declared: field.data_type().to_string(), ..column }
                })
                .collect();
            tables.push(TableDef { name, columns, ..Default::default() });
        }
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Catalog { tables, views: Vec::new() })
    }
}

/// The portable type of an Arrow type.
fn column_type(data_type: &arrow::datatypes::DataType) -> ColumnType {
    use arrow::datatypes::DataType::*;
    match data_type {
        Boolean => ColumnType::Boolean,
        Int8 | Int16 | UInt8 => ColumnType::SmallInt,
        Int32 | UInt16 => ColumnType::Integer,
        Int64 | UInt32 => ColumnType::BigInt,
        UInt64 => ColumnType::Decimal(Some((20, 0))),
        Float16 | Float32 => ColumnType::Real,
        Float64 => ColumnType::Double,
        Decimal128(p, s) | Decimal256(p, s) => ColumnType::Decimal(Some((*p, *s))),
        Utf8 | LargeUtf8 | Utf8View => ColumnType::Text,
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => ColumnType::Binary,
        Date32 | Date64 => ColumnType::Date,
        Time32(_) | Time64(_) => ColumnType::Time,
        Timestamp(_, None) => ColumnType::Timestamp,
        Timestamp(_, Some(_)) => ColumnType::TimestampTz,
        other => ColumnType::Other(other.to_string()),
    }
}
