//! PostgreSQL sink: binary `COPY ... FROM STDIN` inside one transaction.
//!
//! The transaction is the staging area: rows copied in it are invisible to everyone else until
//! `COMMIT`, and replace mode's `TRUNCATE` is transactional, so readers see the old rows until the
//! new ones are published at once, and a failure anywhere rolls everything back. A table created
//! or truncated in the same transaction also lets PostgreSQL skip WAL-heavy work for the COPY.

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use tokio_postgres::Client;

use super::pg_binary::{encode_batch, header, trailer, WireType};
use super::pg_types::{existing_columns, new_column_type, wires, write_type, PgColumn};
use super::{
    match_columns, new_table_columns, rejects_schema, LoadSpec, RowStream, Sink, SinkBatch, TargetColumn, REJECTS_TABLE,
};
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
use crate::job::Mode;
use crate::source::{pg_connect, pg_message};

/// The temporary table text-carried values are cast from.
const STAGING: &str = "_ferry_load";

/// Bytes gathered before one CopyData message is sent.
const FLUSH_BYTES: usize = 1 << 20;

pub struct PostgresSink {
    endpoint: Endpoint,
    client: Option<Client>,
    /// The `CREATE TABLE` to run in the load's transaction when the table does not exist.
    create: Option<String>,
    /// The existing table's columns (empty until a created table exists).
    columns: Vec<PgColumn>,
    target: Option<SchemaRef>,
}

impl PostgresSink {
    pub fn new(endpoint: Endpoint) -> Self {
        PostgresSink { endpoint, client: None, create: None, columns: Vec::new(), target: None }
    }

    fn error(&self, table: &str, message: impl Into<String>) -> FerryError {
        FerryError::Target { url: self.endpoint.masked(), table: table.to_string(), message: message.into() }
    }
}

