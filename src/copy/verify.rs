//! `ferry check` of a job's copy: every copied table read now, from the source as the copy reads
//! it and from the target, and compared by row count and per-column checksums (the figures a
//! run's reconciliation compares).

use std::sync::Arc;

use datafusion::prelude::SessionContext;

use super::{choose, rows, Chosen};
use crate::check::reconcile::{table_figures, ReconcileStatus, Reconciliation};
use crate::check::result::{CheckResult, CheckStatus};
use crate::check::TableChecks;
use crate::db;
use crate::error::{FerryError, Result};
use crate::job::checks::Severity;
use crate::job::copies::CopyPlan;
use crate::report::RunReport;

/// One [`TableChecks`] per table the copy chooses, with one check: `matches_source`.
pub async fn verify(copy: &CopyPlan) -> Result<Vec<TableChecks>> {
    let (source, target) = (&copy.source.endpoint, &copy.target.endpoint);
    let (from, to) = (db::open(source), db::open(target));
    let Chosen { tables, sources, converted, .. } = choose(from.as_ref(), to.as_ref(), &copy.options).await?;
    let plan = rows::copy_plan(source, target, &tables, &sources, &converted);
    let mut checked = Vec::new();
    for migration in &plan.migrations {
        let (sent, _) = crate::transform::plan_migration(&plan, migration).await?;
        let schema = Arc::new(sent.schema().as_arrow().clone());
        let ctx = SessionContext::new();
        let published = crate::check::target_table(&ctx, migration, &migration.table).await?.ok_or_else(|| {
            FerryError::Job(format!(
                "copy `{}`: table `{}` does not exist in `{}`; run the copy before checking it",
                copy.name,
                migration.table,
                target.masked()
            ))
        })?;
        let expected = table_figures(sent, &schema).await?;
        let found = table_figures(published, &schema).await?;
        let reconciliation = Reconciliation::compare(&schema, &expected, &found);
        checked.push(TableChecks {
            migration: copy.name.clone(),
            target: target.masked(),
            table: migration.table.clone(),
            rows: reconciliation.rows_in_target,
            checks: vec![matches_source(&reconciliation)],
        });
    }
    Ok(checked)
}

/// A run's tables as JUnit suites: each table's checks and its reconciliation with the source.
pub fn junit_suites(run: &RunReport) -> Vec<(String, Vec<CheckResult>)> {
    run.migrations
        .iter()
        .map(|m| {
            let mut checks = m.checks.clone();
            checks.extend(m.reconciliation.as_ref().map(matches_source));
            (m.name.clone(), checks)
        })
        .collect()
}

fn matches_source(reconciliation: &Reconciliation) -> CheckResult {
    CheckResult {
        name: "matches_source".into(),
        kind: "matches_source",
        severity: Severity::Error,
        status: match reconciliation.status {
            ReconcileStatus::Matched => CheckStatus::Passed,
            ReconcileStatus::Skipped => CheckStatus::Skipped,
            _ => CheckStatus::Failed,
        },
        failing: reconciliation.columns_differing.len() as u64
            + u64::from(reconciliation.rows_sent != reconciliation.rows_in_target),
        allowed: 0,
        threshold: None,
        checked_rows: reconciliation.rows_sent,
        nulls: None,
        detail: Some(reconciliation.detail.clone().unwrap_or_else(|| {
            format!(
                "{} rows and {} columns' checksums as in the source",
                reconciliation.rows_in_target, reconciliation.columns_compared
            )
        })),
        sample_columns: Vec::new(),
        sample: Vec::new(),
    }
}
