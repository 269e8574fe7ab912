//! Runs a plan: for each migration, in dependency order, plan its query over the sources, check
//! the target, stream the rows through the pipeline's stages (`pipeline`) into the sink, and
//! publish.

mod funnel;
mod jobs;
mod pipeline;
mod progress;
mod retry;
mod stage;

pub use jobs::default_jobs;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::{Field, Schema};
use futures::StreamExt;

use crate::check::reconcile::{ReconcileStatus, Reconciliation};
use crate::check::sent::{read_back, Sent};
use crate::check::{self, Audit};
use crate::db::{LoadSpec, WriteMode};
use crate::error::{FerryError, Result};
use crate::incremental::{plan_load, RunOptions};
use crate::job::{MigrationPlan, Mode, Parts, Plan};
use crate::report::{MigrationReport, RunReport, Status};
use crate::transform::{plan_migration_in, RejectSplitter};
use funnel::funnel;
use pipeline::{Checks, Conservation, Digest, QueryRows, Split, Splitter};
use progress::show_progress;
use stage::adapt_parts;

/// How a run shows its progress.
#[derive(Clone, Debug, Default)]
pub enum Progress {
    /// A progress bar when stderr is a terminal, log lines otherwise.
    #[default]
    Auto,
    /// Nothing (tests).
    Quiet,
    /// The current migration's rows read, kept in a counter someone else shows (the API).
    Counter(Arc<AtomicU64>),
}

/// A new run id: UTC time and a random suffix, sortable and unique enough to name staging.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("{}-{:06x}", chrono::Utc::now().format("%Y%m%dT%H%M%S"), hasher.finish() & 0xff_ffff)
}

/// Runs the named migrations (all when `names` is empty) and reports on each. A failure stops
/// the run: migrations not started yet are reported as skipped, and the report carries the error.
pub async fn run(plan: &Plan, names: &[String], progress: Progress) -> Result<RunReport> {
    run_with(plan, names, &RunOptions::default(), progress).await
}

/// [`run`] with the command line's options (incremental ranges, parts, migrations at once).
pub async fn run_with(plan: &Plan, names: &[String], options: &RunOptions, progress: Progress) -> Result<RunReport> {
    let selected = plan.select(names)?;
    options.check(&selected)?;
    let mut report = RunReport {
        run_id: options.run_id.clone().unwrap_or_else(new_run_id),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        migrations: Vec::new(),
        error: None,
        error_kind: None,
        schema: Vec::new(),
    };
    jobs::run_all(plan, &selected, options, progress, &mut report).await?;
    Ok(report)
}

/// Runs one migration and reports on it, with the error that stops the run, if any.
async fn run_one(
    plan: &Plan,
    migration: &MigrationPlan,
    options: &RunOptions,
    run_id: &str,
    progress: Progress,
) -> (MigrationReport, Option<(String, crate::error::ErrorKind)>) {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let started = Instant::now();
    let mut retried = Vec::new();
    let (outcome, checks) = loop {
        let mut attempt = retry::Attempt::default();
        let outcome = run_migration(plan, migration, options, run_id, progress.clone(), &mut attempt).await;
        match outcome {
            Err(error) if retried.len() < options.retries as usize && retry::retryable(&error, &attempt, migration) => {
                let message = crate::connection::mask_text(&error.to_string());
                let wait = retry::backoff(retried.len());
                tracing::warn!(migration = %migration.name, error = %message, ?wait, "retrying");
                retried.push(message);
                tokio::time::sleep(wait).await;
            }
            outcome => break (outcome, attempt.checks),
        }
    };
    let outcome = outcome.map_err(|error| match error {
        FerryError::Execution(message) => FerryError::Execution(format!("migration `{}`: {message}", migration.name)),
        other => other,
    });
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(mut done) => {
            let error = done.error.clone().map(|error| (error, crate::error::ErrorKind::Failure));
            done.seconds = seconds;
            done.started_at = Some(started_at);
            done.retried = retried;
            done.rows_per_second = if seconds > 0.0 { done.rows_read as f64 / seconds } else { 0.0 };
            (done, error)
        }
        Err(error) => {
            let mut failed = skipped(migration);
            failed.status = Status::Failed;
            failed.seconds = seconds;
            failed.started_at = Some(started_at);
            failed.retried = retried;
            failed.checks = checks;
            // Driver errors (a panic's message among them) may quote a URL.
            let message = crate::connection::mask_text(&error.to_string());
            failed.error = Some(message.clone());
            (failed, Some((message, error.kind())))
        }
    }
}