/// `"schema"."table"` or `"table"`.
fn quote_table(table: &str) -> String {
    table.split('.').map(quote).collect::<Vec<_>>().join(".")
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

#[async_trait]
impl Sink for PostgresSink {
    async fn prepare(&mut self, spec: &LoadSpec) -> Result<SchemaRef> {
        let client = pg_connect(&self.endpoint).await?;
        let existing =
            existing_columns(&client, &spec.table).await.map_err(|e| self.error(&spec.table, pg_message(&e)))?;
        let target = if existing.is_empty() {
            let (columns, target) = new_table_columns(spec, "PostgreSQL", new_column_type, quote, write_type)?;
            self.create = Some(format!("CREATE TABLE {} ({columns})", quote_table(&spec.table)));
            target
        } else {
            let columns: Vec<TargetColumn> = existing.iter().map(|c| c.column.clone()).collect();
            self.columns = existing;
            match_columns(spec, &columns)?
        };
        self.client = Some(client);
        self.target = Some(target.clone());
        Ok(target)
    }

    async fn write_all(&mut self, spec: &LoadSpec, mut rows: RowStream) -> Result<u64> {
        let table = spec.table.clone();
        let Some(mut client) = self.client.take() else {
            return Err(FerryError::internal("PostgresSink::write_all before prepare"));
        };
        let target = self.target.clone().ok_or_else(|| FerryError::internal("no target schema"))?;
        let mut table_columns = self.columns.clone();
        let pg = |e: tokio_postgres::Error| self.error(&table, pg_message(&e));
        let transaction = client.transaction().await.map_err(pg)?;
        if let Some(create) = &self.create {
            transaction.batch_execute(create).await.map_err(pg)?;
            table_columns = existing_columns(&transaction, &table).await.map_err(pg)?;
        } else if spec.mode == Mode::Replace {
            transaction.batch_execute(&format!("TRUNCATE {}", quote_table(&table))).await.map_err(pg)?;
        }
        let wires = wires(&target, &table_columns);
        let columns: Vec<String> = target.fields().iter().map(|f| quote(f.name())).collect();
        // Text PostgreSQL cannot receive in binary for its column's type lands in a temporary
        // text column first, and is cast into the table in the same transaction.
        let copy_into = if wires.contains(&WireType::Cast) {
            let staged: Vec<String> = columns
                .iter()
                .zip(&wires)
                .map(|(column, wire)| match wire {
                    WireType::Cast => format!("{column}::text AS {column}"),
                    _ => column.clone(),
                })
                .collect();
            transaction
                .batch_execute(&format!(
                    "CREATE TEMPORARY TABLE {STAGING} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
                    staged.join(", "),
                    quote_table(&table)
                ))
                .await
                .map_err(pg)?;
            STAGING.to_string()
        } else {
            quote_table(&table)
        };
        let copy = format!("COPY {copy_into} ({}) FROM STDIN (FORMAT binary)", columns.join(", "));
        let sink = transaction.copy_in::<_, Bytes>(copy.as_str()).await.map_err(pg)?;
        let mut sink = std::pin::pin!(sink);
        let mut buffer = BytesMut::with_capacity(FLUSH_BYTES * 2);
        header(&mut buffer);
        let mut rejects = RejectSpill::default();
        while let Some(batch) = rows.next().await {
            match batch? {
                SinkBatch::Rows(batch) => {
                    encode_batch(&batch, &wires, &mut buffer).map_err(|e| self.error(&table, e))?;
                    if buffer.len() >= FLUSH_BYTES {
                        sink.send(buffer.split().freeze()).await.map_err(pg)?;
                    }
                }
                SinkBatch::Rejects(batch) => rejects.push(&batch).map_err(|e| self.error(REJECTS_TABLE, e))?,
            }
        }
        trailer(&mut buffer);
        sink.send(buffer.split().freeze()).await.map_err(pg)?;
        let loaded = sink.as_mut().finish().await.map_err(pg)?;
        if copy_into == STAGING {
            let casts: Vec<String> = target
                .fields()
                .iter()
                .zip(&columns)
                .zip(&wires)
                .map(|((field, column), wire)| {
                    let sql_type =
                        table_columns.iter().find(|c| c.column.name == *field.name()).map(|c| &c.column.sql_type);
                    match (wire, sql_type) {
                        (WireType::Cast, Some(sql_type)) => format!("CAST({column} AS {sql_type})"),
                        _ => column.clone(),
                    }
                })
                .collect();
            let insert = format!(
                "INSERT INTO {} ({}) SELECT {} FROM {STAGING}",
                quote_table(&table),
                columns.join(", "),
                casts.join(", ")
            );
            transaction.batch_execute(&insert).await.map_err(pg)?;
        }
        write_rejects(&transaction, spec, rejects).await.map_err(|e| self.error(REJECTS_TABLE, e))?;
        transaction.commit().await.map_err(pg)?;
        Ok(loaded)
    }
}

/// Rejects arrive while the rows' COPY holds the connection, so they wait in an anonymous
/// temporary file, already in binary COPY form, instead of in memory.
#[derive(Default)]
struct RejectSpill {
    file: Option<std::fs::File>,
}

const REJECT_WIRES: [WireType; 5] =
    [WireType::Native, WireType::Native, WireType::Native, WireType::Native, WireType::Jsonb];

impl RejectSpill {
    fn push(&mut self, batch: &arrow::record_batch::RecordBatch) -> std::result::Result<(), String> {
        use std::io::Write;
        let mut bytes = BytesMut::new();
        if self.file.is_none() {
            self.file = Some(tempfile::tempfile().map_err(|e| format!("cannot create a temporary file: {e}"))?);
            header(&mut bytes);
        }
        encode_batch(batch, &REJECT_WIRES, &mut bytes)?;
        if let Some(file) = self.file.as_mut() {
            file.write_all(&bytes).map_err(|e| format!("cannot write a temporary file: {e}"))?;
        }
        Ok(())
    }
}

/// Creates `_ferry_rejects` if needed and copies the run's rejects into it, in the transaction.
async fn write_rejects(
    transaction: &tokio_postgres::Transaction<'_>,
    spec: &LoadSpec,
    rejects: RejectSpill,
) -> std::result::Result<(), String> {
    use std::io::{Read, Seek, Write};
    let pg = |e: tokio_postgres::Error| pg_message(&e);
    let Some(mut file) = rejects.file else {
        // No rejects this time; a replace run still clears the ones of earlier runs (an error
        // would abort the transaction, so the table's existence is asked first).
        let exists: bool = transaction
            .query_one(&format!("SELECT to_regclass('{REJECTS_TABLE}') IS NOT NULL"), &[])
            .await
            .map_err(pg)?
            .get(0);
        if spec.mode == Mode::Replace && exists {
            transaction
                .execute(&format!("DELETE FROM {REJECTS_TABLE} WHERE migration = $1"), &[&spec.migration])
                .await
                .map_err(pg)?;
        }
        return Ok(());
    };
    transaction
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {REJECTS_TABLE} (run_id TEXT NOT NULL, migration TEXT NOT NULL, \
             source_key TEXT, reason TEXT NOT NULL, source_row JSONB NOT NULL, \
             rejected_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ))
        .await
        .map_err(pg)?;
    if spec.mode == Mode::Replace {
        transaction
            .execute(&format!("DELETE FROM {REJECTS_TABLE} WHERE migration = $1"), &[&spec.migration])
            .await
            .map_err(pg)?;
    }
    let io = |e: std::io::Error| format!("reading back the temporary file: {e}");
    let mut trailer_bytes = BytesMut::new();
    trailer(&mut trailer_bytes);
    file.write_all(&trailer_bytes).map_err(io)?;
    file.rewind().map_err(io)?;
    let names: Vec<String> = rejects_schema().fields().iter().map(|f| f.name().clone()).collect();
    let copy = format!("COPY {REJECTS_TABLE} ({}) FROM STDIN (FORMAT binary)", names.join(", "));
    let sink = transaction.copy_in::<_, Bytes>(copy.as_str()).await.map_err(pg)?;
    let mut sink = std::pin::pin!(sink);
    let mut chunk = vec![0u8; FLUSH_BYTES];
    loop {
        let read = file.read(&mut chunk).map_err(io)?;
        if read == 0 {
            break;
        }
        sink.send(Bytes::copy_from_slice(&chunk[..read])).await.map_err(pg)?;
    }
    sink.as_mut().finish().await.map_err(pg)?;
    Ok(())
}
