//! What a run did: per migration the counts, time and outcome. Printed as a table, written as
//! JSON with `--report FILE.json` (the same fields; the shape is documented in the README).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::check::reconcile::{ReconcileStatus, Reconciliation};
use crate::check::CheckResult;
use crate::db::WriteMode;
use crate::error::{ErrorKind, FerryError, Result};
use crate::job::Mode;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RunReport {
    pub run_id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub migrations: Vec<MigrationReport>,
    /// The error that stopped the run, if any (the same text the CLI prints).
    pub error: Option<String>,
    /// Who has to act on the error: `input`, `busy`, `unavailable` or `failure`.
    pub error_kind: Option<ErrorKind>,
    /// What the run's copies did with each schema object (none without copies).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schema: Vec<SchemaObject>,
}

/// One schema object of a copy (`ferry copy`, a job's `[[copies]]`) and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SchemaObject {
    pub table: String,
    /// `table`, `column <name>`, `index <name>`, `check <name>`, `foreign key <name>`,
    /// `identity <column>`, `view`.
    pub object: String,
    /// `created`, `planned` (dry run), `translated` (made otherwise, said why), `skipped`, `failed`.
    pub status: &'static str,
    pub detail: Option<String>,
}

impl SchemaObject {
    pub fn new(table: &str, object: String, status: &'static str, detail: Option<String>) -> Self {
        SchemaObject { table: table.to_string(), object, status, detail }
    }
}

/// A count per status, then one line per schema object that was not simply created.
pub fn schema_lines(schema: &[SchemaObject]) -> String {
    let count = |status: &str| schema.iter().filter(|o| o.status == status).count();
    let counts: Vec<String> = ["created", "planned", "translated", "skipped", "failed"]
        .iter()
        .filter(|status| count(status) > 0)
        .map(|status| format!("{} {status}", count(status)))
        .collect();
    let mut out = format!("schema objects: {}\n", if counts.is_empty() { "none".into() } else { counts.join(", ") });
    for object in schema.iter().filter(|o| o.status != "created") {
        let detail = object.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
        out.push_str(&format!("  {} {} {}{detail}\n", object.table, object.object, object.status));
    }
    out
}

/// A migration computed on a cluster: the steps, where each ran, and how long staging took (the
/// query ran on the cluster while ferry checked and loaded its rows, for `seconds` less that).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ClusterSteps {
    /// The scheduler that ran the query.
    pub scheduler: String,
    /// Where ferry staged the database tables the query reads (Parquet), before the query.
    pub stage: String,
    pub staged_seconds: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Published.
    Succeeded,
    /// Failed; nothing of it was published.
    Failed,
    /// Not run, because an earlier migration failed.
    Skipped,
    /// Published, but the table read back differs from the rows sent (see `reconciliation`).
    Mismatched,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MigrationReport {
    pub name: String,
    pub status: Status,
    pub mode: Mode,
    /// How the rows were published this run: `replace`, `append` or `merge` (an incremental
    /// migration merges, and replaces on --full-refresh).
    pub publish: WriteMode,
    /// Connection URLs with passwords masked.
    pub source: String,
    pub target: String,
    pub table: String,
    /// Rows read from the source connection's tables.
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    /// Rows the query itself dropped (a WHERE or a join): read - loaded - rejected.
    pub rows_filtered: i64,
    /// Of the rows loaded: new keys, and keys the table already held (merge; 0 otherwise).
    pub rows_inserted: u64,
    pub rows_updated: u64,
    /// Rows a merge found in the table with these very values (not counted as updated).
    pub rows_unchanged: u64,
    /// Rejected rows per reason code.
    pub rejects: BTreeMap<String, u64>,
    /// Incremental migrations: the cursor column, the watermark before and after the run (the
    /// highest cursor value loaded, as text), and the source rows whose cursor is NULL (only a
    /// full refresh loads them). All null otherwise.
    pub cursor: Option<String>,
    pub watermark_before: Option<String>,
    pub watermark_after: Option<String>,
    pub rows_null_cursor: Option<u64>,
    /// Each check's verdict on the rows before they were published (empty without checks).
    pub checks: Vec<CheckResult>,
    /// The published table compared with the rows sent (null when the migration did not run).
    pub reconciliation: Option<Reconciliation>,
    /// When the migration began (RFC 3339, UTC, milliseconds); null when it did not run.
    pub started_at: Option<String>,
    /// The errors of the attempts that failed for a passing reason and were retried.
    pub retried: Vec<String>,
    /// How a replace of an existing table was published: `swap` (a shadow table swapped in,
    /// readers never waited) or `in place`; and why it was not swapped. Null otherwise.
    pub publish_method: Option<String>,
    pub publish_note: Option<String>,
    /// Where the query ran when not here (`--cluster`); absent for a local run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterSteps>,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub error: Option<String>,
}