fn skipped(migration: &MigrationPlan) -> MigrationReport {
    MigrationReport {
        name: migration.name.clone(),
        status: Status::Skipped,
        mode: migration.mode,
        publish: match migration.mode {
            Mode::Replace => WriteMode::Replace,
            Mode::Append => WriteMode::Append,
            Mode::Merge | Mode::Incremental => WriteMode::Merge,
        },
        source: migration.source.endpoint.masked(),
        target: migration.target.endpoint.masked(),
        table: migration.table.clone(),
        rows_read: 0,
        rows_loaded: 0,
        rows_rejected: 0,
        rows_filtered: 0,
        rows_inserted: 0,
        rows_updated: 0,
        rows_unchanged: 0,
        rejects: Default::default(),
        cursor: migration.cursor.clone(),
        watermark_before: None,
        watermark_after: None,
        rows_null_cursor: None,
        checks: Vec::new(),
        reconciliation: None,
        started_at: None,
        retried: Vec::new(),
        publish_method: None,
        publish_note: None,
        cluster: None,
        seconds: 0.0,
        rows_per_second: 0.0,
        error: None,
    }
}

async fn run_migration(
    plan: &Plan,
    migration: &MigrationPlan,
    options: &RunOptions,
    run_id: &str,
    progress: Progress,
    attempt: &mut retry::Attempt,
) -> Result<MigrationReport> {
    let lock = migration.target.backend().lock(&migration.name).await?;
    let report = load_migration(plan, migration, options, run_id, progress, attempt).await;
    lock.release().await;
    report
}

