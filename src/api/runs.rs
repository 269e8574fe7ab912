//! Runs started through the API: one at a time per migration, tracked while they go (rows read
//! so far), recorded in the target's `_ferry_runs` when they end.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use super::history::{mark_interrupted, record, running_elsewhere, stored, RunFilter, StoredRun};
use super::AppState;
use crate::copy::run_job;
use crate::error::ErrorKind;
use crate::incremental::RunOptions;
use crate::report::RunReport;
use crate::run::{new_run_id, Progress};

/// A run as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RunView {
    pub id: String,
    pub migration: String,
    /// `running`, `succeeded`, `failed`, or `interrupted` (its process died).
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Rows read from the source so far (while running) or in all (every table of a copy).
    pub rows_read: u64,
    /// The run's report once it finished (null while it runs).
    #[schema(value_type = Option<crate::report::RunReport>)]
    pub report: Option<serde_json::Value>,
    pub error: Option<String>,
    /// Who has to act on the error: `input`, `busy`, `checks`, `unavailable` or `failure`.
    pub error_kind: Option<ErrorKind>,
    /// When the migration was found running elsewhere: that run, if another server recorded it.
    #[serde(skip)]
    #[schema(ignore)]
    pub running_run_id: Option<String>,
}

impl RunView {
    fn from_stored(run: StoredRun) -> RunView {
        let report: Option<serde_json::Value> = run.report.as_deref().and_then(|r| serde_json::from_str(r).ok());
        let field = |name: &str| report.as_ref().and_then(|r| r.get(name)).cloned();
        RunView {
            rows_read: report
                .as_ref()
                .and_then(|r| r.get("migrations"))
                .and_then(|m| m.as_array())
                .map_or(0, |all| all.iter().filter_map(|m| m.get("rows_read").and_then(|v| v.as_u64())).sum()),
            error: field("error").and_then(|v| v.as_str().map(str::to_string)),
            id: run.id,
            migration: run.migration,
            status: run.status,
            started_at: run.started_at,
            finished_at: run.finished_at,
            error_kind: field("error_kind").and_then(|v| serde_json::from_value(v).ok()),
            report,
            running_run_id: None,
        }
    }
}

/// This process's runs: the ones going on (by migration) and the latest ones (by id).
#[derive(Default)]
pub struct Registry {
    running: Mutex<HashMap<String, String>>,
    runs: Mutex<BTreeMap<String, (RunView, Arc<AtomicU64>)>>,
}

/// Runs kept in memory; older ones are still in `_ferry_runs`.
const KEPT: usize = 1000;

pub enum Start {
    Started(String, tokio::task::JoinHandle<RunView>),
    /// The migration is already running here, as this run.
    Running(String),
}

impl Registry {
    /// Starts `migration` unless it is running in this process already.
    pub fn start(&self, state: &Arc<AppState>, migration: &str, mut options: RunOptions) -> Start {
        let id = new_run_id();
        {
            let Ok(mut running) = self.running.lock() else { return Start::Running(String::new()) };
            if let Some(current) = running.get(migration) {
                return Start::Running(current.clone());
            }
            running.insert(migration.to_string(), id.clone());
        }
        let rows = Arc::new(AtomicU64::new(0));
        let view = RunView {
            id: id.clone(),
            migration: migration.to_string(),
            status: "running".into(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            finished_at: None,
            rows_read: 0,
            report: None,
            error: None,
            error_kind: None,
            running_run_id: None,
        };
        if let Ok(mut runs) = self.runs.lock() {
            while runs.len() >= KEPT {
                runs.pop_first();
            }
            runs.insert(id.clone(), (view.clone(), rows.clone()));
        }
        options.run_id = Some(id.clone());
        let state = state.clone();
        let name = migration.to_string();
        state.metrics.started();
        let task = state.clone().tasks.spawn(async move {
            tracing::info!(migration = %name, run = %view.id, "run started");
            let started = Instant::now();
            state.remember(&view).await;
            let outcome =
                run_job(&state.plan, std::slice::from_ref(&name), &options, Progress::Counter(rows.clone())).await;
            let mut finished = finish(view, outcome, rows.load(Ordering::Relaxed));
            state.settle(&mut finished).await;
            let (loaded, rejected) = finished
                .report
                .as_ref()
                .map(|r| {
                    let count = |field: &str| r.pointer(&format!("/migrations/0/{field}")).and_then(|v| v.as_u64());
                    (count("rows_loaded").unwrap_or(0), count("rows_rejected").unwrap_or(0))
                })
                .unwrap_or((0, 0));
            let seconds = started.elapsed().as_secs_f64();
            state.metrics.finished(&name, &finished.status, loaded, rejected, seconds);
            match &finished.error {
                None => {
                    tracing::info!(migration = %name, run = %finished.id, loaded, rejected, seconds, "run succeeded")
                }
                Some(error) => tracing::warn!(migration = %name, run = %finished.id, %error, "run failed"),
            }
            state.registry.ended(&finished);
            state.remember(&finished).await;
            finished
        });
        Start::Started(id, task)
    }

    fn ended(&self, run: &RunView) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&run.migration);
        }
        if let Ok(mut runs) = self.runs.lock() {
            if let Some(entry) = runs.get_mut(&run.id) {
                entry.0 = run.clone();
            }
        }
    }

    /// The run id of `migration` if it is running in this process.
    pub fn running(&self, migration: &str) -> Option<String> {
        self.running.lock().ok()?.get(migration).cloned()
    }

    /// A run of this process, with its progress.
    pub fn get(&self, id: &str) -> Option<RunView> {
        let runs = self.runs.lock().ok()?;
        let (view, rows) = runs.get(id)?;
        let mut view = view.clone();
        if view.status == "running" {
            view.rows_read = rows.load(Ordering::Relaxed);
        }
        Some(view)
    }

    pub fn all(&self) -> Vec<RunView> {
        let ids: Vec<String> = self.runs.lock().map(|runs| runs.keys().cloned().collect()).unwrap_or_default();
        ids.iter().filter_map(|id| self.get(id)).collect()
    }
}

