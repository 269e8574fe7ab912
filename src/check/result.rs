//! What a check found, and its verdict as the report shows it.

use std::fmt::Write as _;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{DataType, Schema, TimeUnit};
use serde::Serialize;

use crate::job::checks::{Check, CheckKind, ExpectedColumn, Severity};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    /// An `error` check failed: the rows were not published.
    Failed,
    /// A `warn` check failed: reported, and the rows were published.
    Warned,
    /// The check could not run here (e.g. `equals_source` outside a run).
    Skipped,
}

/// One check's verdict, in the report and the JUnit file.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub severity: Severity,
    pub status: CheckStatus,
    /// Failing rows (`schema`: mismatched columns; `row_count`: rows beyond the bounds).
    pub failing: u64,
    /// Failing rows tolerated (the threshold applied to `checked_rows`).
    pub allowed: u64,
    pub threshold: Option<String>,
    pub checked_rows: u64,
    /// How the check treats NULL: `fail`, `pass` or `ignored` (rows with NULL are not compared).
    pub nulls: Option<&'static str>,
    /// What was expected and found, in words.
    pub detail: Option<String>,
    /// At most 10 failing rows: the migration's key columns, then the check's.
    pub sample_columns: Vec<String>,
    pub sample: Vec<Vec<Option<String>>>,
}

impl CheckResult {
    /// Fails the run (an `error` check beyond its threshold).
    pub fn blocks(&self) -> bool {
        self.status == CheckStatus::Failed
    }

    /// One line: how many rows failed, against how many allowed.
    pub fn summary(&self) -> String {
        let mut text = format!("{} failing", self.failing);
        if self.allowed > 0 {
            let _ = write!(text, " (threshold {} allows {})", self.threshold.as_deref().unwrap_or("0"), self.allowed);
        }
        if let Some(detail) = &self.detail {
            let _ = write!(text, ": {detail}");
        }
        text
    }

    /// The sample as lines of `column=value`.
    pub fn sample_text(&self) -> String {
        let mut text = String::new();
        for row in &self.sample {
            let cells: Vec<String> = self
                .sample_columns
                .iter()
                .zip(row)
                .map(|(column, value)| format!("{column}={}", value.as_deref().unwrap_or("NULL")))
                .collect();
            let _ = writeln!(text, "{}", cells.join(" "));
        }
        text
    }
}

/// A check's raw findings while the rows stream.
#[derive(Clone, Debug, Default)]
pub struct Finding {
    pub failing: u64,
    pub sample_columns: Vec<String>,
    pub sample: Vec<Vec<Option<String>>>,
    /// `schema`: (column, what is wrong).
    pub problems: Vec<(String, String)>,
    pub detail: Option<String>,
    pub skipped: Option<String>,
}

impl Finding {
    pub fn judge(self, check: &Check, rows: u64) -> CheckResult {
        let schema = matches!(check.kind, CheckKind::Schema { .. });
        let (failing, sample) = if schema {
            let sample = self.problems.iter().map(|(c, p)| vec![Some(c.clone()), Some(p.clone())]).collect();
            (self.problems.len() as u64, sample)
        } else {
            (self.failing, self.sample)
        };
        let allowed = if schema { 0 } else { check.threshold.allowed(rows) };
        let status = match (&self.skipped, failing <= allowed, check.severity) {
            (Some(_), _, _) => CheckStatus::Skipped,
            (None, true, _) => CheckStatus::Passed,
            (None, false, Severity::Error) => CheckStatus::Failed,
            (None, false, Severity::Warn) => CheckStatus::Warned,
        };
        let nulls = match &check.kind {
            CheckKind::NotNull { .. } => Some("fail"),
            CheckKind::Unique { .. } => Some("ignored"),
            CheckKind::Schema { .. } | CheckKind::RowCount { .. } | CheckKind::Sql { .. } => None,
            _ if check.nulls_fail => Some("fail"),
            _ => Some("pass"),
        };
        CheckResult {
            name: check.name.clone(),
            kind: check.kind.type_name(),
            severity: check.severity,
            status,
            failing,
            allowed,
            threshold: (!schema).then(|| check.threshold.text()),
            checked_rows: rows,
            nulls,
            detail: self.skipped.or(self.detail),
            sample_columns: self.sample_columns,
            sample,
        }
    }
}

