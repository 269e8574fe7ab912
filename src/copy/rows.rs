//! The rows of a copy: one replace per table through the run's pipeline, several at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::connection::Endpoint;
use crate::db::{Backend, ColumnType, Publish, Reading, TableDef};
use crate::error::{FerryError, Result};
use crate::incremental::{AfterPublish, RunOptions};
use crate::job::{Connection, MigrationPlan, Mode, Plan};
use crate::report::RunReport;
use crate::run::{run_with, Progress};

/// One replace per table through the run's pipeline, `SELECT *` of the source table, `workers`
/// tables at a time; a table that fails does not stop the others. With several workers the
/// largest tables (by the source's `sizes` estimate) start first, so that the longest load is not
/// the last to begin; with one they load in the order given. The report lists the tables in the
/// order given. `after_publish` runs on each table once its rows are in; a table whose load
/// failed for a passing reason is tried again up to `retries` times.
pub async fn move_rows(
    source: &Endpoint,
    target: &Arc<dyn Backend>,
    tables: &[TableDef],
    sources: &BTreeMap<String, TableDef>,
    converted: &BTreeSet<(String, String)>,
    (workers, retries, after_publish): (usize, u32, AfterPublish),
    sizes: &[u64],
) -> Result<RunReport> {
    use futures::StreamExt;
    let mut plan = copy_plan(source, target.endpoint(), tables, sources, converted);
    // The target as opened: a single transaction's loads all go through its connection. The
    // source read in one snapshot, so that the tables agree with each other (PostgreSQL).
    let reader = crate::db::open(source).one_snapshot();
    for migration in &mut plan.migrations {
        migration.target.backend = Some(target.clone());
        migration.source.backend = Some(reader.clone());
    }
    let run_id = Some(crate::run::new_run_id());
    let options = RunOptions { run_id, after_publish: Some(after_publish), retries, ..Default::default() };
    let mut order: Vec<usize> = (0..tables.len()).collect();
    if workers > 1 {
        order.sort_by_key(|&at| std::cmp::Reverse(sizes.get(at).copied().unwrap_or(0)));
    }
    // Each table on a task of its own, so that their CPU work runs on as many cores.
    let started: Vec<(usize, String)> = order.into_iter().map(|at| (at, tables[at].name.clone())).collect();
    let mut runs: Vec<_> = futures::stream::iter(started)
        .map(|(at, name)| {
            let (plan, options) = (plan.clone(), options.clone());
            let run = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
                run_with(&plan, &[name], &options, Progress::Auto).await
            }));
            async move { (at, run.await) }
        })
        .buffer_unordered(workers)
        .collect()
        .await;
    runs.sort_by_key(|(at, _)| *at);
    let mut report = super::empty_run();
    report.run_id = options.run_id.clone().unwrap_or_default();
    for (_, run) in runs {
        let run = run.map_err(FerryError::internal)??;
        if report.error.is_none() {
            (report.error, report.error_kind) = (run.error, run.error_kind);
        }
        report.migrations.extend(run.migrations);
    }
    Ok(report)
}

/// The copy as a plan of migrations: one replace per table, `SELECT *` of the source table.
pub(super) fn copy_plan(
    source: &Endpoint,
    target: &Endpoint,
    tables: &[TableDef],
    sources: &BTreeMap<String, TableDef>,
    converted: &BTreeSet<(String, String)>,
) -> Plan {
    let mut from = Connection::new("source", source.clone());
    let mut to = Connection::new("target", target.clone());
    // A table others inherit from is copied with its own rows: theirs are copied with them (and
    // it is read back, to reconcile, with its own rows too).
    from.reading = Reading {
        own_rows: sources.values().flat_map(|table| table.inherits.clone()).collect(),
        zero_dates_as_null: true,
    };
    to.reading.own_rows = tables.iter().flat_map(|table| table.inherits.clone()).collect();
    let migrations = tables
        .iter()
        .map(|table| MigrationPlan {
            name: table.name.clone(),
            source: from.clone(),
            target: to.clone(),
            query_file: "(ferry copy)".into(),
            query_sql: select_all(sources.get(&table.name).unwrap_or(table), table, converted),
            table: table.name.clone(),
            mode: Mode::Replace,
            key: table.primary_key.clone(),
            cursor: None,
            partitions: crate::job::Parts::Auto,
            pushdown: false,
            depends_on: Vec::new(),
            checks: Vec::new(),
            reconcile: true,
            // The copy made the table itself a moment ago: nobody reads it yet.
            publish: Publish::InPlace,
            writers: None,
        })
        .collect();
    let connections = BTreeMap::from([("source".to_string(), from), ("target".to_string(), to)]);
    Plan { connections, migrations, copies: Vec::new(), memory_limit: crate::job::DEFAULT_MEMORY_LIMIT, cluster: None }
}

/// `SELECT` of every column of the source table, named as the target's, but those the target
/// computes itself (generated there too). Instants come as instants whatever the source driver
/// gives (MySQL's TIMESTAMP is read as a UTC date-time).
fn select_all(source: &TableDef, target: &TableDef, converted: &BTreeSet<(String, String)>) -> String {
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let columns: Vec<String> = source
        .columns
        .iter()
        .zip(&target.columns)
        .filter(|(_, named)| named.generated.is_none())
        .map(|(column, named)| {
            let value = match column.column_type.portable() {
                _ if converted.contains(&(source.name.clone(), column.name.clone())) => {
                    format!("CAST({} AS {})", quote(&column.name), super::casts::sql_type(&column.column_type))
                }
                ColumnType::TimestampTz => {
                    format!("arrow_cast({}, 'Timestamp(Microsecond, Some(\"UTC\"))')", quote(&column.name))
                }
                _ => quote(&column.name),
            };
            format!("{value} AS {}", quote(&named.name))
        })
        .collect();
    let columns = if columns.is_empty() { "*".to_string() } else { columns.join(", ") };
    format!("SELECT {columns} FROM {}", quote(&source.name))
}
