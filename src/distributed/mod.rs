//! Scale-out on Apache Ballista 50 (`--features distributed`): `ferry cluster scheduler` and
//! `ferry cluster executor` start Ballista's own scheduler and executors, made by this binary so
//! that they know its object stores (built on each machine from its own environment: no
//! credential travels in a plan), and [`connect`] turns a session into one whose queries run on
//! the cluster. Ballista serializes plans with DataFusion's protobuf codec: a query reaches the
//! cluster only if every table it reads is a Parquet table (a `ListingTable`); database tables
//! are staged to Parquet first (`ferry stage`).

mod build;
mod codec;
pub mod migration;
mod refuse;
mod shards;

pub use refuse::refuse_wrong_answers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista::extension::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::db::parquet::registry::EnvironmentStores;
use crate::error::{FerryError, Result};

/// The scheduler's address in a `df://HOST:PORT` URL.
pub fn scheduler_address(url: &str) -> Result<(String, u16)> {
    crate::job::scheduler_address(url, "--cluster")
}

fn cluster_error(what: &str, error: impl std::fmt::Display) -> FerryError {
    FerryError::Connection { url: what.to_string(), message: error.to_string() }
}

/// Object stores from this machine's environment; spills under `work_dir` when given.
fn runtime(work_dir: Option<&PathBuf>) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    let mut builder = RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(EnvironmentStores::default()));
    if let Some(folder) = work_dir {
        builder = builder.with_temp_file_path(folder.clone());
    }
    Ok(Arc::new(builder.build()?))
}

/// A session state for a scheduler's planning: the client's settings (from this very build),
/// this machine's stores.
fn planning_state(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    build::check(&config)?;
    Ok(SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime(None)?)
        .with_default_features()
        .with_query_planner(Arc::new(crate::transform::planner::Planner(vec![Arc::new(shards::ShardPlanner)])))
        .build())
}

/// The partitions a query keeps on the cluster: the cluster's cores, not this machine's, decide
/// `auto` (Ballista's own default, 16).
pub fn on_cluster(partitions: crate::job::Parts) -> crate::job::Parts {
    match partitions {
        crate::job::Parts::Auto => crate::job::Parts::Exactly(16),
        exactly => exactly,
    }
}

/// How soon a cluster notices an executor that is gone.
/// (`ferry cluster` defaults to Ballista's own: a heartbeat a minute, lost after three minutes.)
#[derive(Clone, Copy, Debug)]
pub struct Liveness {
    /// Seconds between an executor's heartbeats.
    pub heartbeat: u64,
    /// Seconds without a heartbeat after which the scheduler takes an executor for lost and runs
    /// its tasks (and the shuffle output it held) elsewhere.
    pub executor_timeout: u64,
}

/// `ferry cluster scheduler`: serves until the process ends; an executor silent for
/// `executor_timeout` seconds is taken for lost.
pub async fn scheduler(bind: SocketAddr, executor_timeout: u64) -> Result<()> {
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: bind.ip().to_string(),
        executor_timeout_seconds: executor_timeout,
        // Looked for at least as often as an executor could be lost.
        expire_dead_executor_interval_seconds: executor_timeout.clamp(1, 15),
        override_session_builder: Some(Arc::new(planning_state)),
        override_config_producer: Some(Arc::new(|| build::receiving(SessionConfig::new_with_ballista()))),
        override_logical_codec: Some(Arc::new(codec::LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(codec::PhysicalCodec::default())),
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(|e| cluster_error("scheduler", e))?;
    tracing::info!(address = %bind, "Ballista scheduler");
    start_server(cluster, bind, Arc::new(config)).await.map_err(|e| cluster_error(&format!("scheduler {bind}"), e))
}

/// What `ferry cluster executor` is told.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    pub scheduler: String,
    /// The address it listens on (Arrow Flight, where results are fetched) and its gRPC port.
    pub bind: SocketAddr,
    pub grpc_port: u16,
    /// How the scheduler and clients reach it, when not `bind`'s address.
    pub external_host: Option<String>,
    /// Tasks at once (0: one per core).
    pub slots: usize,
    pub work_dir: Option<PathBuf>,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat: u64,
}

