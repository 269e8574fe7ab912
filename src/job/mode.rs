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

fn check_partitions(partitions: usize, what: &str) -> Result<usize> {
    if (1..=MOST_PARTS).contains(&partitions) {
        Ok(partitions)
    } else {
        Err(FerryError::Job(format!("{what} is {partitions}; use \"auto\" or a number from 1 to {MOST_PARTS}")))
    }
}

const MOST_PARTS: usize = 64;

/// The working memory (sorts, joins, batches in flight) a partition of an `auto` query gets at
/// least: a 512 MB budget keeps up to 16 partitions.
const MEMORY_PER_PART: usize = 32 << 20;

/// How many partitions a migration's query keeps, each source table read in as many parts
/// where its database can split it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parts {
    /// One per core; a table is read in fewer parts when it is small (`source::table::auto_parts`).
    #[default]
    Auto,
    Exactly(usize),
}

impl Parts {
    /// `auto` or a number from 1 to 64 (`what` names the setting in the error).
    pub fn parse(text: &str, what: &str) -> Result<Parts> {
        match text.trim() {
            "auto" => Ok(Parts::Auto),
            number => match number.parse::<usize>() {
                Ok(parts) => Ok(Parts::Exactly(check_partitions(parts, what)?)),
                Err(_) => {
                    Err(FerryError::Job(format!("{what} is `{text}`; use \"auto\" or a number from 1 to {MOST_PARTS}")))
                }
            },
        }
    }

    /// The partitions of a query that may hold `memory` in all: for `auto`, the cores this
    /// process may use, but no more than gives each partition its share of working memory.
    pub fn count(self, memory: usize) -> usize {
        match self {
            Parts::Auto => {
                let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
                cores.min(memory / MEMORY_PER_PART).clamp(1, MOST_PARTS)
            }
            Parts::Exactly(parts) => parts,
        }
    }
}

/// `partitions` as written in a job file: `"auto"` or a number.
#[derive(Debug)]
pub struct PartsFile(pub String);

impl<'de> serde::Deserialize<'de> for PartsFile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<PartsFile, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = PartsFile;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "\"auto\" or a number from 1 to {MOST_PARTS}")
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> std::result::Result<PartsFile, E> {
                Ok(PartsFile(value.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> std::result::Result<PartsFile, E> {
                Ok(PartsFile(value.to_string()))
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> std::result::Result<PartsFile, E> {
                Ok(PartsFile(value.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
