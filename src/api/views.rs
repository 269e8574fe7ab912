//! The bodies the API answers with, as types: the handlers build them, serde writes them and
//! `GET /openapi.json` describes them (utoipa reads the same types).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::report::RunReport;

/// Every error: `error` says what went wrong and what to do. A run that failed adds its id,
/// status and report; a migration already running names that run.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ErrorAnswer {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RunReport>)]
    pub report: Option<serde_json::Value>,
    /// The run that holds the migration (409 only); null when another process runs it and did
    /// not record its id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_run_id: Option<Option<String>>,
}

/// The old system's answer: its message, then the run.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegacyAnswer {
    pub message: String,
    pub run_id: String,
    pub status: String,
    #[schema(value_type = Option<RunReport>)]
    pub report: Option<serde_json::Value>,
}

/// A run started without waiting (202): follow it at `href`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub run_id: String,
    pub status: String,
    pub href: String,
}

/// One migration (or copy) of the job.
#[derive(Debug, Serialize, ToSchema)]
pub struct MigrationView {
    pub name: String,
    /// Connection URLs with passwords masked.
    pub source: String,
    pub target: String,
    /// `replace`, `append`, `merge`, `incremental`, or `copy` for a whole-database copy.
    pub mode: String,
    /// The target table (null for a copy).
    pub table: Option<String>,
    pub key: Vec<String>,
    pub cursor: Option<String>,
    /// Migrations that must have succeeded before this one runs.
    pub depends_on: Vec<String>,
    /// A copy's table globs (included, excluded); absent for a migration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Vec<String>>,
    /// The run going on in this process, if any.
    pub running_run_id: Option<String>,
}

/// `GET /health`: `ok`, or `unavailable: <names>` with each connection's answer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HealthAnswer {
    pub status: String,
    pub connections: BTreeMap<String, ConnectionHealth>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConnectionHealth {
    pub ok: bool,
    /// Why it did not answer (password masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A migration's rows in `_ferry_rejects`, per reason.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectSummary {
    pub migration: String,
    /// Whether the target keeps rejects in a table ferry can query (a Parquet target keeps
    /// them as files under `_ferry_rejects/<migration>/`; the run reports still count them).
    pub stored: bool,
    pub total: u64,
    pub reasons: Vec<ReasonCount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonCount {
    pub reason: String,
    pub rows: u64,
    /// Runs that set rows aside for this reason (a replace clears the earlier runs' rejects).
    pub runs: u64,
    /// When the latest of them was set aside, as the target database writes a timestamp.
    pub last_rejected_at: Option<String>,
}

/// A page of a migration's rejected rows, newest run first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectPage {
    pub migration: String,
    pub reason: Option<String>,
    pub run_id: Option<String>,
    /// Rows matching the filters, of which this page holds `rows`.
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub rows: Vec<RejectRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectRow {
    pub run_id: String,
    /// The row's key columns, as text (null when the key itself was missing).
    pub source_key: Option<String>,
    pub reason: String,
    /// The whole source row as the query produced it, column by column (an object).
    pub source_row: serde_json::Value,
    pub rejected_at: Option<String>,
}