/// One migration's rows, read, transformed and written while its lock is held. The checks'
/// results go to `attempt` as soon as they are known, so that a failed run reports them too,
/// and so does the moment the rows are published (a later failure is not retried).
async fn load_migration(
    plan: &Plan,
    migration: &MigrationPlan,
    options: &RunOptions,
    run_id: &str,
    progress: Progress,
    attempt: &mut retry::Attempt,
) -> Result<MigrationReport> {
    let partitions = options.partitions.unwrap_or(migration.partitions);
    let (frame, counter, cluster) = match options.cluster.as_ref().or(plan.cluster.as_ref()) {
        None => {
            let (frame, counter) = plan_migration_in(plan, migration, partitions).await?;
            (frame, counter, None)
        }
        Some(cluster) => on_cluster(plan, migration, cluster, run_id, options, partitions).await?,
    };
    let mut sink = migration.target.backend().sink()?;
    let (frame, load) = plan_load(migration, options, sink.as_mut(), frame).await?;
    let query_schema = frame.schema().as_arrow().clone();
    let splitter = RejectSplitter::new(&migration.name, run_id, &query_schema, &migration.key)?;
    let task = Arc::new(frame.task_ctx());
    let query = frame.create_physical_plan().await?;
    let parts = query.properties().output_partitioning().partition_count();
    let writes_at_once = migration.target.backend().capabilities().writes_at_once;
    let writers = options.writers.or(migration.writers).unwrap_or(if writes_at_once { parts } else { 1 });
    let spec = LoadSpec {
        migration: migration.name.clone(),
        run_id: run_id.to_string(),
        table: migration.table.clone(),
        mode: load.write,
        key: migration.key.clone(),
        schema: splitter.output_schema(),
        watermark: load.watermark.clone(),
        publish: migration.publish,
        writers,
    };
    let watermark = match (&load.watermark, &load.cursor) {
        (Some(watermark), Some(cursor)) => Some((watermark.clone(), query_schema.index_of(cursor)?)),
        _ => None,
    };
    // Referenced tables are read before the load's transaction begins.
    let audit_files = match migration.checks.is_empty() {
        true => None,
        false => {
            let folder = check::audit_folder()?;
            let references = check::prefetch_references(migration, folder.path()).await?;
            Some((folder, references))
        }
    };
    let prepared = sink.prepare(&spec).await?;
    let target_schema = prepared.schema();
    let audit = match audit_files {
        None => None,
        Some((folder, references)) => {
            // Compiled against the rows as `conform` makes them: every column nullable.
            let fields: Vec<Field> =
                target_schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
            let schema = Arc::new(Schema::new(fields));
            Some(Audit::new(migration, &schema, references, folder)?)
        }
    };
    let reconcile = migration.reconcile && load.write != WriteMode::Append;
    let sent =
        reconcile.then(|| Sent::new(&target_schema, &migration.key, load.write, prepared.digest())).transpose()?;
    // The query's partitions stay apart through every stage up to the sink.
    let query = (0..parts)
        .map(|part| Ok(query.execute(part, task.clone())?.map(|batch| batch.map_err(FerryError::from)).boxed()))
        .collect::<Result<Vec<_>>>()?;
    let (rows, query_rows) = adapt_parts(query, QueryRows { watermark, rows: 0 })?;
    let splitter = Splitter {
        splitter,
        target: target_schema.clone(),
        migration: migration.name.clone(),
        key: migration.key.clone(),
        counted: Split::default(),
    };
    let (mut rows, split) = adapt_parts(rows, splitter)?;
    let mut verdict = None;
    if let Some(audit) = audit {
        let (checked, results) =
            adapt_parts(rows, Checks { audit, migration: migration.name.clone(), source_rows: counter.clone() })?;
        (rows, verdict) = (checked, Some(results));
    }
    let mut digest = None;
    if let Some(sent) = sent {
        let (digested, summary) = adapt_parts(rows, Digest(sent))?;
        (rows, digest) = (digested, Some(summary));
    }
    let (rows, counts) = adapt_parts(rows, Conservation::new(&migration.name, query_rows, split))?;
    let ticker = show_progress(&migration.name, counter.clone(), progress);
    let loaded = prepared.write_all(funnel(rows)).await;
    ticker.finish();
    if let Some(verdict) = verdict {
        // Known once the rows have all passed, whether the load then failed or not.
        if let Ok(results) = verdict.get("checks").await {
            attempt.checks = results;
        }
    }
    let loaded = loaded?;
    attempt.published = true;
    let counts = counts.get("conservation").await?;
    counts.acknowledged(&migration.name, &migration.table, loaded.rows)?;
    let rows_read = counter.get();
    let mut report = skipped(migration);
    report.status = Status::Succeeded;
    report.publish = load.write;
    report.rows_read = rows_read;
    report.rows_loaded = loaded.rows;
    report.rows_inserted = loaded.rows - loaded.updated - loaded.unchanged;
    report.rows_updated = loaded.updated;
    report.rows_unchanged = loaded.unchanged;
    report.publish_method = loaded.method.map(str::to_string);
    report.publish_note = loaded.note.clone();
    report.cluster = cluster;
    report.checks = attempt.checks.clone();
    let sent = match digest {
        Some(digest) => Some(digest.get("digest").await?),
        None => None,
    };
    let reconcile = async {
        match (sent, migration.reconcile) {
            (Some(sent), _) => match read_back(migration, &target_schema, sent, partitions).await {
                Ok(reconciliation) => reconciliation,
                Err(error) => {
                    tracing::warn!(migration = %migration.name, %error, "the published table could not be reconciled");
                    Reconciliation::unverified(loaded.rows, &error)
                }
            },
            (None, true) => Reconciliation::skipped(loaded.rows, "an append's table also holds rows of earlier runs"),
            (None, false) => Reconciliation::skipped(loaded.rows, "`reconcile = false`"),
        }
    };
    let reconciliation = match &options.after_publish {
        None => reconcile.await,
        Some(after) if migration.target.backend().capabilities().builds_beside_reads => {
            tokio::join!(reconcile, (after.0)(migration.name.clone())).0
        }
        Some(after) => {
            let reconciliation = reconcile.await;
            (after.0)(migration.name.clone()).await;
            reconciliation
        }
    };
    if reconciliation.status == ReconcileStatus::Differs {
        report.status = Status::Mismatched;
        report.error = Some(format!(
            "migration `{}`: published, but `{}` does not match the rows sent: {}; something in the target changed them (a trigger, a default, a truncation)",
            migration.name,
            migration.table,
            reconciliation.detail.clone().unwrap_or_default()
        ));
    }
    report.reconciliation = Some(reconciliation);
    if let Some(cursor) = &load.cursor {
        report.cursor = Some(cursor.clone());
        report.watermark_before = load.before.clone();
        report.watermark_after = match &load.watermark {
            Some(watermark) => watermark.text()?,
            None => load.before.clone(),
        };
        report.rows_null_cursor = Some(match &load.watermark {
            Some(watermark) if !load.filtered => watermark.nulls(),
            _ => null_cursors(plan, migration, partitions, cursor).await?,
        });
    }
    report.rows_rejected = counts.split.rejected;
    // What the query left out: the rows read from the sources that it did not give.
    report.rows_filtered = rows_read as i64 - counts.query as i64;
    report.rejects = counts.split.reasons;
    Ok(report)
}

