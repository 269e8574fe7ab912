//! One `[[migrations]]` entry: as written, and checked into a [`MigrationPlan`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::checks::CheckFile;
use super::mode::{check_mode, check_writers, Mode, Parts, PartsFile};
use super::{check_identifier, named_connection, parse_query, Connection, MigrationPlan};
use crate::db::Publish;
use crate::error::{FerryError, Result};

/// One `[[migrations]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MigrationFile {
    /// The migration's name, used on the command line and in reports.
    pub(super) name: String,
    /// The connection whose tables the query sees by bare name.
    pub(super) source: String,
    /// The SQL file, relative to the job file, that computes the target rows.
    pub(super) query: String,
    /// The connection written to.
    pub(super) target: String,
    /// The target table (a folder name for Parquet targets).
    pub(super) table: String,
    /// `replace` (default), `append`, `merge` or `incremental`.
    #[serde(default)]
    pub(super) mode: Option<String>,
    /// The target's primary key columns.
    #[serde(default)]
    pub(super) key: Vec<String>,
    /// Incremental mode: the query's output column whose value only grows (a timestamp, a date, an integer).
    #[serde(default)]
    pub(super) cursor: Option<String>,
    /// How many partitions the query keeps, each database source table read in as many parts
    /// at once (ranges of its integer primary key or SQLite rowid; PostgreSQL's all on one
    /// snapshot): `"auto"` (default: one per core, fewer for small tables) or a number.
    #[serde(default)]
    pub(super) partitions: Option<PartsFile>,
    /// Whether joins, aggregates and sorts over one database's tables may run in that database
    /// where it computes them exactly as ferry does; true by default.
    #[serde(default)]
    pub(super) pushdown: Option<bool>,
    /// Migrations that must run before this one.
    #[serde(default)]
    pub(super) depends_on: Vec<String>,
    /// Data checks on the rows before they are published (`[[migrations.checks]]`).
    #[serde(default)]
    pub(super) checks: Vec<CheckFile>,
    /// Read the published table back and compare it with the rows sent (default true).
    #[serde(default)]
    pub(super) reconcile: Option<bool>,
    /// How a replace publishes over an existing table: `auto` (default), `swap` or `in_place`.
    #[serde(default)]
    pub(super) publish: Option<String>,
    /// Writers of the rows at once: COPY connections into a swapped PostgreSQL replace (1 by
    /// default), Parquet file writers (one per partition of the rows by default).
    #[serde(default)]
    pub(super) writers: Option<usize>,
}

pub(super) fn check_migration(
    migration: &MigrationFile,
    connections: &BTreeMap<String, Connection>,
    base: &Path,
) -> Result<MigrationPlan> {
    let name = &migration.name;
    check_identifier(name, "migration name")?;
    let owner = format!("migration `{name}`");
    let source = named_connection(connections, &migration.source, "source", &owner)?;
    let target = named_connection(connections, &migration.target, "target", &owner)?;
    let table = migration.table.clone();
    check_table_name(&table, name)?;
    for column in &migration.key {
        check_identifier(column, &format!("migration `{name}`: key column"))?;
    }
    let mode = Mode::parse(migration.mode.as_deref().unwrap_or("replace"), name)?;
    check_mode(mode, migration, &target)?;
    let partitions = match &migration.partitions {
        None => Parts::Auto,
        Some(PartsFile(text)) => Parts::parse(text, &format!("migration `{name}`: partitions"))?,
    };
    let publish = match migration.publish.as_deref() {
        None => Publish::Auto,
        Some(text) => Publish::parse(text).ok_or_else(|| {
            FerryError::Job(format!("migration `{name}`: unknown publish `{text}`; use `auto`, `swap` or `in_place`"))
        })?,
    };
    let writers = migration.writers.map(|n| check_writers(n, &format!("migration `{name}`: writers"))).transpose()?;
    let query_path: PathBuf = base.join(&migration.query);
    let query_sql = std::fs::read_to_string(&query_path).map_err(|error| {
        FerryError::Job(format!("migration `{name}`: cannot read query file `{}`: {error}", query_path.display()))
    })?;
    parse_query(&query_sql).map_err(|message| FerryError::Query {
        migration: name.clone(),
        file: migration.query.clone(),
        message,
    })?;
    Ok(MigrationPlan {
        name: name.clone(),
        source,
        target,
        query_file: migration.query.clone(),
        query_sql,
        table,
        mode,
        key: migration.key.clone(),
        cursor: migration.cursor.clone(),
        partitions,
        pushdown: migration.pushdown.unwrap_or(true),
        depends_on: migration.depends_on.clone(),
        checks: Vec::new(),
        reconcile: migration.reconcile.unwrap_or(true),
        publish,
        writers,
    })
}

fn check_table_name(table: &str, migration: &str) -> Result<()> {
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() > 2 {
        return Err(FerryError::Job(format!(
            "migration `{migration}`: table `{table}` has more than one `.`; write `table` or `schema.table`"
        )));
    }
    for part in parts {
        check_identifier(part, &format!("migration `{migration}`: table"))?;
    }
    Ok(())
}
