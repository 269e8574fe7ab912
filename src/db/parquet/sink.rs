//! Parquet sink (zstd) to a local directory or any object store. A table is a folder of
//! `part-<run>-<n>.parquet` files and the manifest listing them. Files are written under
//! `_ferry_staging/<run>/<migration>/` and published only when every one is complete: renamed
//! into the table's folder, then the manifest switched to them, then the files it no longer
//! lists deleted (see `manifest`); a failed run deletes its staging files and leaves the table as
//! it was.

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use parquet::arrow::async_reader::{ParquetObjectReader, ParquetRecordBatchStreamBuilder};

use super::files::{FileRoller, Rollers};
use super::manifest;
use super::store::object_store;
use crate::connection::Endpoint;
use crate::db::state::SavedState;
use crate::db::{
    match_columns, rejects_schema, LoadSpec, Loaded, PreparedLoad, RowStream, Sink, SinkBatch, TargetColumn, WriteMode,
};
use crate::error::{FerryError, Result};

/// Where a Parquet location keeps each migration's rejected rows.
const REJECTS_FOLDER: &str = "_ferry_rejects";

#[derive(Clone)]
pub struct ParquetSink {
    endpoint: Endpoint,
}

/// A prepared load: the schema its files get.
struct ParquetLoad {
    sink: ParquetSink,
    spec: LoadSpec,
    target: SchemaRef,
}

impl ParquetSink {
    pub fn new(endpoint: Endpoint) -> Self {
        ParquetSink { endpoint }
    }

    fn error(&self, table: &str, message: impl std::fmt::Display) -> FerryError {
        crate::db::target_error(&self.endpoint, table, message)
    }

    fn store(&self) -> Result<(Arc<dyn ObjectStore>, StorePath)> {
        match &self.endpoint {
            Endpoint::Parquet(url) => object_store(url),
            _ => Err(FerryError::internal("ParquetSink on a non-Parquet endpoint")),
        }
    }
}

fn child(prefix: &StorePath, parts: &[&str]) -> StorePath {
    parts.iter().fold(prefix.clone(), |path, part| path.child(*part))
}

#[async_trait]
impl Sink for ParquetSink {
    async fn state(&mut self, _migration: &str, _table: &str) -> Result<Option<SavedState>> {
        Ok(None) // incremental loads into Parquet are refused when the job is read
    }

    async fn prepare(&mut self, spec: &LoadSpec) -> Result<Box<dyn PreparedLoad>> {
        if spec.mode == WriteMode::Merge {
            return Err(FerryError::Job(format!(
                "migration `{}`: Parquet targets cannot merge (files cannot update rows); use `replace` or `append`",
                spec.migration
            )));
        }
        let (store, prefix) = self.store()?;
        let target = if spec.mode == WriteMode::Append {
            // Appended files must agree with the files already there.
            let folder = child(&prefix, &[&spec.table]);
            let existing = manifest::table_files(&store, &folder).await.map_err(|e| self.error(&spec.table, e))?;
            match existing.first() {
                None => spec.schema.clone(),
                Some(file) => {
                    let reader = ParquetObjectReader::new(store.clone(), folder.child(file.as_str()));
                    let schema = ParquetRecordBatchStreamBuilder::new(reader)
                        .await
                        .map_err(|e| self.error(&spec.table, e))?
                        .schema()
                        .clone();
                    let columns: Vec<TargetColumn> = schema
                        .fields()
                        .iter()
                        .map(|f| TargetColumn {
                            name: f.name().clone(),
                            data_type: f.data_type().clone(),
                            sql_type: f.data_type().to_string(),
                            not_null: false,
                            has_default: true,
                        })
                        .collect();
                    match_columns(spec, &columns)?
                }
            }
        } else {
            spec.schema.clone()
        };
        let target = Arc::new(Schema::new(target.fields().clone()));
        Ok(Box::new(ParquetLoad { sink: self.clone(), spec: spec.clone(), target }))
    }
}

#[async_trait]
impl PreparedLoad for ParquetLoad {
    fn schema(&self) -> SchemaRef {
        self.target.clone()
    }