fn finish(mut view: RunView, outcome: crate::error::Result<RunReport>, rows: u64) -> RunView {
    view.finished_at = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    view.rows_read = rows;
    match outcome {
        Ok(report) => {
            view.status = if report.succeeded() { "succeeded" } else { "failed" }.into();
            // A copy's report holds one migration per table.
            view.rows_read = report.migrations.iter().map(|m| m.rows_read).sum();
            view.error = report.error.clone();
            view.error_kind = report.error_kind;
            view.report = serde_json::to_value(&report).ok();
        }
        Err(error) => {
            view.status = "failed".into();
            view.error = Some(error.to_string());
            view.error_kind = Some(error.kind());
            // A report with no migrations, so that `_ferry_runs` keeps the error and its kind.
            let report = RunReport {
                run_id: view.id.clone(),
                started_at: view.started_at.clone(),
                migrations: Vec::new(),
                error: view.error.clone(),
                error_kind: view.error_kind,
                schema: Vec::new(),
            };
            view.report = serde_json::to_value(&report).ok();
        }
    }
    view
}

impl AppState {
    /// After a run: a run that held the lock retires the runs its target still records as
    /// running (their processes died); a run that found the lock taken names the holder's run.
    async fn settle(&self, run: &mut RunView) {
        let Some(target) = self.plan.target_of(&run.migration) else { return };
        let target = &target.endpoint;
        let outcome = match run.error_kind {
            Some(ErrorKind::Busy) => match running_elsewhere(target, &run.migration, &run.id).await {
                Ok(other) => {
                    run.running_run_id = other;
                    Ok(())
                }
                Err(error) => Err(error),
            },
            None => mark_interrupted(target, &run.migration, &run.id, &run.started_at).await,
            Some(_) => Ok(()),
        };
        if let Err(error) = outcome {
            tracing::warn!(run = %run.id, %error, "could not read or update _ferry_runs");
        }
    }

    /// Writes a run into its migration's target (best effort: a failure is logged).
    async fn remember(&self, run: &RunView) {
        let Some(target) = self.plan.target_of(&run.migration) else { return };
        let stored = StoredRun {
            id: run.id.clone(),
            migration: run.migration.clone(),
            status: run.status.clone(),
            started_at: run.started_at.clone(),
            finished_at: run.finished_at.clone(),
            report: run.report.as_ref().map(|r| r.to_string()),
        };
        if let Err(error) = record(&target.endpoint, &stored).await {
            tracing::warn!(run = %run.id, %error, "could not record the run in _ferry_runs");
        }
    }

    /// The targets the job's migrations write to, once each.
    fn targets(&self) -> Vec<crate::connection::Endpoint> {
        let mut targets = Vec::new();
        for name in self.plan.names() {
            let Some(target) = self.plan.target_of(name) else { continue };
            if !targets.contains(&target.endpoint) {
                targets.push(target.endpoint.clone());
            }
        }
        targets
    }

    /// This process's runs and the ones stored in the targets that `filter` admits, newest first.
    pub async fn runs(&self, filter: &RunFilter) -> Vec<RunView> {
        let mut all: BTreeMap<String, RunView> = BTreeMap::new();
        for target in self.targets() {
            match stored(&target, None, filter).await {
                Ok(runs) => all.extend(runs.into_iter().map(|r| (r.id.clone(), RunView::from_stored(r)))),
                Err(error) => tracing::warn!(%error, "could not read _ferry_runs"),
            }
        }
        let here = self.registry.all().into_iter().filter(|r| filter.admits(&r.migration, &r.status));
        all.extend(here.map(|r| (r.id.clone(), r)));
        let mut runs: Vec<RunView> = all.into_values().collect();
        runs.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
        runs.truncate(filter.limit);
        runs
    }

    /// One run, from this process or the targets' history.
    pub async fn run(&self, id: &str) -> Option<RunView> {
        if let Some(run) = self.registry.get(id) {
            return Some(run);
        }
        for target in self.targets() {
            if let Ok(mut runs) = stored(&target, Some(id), &RunFilter { limit: 1, ..Default::default() }).await {
                if let Some(run) = runs.pop() {
                    return Some(RunView::from_stored(run));
                }
            }
        }
        None
    }
}
