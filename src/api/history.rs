//! The run history, kept in each migration's target database (`_ferry_runs`), so it survives
//! a restart of the server. Every value is text; the report is the run's JSON.

use crate::connection::Endpoint;
use crate::db::bookkeeping::{if_not_exists, runs_table};
use crate::db::{self, Statement, TextRows};
use crate::error::{FerryError, Result};

pub use crate::db::bookkeeping::RUNS_TABLE;

/// One stored run, as `GET /runs` lists it.
#[derive(Clone, Debug)]
pub struct StoredRun {
    pub id: String,
    pub migration: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The run's report, as JSON text.
    pub report: Option<String>,
}

/// Records a run in `target` (again as it goes: running, then finished). Parquet targets keep
/// no history (nothing to write it in).
pub async fn record(target: &Endpoint, run: &StoredRun) -> Result<()> {
    let values = vec![
        Some(run.id.clone()),
        Some(run.migration.clone()),
        Some(run.status.clone()),
        Some(run.started_at.clone()),
        run.finished_at.clone(),
        run.report.clone(),
    ];
    let statements = vec![
        (format!("DELETE FROM {RUNS_TABLE} WHERE run_id = ?"), vec![Some(run.id.clone())]),
        (
            format!(
                "INSERT INTO {RUNS_TABLE} (run_id, migration, status, started_at, finished_at, report) \
                 VALUES (?, ?, ?, ?, ?, ?)"
            ),
            values,
        ),
    ];
    execute(target, statements).await
}

/// Runs of `migration` recorded as running that started before `before` and are not `ours`:
/// once `ours` has held the migration's lock, they cannot be running any more (their process died).
pub async fn mark_interrupted(target: &Endpoint, migration: &str, ours: &str, before: &str) -> Result<()> {
    let sql = format!(
        "UPDATE {RUNS_TABLE} SET status = 'interrupted' WHERE migration = ? AND status = 'running' \
         AND run_id <> ? AND started_at < ?"
    );
    let values = vec![Some(migration.to_string()), Some(ours.to_string()), Some(before.to_string())];
    execute(target, vec![(sql, values)]).await
}

/// The run of `migration` another process records as running, if any.
pub async fn running_elsewhere(target: &Endpoint, migration: &str, ours: &str) -> Result<Option<String>> {
    let sql = format!(
        "SELECT run_id FROM {RUNS_TABLE} WHERE migration = ? AND status = 'running' AND run_id <> ? \
         ORDER BY started_at DESC LIMIT 1"
    );
    let rows = query(target, &sql, vec![Some(migration.to_string()), Some(ours.to_string())]).await?;
    Ok(rows.into_iter().next().and_then(|row| row.into_iter().next().flatten()))
}

/// Which runs a listing wants: of one migration, with one status, at most `limit`.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub migration: Option<String>,
    pub status: Option<String>,
    pub limit: usize,
}

impl RunFilter {
    pub fn admits(&self, migration: &str, status: &str) -> bool {
        self.migration.as_deref().is_none_or(|m| m == migration) && self.status.as_deref().is_none_or(|s| s == status)
    }
}

/// The latest runs stored in `target` that `filter` admits, newest first, or one run by id.
pub async fn stored(target: &Endpoint, id: Option<&str>, filter: &RunFilter) -> Result<Vec<StoredRun>> {
    let columns = "run_id, migration, status, started_at, finished_at, report";
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    let wanted = [
        ("run_id", id.map(str::to_string)),
        ("migration", filter.migration.clone()),
        ("status", filter.status.clone()),
    ];
    for (column, value) in wanted {
        if let Some(value) = value {
            conditions.push(format!("{column} = ?"));
            values.push(Some(value));
        }
    }
    let filter_sql = match conditions.is_empty() {
        true => String::new(),
        false => format!("WHERE {}", conditions.join(" AND ")),
    };
    let limit = filter.limit.max(1);
    let sql = format!("SELECT {columns} FROM {RUNS_TABLE} {filter_sql} ORDER BY started_at DESC LIMIT {limit}");
    let rows = query(target, &sql, values).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let text = |i: usize| row.get(i).cloned().flatten();
            StoredRun {
                id: text(0).unwrap_or_default(),
                migration: text(1).unwrap_or_default(),
                status: text(2).unwrap_or_default(),
                started_at: text(3).unwrap_or_default(),
                finished_at: text(4),
                report: text(5),
            }
        })
        .collect())
}

/// Creates `_ferry_runs` if missing, then runs the statements with their parameters in one
/// transaction, so a reader never sees a run between its DELETE and its INSERT. An engine that
/// runs no SQL (Parquet) keeps no history.
async fn execute(target: &Endpoint, statements: Vec<Statement>) -> Result<()> {
    let backend = db::open(target);
    if !backend.capabilities().runs_sql {
        return Ok(());
    }
    let create = if_not_exists(backend.create_table_sql(&runs_table())?);
    backend.transaction(&create, statements).await.map_err(|error| in_runs_table(target, error))
}

/// A failed statement's error, naming `_ferry_runs` as the table.
fn in_runs_table(target: &Endpoint, error: FerryError) -> FerryError {
    match error {
        FerryError::Target { message, .. } => {
            FerryError::Target { url: target.masked(), table: RUNS_TABLE.into(), message }
        }
        other => other,
    }
}

/// Text rows of `sql`; none when the target has no `_ferry_runs` (it never ran anything).
async fn query(target: &Endpoint, sql: &str, values: Vec<Option<String>>) -> Result<TextRows> {
    let backend = db::open(target);
    if !backend.capabilities().runs_sql || !backend.has_table(RUNS_TABLE).await? {
        return Ok(Vec::new());
    }
    backend.text_rows(sql, values).await.map_err(|error| in_runs_table(target, error))
}
