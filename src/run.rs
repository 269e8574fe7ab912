//! Runs a plan: for each migration, in dependency order, plan its query over the sources, check
//! the target, stream the rows through the reject split into the sink, and publish.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::error::{FerryError, Result};
use crate::job::{MigrationPlan, Plan};
use crate::report::{thousands, MigrationReport, RunReport, Status};
use crate::sink::{self, conform, LoadSpec, SinkBatch};
use crate::source::ReadCounter;
use crate::transform::{plan_migration, RejectSplitter};

/// How a run shows its progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar when stderr is a terminal, log lines otherwise.
    #[default]
    Auto,
    /// Nothing (tests, the API).
    Quiet,
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
    let selected = plan.select(names)?;
    let mut report = RunReport {
        run_id: new_run_id(),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        migrations: Vec::new(),
        error: None,
    };
    for migration in selected {
        if report.error.is_some() {
            report.migrations.push(skipped(migration));
            continue;
        }
        let started = Instant::now();
        let outcome = run_migration(plan, migration, &report.run_id, progress).await.map_err(|error| match error {
            FerryError::Execution(message) => {
                FerryError::Execution(format!("migration `{}`: {message}", migration.name))
            }
            other => other,
        });
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(mut done) => {
                done.seconds = seconds;
                done.rows_per_second = if seconds > 0.0 { done.rows_read as f64 / seconds } else { 0.0 };
                report.migrations.push(done);
            }
            Err(error) => {
                let mut failed = skipped(migration);
                failed.status = Status::Failed;
                failed.seconds = seconds;
                failed.error = Some(error.to_string());
                report.migrations.push(failed);
                report.error = Some(error.to_string());
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
        source: migration.source.endpoint.masked(),
        target: migration.target.endpoint.masked(),
        table: migration.table.clone(),
        rows_read: 0,
        rows_loaded: 0,
        rows_rejected: 0,
        rows_filtered: 0,
        rejects: Default::default(),
        seconds: 0.0,
        rows_per_second: 0.0,
        error: None,
    }
}

async fn run_migration(
    plan: &Plan,
    migration: &MigrationPlan,
    run_id: &str,
    progress: Progress,
) -> Result<MigrationReport> {
    let (frame, counter) = plan_migration(plan, migration).await?;
    let query_schema = frame.schema().as_arrow().clone();
    let mut splitter = RejectSplitter::new(&migration.name, run_id, &query_schema, &migration.key)?;
    let spec = LoadSpec {
        migration: migration.name.clone(),
        run_id: run_id.to_string(),
        table: migration.table.clone(),
        mode: migration.mode,
        key: migration.key.clone(),
        schema: splitter.output_schema(),
    };
    let mut sink = sink::open(&migration.target.endpoint);
    let target_schema = sink.prepare(&spec).await?;
    let stream = frame.execute_stream().await.map_err(FerryError::from)?;
    let rejected = Arc::new(Mutex::new((0u64, Default::default())));
    let rows = {
        let rejected = rejected.clone();
        let name = migration.name.clone();
        let key = migration.key.clone();
        stream.flat_map(move |batch| {
            let split = batch.map_err(FerryError::from).and_then(|batch| {
                let (kept, records) = splitter.split(&batch)?;
                let mut out = vec![SinkBatch::Rows(conform(&kept, &target_schema, &name, &key)?)];
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
    let ticker = show_progress(&migration.name, counter.clone(), progress);
    let loaded = sink.write_all(&spec, Box::pin(rows)).await;
    ticker.finish();
    let loaded = loaded?;
    let (rows_rejected, reasons) = rejected.lock().map(|c| c.clone()).unwrap_or_default();
    let rows_read = counter.get();
    let mut report = skipped(migration);
    report.status = Status::Succeeded;
    report.rows_read = rows_read;
    report.rows_loaded = loaded;
    report.rows_rejected = rows_rejected;
    report.rows_filtered = rows_read as i64 - loaded as i64 - rows_rejected as i64;
    report.rejects = reasons;
    Ok(report)
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
    if progress == Progress::Quiet {
        return Ticker { task: None, bar: None };
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
