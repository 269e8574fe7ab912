//! The transform: a migration's SQL file, planned by DataFusion over the job's connections.
//!
//! Each connection is a schema of the session's catalog, so a query names `target.target_users`;
//! the migration's source connection is the default schema, so its tables need no prefix. Only
//! the connections a query names are opened, and every table it names is checked to exist before
//! planning, so a typo is reported with the tables that do exist.

pub mod budget;
pub mod lookup;
pub mod planner;
mod rejects;

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement;
use datafusion::sql::TableReference;

use crate::db::ReadCounter;
use crate::error::{FerryError, Result};
use crate::job::{parse_query, Connection, MigrationPlan, Parts, Plan};
use crate::source::{pushdown, schema_provider};

pub use rejects::{RejectSplitter, REJECT_COLUMN, SOURCE_ROW_COLUMN};

const CATALOG: &str = "ferry";

/// A session ready to plan `sql`, with `default` as the unqualified schema and every
/// connection that `sql` names registered. Returns the read counter of the default connection.
pub async fn session_for(
    plan: &Plan,
    default: Option<&Connection>,
    sql: &str,
    error: &(dyn Fn(String) -> FerryError + Sync),
    partitions: Parts,
    pushdown: bool,
) -> Result<(SessionContext, Arc<ReadCounter>)> {
    let ctx = new_session(default.map(|c| c.name.as_str()), partitions, plan.memory_limit, pushdown);
    let statement = parse_query(sql).map_err(error)?;
    let counter = Arc::new(ReadCounter::default());
    let mut opened = BTreeMap::new();
    for (reference, connection_name, table) in named_tables(&ctx, plan, default, &statement).map_err(error)? {
        if !opened.contains_key(&connection_name) {
            let reads = match default {
                Some(default) if default.name == connection_name => counter.clone(),
                _ => Arc::new(ReadCounter::default()),
            };
            let provider =
                register_connection(&ctx, plan, &connection_name, Some(reads)).await.map_err(|e| match e {
                    FerryError::Job(message) => error(format!("`{reference}` {message}")),
                    other => other,
                })?;
            opened.insert(connection_name.clone(), provider);
        }
        check_table_exists(plan, &opened[&connection_name], &connection_name, &table).map_err(error)?;
    }
    Ok((ctx, counter))
}

/// The tables a statement names, each as (reference, connection, table); a bare name belongs
/// to `default`. `information_schema` tables are DataFusion's own and left out.
pub fn named_tables(
    ctx: &SessionContext,
    plan: &Plan,
    default: Option<&Connection>,
    statement: &Statement,
) -> std::result::Result<Vec<(TableReference, String, String)>, String> {
    let references = ctx.state().resolve_table_references(statement).map_err(|e| e.to_string())?;
    let mut named = Vec::new();
    for reference in references {
        let (connection, table) = match (&reference, default) {
            (TableReference::Bare { table }, Some(default)) => (default.name.clone(), table.to_string()),
            (TableReference::Bare { table }, None) => {
                return Err(format!(
                    "`{table}` names no connection; write `connection.{table}` (the job defines {})",
                    connection_list(plan)
                ))
            }
            (TableReference::Partial { schema, table }, _) => (schema.to_string(), table.to_string()),
            (TableReference::Full { catalog, schema, table }, _) => {
                if catalog.as_ref() != CATALOG {
                    return Err(format!(
                        "`{reference}` names catalog `{catalog}`; write `connection.table` or `table`"
                    ));
                }
                (schema.to_string(), table.to_string())
            }
        };
        if connection != "information_schema" {
            named.push((reference, connection, table));
        }
    }
    Ok(named)
}

/// A session whose catalog holds the job's connections as schemas. `partitions` is how many
/// partitions its queries keep, each source table read in as many parts at once (when its
/// database can split it; with `auto`, fewer for a small table); its queries share
/// the memory pool of every session with the same `memory_limit` (see [`budget`]).
/// `pushdown`: whole subqueries over one database go to that database (`source::pushdown`).
pub fn new_session(
    default_schema: Option<&str>,
    partitions: Parts,
    memory_limit: usize,
    pushdown: bool,
) -> SessionContext {
    let config = SessionConfig::new()
        .with_default_catalog_and_schema(CATALOG, default_schema.unwrap_or("public"))
        .with_create_default_catalog_and_schema(true)
        .with_information_schema(true);
    let config = crate::source::partitioned(config, partitions, memory_limit);
    // Each partition's sort keeps this much back to merge its spilled runs (10 MB by default):
    // together an eighth of a small budget, so that sorts in it can still spill.
    let sorts = config.target_partitions().max(1);
    let config = config.with_sort_spill_reservation_bytes((memory_limit / 8 / sorts).min(10 << 20));
    let mut state = datafusion::execution::SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(budget::runtime(memory_limit))
        .with_default_features()
        .with_query_planner(Arc::new(planner::Planner(vec![Arc::new(pushdown::PushedPlanner)])))
        .with_physical_optimizer_rule(Arc::new(lookup::LookupJoinRule));
    if pushdown {
        state = state.with_analyzer_rule(Arc::new(pushdown::PushdownRule));
    }
    SessionContext::new_with_state(state.build())
}