/// `ferry cluster executor`: registers with the scheduler and runs its tasks until the process ends.
pub async fn executor(options: ExecutorOptions) -> Result<()> {
    let (scheduler_host, scheduler_port) = scheduler_address(&options.scheduler)?;
    let work_dir = options.work_dir.clone();
    if let Some(folder) = &work_dir {
        std::fs::create_dir_all(folder).map_err(|source| FerryError::Io { path: folder.clone(), source })?;
    }
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        external_host: Some(options.external_host.clone().unwrap_or_else(|| options.bind.ip().to_string())),
        port: options.bind.port(),
        grpc_port: options.grpc_port,
        scheduler_host,
        scheduler_port,
        scheduler_connect_timeout_seconds: 10,
        concurrent_tasks: options.slots,
        work_dir: work_dir.as_ref().map(|w| w.display().to_string()),
        print_thread_info: false,
        executor_heartbeat_interval_seconds: options.heartbeat,
        override_runtime_producer: Some(Arc::new(move |_: &SessionConfig| runtime(work_dir.as_ref()))),
        override_logical_codec: Some(Arc::new(codec::LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(codec::PhysicalCodec::default())),
        ..Default::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| cluster_error(&format!("executor (scheduler {})", options.scheduler), e))
}

/// `ferry cluster standalone`: a scheduler on `bind` and `executors` executors on the ports after
/// it (two each: Flight, gRPC), all in this process, until SIGTERM or Ctrl-C.
pub async fn standalone(
    bind: SocketAddr,
    executors: u16,
    slots: usize,
    work_dir: Option<PathBuf>,
    liveness: Liveness,
) -> Result<()> {
    let scheduler = tokio::spawn(scheduler(bind, liveness.executor_timeout));
    let url = format!("df://{bind}");
    for _ in 0..100 {
        if reachable(&url).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for n in 1..=executors {
        let port = bind.port().saturating_add(2 * n - 1);
        let options = ExecutorOptions {
            scheduler: url.clone(),
            bind: SocketAddr::new(bind.ip(), port),
            grpc_port: port.saturating_add(1),
            external_host: None,
            slots,
            work_dir: work_dir.as_ref().map(|folder| folder.join(format!("executor{n}"))),
            heartbeat: liveness.heartbeat,
        };
        tokio::spawn(executor(options));
    }
    // Ballista's executors take SIGTERM for themselves; the whole process ends with them.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| FerryError::internal(format!("cannot watch for SIGTERM: {e}")))?;
    tokio::select! {
        outcome = scheduler => outcome.map_err(FerryError::internal)?,
        _ = terminate.recv() => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// Whether the scheduler answers at all: a one-line error instead of a hang at the first query.
pub async fn reachable(url: &str) -> Result<()> {
    let (host, port) = scheduler_address(url)?;
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(unreachable(url, error)),
        Err(_) => Err(unreachable(url, "no answer within 5 s")),
    }
}

fn unreachable(url: &str, error: impl std::fmt::Display) -> FerryError {
    FerryError::Connection {
        url: url.to_string(),
        message: format!("the cluster's scheduler does not answer ({error}); start one with `ferry cluster scheduler`"),
    }
}

/// A context whose queries run on the cluster at `url`, with `state`'s tables and settings.
pub async fn connect(url: &str, state: SessionState) -> Result<SessionContext> {
    reachable(url).await?;
    let config = build::stamped(state.config().clone())
        .with_ballista_logical_extension_codec(Arc::new(codec::LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(codec::PhysicalCodec::default()));
    let state = SessionStateBuilder::new_from_existing(state).with_config(config).build();
    SessionContext::remote_with_state(url, state).await.map_err(|e| unreachable(url, e))
}
