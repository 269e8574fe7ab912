//! A file of some columns of every partition's rows, written as they stream (the checks' input
//! for whole-table queries, a merge's sent keys): one writer that the partitions' forks share.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow::ipc::writer::FileWriter;

use super::spill_error;
use crate::error::{FerryError, Result};

#[derive(Clone)]
pub struct SharedSpill(Arc<Mutex<ColumnSpill>>);

struct ColumnSpill {
    writer: FileWriter<File>,
    columns: Vec<usize>,
    path: PathBuf,
}

fn poisoned<T>(_: T) -> FerryError {
    FerryError::internal("a spill file's lock is poisoned")
}

impl SharedSpill {
    /// A new file at `path` for the columns `columns` of rows of `schema`.
    pub fn create(path: PathBuf, schema: &Schema, columns: Vec<usize>) -> Result<SharedSpill> {
        let file = File::create(&path).map_err(|source| FerryError::Io { path: path.clone(), source })?;
        let writer = FileWriter::try_new(file, &schema.project(&columns)?).map_err(|e| spill_error(&path, e))?;
        Ok(SharedSpill(Arc::new(Mutex::new(ColumnSpill { writer, columns, path }))))
    }

    pub fn write(&self, batch: &RecordBatch) -> Result<()> {
        let mut spill = self.0.lock().map_err(poisoned)?;
        let projected = batch.project(&spill.columns)?;
        let ColumnSpill { writer, path, .. } = &mut *spill;
        writer.write(&projected).map_err(|e| spill_error(path, e))
    }

    /// The file, complete, once every fork that wrote to it is gone.
    pub fn finish(self) -> Result<PathBuf> {
        let spill = Arc::try_unwrap(self.0).map_err(|_| FerryError::internal("a spill file is still shared"))?;
        let mut spill = spill.into_inner().map_err(poisoned)?;
        spill.writer.finish().map_err(|e| spill_error(&spill.path, e))?;
        Ok(spill.path)
    }
}
