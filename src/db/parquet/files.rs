//! Parquet files written as batches come: one file after another (`FileRoller`), or several
//! such sequences at once on tasks of their own (`Rollers`, `writers = N`), since encoding and
//! compressing Parquet is the CPU work of a Parquet load.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use parquet::arrow::async_writer::{AsyncArrowWriter, ParquetObjectWriter};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// A new Parquet file is started after this many rows or bytes, whichever comes first.
const ROWS_PER_FILE: usize = 1_000_000;
const BYTES_PER_FILE: usize = 128 << 20;

fn properties() -> WriterProperties {
    WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).build()
}

/// Writes batches into numbered files under `folder`; returns the files and the row count.
pub struct FileRoller {
    store: Arc<dyn ObjectStore>,
    folder: StorePath,
    /// Each file is named `<prefix><n>.parquet`.
    prefix: String,
    schema: SchemaRef,
    writer: Option<AsyncArrowWriter<ParquetObjectWriter>>,
    rows_in_file: usize,
    files: Vec<StorePath>,
}

impl FileRoller {
    pub fn new(store: Arc<dyn ObjectStore>, folder: StorePath, schema: SchemaRef) -> Self {
        FileRoller::named(store, folder, schema, "part-")
    }

    pub fn named(store: Arc<dyn ObjectStore>, folder: StorePath, schema: SchemaRef, prefix: &str) -> Self {
        FileRoller {
            store,
            folder,
            prefix: prefix.to_string(),
            schema,
            writer: None,
            rows_in_file: 0,
            files: Vec::new(),
        }
    }

    pub async fn write(&mut self, batch: &arrow::record_batch::RecordBatch) -> Result<(), String> {
        let full = self.writer.as_ref().is_some_and(|w| w.bytes_written() + w.in_progress_size() >= BYTES_PER_FILE);
        if self.writer.is_none() || self.rows_in_file >= ROWS_PER_FILE || full {
            self.close_file().await?;
            let path = self.folder.child(format!("{}{:05}.parquet", self.prefix, self.files.len()));
            let output = ParquetObjectWriter::new(self.store.clone(), path.clone());
            let writer = AsyncArrowWriter::try_new(output, self.schema.clone(), Some(properties()))
                .map_err(|e| e.to_string())?;
            self.writer = Some(writer);
            self.files.push(path);
            self.rows_in_file = 0;
        }
        if let Some(writer) = self.writer.as_mut() {
            writer.write(batch).await.map_err(|e| e.to_string())?;
        }
        self.rows_in_file += batch.num_rows();
        Ok(())
    }

    async fn close_file(&mut self) -> Result<(), String> {
        if let Some(writer) = self.writer.take() {
            writer.close().await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Closes the last file; a load of no rows still leaves one file, so the table has a schema
    /// (unless `empty_file` is false).
    pub async fn finish(mut self, empty_file: bool) -> Result<Vec<StorePath>, String> {
        if self.files.is_empty() && empty_file {
            let empty = arrow::record_batch::RecordBatch::new_empty(self.schema.clone());
            self.write(&empty).await?;
        }
        self.close_file().await?;
        Ok(self.files)
    }
}

/// Several `FileRoller`s at once, each on a task of its own, dealt the batches in turn.
pub struct Rollers {
    senders: Vec<tokio::sync::mpsc::Sender<RecordBatch>>,
    tasks: Vec<tokio_util::task::AbortOnDropHandle<Result<Vec<StorePath>, String>>>,
    next: usize,
}

impl Rollers {
    pub fn new(store: Arc<dyn ObjectStore>, folder: StorePath, schema: SchemaRef, writers: usize) -> Rollers {
        let (mut senders, mut tasks) = (Vec::new(), Vec::new());
        for writer in 0..writers.max(1) {
            let (sender, mut batches) = tokio::sync::mpsc::channel::<RecordBatch>(2);
            let mut roller =
                FileRoller::named(store.clone(), folder.clone(), schema.clone(), &format!("part-{writer:02}-"));
            senders.push(sender);
            tasks.push(tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
                while let Some(batch) = batches.recv().await {
                    roller.write(&batch).await?;
                }
                // The first writer gets the first batch: it alone leaves an empty file for no rows.
                roller.finish(writer == 0).await
            })));
        }
        Rollers { senders, tasks, next: 0 }
    }

    pub async fn write(&mut self, batch: RecordBatch) -> Result<(), String> {
        let at = self.next % self.senders.len();
        self.next += 1;
        if self.senders[at].send(batch).await.is_ok() {
            return Ok(());
        }
        // The writer stopped: its task says why.
        let task = self.tasks.swap_remove(at);
        match task.await {
            Ok(Err(message)) => Err(message),
            Ok(Ok(_)) => Err("a Parquet writer stopped".to_string()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Every file written, in the writers' order.
    pub async fn finish(self) -> Result<Vec<StorePath>, String> {
        drop(self.senders);
        let mut files = Vec::new();
        for task in self.tasks {
            files.extend(task.await.map_err(|e| e.to_string())??);
        }
        Ok(files)
    }
}
