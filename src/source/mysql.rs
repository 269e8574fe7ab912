//! MySQL / MariaDB source, read through connectorx's binary protocol into Arrow.
//!
//! connectorx runs on a blocking thread and hands batches over a bounded channel, so a slow
//! consumer holds the reader back. It reports a failure mid-stream by panicking; that panic is
//! caught here and becomes an error naming the table.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use connectorx::prelude::{new_record_batch_iter, CXQuery, SourceConn};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use mysql::prelude::Queryable;

use super::table::select_sql;
use super::{Dialect, ReadRequest, SizeEstimate, SourceDatabase};
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};

const BATCH_ROWS: usize = 16 * 1024;

#[derive(Debug)]
pub struct MysqlSource {
    endpoint: Endpoint,
}

impl MysqlSource {
    pub fn new(endpoint: Endpoint) -> Self {
        MysqlSource { endpoint }
    }

    fn error(&self, table: &str, message: impl std::fmt::Display) -> FerryError {
        FerryError::Source { url: self.endpoint.masked(), table: table.to_string(), message: message.to_string() }
    }
}

/// Opens a plain `mysql` connection (for the catalog and for the sink).
pub fn mysql_connect(endpoint: &Endpoint) -> Result<mysql::Conn> {
    let options = mysql::Opts::from_url(&endpoint.secret_url())
        .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })?;
    let builder = mysql::OptsBuilder::from_opts(options).local_infile_handler(None);
    mysql::Conn::new(builder).map_err(|e| FerryError::Connection {
        url: endpoint.masked(),
        message: format!("{e}; is the MySQL/MariaDB server running and the URL right?"),
    })
}

/// Runs connectorx on `sql` and calls `each` with every batch; a panic becomes an error.
fn with_connectorx(url: &str, sql: &str, each: &mut dyn FnMut(RecordBatch) -> bool) -> Result<SchemaRef, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| -> Result<SchemaRef, String> {
        let connection = SourceConn::try_from(url).map_err(|e| e.to_string())?;
        let queries = [CXQuery::naked(sql)];
        let mut batches =
            new_record_batch_iter(&connection, None, &queries, BATCH_ROWS, None).map_err(|e| e.to_string())?;
        let schema = batches.get_schema().0.schema();
        batches.prepare();
        while let Some(batch) = batches.next_batch() {
            if !each(batch) {
                break;
            }
        }
        Ok(schema)
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the connectorx reader failed".into());
        Err(message)
    })
}

#[async_trait]
impl SourceDatabase for MysqlSource {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn tables(&self) -> Result<Vec<String>> {
        let endpoint = self.endpoint.clone();
        let tables = tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
            let mut connection = mysql_connect(&endpoint)?;
            connection
                .query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name NOT LIKE '\\_ferry\\_%' ORDER BY 1")
                .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })
        })
        .await
        .map_err(FerryError::internal)??;
        Ok(tables)
    }

    async fn schema(&self, table: &str) -> Result<SchemaRef> {
        let sql = format!("SELECT * FROM {} LIMIT 0", self.quote(table));
        let url = self.endpoint.secret_url();
        let schema = tokio::task::spawn_blocking(move || with_connectorx(&url, &sql, &mut |_| true))
            .await
            .map_err(FerryError::internal)?
            .map_err(|e| self.error(table, crate::connection::mask_text(&e)))?;
        // connectorx names the fields after the query's columns; keep them, drop its metadata.
        Ok(Arc::new(Schema::new(schema.fields().clone())))
    }

    async fn estimate(&self, table: &str) -> Result<SizeEstimate> {
        let endpoint = self.endpoint.clone();
        let table = table.to_string();
        tokio::task::spawn_blocking(move || -> Result<SizeEstimate> {
            let mut connection = mysql_connect(&endpoint)?;
            let row: Option<(Option<u64>, Option<u64>)> = connection
                .exec_first(
                    "SELECT table_rows, data_length FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
                    (table,),
                )
                .map_err(|e| FerryError::Connection { url: endpoint.masked(), message: e.to_string() })?;
            Ok(row
                .map(|(rows, bytes)| SizeEstimate { rows: rows.map(|r| r as usize), bytes: bytes.map(|b| b as usize) })
                .unwrap_or_default())
        })
        .await
        .map_err(FerryError::internal)?
    }

    fn quote(&self, identifier: &str) -> String {
        format!("`{}`", identifier.replace('`', "``"))
    }

    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn read(&self, request: ReadRequest) -> SendableRecordBatchStream {
        let sql = select_sql(self, &request, |field| self.quote(field.name()));
        let url = self.endpoint.secret_url();
        let masked = self.endpoint.masked();
        let mut builder = RecordBatchReceiverStream::builder(request.schema.clone(), 2);
        let tx = builder.tx();
        builder.spawn_blocking(move || {
            let schema = request.schema.clone();
            let mut failure = None;
            let result = with_connectorx(&url, &sql, &mut |batch| {
                let batch = if schema.fields().is_empty() {
                    // A scan that needs no column (COUNT(*)) still needs the row count.
                    let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                    RecordBatch::try_new_with_options(schema.clone(), vec![], &options)
                } else {
                    RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
                };
                match batch {
                    Ok(batch) => tx.blocking_send(Ok(batch)).is_ok(),
                    Err(e) => {
                        failure = Some(e.to_string());
                        false
                    }
                }
            });
            match result.err().or(failure) {
                None => Ok(()),
                Some(message) => Err(FerryError::Source {
                    url: masked,
                    table: request.table,
                    message: crate::connection::mask_text(&message),
                }
                .into()),
            }
        });
        builder.build()
    }
}
