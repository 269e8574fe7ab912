//! Several COPY streams into one shadow table (`writers = N`): each its own connection and
//! transaction, fed the rows' batches in turn, so that N server backends insert (and N tasks
//! encode) at once. The shadow was committed empty first, so that every connection sees it; it is
//! not the published table, so the writers' commits publish nothing: the swap that follows does,
//! all or nothing, and a failure drops the shadow (a kill leaves it to the next load).

use arrow::record_batch::RecordBatch;
use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};

use super::connect::{pg_connect, pg_message};
use super::encode::{encode_batch, header, trailer, WireType, FLUSH_BYTES};
use super::rejects::RejectSpill;
use crate::connection::Endpoint;
use crate::db::{target_error, RowStream, SinkBatch, REJECTS_TABLE};
use crate::error::{FerryError, Result};

/// Copies the stream's rows into the shadow through `writers` connections (`copy` is the
/// statement each runs) and its rejects into `rejects`; returns the rows the server counted.
pub async fn copy_in_parallel(
    endpoint: &Endpoint,
    table: &str,
    copy: &str,
    wires: &[WireType],
    writers: usize,
    rows: &mut RowStream,
    rejects: &mut RejectSpill,
) -> Result<u64> {
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (sender, receiver) = tokio::sync::mpsc::channel::<RecordBatch>(2);
        let (endpoint, table, copy, wires) = (endpoint.clone(), table.to_string(), copy.to_string(), wires.to_vec());
        senders.push(sender);
        tasks.push(tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
            write(&endpoint, &table, &copy, &wires, receiver).await
        })));
    }
    let mut next = 0;
    let mut fed = Ok(());
    while let Some(batch) = rows.next().await {
        match batch {
            Ok(SinkBatch::Rows(batch)) => {
                // A writer that stopped has failed: its error is collected below.
                if senders[next % writers].send(batch).await.is_err() {
                    break;
                }
                next += 1;
            }
            Ok(SinkBatch::Rejects(batch)) => {
                if let Err(message) = rejects.push(&batch) {
                    fed = Err(target_error(endpoint, REJECTS_TABLE, message));
                    break;
                }
            }
            Err(error) => {
                fed = Err(error);
                break;
            }
        }
    }
    drop(senders);
    fed?;
    let mut loaded = 0;
    for task in tasks {
        loaded += task.await.map_err(FerryError::internal)??;
    }
    Ok(loaded)
}

/// One writer: its connection, transaction and COPY, until its batches end.
async fn write(
    endpoint: &Endpoint,
    table: &str,
    copy: &str,
    wires: &[WireType],
    mut batches: tokio::sync::mpsc::Receiver<RecordBatch>,
) -> Result<u64> {
    let pg = |e: tokio_postgres::Error| target_error(endpoint, table, pg_message(&e));
    let client = pg_connect(endpoint).await?;
    client.batch_execute("BEGIN").await.map_err(pg)?;
    let sink = client.copy_in::<_, Bytes>(copy).await.map_err(pg)?;
    let mut sink = std::pin::pin!(sink);
    let mut buffer = BytesMut::with_capacity(FLUSH_BYTES * 2);
    header(&mut buffer);
    while let Some(batch) = batches.recv().await {
        encode_batch(&batch, wires, &mut buffer).map_err(|e| target_error(endpoint, table, e))?;
        if buffer.len() >= FLUSH_BYTES {
            sink.send(buffer.split().freeze()).await.map_err(pg)?;
        }
    }
    trailer(&mut buffer);
    sink.send(buffer.split().freeze()).await.map_err(pg)?;
    let loaded = sink.as_mut().finish().await.map_err(pg)?;
    client.batch_execute("COMMIT").await.map_err(pg)?;
    Ok(loaded)
}