/// The migration's query computed by the cluster, over its sources staged for it.
#[cfg(feature = "distributed")]
async fn on_cluster(
    plan: &Plan,
    migration: &MigrationPlan,
    cluster: &crate::incremental::ClusterRun,
    run_id: &str,
    options: &RunOptions,
    partitions: Parts,
) -> Result<(datafusion::dataframe::DataFrame, Arc<crate::db::ReadCounter>, Option<crate::report::ClusterSteps>)> {
    let stager = options.stager.as_ref().ok_or_else(|| FerryError::internal("a cluster run without a stager"))?;
    let (frame, counter, staged) =
        crate::distributed::migration::plan_migration(plan, migration, cluster, run_id, stager, partitions).await?;
    let steps = crate::report::ClusterSteps {
        scheduler: cluster.url.clone(),
        stage: cluster.stage.clone(),
        staged_seconds: staged,
    };
    Ok((frame, counter, Some(steps)))
}

#[cfg(not(feature = "distributed"))]
async fn on_cluster(
    _plan: &Plan,
    _migration: &MigrationPlan,
    _cluster: &crate::incremental::ClusterRun,
    _run_id: &str,
    _options: &RunOptions,
    _partitions: Parts,
) -> Result<(datafusion::dataframe::DataFrame, Arc<crate::db::ReadCounter>, Option<crate::report::ClusterSteps>)> {
    Err(FerryError::Job(crate::sql::WITHOUT_CLUSTER.into()))
}

/// The source rows whose cursor is NULL, which an incremental run's range leaves out: counted
/// apart (the filter goes down to the source like the run's own).
async fn null_cursors(plan: &Plan, migration: &MigrationPlan, partitions: Parts, cursor: &str) -> Result<u64> {
    let (frame, _) = plan_migration_in(plan, migration, partitions).await?;
    let nulls = frame.filter(datafusion::prelude::ident(cursor).is_null())?.count().await?;
    Ok(nulls as u64)
}