    async fn write_all(self: Box<Self>, mut rows: RowStream) -> Result<Loaded> {
        let ParquetLoad { sink, spec, target } = *self;
        let spec = &spec;
        let (store, prefix) = sink.store()?;
        sink.remove_killed_staging(&store, &prefix, spec).await;
        // Each load stages apart: the migrations of one run may load at once (`--jobs`).
        let staging = child(&prefix, &["_ferry_staging", &spec.run_id, &spec.migration, &spec.table]);
        let mut rollers = Rollers::new(store.clone(), staging, target, spec.writers);
        let reject_staging = child(&prefix, &["_ferry_staging", &spec.run_id, &spec.migration, "_ferry_rejects"]);
        let mut reject_roller = FileRoller::new(store.clone(), reject_staging, rejects_schema());
        let written: Result<(u64, Vec<StorePath>, Vec<StorePath>)> = async {
            let mut loaded = 0u64;
            while let Some(batch) = rows.next().await {
                match batch? {
                    SinkBatch::Rows(batch) => {
                        loaded += batch.num_rows() as u64;
                        rollers.write(batch).await.map_err(|e| sink.error(&spec.table, e))?;
                    }
                    SinkBatch::Rejects(batch) => {
                        reject_roller.write(&batch).await.map_err(|e| sink.error(REJECTS_FOLDER, e))?;
                    }
                }
            }
            let files = rollers.finish().await.map_err(|e| sink.error(&spec.table, e))?;
            let reject_files = reject_roller.finish(false).await.map_err(|e| sink.error(REJECTS_FOLDER, e))?;
            Ok((loaded, files, reject_files))
        }
        .await;
        let (loaded, files, reject_files) = match written {
            Ok(done) => done,
            Err(error) => {
                sink.remove_staging(&store, &prefix, &spec.run_id, &spec.migration).await;
                return Err(error);
            }
        };
        // Rejects first: a replace clears the migration's earlier ones, as the database sinks do.
        // Each folder's manifest, written last, is what publishes it (see `manifest`).
        let replace = spec.mode == WriteMode::Replace;
        let rejects_folder = child(&prefix, &[REJECTS_FOLDER, &spec.migration]);
        let reject_name = |index: usize| format!("{}-{index:05}.parquet", spec.run_id);
        if !reject_files.is_empty() || replace {
            manifest::publish(&store, &rejects_folder, &reject_files, reject_name, &spec.run_id, !replace)
                .await
                .map_err(|e| sink.error(REJECTS_FOLDER, e))?;
        }
        let folder = child(&prefix, &[&spec.table]);
        let name = |index: usize| format!("part-{}-{index:05}.parquet", spec.run_id);
        manifest::publish(&store, &folder, &files, name, &spec.run_id, !replace)
            .await
            .map_err(|e| sink.error(&spec.table, e))?;
        sink.remove_staging(&store, &prefix, &spec.run_id, &spec.migration).await;
        Ok(Loaded { rows: loaded, ..Loaded::default() })
    }
}

impl ParquetSink {
    /// Removes what killed runs of this migration left staged: a run holds the migration's lock
    /// while it loads, so staging of the migration by another run belongs to no live run.
    async fn remove_killed_staging(&self, store: &Arc<dyn ObjectStore>, prefix: &StorePath, spec: &LoadSpec) {
        let staging = child(prefix, &["_ferry_staging"]);
        let Ok(runs) = store.list_with_delimiter(Some(&staging)).await else { return };
        for run in runs.common_prefixes.iter().filter_map(|run| run.filename()) {
            if run != spec.run_id && self.remove_staging(store, prefix, run, &spec.migration).await > 0 {
                tracing::info!(migration = %spec.migration, run, "removed what a killed run staged");
            }
        }
    }

    /// Best-effort removal of what `run` staged for `migration` (and, on a local disk, its
    /// folders, and the run's and the location's staging folders once nothing else stages in
    /// them); returns the files removed.
    async fn remove_staging(
        &self,
        store: &Arc<dyn ObjectStore>,
        prefix: &StorePath,
        run: &str,
        migration: &str,
    ) -> usize {
        let folder = child(prefix, &["_ferry_staging", run, migration]);
        let files: Vec<StorePath> =
            store.list(Some(&folder)).map_ok(|m| m.location).try_collect().await.unwrap_or_default();
        for file in &files {
            let _ = store.delete(file).await;
        }
        if let Endpoint::Parquet(url) = &self.endpoint {
            if let Ok(root) = url.to_file_path() {
                let staging = root.join("_ferry_staging");
                let _ = std::fs::remove_dir_all(staging.join(run).join(migration));
                let _ = std::fs::remove_dir(staging.join(run)); // only if no other load of the run stages
                let _ = std::fs::remove_dir(staging); // only if no other run is staging
            }
        }
        files.len()
    }
}
