//! Parquet locations (a local folder or an object store): each folder is a table of
//! `*.parquet` files (`source`), loads stage files and rename them into place (`sink`), and
//! `store` opens the object store behind a URL. No SQL runs here: no catalog keys, no history.

pub(crate) mod files;
mod manifest;
pub mod registry;
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
    TableDef, PG_TYPE,
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

    /// Its reads cannot share one snapshot (MySQL's cannot be exported; SQLite and Parquet
    /// are read as they are).
    fn one_snapshot(self: Arc<Self>) -> Arc<dyn Backend> {
        self
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            runs_sql: false,
            merges: false,
            one_integer_type: false,
            files: true,
            text_forms: true,
            comments: false,
            updates_now: false,
            builds_beside_reads: false,
            one_writer: false,
            writes_at_once: true,
            decimals_without_precision: true,
        }
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

    /// The folders' tables with their columns; files have no keys, indexes or defaults. A column
    /// ferry wrote from PostgreSQL keeps its declared type in the field's metadata, which says more
    /// than the Arrow type (`varchar(160)` rather than text).
    async fn catalog(&self) -> Result<Catalog> {
        let ctx = SessionContext::new();
        let mut tables = Vec::new();
        for (name, table) in self.files(&ctx).await? {
            let columns = table
                .schema()
                .fields()
                .iter()
                .map(|field| {
                    let declared = field.metadata().get(PG_TYPE);
                    let portable = declared.and_then(|pg| pg_column_type(pg));
                    let column_type = portable.unwrap_or_else(|| column_type(field.data_type()));
                    let declared = declared.cloned().unwrap_or_else(|| field.data_type().to_string());
                    ColumnDef { nullable: field.is_nullable(), declared, ..ColumnDef::new(field.name(), column_type) }
                })
                .collect();
            tables.push(TableDef { name, columns, ..Default::default() });
        }
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Catalog { tables, ..Default::default() })
    }
}

/// The portable type of a PostgreSQL type as `format_type` writes it, where it says more than
/// the Arrow type.
fn pg_column_type(declared: &str) -> Option<ColumnType> {
    let (base, arguments) = match declared.split_once('(') {
        Some((base, rest)) => (base.trim(), rest.trim_end_matches(')')),
        None => (declared.trim(), ""),
    };
    let numbers: Vec<u32> = arguments.split(',').filter_map(|n| n.trim().parse().ok()).collect();
    Some(match (base, numbers.as_slice()) {
        ("character varying", [length]) => ColumnType::Varchar(*length),
        ("numeric", [p, s]) if *p <= 76 && s <= p => ColumnType::Decimal(Some((*p as u8, *s as i8))),
        ("json" | "jsonb", []) => ColumnType::Json,
        ("uuid", []) => ColumnType::Uuid,
        _ => return None,
    })
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