impl RunReport {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.migrations.iter().all(|m| m.status == Status::Succeeded)
    }

    /// The summary table printed after a run.
    pub fn table(&self) -> String {
        let header = ["migration", "status", "read", "loaded", "rejected", "filtered", "seconds", "rows/s"];
        let rows: Vec<[String; 8]> = self
            .migrations
            .iter()
            .map(|m| {
                [
                    m.name.clone(),
                    format!("{:?}", m.status).to_lowercase(),
                    thousands(m.rows_read as i64),
                    thousands(m.rows_loaded as i64),
                    thousands(m.rows_rejected as i64),
                    thousands(m.rows_filtered),
                    format!("{:.2}", m.seconds),
                    thousands(m.rows_per_second.round() as i64),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            let text: Vec<String> = cells
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(i, (cell, width))| if i < 2 { format!("{cell:<width$}") } else { format!("{cell:>width$}") })
                .collect();
            let _ = writeln!(out, "{}", text.join("  ").trim_end());
        };
        line(&mut out, &header.map(String::from));
        line(&mut out, &widths.map(|w| "-".repeat(w)));
        for row in &rows {
            line(&mut out, row);
        }
        for m in self.migrations.iter().filter(|m| m.status == Status::Succeeded && m.publish == WriteMode::Merge) {
            let _ = write!(
                out,
                "{}: merged: {} inserted, {} updated",
                m.name,
                thousands(m.rows_inserted as i64),
                thousands(m.rows_updated as i64)
            );
            if m.rows_unchanged > 0 {
                let _ = write!(out, ", {} unchanged", thousands(m.rows_unchanged as i64));
            }
            if let Some(cursor) = &m.cursor {
                let mark = |w: &Option<String>| w.clone().unwrap_or_else(|| "(none)".into());
                let _ = write!(
                    out,
                    "; watermark on {cursor}: {} -> {}",
                    mark(&m.watermark_before),
                    mark(&m.watermark_after)
                );
            }
            let _ = writeln!(out);
        }
        for m in self.migrations.iter().filter(|m| m.rows_null_cursor.unwrap_or(0) > 0 && m.publish == WriteMode::Merge)
        {
            let _ = writeln!(
                out,
                "{}: {} source rows have a NULL {} and are not read by incremental runs; --full-refresh loads them",
                m.name,
                thousands(m.rows_null_cursor.unwrap_or(0) as i64),
                m.cursor.as_deref().unwrap_or("cursor")
            );
        }
        for m in &self.migrations {
            out.push_str(&crate::check::result::check_lines(&m.name, &m.checks));
            if let Some(r) = m.reconciliation.as_ref().filter(|r| r.status == ReconcileStatus::Unverified) {
                let _ = writeln!(out, "{}: NOT reconciled: {}", m.name, r.detail.as_deref().unwrap_or_default());
            }
            if let Some(r) = m.reconciliation.as_ref().filter(|r| r.status == ReconcileStatus::Matched) {
                let columns = r.columns_compared;
                let _ = writeln!(
                    out,
                    "{}: reconciled: the {} rows sent match the table read back ({columns} columns' checksums)",
                    m.name,
                    thousands(r.rows_in_target as i64)
                );
            }
        }
        for m in &self.migrations {
            // A replace that could not swap kept readers waiting: say so, and why.
            if let (Some("in place"), Some(note)) = (m.publish_method.as_deref(), &m.publish_note) {
                let _ = writeln!(out, "{}: replaced in place (readers waited for the load): {note}", m.name);
            }
        }
        for m in &self.migrations {
            if let Some(cluster) = &m.cluster {
                let _ = writeln!(
                    out,
                    "{}: staged by ferry to {} in {:.2} s, computed on {}, checked and loaded by ferry",
                    m.name, cluster.stage, cluster.staged_seconds, cluster.scheduler
                );
            }
        }
        for m in self.migrations.iter().filter(|m| !m.rejects.is_empty()) {
            let reasons: Vec<String> = m.rejects.iter().map(|(r, n)| format!("{r} {}", thousands(*n as i64))).collect();
            let _ = writeln!(
                out,
                "{}: {} rejected ({}), see _ferry_rejects in {}",
                m.name,
                thousands(m.rows_rejected as i64),
                reasons.join(", "),
                m.target
            );
        }
        if !self.schema.is_empty() {
            out.push_str(&schema_lines(&self.schema));
        }
        out
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(FerryError::internal)?;
        std::fs::write(path, json + "\n").map_err(|source| FerryError::Io { path: path.to_path_buf(), source })
    }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(name: &str) -> MigrationReport {
        MigrationReport {
            name: name.into(),
            status: Status::Succeeded,
            mode: Mode::Replace,
            publish: WriteMode::Replace,
            source: "sqlite://a.db".into(),
            target: "sqlite://b.db".into(),
            table: format!("target_{name}"),
            rows_read: 0,
            rows_loaded: 0,
            rows_rejected: 0,
            rows_filtered: 0,
            rows_inserted: 0,
            rows_updated: 0,
            rows_unchanged: 0,
            rejects: BTreeMap::new(),
            cursor: None,
            watermark_before: None,
            watermark_after: None,
            rows_null_cursor: None,
            checks: vec![],
            reconciliation: None,
            started_at: None,
            retried: Vec::new(),
            publish_method: None,
            publish_note: None,
            cluster: None,
            seconds: 1.5,
            rows_per_second: 0.0,
            error: None,
        }
    }

    fn report(migrations: Vec<MigrationReport>) -> RunReport {
        RunReport {
            schema: Vec::new(),
            run_id: "r".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            migrations,
            error: None,
            error_kind: None,
        }
    }

    #[test]
    fn prints_a_summary_table() {
        let cleaned = MigrationReport {
            rows_read: 1_000_005,
            rows_loaded: 700_000,
            rows_inserted: 700_000,
            rows_rejected: 300_005,
            rejects: [("invalid_age".to_string(), 300_005)].into_iter().collect(),
            rows_per_second: 666_670.0,
            ..migration("cleaned_data")
        };
        insta::assert_snapshot!(report(vec![cleaned]).table());
    }

    #[test]
    fn a_replace_that_could_not_swap_says_why() {
        let users = MigrationReport {
            publish_method: Some("in place".into()),
            publish_note: Some("view active_users depends on it".into()),
            ..migration("users")
        };
        let swapped = MigrationReport { publish_method: Some("swap".into()), ..migration("orders") };
        let table = report(vec![users, swapped]).table();
        let said: Vec<&str> = table.lines().filter(|line| line.contains("in place")).collect();
        assert_eq!(said, ["users: replaced in place (readers waited for the load): view active_users depends on it"]);
    }

    #[test]
    fn merges_show_inserted_updated_and_the_watermark() {
        let events = MigrationReport {
            mode: Mode::Incremental,
            publish: WriteMode::Merge,
            rows_read: 4,
            rows_loaded: 4,
            rows_inserted: 2,
            rows_updated: 2,
            cursor: Some("updated_at".into()),
            watermark_before: Some("2024-01-01T05:00:00".into()),
            watermark_after: Some("2024-01-01T07:00:00".into()),
            rows_null_cursor: Some(2),
            ..migration("events")
        };
        insta::assert_snapshot!(report(vec![events]).table(), @r"
        migration  status     read  loaded  rejected  filtered  seconds  rows/s
        ---------  ---------  ----  ------  --------  --------  -------  ------
        events     succeeded     4       4         0         0     1.50       0
        events: merged: 2 inserted, 2 updated; watermark on updated_at: 2024-01-01T05:00:00 -> 2024-01-01T07:00:00
        events: 2 source rows have a NULL updated_at and are not read by incremental runs; --full-refresh loads them
        ");
    }

    #[test]
    fn checks_that_did_not_pass_show_their_rows() {
        use crate::check::{CheckResult, CheckStatus};
        use crate::job::checks::Severity;
        let check = |name: &str, status: CheckStatus, failing: u64, rows: usize| CheckResult {
            name: name.into(),
            kind: "range",
            severity: if status == CheckStatus::Warned { Severity::Warn } else { Severity::Error },
            status,
            failing,
            allowed: 0,
            threshold: Some("0".into()),
            checked_rows: 10,
            nulls: Some("pass"),
            detail: None,
            sample_columns: vec!["id".into(), "age".into()],
            sample: (0..rows).map(|i| vec![Some(i.to_string()), None]).collect(),
        };
        let users = MigrationReport {
            status: Status::Failed,
            checks: vec![
                check("unique(id)", CheckStatus::Passed, 0, 0),
                check("range(age)", CheckStatus::Failed, 12, 10),
                check("names", CheckStatus::Warned, 1, 1),
            ],
            ..migration("users")
        };
        insta::assert_snapshot!(report(vec![users]).table(), @r"
        migration  status  read  loaded  rejected  filtered  seconds  rows/s
        ---------  ------  ----  ------  --------  --------  -------  ------
        users      failed     0       0         0         0     1.50       0
        users: checks: 1 passed, 1 warned, 1 failed
          FAILED: `range(age)`: 12 failing
            id=0 age=NULL
            id=1 age=NULL
            id=2 age=NULL
            (7 more in the report)
          warning: `names`: 1 failing
            id=0 age=NULL
        ");
    }
}
