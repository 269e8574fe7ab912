//! Data checks, declared per migration (`[[migrations.checks]]`), run on the rows a run is about
//! to publish (write-audit-publish) or on a target table as it is (`ferry check`).
//!
//! - `job::checks`: the checks as written, validated when the job is read.
//! - [`audit`]: the checks compiled against the rows' schema and run in one pass as the batches
//!   stream to the target; [`table`] adds the checks that need the whole table.
//! - [`result`]: each check's verdict; [`junit`] writes them for CI systems.
//! - [`sent`] and [`reconcile`]: the checksums of the rows sent, and the published table read
//!   back and compared with them.
//!
//! In a run, the audit is a stage of `run::pipeline` between the reject split and the sink: the
//! sink writes inside its transaction while the audit looks at the same batches, and the verdict
//! comes after the last one. A failing `error` check ends the stream with an error, so the sink
//! rolls back and the target is unchanged.

pub mod audit;
pub mod diff;
pub mod junit;
pub mod keyset;
pub mod reconcile;
pub mod result;
pub mod sent;
mod smallest;
mod spill;
pub mod table;

use std::sync::Arc;

use arrow::ipc::writer::FileWriter;
use datafusion::prelude::{col, SessionContext};
use futures::StreamExt;
use serde::Serialize;

pub use crate::job::checks::{Check, CheckFile, CheckKind};
pub use audit::Audit;
pub use result::{CheckResult, CheckStatus};

use crate::db::ReadCounter;
use crate::error::{FerryError, Result};
use crate::job::{MigrationPlan, Plan};
use crate::source::schema_provider;

/// Reads the values each `relationships` check refers to from the target, into `folder`, before
/// the run's own writes begin (so no reader waits on the load's transaction).
pub async fn prefetch_references(
    migration: &MigrationPlan,
    folder: &std::path::Path,
) -> Result<Vec<(usize, std::path::PathBuf)>> {
    let mut files = Vec::new();
    for (index, check) in migration.checks.iter().enumerate() {
        let CheckKind::Relationships { table, to_column, .. } = &check.kind else { continue };
        if table == &migration.table {
            continue;
        }
        let fail = |message: String| {
            FerryError::Job(format!("migration `{}`: check `{}`: {message}", migration.name, check.name))
        };
        let ctx = SessionContext::new();
        let frame = target_table(&ctx, migration, table).await?.ok_or_else(|| {
            fail(format!(
                "table `{table}` does not exist in `{}` yet; run the migration that writes it first",
                migration.target.endpoint.masked()
            ))
        })?;
        let frame = frame
            .select(vec![col(format!("\"{to_column}\"")).alias("value")])
            .map_err(|_| fail(format!("table `{table}` has no column `{to_column}`")))?;
        let path = folder.join(format!("reference_{index}.arrow"));
        let file = std::fs::File::create(&path).map_err(|source| FerryError::Io { path: path.clone(), source })?;
        let mut writer = FileWriter::try_new(file, frame.schema().as_arrow())?;
        let mut stream = frame.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            writer.write(&batch?)?;
        }
        writer.finish()?;
        files.push((index, path));
    }
    Ok(files)
}

/// `table` of the migration's target as a DataFrame, or None when it does not exist.
pub async fn target_table(
    ctx: &SessionContext,
    migration: &MigrationPlan,
    table: &str,
) -> Result<Option<datafusion::dataframe::DataFrame>> {
    let provider = schema_provider(ctx, &migration.target, Some(Arc::new(ReadCounter::default()))).await?;
    match provider.table(table).await? {
        Some(table) => Ok(Some(ctx.read_table(table)?)),
        None => Ok(None),
    }
}

/// One target table's checks, as `ferry check` reports them.
#[derive(Clone, Debug, Serialize)]
pub struct TableChecks {
    pub migration: String,
    /// The target URL, password masked.
    pub target: String,
    pub table: String,
    pub rows: u64,
    pub checks: Vec<CheckResult>,
}

/// What `ferry check` found.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// RFC 3339, UTC.
    pub checked_at: String,
    pub tables: Vec<TableChecks>,
}

impl CheckReport {
    /// An `error` check failed somewhere.
    pub fn failed(&self) -> bool {
        self.tables.iter().flat_map(|t| &t.checks).any(CheckResult::blocks)
    }

    /// Every check, one line each, then the failing rows of those that did not pass.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for table in &self.tables {
            let _ = writeln!(out, "{} ({}, {} rows):", table.migration, table.table, table.rows);
            for check in &table.checks {
                let status = format!("{:?}", check.status).to_lowercase();
                let _ = writeln!(out, "  {status:<8} {} ({})", check.name, check.summary());
                if check.status != CheckStatus::Passed {
                    out.push_str(&result::sample_lines(check, "             "));
                }
            }
        }
        out
    }
}

/// Runs the named migrations' checks (all when `names` is empty) on their target tables as they are.
pub async fn check_targets(plan: &Plan, names: &[String]) -> Result<CheckReport> {
    let checked_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut tables = Vec::new();
    for migration in plan.select(names)? {
        tables.push(check_target(migration).await?);
    }
    Ok(CheckReport { checked_at, tables })
}

async fn check_target(migration: &MigrationPlan) -> Result<TableChecks> {
    let folder = audit_folder()?;
    let references = prefetch_references(migration, folder.path()).await?;
    let ctx = SessionContext::new();
    let frame = target_table(&ctx, migration, &migration.table).await?.ok_or_else(|| {
        FerryError::Job(format!(
            "migration `{}`: table `{}` does not exist in `{}`; run the migration before checking it",
            migration.name,
            migration.table,
            migration.target.endpoint.masked()
        ))
    })?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let mut audit = Audit::new(migration, &schema, references, folder)?;
    let mut stream = frame.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        audit.observe(&batch?)?;
    }
    let rows = audit.rows();
    let checks = audit.finish(None).await?;
    Ok(TableChecks {
        migration: migration.name.clone(),
        target: migration.target.endpoint.masked(),
        table: migration.table.clone(),
        rows,
        checks,
    })
}

/// An error writing a spill file: a full disk (or a folder that cannot be written) is the
/// user's to fix, named with the file, not a bug.
pub fn spill_error(path: &std::path::Path, error: arrow::error::ArrowError) -> FerryError {
    match error {
        arrow::error::ArrowError::IoError(_, source) => FerryError::Spill { path: path.to_path_buf(), source },
        other => other.into(),
    }
}

/// A private folder for one audit's spill files, removed when the audit ends.
pub fn audit_folder() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("ferry-audit-")
        .tempdir()
        .map_err(|source| FerryError::Io { path: std::env::temp_dir(), source })
}
