//! A load's rejects: spilled to a temporary file while the rows' COPY runs, then copied into
//! `_ferry_rejects` in the load's transaction.

use bytes::{Bytes, BytesMut};
use futures::SinkExt;
use tokio_postgres::Client;

use super::connect::pg_message;
use super::ddl::create_table;
use super::encode::{encode_batch, header, trailer, WireType};
use crate::db::bookkeeping::{if_not_exists, rejects_table};
use crate::db::{rejects_schema, LoadSpec, WriteMode, REJECTS_TABLE};

/// Bytes read from the spill per CopyData message.
const CHUNK_BYTES: usize = 1 << 20;

/// Rejects arrive while the rows' COPY holds the connection, so they wait in an anonymous
/// temporary file, already in binary COPY form, instead of in memory.
#[derive(Default)]
pub struct RejectSpill {
    file: Option<std::fs::File>,
}

const REJECT_WIRES: [WireType; 5] =
    [WireType::Native, WireType::Native, WireType::Native, WireType::Native, WireType::Jsonb];

impl RejectSpill {
    pub fn push(&mut self, batch: &arrow::record_batch::RecordBatch) -> std::result::Result<(), String> {
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
pub async fn write_rejects(
    transaction: &Client,
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
        if spec.mode == WriteMode::Replace && exists {
            transaction
                .execute(&format!("DELETE FROM {REJECTS_TABLE} WHERE migration = $1"), &[&spec.migration])
                .await
                .map_err(pg)?;
        }
        return Ok(());
    };
    transaction.batch_execute(&if_not_exists(create_table(&rejects_table()))).await.map_err(pg)?;
    if spec.mode == WriteMode::Replace {
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
    let mut chunk = vec![0u8; CHUNK_BYTES];
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
