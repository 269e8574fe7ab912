//! A job's `[[copies]]` run beside its migrations (`ferry run`, the HTTP API): the copies
//! first, in the order written, then the migrations, in one report.

use std::sync::Arc;

use crate::copy::copy;
use crate::error::{FerryError, Result};
use crate::incremental::RunOptions;
use crate::job::copies::CopyPlan;
use crate::job::Plan;
use crate::report::RunReport;
use crate::run::{new_run_id, run_with, Progress};

/// Runs the named copies and migrations (all when `names` is empty). A copy that fails stops
/// the run before the migrations; its tables that were loaded stay, as with `ferry copy`.
pub async fn run_job(plan: &Plan, names: &[String], options: &RunOptions, progress: Progress) -> Result<RunReport> {
    let (copies, migrations) = plan.chosen(names)?;
    let copies: Vec<CopyPlan> = copies.into_iter().cloned().collect();
    let mut report = super::empty_run();
    report.run_id = options.run_id.clone().unwrap_or_else(new_run_id);
    for job_copy in copies {
        let done =
            copy(&job_copy.source.endpoint, &job_copy.target.endpoint, &job_copy.options).await.map_err(|error| {
                match error {
                    FerryError::Job(message) => FerryError::Job(format!("copy `{}`: {message}", job_copy.name)),
                    other => other,
                }
            })?;
        report.migrations.extend(done.run.migrations);
        report.schema.extend(done.schema);
        if done.run.error.is_some() {
            (report.error, report.error_kind) = (done.run.error, done.run.error_kind);
            return Ok(report);
        }
    }
    if migrations.is_empty() {
        return Ok(report);
    }
    // A cluster run stages each migration's sources just before its query, with `ferry stage`.
    let stager = options.stager.clone().unwrap_or_else(|| {
        crate::incremental::Stager(Arc::new(|plan, names, to, from| {
            Box::pin(async move { crate::stage::stage(&plan, &names, &to, &from).await })
        }))
    });
    let options = RunOptions { run_id: Some(report.run_id.clone()), stager: Some(stager), ..options.clone() };
    let run = run_with(plan, &migrations, &options, progress).await?;
    report.migrations.extend(run.migrations);
    (report.error, report.error_kind) = (run.error, run.error_kind);
    Ok(report)
}