/// Under a run's summary: a line counting the checks, and each check that did not pass with
/// the first rows it found.
pub fn check_lines(migration: &str, checks: &[CheckResult]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if checks.is_empty() {
        return out;
    }
    let count = |status: CheckStatus| checks.iter().filter(|c| c.status == status).count();
    let _ = write!(out, "{migration}: checks: {} passed", count(CheckStatus::Passed));
    for (status, word) in
        [(CheckStatus::Warned, "warned"), (CheckStatus::Failed, "failed"), (CheckStatus::Skipped, "skipped")]
    {
        if count(status) > 0 {
            let _ = write!(out, ", {} {word}", count(status));
        }
    }
    out.push('\n');
    for check in checks.iter().filter(|c| c.status != CheckStatus::Passed) {
        let word = match check.status {
            CheckStatus::Failed => "FAILED",
            CheckStatus::Warned => "warning",
            _ => "skipped",
        };
        let _ = writeln!(out, "  {word}: `{}`: {}", check.name, check.summary());
        out.push_str(&sample_lines(check, "    "));
    }
    out
}

/// The first three sample rows, indented, and how many more the report holds.
pub fn sample_lines(check: &CheckResult, indent: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for line in check.sample_text().lines().take(3) {
        let _ = writeln!(out, "{indent}{line}");
    }
    if check.sample.len() > 3 {
        let _ = writeln!(out, "{indent}({} more in the report)", check.sample.len() - 3);
    }
    out
}

/// How the rows' columns differ from the expected ones (type by type; NULLs come later).
pub fn schema_problems(
    schema: &Schema,
    expected: &[ExpectedColumn],
    exact: bool,
    one_integer_type: bool,
) -> Vec<(String, String)> {
    let family = |data_type: &DataType| match family(data_type) {
        integer if one_integer_type && integer.is_signed_integer() => DataType::Int64,
        other => other,
    };
    let mut problems = Vec::new();
    for column in expected {
        match schema.field_with_name(&column.name) {
            Err(_) => problems.push((column.name.clone(), "is missing".to_string())),
            Ok(field) if family(field.data_type()) != family(&column.data_type) => problems.push((
                column.name.clone(),
                format!("is {}, expected {} ({})", field.data_type(), column.sql_type, column.data_type),
            )),
            Ok(_) => {}
        }
    }
    if exact {
        for field in schema.fields() {
            if !expected.iter().any(|c| &c.name == field.name()) {
                problems.push((field.name().clone(), "is not expected (`exact = true`)".to_string()));
            }
        }
    }
    problems
}

/// Types compared as the databases store them: text of any encoding is text, a timestamp's
/// unit does not matter (its zone does), binary is binary.
fn family(data_type: &DataType) -> DataType {
    match data_type {
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        DataType::Timestamp(_, zone) => DataType::Timestamp(TimeUnit::Microsecond, zone.as_ref().map(|_| "UTC".into())),
        other => other.clone(),
    }
}

/// At most this many failing rows are shown per check.
pub const SAMPLE: usize = 10;

/// A column name as a SQL identifier.
pub fn quote(column: &str) -> String {
    format!("\"{}\"", column.replace('"', "\"\""))
}

/// One failing row's sample values; NULL stays null.
pub fn row_sample(batch: &RecordBatch, columns: &[usize], row: usize) -> Vec<Option<String>> {
    columns
        .iter()
        .map(|&i| {
            let array = batch.column(i);
            if array.is_null(row) {
                None
            } else {
                arrow::util::display::array_value_to_string(array, row).ok()
            }
        })
        .collect()
}