/// Opens connection `name` and registers it as a schema of `ctx`'s catalog.
pub async fn register_connection(
    ctx: &SessionContext,
    plan: &Plan,
    name: &str,
    reads: Option<Arc<ReadCounter>>,
) -> Result<Arc<dyn datafusion::catalog::SchemaProvider>> {
    let connection = plan.connections.get(name).ok_or_else(|| {
        FerryError::Job(format!(
            "names connection `{name}`, which the job does not define; it defines {}",
            connection_list(plan)
        ))
    })?;
    let provider = schema_provider(ctx, connection, reads).await?;
    let catalog = ctx.catalog(CATALOG).ok_or_else(|| FerryError::internal("the default catalog is missing"))?;
    catalog.register_schema(name, provider.clone()).map_err(|e| FerryError::internal(e.to_string()))?;
    Ok(provider)
}

fn connection_list(plan: &Plan) -> String {
    plan.connections.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

/// An unknown table is reported with the close matches, or every table when there are few.
pub fn check_table_exists(
    plan: &Plan,
    provider: &Arc<dyn datafusion::catalog::SchemaProvider>,
    connection: &str,
    table: &str,
) -> std::result::Result<(), String> {
    if provider.table_exist(table) {
        return Ok(());
    }
    let mut tables = provider.table_names();
    tables.sort();
    let close = close_matches(table, &tables);
    let listed = tables.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ");
    let hint = match (close.is_empty(), tables.len()) {
        (_, 0) => "it has no tables".to_string(),
        (true, _) => format!("it has: {listed}"),
        (false, 1..=20) => format!("did you mean `{}`? It has: {listed}", close.join("` or `")),
        (false, _) => format!("did you mean `{}`?", close.join("` or `")),
    };
    let url = plan.connections.get(connection).map(|c| c.endpoint.masked()).unwrap_or_default();
    Err(format!("table `{table}` does not exist in connection `{connection}` ({url}); {hint}"))
}

/// Names within a small edit distance of `name` (or containing it), closest first.
pub fn close_matches(name: &str, candidates: &[String]) -> Vec<String> {
    let wanted = name.to_lowercase();
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .filter_map(|candidate| {
            let lower = candidate.to_lowercase();
            let distance = edit_distance(&wanted, &lower);
            let near = distance <= (wanted.chars().count() / 3).max(2);
            (near || lower.contains(&wanted) || wanted.contains(&lower)).then_some((distance, candidate))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c.clone()).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push((previous[j] + cost).min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// A DataFusion error as the one-line message a user reads.
pub fn plain(error: datafusion::error::DataFusionError) -> String {
    FerryError::from(error).to_string()
}

/// The session and plan for one migration's query, its tables read in `migration.partitions` parts.
pub async fn plan_migration(
    plan: &Plan,
    migration: &MigrationPlan,
) -> Result<(datafusion::dataframe::DataFrame, Arc<ReadCounter>)> {
    plan_migration_in(plan, migration, migration.partitions).await
}

/// [`plan_migration`] with the source tables read in `partitions` parts.
pub async fn plan_migration_in(
    plan: &Plan,
    migration: &MigrationPlan,
    partitions: Parts,
) -> Result<(datafusion::dataframe::DataFrame, Arc<ReadCounter>)> {
    let error = |message: String| FerryError::Query {
        migration: migration.name.clone(),
        file: migration.query_file.clone(),
        message,
    };
    let (ctx, counter) =
        session_for(plan, Some(&migration.source), &migration.query_sql, &error, partitions, migration.pushdown)
            .await?;
    let frame = ctx.sql(&migration.query_sql).await.map_err(|e| match FerryError::from(e) {
        FerryError::Execution(message) => error(message),
        other => other,
    })?;
    Ok((frame, counter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_matches_find_typos_first() {
        let tables: Vec<String> = ["source_table", "source_orders", "target_users"].map(String::from).to_vec();
        assert_eq!(close_matches("source_tabel", &tables), ["source_table"]);
        assert_eq!(close_matches("orders", &tables), ["source_orders"]);
        assert!(close_matches("zzz", &tables).is_empty());
    }
}
