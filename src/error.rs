//! The one error type. Variants are sorted by who must act: the user's input (`Job`, `Query`,
//! `Schema`), another system (`Connection`, `Source`, `Target`), or ferry itself (`Internal`).
//! Every message names the culprit and, where it helps, says what to do.

use std::path::PathBuf;

pub type Result<T, E = FerryError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum FerryError {
    /// The job file cannot be read or parsed, or describes an impossible plan.
    #[error("{0}")]
    Job(String),

    /// A job file could not be read at all.
    #[error("cannot read job file `{path}`: {source}")]
    JobFile { path: PathBuf, source: std::io::Error },

    /// A migration's query is wrong: SQL syntax, an unknown table or column.
    #[error("migration `{migration}`: query `{file}`: {message}")]
    Query { migration: String, file: String, message: String },

    /// The query's output does not fit an existing target table.
    #[error("migration `{migration}`: target table `{table}` does not match the query's output: {differences}; alter the table, or change the query so its columns match")]
    Schema { migration: String, table: String, differences: String },

    /// A database or object store could not be reached or refused the session.
    #[error("cannot connect to `{url}`: {message}")]
    Connection { url: String, message: String },

    /// Reading from a source failed after it was reached.
    #[error("reading `{table}` from `{url}`: {message}")]
    Source { url: String, table: String, message: String },

    /// Writing to a target failed; nothing was published.
    #[error("writing `{table}` to `{url}`: {message}")]
    Target { url: String, table: String, message: String },

    /// A value that cannot be carried into the target column.
    #[error("migration `{migration}`: column `{column}`: {message}")]
    Value { migration: String, column: String, message: String },

    /// The migration is running already (in this process or another); nothing was done.
    #[error("migration `{migration}` is already running ({message}); wait for that run to finish")]
    Busy { migration: String, message: String },

    /// `error` checks failed on the rows a run was about to publish: nothing was published.
    #[error("migration `{migration}`: {} failed, nothing was published: {}; the report shows the failing rows", plural(.failed.len(), "check"), failed_list(.failed))]
    ChecksFailed { migration: String, failed: Vec<FailedCheck> },

    /// The query failed while it ran, on the data (a division by zero, a failed cast).
    #[error("{0}")]
    Execution(String),

    /// A file ferry writes (report, demo data) could not be written.
    #[error("cannot write `{path}`: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    /// A temporary file (the rows checks audit, a merge's keys) could not be written.
    #[error("cannot write the temporary file `{path}`: {source}; free space there, or point TMPDIR at a larger disk")]
    Spill { path: PathBuf, source: std::io::Error },

    /// A bug in ferry: please report it.
    #[error("internal error (a bug in ferry, please report it): {0}")]
    Internal(String),
}

/// Who has to act on an error: what the API answers with and the report records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The job, a query, the data or a target's shape: the user fixes it.
    Input,
    /// The migration is already running.
    Busy,
    /// Checks failed: the rows were not published.
    Checks,
    /// A database or store could not be reached.
    Unavailable,
    /// A database failed while working, or ferry did.
    Failure,
}

impl FerryError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            FerryError::Job(_)
            | FerryError::JobFile { .. }
            | FerryError::Query { .. }
            | FerryError::Schema { .. }
            | FerryError::Value { .. }
            | FerryError::Execution(_) => ErrorKind::Input,
            FerryError::Busy { .. } => ErrorKind::Busy,
            FerryError::ChecksFailed { .. } => ErrorKind::Checks,
            FerryError::Connection { .. } => ErrorKind::Unavailable,
            FerryError::Source { .. }
            | FerryError::Target { .. }
            | FerryError::Io { .. }
            | FerryError::Spill { .. }
            | FerryError::Internal(_) => ErrorKind::Failure,
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        FerryError::Internal(message.to_string())
    }
}

fn plural(count: usize, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

fn failed_list(failed: &[FailedCheck]) -> String {
    let failed: Vec<String> = failed.iter().map(|r| format!("`{}` ({} failing)", r.name, r.failing)).collect();
    failed.join(", ")
}

/// A check that blocked a publish, as [`FerryError::ChecksFailed`] names it (the run's report
/// holds every check's whole result).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedCheck {
    pub name: String,
    pub failing: u64,
}

impl From<datafusion::error::DataFusionError> for FerryError {
    fn from(error: datafusion::error::DataFusionError) -> Self {
        // Errors raised by our own sources and sinks travel through DataFusion wrapped as
        // `External`; unwrap them so the user sees the original, culprit-naming message.
        // The memory budget stops a query however deep in the plan: say so, and what to do.
        if let datafusion::error::DataFusionError::ResourcesExhausted(message) = error.find_root() {
            return FerryError::Execution(format!(
                "the query needs more memory than the run's budget allows ({message}); raise `memory_limit` in the job \
                 file or --memory-limit, run fewer migrations at once (--jobs), or simplify the query"
            ));
        }
        match error {
            datafusion::error::DataFusionError::External(inner) => match inner.downcast::<FerryError>() {
                Ok(ferry) => *ferry,
                Err(other) => FerryError::Internal(other.to_string()),
            },
            datafusion::error::DataFusionError::Context(context, inner) => match FerryError::from(*inner) {
                FerryError::Internal(message) => FerryError::Internal(format!("{context}: {message}")),
                other => FerryError::Execution(format!("{context}: {other}")),
            },
            datafusion::error::DataFusionError::Internal(message) => FerryError::Internal(message),
            // What the query or the data caused: the message is DataFusion's own, which names it.
            other => FerryError::Execution(other.to_string()),
        }
    }
}

impl From<FerryError> for datafusion::error::DataFusionError {
    fn from(error: FerryError) -> Self {
        datafusion::error::DataFusionError::External(Box::new(error))
    }
}

impl From<arrow::error::ArrowError> for FerryError {
    fn from(error: arrow::error::ArrowError) -> Self {
        FerryError::Internal(error.to_string())
    }
}
