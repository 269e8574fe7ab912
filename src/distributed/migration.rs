//! A migration's query on the cluster (`ferry run --cluster URL --stage URL`): the database
//! tables it reads are staged to Parquet under `STAGE/<run>/<migration>/<connection>/<table>/`
//! (one snapshot per connection, as `ferry stage` reads), Parquet connections are read where
//! they are, and the query runs on the cluster over them, which writes its result as Parquet
//! under `.../<migration>/_result/`. Ferry reads those files back (in parallel) and splits the
//! rejects, checks, publishes and reconciles the rows exactly as in a local run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::dataframe::DataFrame;
use datafusion::prelude::ParquetReadOptions;
use futures::TryStreamExt;

use crate::connection::Endpoint;
use crate::db::ReadCounter;
use crate::error::{FerryError, Result};
use crate::incremental::{ClusterRun, Stager};
use crate::job::{parse_query, Connection, MigrationPlan, Parts, Plan};
use crate::transform::{named_tables, new_session};

/// The migration's query as a frame computed by the cluster; the rows read from its source
/// connection (as staged); the seconds staging took.
pub async fn plan_migration(
    plan: &Plan,
    migration: &MigrationPlan,
    cluster: &ClusterRun,
    run_id: &str,
    stager: &Stager,
    partitions: Parts,
) -> Result<(DataFrame, Arc<ReadCounter>, f64)> {
    let error = |message: String| FerryError::Query {
        migration: migration.name.clone(),
        file: migration.query_file.clone(),
        message,
    };
    // Tables are registered in the cluster's context itself (Ballista's state keeps its own catalogs).
    let local = new_session(Some(&migration.source.name), super::on_cluster(partitions), plan.memory_limit, false);
    let local = super::connect(&cluster.url, local.state()).await?;
    let statement = parse_query(&migration.query_sql).map_err(error)?;
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, connection, table) in named_tables(&local, plan, Some(&migration.source), &statement).map_err(error)? {
        let names = tables.entry(connection).or_default();
        if !names.contains(&table) {
            names.push(table);
        }
    }
    let catalog_name = local.state().config().options().catalog.default_catalog.clone();
    let catalog =
        local.catalog(&catalog_name).ok_or_else(|| FerryError::internal("the session has no default catalog"))?;
    let counter = Arc::new(ReadCounter::default());
    let started = Instant::now();
    for (name, names) in tables {
        let connection = plan.connections.get(&name).ok_or_else(|| error(format!("no connection `{name}`")))?;
        let files = if connection.backend().capabilities().files {
            connection.clone()
        } else {
            let folder = format!("{}/{run_id}/{}/{name}", cluster.stage.trim_end_matches('/'), migration.name);
            let qualified: Vec<String> = names.iter().map(|table| format!("{name}.{table}")).collect();
            let staged = (stager.0)(plan.clone(), qualified.clone(), folder.clone(), name.clone()).await?;
            if let Some(failure) = staged.error.clone() {
                return Err(FerryError::Job(format!(
                    "staging {} for the cluster failed: {failure}",
                    qualified.join(", ")
                )));
            }
            if name == migration.source.name {
                counter.add(staged.migrations.iter().map(|m| m.rows_read as usize).sum());
            }
            let endpoint = Endpoint::parse(&folder, std::path::Path::new("."))
                .map_err(|e| FerryError::Job(format!("--stage {}: {e}", cluster.stage)))?;
            Connection::new(&name, endpoint)
        };
        let provider = crate::source::schema_provider(&local, &files, None).await?;
        catalog.register_schema(&name, provider).map_err(|e| FerryError::internal(e.to_string()))?;
        if name == migration.source.name && connection.backend().capabilities().files {
            // Parquet read where it is: its rows are counted here (from the files' statistics).
            for table in &names {
                let reference = datafusion::sql::TableReference::partial(name.as_str(), table.as_str());
                counter.add(local.table(reference).await?.count().await?);
            }
        }
    }
    let staging = started.elapsed().as_secs_f64();
    let frame = local.sql(&migration.query_sql).await.map_err(|e| match FerryError::from(e) {
        FerryError::Execution(message) => error(message),
        other => other,
    })?;
    // As the cluster will receive it: optimized (which turns some filters into joins).
    let optimized = frame.clone().into_optimized_plan()?;
    super::refuse_wrong_answers(&optimized, &format!("migration `{}`", migration.name))?;
    // The cluster writes the result beside the staged sources, each task of its last stage its
    // own files at once, and ferry reads them from there (in parallel), rather than fetching the
    // rows from each executor in turn.
    let result = format!("{}/{run_id}/{}/_result/", cluster.stage.trim_end_matches('/'), migration.name);
    let url = url::Url::parse(&result).map_err(|e| FerryError::Job(format!("--stage {}: {e}", cluster.stage)))?;
    let (store, folder) = crate::db::parquet::store::object_store(&url)?;
    let masked = crate::connection::mask_url(&url);
    // A job run again (an executor lost) starts from an empty folder: no shard twice.
    let stale: Vec<_> = store
        .list(Some(&folder))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(|e| FerryError::Connection { url: masked.clone(), message: e.to_string() })?;
    for path in stale {
        store.delete(&path).await.map_err(|e| FerryError::Connection {
            url: masked.clone(),
            message: format!("cannot remove an earlier attempt's {path}: {e}"),
        })?;
    }
    let cluster_error = |e: datafusion::error::DataFusionError| FerryError::Source {
        url: cluster.url.clone(),
        table: crate::job::CLUSTER_JOB.into(),
        message: FerryError::from(e).to_string(),
    };
    let write = super::shards::ShardWrite::plan(frame.logical_plan().clone(), result.clone()).map_err(cluster_error)?;
    let answers = DataFrame::new(local.state(), write).collect().await.map_err(cluster_error)?;
    let mut written = 0u64;
    for answer in &answers {
        let rows = answer.column(0).as_any().downcast_ref::<arrow::array::UInt64Array>();
        written += rows.map_or(0, |rows| rows.iter().flatten().sum());
    }
    let tasks: usize = answers.iter().map(|answer| answer.num_rows()).sum();
    tracing::info!(migration = %migration.name, tasks, rows = written, "result written by the cluster");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let here = new_session(Some(&migration.source.name), Parts::Exactly(cores), plan.memory_limit, false);
    here.register_object_store(&crate::db::parquet::store::store_root(&url), store);
    // Field metadata (a column's source type) travels, as when ferry reads Parquet it wrote.
    let options = ParquetReadOptions { skip_metadata: Some(false), ..Default::default() };
    let frame = here.read_parquet(result.as_str(), options).await?;
    // The files hold what the tasks wrote, no more (a stray writer) and no less (from the files'
    // footers: no rows are read for it).
    let found = frame.clone().count().await? as u64;
    if found != written {
        return Err(FerryError::Job(format!(
            "migration `{}`: the cluster wrote {written} rows but {} holds {found}; another writer may \
             have touched that folder: run again (nothing was published)",
            migration.name, masked
        )));
    }
    Ok((frame, counter, staging))
}
