//! Runs a plan: for each migration, in dependency order, plan its query over the sources, check
//! the target, stream the rows through the reject split into the sink, and publish.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;

use arrow::datatypes::{Field, Schema};

use crate::check::gate::{audit_gate, read_back, Sent};
use crate::check::reconcile::{ReconcileStatus, Reconciliation};
use crate::check::{self, Audit, CheckResult};
use crate::error::{FerryError, Result};
use crate::incremental::{plan_load, RunOptions};
use crate::job::{MigrationPlan, Mode, Plan};
use crate::lock::lock_migration;
use crate::report::{thousands, MigrationReport, RunReport, Status};
use crate::sink::{self, conform, LoadSpec, SinkBatch, WriteMode};
use crate::source::ReadCounter;
use crate::transform::{plan_migration_in, RejectSplitter};

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
/// the run: later migrations are reported as skipped, and the report carries the error.
pub async fn run(plan: &Plan, names: &[String], progress: Progress) -> Result<RunReport> {
    run_with(plan, names, &RunOptions::default(), progress).await
}

/// [`run`] with the command line's incremental options.
pub async fn run_with(plan: &Plan, names: &[String], options: &RunOptions, progress: Progress) -> Result<RunReport> {
    let selected = plan.select(names)?;
    options.check(&selected)?;
    let mut report = RunReport {
        run_id: options.run_id.clone().unwrap_or_else(new_run_id),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        migrations: Vec::new(),
        error: None,
        error_kind: None,
    };
    for migration in selected {
        if report.error.is_some() {
            report.migrations.push(skipped(migration));
            continue;
        }
        let started = Instant::now();
        let outcome = run_migration(plan, migration, options, &report.run_id, progress.clone()).await.map_err(
            |error| match error {
                FerryError::Execution(message) => {
                    FerryError::Execution(format!("migration `{}`: {message}", migration.name))
                }
                other => other,
            },
        );
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(mut done) => {
                if let Some(error) = &done.error {
                    report.error = Some(error.clone());
                    report.error_kind = Some(crate::error::ErrorKind::Failure);
                }
                done.seconds = seconds;
                done.rows_per_second = if seconds > 0.0 { done.rows_read as f64 / seconds } else { 0.0 };
                report.migrations.push(done);
            }
            Err(error) => {
                let mut failed = skipped(migration);
                failed.status = Status::Failed;
                failed.seconds = seconds;
                if let FerryError::ChecksFailed { results, .. } = &error {
                    failed.checks.clone_from(results);
                }
                failed.error = Some(error.to_string());
                report.migrations.push(failed);
                report.error = Some(error.to_string());
                report.error_kind = Some(error.kind());
            }
        }
    }
    Ok(report)
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
        rejects: Default::default(),
        cursor: migration.cursor.clone(),
        watermark_before: None,
        watermark_after: None,
        rows_null_cursor: None,
        checks: Vec::new(),
        reconciliation: None,
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
) -> Result<MigrationReport> {
    let lock = lock_migration(&migration.target.endpoint, &migration.name).await?;
    let report = load_migration(plan, migration, options, run_id, progress).await;
    lock.release().await;
    report
}

