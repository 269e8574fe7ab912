//! How a migration publishes its rows, the settings each mode needs, and how it reads.

use super::migration::MigrationFile;
use super::{check_identifier, Connection};
use crate::error::{FerryError, Result};

/// How a migration's rows are published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The target's old rows are gone and the new ones are in, or nothing changed.
    Replace,
    /// All the new rows are added, or none.
    Append,
    /// Rows whose key is in the target are updated, the others inserted (an upsert on `key`).
    Merge,
    /// Only the source rows at or after the last run's watermark on `cursor` are read, and merged.
    Incremental,
}

impl Mode {
    pub(super) fn parse(text: &str, migration: &str) -> Result<Mode> {
        match text {
            "replace" => Ok(Mode::Replace),
            "append" => Ok(Mode::Append),
            "merge" => Ok(Mode::Merge),
            "incremental" => Ok(Mode::Incremental),
            other => Err(FerryError::Job(format!(
                "migration `{migration}`: unknown mode `{other}`; use `replace`, `append`, `merge` or `incremental`"
            ))),
        }
    }
}

/// Merge and incremental need a key to merge on, a target that can update rows, and (incremental)
/// a cursor; a cursor anywhere else would be silently ignored, so it is refused.
pub(super) fn check_mode(mode: Mode, migration: &MigrationFile, target: &Connection) -> Result<()> {
    let name = &migration.name;
    let error = |message: String| Err(FerryError::Job(format!("migration `{name}`: {message}")));
    let merges = matches!(mode, Mode::Merge | Mode::Incremental);
    let mode_name = if mode == Mode::Merge { "merge" } else { "incremental" };
    if merges && migration.key.is_empty() {
        return error(format!(
            "mode `{mode_name}` needs `key`, the columns rows are matched on; add e.g. `key = [\"id\"]`"
        ));
    }
    if merges && !crate::db::open(&target.endpoint).capabilities().merges {
        return error(format!(
            "mode `{mode_name}` is not supported for Parquet targets (connection `{}`): Parquet files cannot update rows; use `replace` or `append`",
            target.name
        ));
    }
    match (&migration.cursor, mode) {
        (None, Mode::Incremental) => error(
            "mode `incremental` needs `cursor`, the output column whose value only grows (e.g. `cursor = \"updated_at\"`)"
                .to_string(),
        ),
        (Some(cursor), Mode::Incremental) => check_identifier(cursor, &format!("migration `{name}`: cursor")),
        (Some(cursor), _) => error(format!(
            "`cursor = \"{cursor}\"` is only used by `mode = \"incremental\"`; set that mode or remove the cursor"
        )),
        (None, _) => Ok(()),
    }
}

/// Reads in parts: at least one, and not more than a database would gladly serve at once.
/// Writers of one load: 1 to 16 (each a connection and a server backend).
pub fn check_writers(writers: usize, what: &str) -> Result<usize> {
    if (1..=16).contains(&writers) {
        Ok(writers)
    } else {
        Err(FerryError::Job(format!("{what} is {writers}; use a number from 1 to 16")))
    }
}

pub fn check_partitions(partitions: usize, what: &str) -> Result<usize> {
    if (1..=64).contains(&partitions) {
        Ok(partitions)
    } else {
        Err(FerryError::Job(format!("{what} is {partitions}; use a number from 1 to 64")))
    }
}
