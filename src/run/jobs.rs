//! Several migrations at once: each starts once the migrations it depends on (among those of
//! the run) have succeeded, at most `jobs` at a time, each on a task of its own so that their CPU
//! work runs on as many cores, except into a target that takes one writer at a time (SQLite). A
//! failure stops new starts; the migrations already running finish, and those never started are
//! reported as skipped. With one job this is the plain dependency order, one migration after
//! another.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::stream::FuturesUnordered;
use futures::StreamExt;

use super::{run_one, skipped, Progress};
use crate::error::{FerryError, Result};
use crate::incremental::RunOptions;
use crate::job::{MigrationPlan, Plan};
use crate::report::{RunReport, Status};

/// The number of migrations a run takes at once when the command line does not say: one per
/// core, at most four (each holds connections and buffers of its own).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get()).min(4)
}

/// Runs `selected` (in dependency order) into `report`, `jobs` at a time.
pub(super) async fn run_all(
    plan: &Plan,
    selected: &[&MigrationPlan],
    options: &RunOptions,
    progress: Progress,
    report: &mut RunReport,
) -> Result<()> {
    let jobs = options.jobs.unwrap_or(1).max(1);
    let shared = Arc::new(plan.clone());
    let chosen: BTreeSet<&str> = selected.iter().map(|m| m.name.as_str()).collect();
    let mut started = vec![false; selected.len()];
    let mut finished = vec![None; selected.len()];
    let mut succeeded: BTreeSet<String> = BTreeSet::new();
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < jobs && report.error.is_none() {
            let met = |dependency: &String| succeeded.contains(dependency) || !chosen.contains(dependency.as_str());
            // A target that takes one writer at a time gets one migration at a time.
            let writing = |at: usize| {
                let target = &selected[at].target;
                target.backend().capabilities().one_writer
                    && (0..selected.len()).any(|other| {
                        started[other]
                            && finished[other].is_none()
                            && selected[other].target.endpoint == target.endpoint
                    })
            };
            let ready = (0..selected.len())
                .find(|&at| !started[at] && selected[at].depends_on.iter().all(&met) && !writing(at));
            let Some(at) = ready else { break };
            started[at] = true;
            let (plan, options, progress) = (shared.clone(), options.clone(), progress.clone());
            let (migration, run_id) = (selected[at].clone(), report.run_id.clone());
            let task = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
                run_one(&plan, &migration, &options, &run_id, progress).await
            }));
            running.push(async move { (at, task.await) });
        }
        let Some((at, outcome)) = running.next().await else { break };
        let (done, error) = outcome.map_err(FerryError::internal)?;
        match error {
            Some((error, kind)) if report.error.is_none() => {
                (report.error, report.error_kind) = (Some(error), Some(kind))
            }
            Some(_) => {}
            None if done.status == Status::Succeeded => {
                succeeded.insert(done.name.clone());
            }
            None => {}
        }
        finished[at] = Some(done);
    }
    for (migration, done) in selected.iter().zip(finished) {
        report.migrations.push(done.unwrap_or_else(|| skipped(migration)));
    }
    Ok(())
}