/// One migration's rows, read, transformed and written while its lock is held.
async fn load_migration(
    plan: &Plan,
    migration: &MigrationPlan,
    options: &RunOptions,
    run_id: &str,
    progress: Progress,
) -> Result<MigrationReport> {
    let partitions = options.partitions.unwrap_or(migration.partitions);
    let (frame, counter) = plan_migration_in(plan, migration, partitions).await?;
    let mut sink = sink::open(&migration.target.endpoint);
    let (frame, load) = plan_load(migration, options, sink.as_mut(), frame).await?;
    let query_schema = frame.schema().as_arrow().clone();
    let mut splitter = RejectSplitter::new(&migration.name, run_id, &query_schema, &migration.key)?;
    let spec = LoadSpec {
        migration: migration.name.clone(),
        run_id: run_id.to_string(),
        table: migration.table.clone(),
        mode: load.write,
        key: migration.key.clone(),
        schema: splitter.output_schema(),
        watermark: load.watermark.clone(),
    };
    let observed = match (&load.watermark, &load.cursor) {
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
    let target_schema = sink.prepare(&spec).await?;
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
    let audit = Arc::new(Mutex::new(audit));
    let reconcile = migration.reconcile && load.write != WriteMode::Append;
    let sent = reconcile.then(|| Sent::new(&target_schema, &migration.key, load.write)).transpose()?;
    let sent = Arc::new(Mutex::new(sent));
    let sent_schema = target_schema.clone();
    let verdict: Arc<Mutex<Vec<CheckResult>>> = Arc::default();
    let stream = frame.execute_stream().await.map_err(FerryError::from)?;
    let rejected = Arc::new(Mutex::new((0u64, Default::default())));
    let rows = {
        let rejected = rejected.clone();
        let name = migration.name.clone();
        let key = migration.key.clone();
        let audit = audit.clone();
        let sent = sent.clone();
        stream.flat_map(move |batch| {
            let split = batch.map_err(FerryError::from).and_then(|batch| {
                if let Some((watermark, index)) = &observed {
                    watermark.observe(batch.column(*index))?;
                }
                let (kept, records) = splitter.split(&batch)?;
                let rows = conform(&kept, &target_schema, &name, &key)?;
                if let Some(audit) = audit.lock().map_err(FerryError::internal)?.as_mut() {
                    audit.observe(&rows)?;
                }
                if let Some(sent) = sent.lock().map_err(FerryError::internal)?.as_mut() {
                    sent.add(&rows)?;
                }
                let mut out = vec![SinkBatch::Rows(rows)];
                if let Some(records) = records {
                    if let Ok(mut counts) = rejected.lock() {
                        counts.0 += records.num_rows() as u64;
                        counts.1 = splitter.reasons.clone();
                    }
                    out.push(SinkBatch::Rejects(records));
                }
                Ok(out)
            });
            let items: Vec<Result<SinkBatch>> = match split {
                Ok(batches) => batches.into_iter().map(Ok).collect(),
                Err(error) => vec![Err(error)],
            };
            futures::stream::iter(items)
        })
    };
    let rows = rows.chain(audit_gate(&migration.name, audit, verdict.clone(), counter.clone()));
    let ticker = show_progress(&migration.name, counter.clone(), progress);
    let loaded = sink.write_all(&spec, Box::pin(rows)).await;
    ticker.finish();
    let loaded = loaded?;
    let (rows_rejected, reasons) = rejected.lock().map(|c| c.clone()).unwrap_or_default();
    let rows_read = counter.get();
    let mut report = skipped(migration);
    report.status = Status::Succeeded;
    report.publish = load.write;
    report.rows_read = rows_read;
    report.rows_loaded = loaded.rows;
    report.rows_inserted = loaded.rows - loaded.updated;
    report.rows_updated = loaded.updated;
    report.checks = verdict.lock().map(|v| v.clone()).unwrap_or_default();
    let sent = sent.lock().map_err(FerryError::internal)?.take();
    let reconciliation = match (sent, migration.reconcile) {
        (Some(sent), _) => match read_back(migration, &sent_schema, sent, partitions).await {
            Ok(reconciliation) => reconciliation,
            Err(error) => {
                tracing::warn!(migration = %migration.name, %error, "the published table could not be reconciled");
                Reconciliation::unverified(loaded.rows, &error)
            }
        },
        (None, true) => Reconciliation::skipped(loaded.rows, "an append's table also holds rows of earlier runs"),
        (None, false) => Reconciliation::skipped(loaded.rows, "`reconcile = false`"),
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
    report.rows_rejected = rows_rejected;
    report.rows_filtered = rows_read as i64 - loaded.rows as i64 - rows_rejected as i64;
    report.rejects = reasons;
    Ok(report)
}

/// The source rows whose cursor is NULL, which an incremental run's range leaves out: counted
/// apart (the filter goes down to the source like the run's own).
async fn null_cursors(plan: &Plan, migration: &MigrationPlan, partitions: usize, cursor: &str) -> Result<u64> {
    let (frame, _) = plan_migration_in(plan, migration, partitions).await?;
    let nulls = frame.filter(datafusion::prelude::ident(cursor).is_null())?.count().await?;
    Ok(nulls as u64)
}

/// Shows rows read and rows/s while a migration runs; stops when dropped or finished.
struct Ticker {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Option<indicatif::ProgressBar>,
}

impl Ticker {
    fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn show_progress(name: &str, counter: Arc<ReadCounter>, progress: Progress) -> Ticker {
    match progress {
        Progress::Quiet => return Ticker { task: None, bar: None },
        Progress::Counter(shown) => {
            shown.store(0, Ordering::Relaxed);
            let task = tokio::spawn(async move {
                loop {
                    shown.store(counter.get(), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            return Ticker { task: Some(task), bar: None };
        }
        Progress::Auto => {}
    }
    let started = Instant::now();
    let rate = move |rows: u64| rows as f64 / started.elapsed().as_secs_f64().max(0.001);
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        let style = indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(name.to_string());
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            loop {
                let rows = counter.get();
                shown.set_message(format!(
                    "{} rows read, {} rows/s",
                    thousands(rows as i64),
                    thousands(rate(rows) as i64)
                ));
                shown.tick();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Ticker { task: Some(task), bar: Some(bar) }
    } else {
        let name = name.to_string();
        let task = tokio::spawn(async move {
            tracing::info!(migration = %name, "started");
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let rows = counter.get();
                tracing::info!(migration = %name, rows_read = rows, rows_per_second = rate(rows) as u64, "progress");
            }
        });
        Ticker { task: Some(task), bar: None }
    }
}
