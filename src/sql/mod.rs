//! `ferry sql`: ad-hoc SQL over every connection of the job. Each connection is a schema
//! (`source.source_table`, `target.target_users`, `lake.users`); a connection is opened the
//! first time a statement names it, so one that is down makes only its own tables unavailable.
//! Projections and filters reach the source databases as in a migration, and so do whole
//! subqueries over one database's tables where it computes them alike (`source::pushdown`;
//! `EXPLAIN` shows the SQL each database receives). It reads: statements
//! that would write to a connection are refused; `COPY (query) TO 'file'` writes a file.

mod output;
pub mod prompt;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::catalog::SchemaProvider;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

use crate::connection::Endpoint;
use crate::db::ReadCounter;
use crate::error::{FerryError, Result};
use crate::job::{check_identifier, parse_query, Connection, Parts, Plan};
use crate::transform::{check_table_exists, named_tables, new_session, register_connection};

pub use output::{write_results, Format, Summary};

/// A session over a job's connections, kept for many statements (the prompt).
pub struct SqlSession {
    plan: Plan,
    ctx: SessionContext,
    opened: BTreeMap<String, Arc<dyn SchemaProvider>>,
    /// The Ballista scheduler the statements run on, if any.
    cluster: Option<String>,
}

/// What a ferry built without scale-out says when asked for a cluster.
pub const WITHOUT_CLUSTER: &str = "this ferry was built without scale-out; build it with \
     `cargo build --release --features distributed` to use a Ballista cluster";

impl SqlSession {
    /// `parquet` adds Parquet locations as connections (`--parquet NAME=URL`).
    pub fn new(mut plan: Plan, parquet: &[String]) -> Result<Self> {
        for entry in parquet {
            let (name, url) = entry.split_once('=').ok_or_else(|| {
                FerryError::Job(format!("--parquet `{entry}`: write NAME=URL, e.g. lake=file://data/lake"))
            })?;
            check_identifier(name, "--parquet name")?;
            let endpoint = Endpoint::parse(url, std::path::Path::new("."))
                .map_err(|e| FerryError::Job(format!("--parquet {name}: {e}")))?;
            if !crate::db::open(&endpoint).capabilities().files {
                return Err(FerryError::Job(format!(
                    "--parquet {name}: `{endpoint}` is not a Parquet location; use file://, s3://, gs:// or az://"
                )));
            }
            plan.connections.insert(name.to_string(), Connection::new(name, endpoint));
        }
        let ctx = new_session(None, Parts::Auto, plan.memory_limit, true);
        Ok(SqlSession { plan, ctx, opened: BTreeMap::new(), cluster: None })
    }

    /// Whether whole subqueries over one database are sent to it (on by default); set before
    /// the first statement.
    pub fn pushdown(mut self, enabled: bool) -> Self {
        self.ctx = new_session(None, Parts::Auto, self.plan.memory_limit, enabled);
        self.opened.clear();
        self
    }

    /// Runs the statements on the Ballista cluster at `url` (`df://HOST:PORT`) instead of here.
    /// Nothing is pushed to databases there: the cluster reads Parquet tables only.
    #[cfg(feature = "distributed")]
    pub async fn on_cluster(mut self, url: &str) -> Result<Self> {
        let local = new_session(None, crate::distributed::on_cluster(Parts::Auto), self.plan.memory_limit, false);
        self.ctx = crate::distributed::connect(url, local.state()).await?;
        self.opened.clear();
        self.cluster = Some(url.to_string());
        Ok(self)
    }

    #[cfg(not(feature = "distributed"))]
    pub async fn on_cluster(self, _url: &str) -> Result<Self> {
        Err(FerryError::Job(WITHOUT_CLUSTER.into()))
    }

    pub fn connections(&self) -> impl Iterator<Item = &Connection> {
        self.plan.connections.values()
    }

    /// Opens a connection once; later statements reuse it.
    pub async fn open(&mut self, name: &str) -> Result<Arc<dyn SchemaProvider>> {
        if let Some(provider) = self.opened.get(name) {
            return Ok(provider.clone());
        }
        let reads = self.cluster.is_none().then(|| Arc::new(ReadCounter::default()));
        let provider = register_connection(&self.ctx, &self.plan, name, reads).await?;
        self.opened.insert(name.to_string(), provider.clone());
        Ok(provider)
    }

    /// Plans and starts one statement.
    pub async fn execute(&mut self, sql: &str) -> Result<SendableRecordBatchStream> {
        let query_error = |message: String| FerryError::Job(message);
        let statement = parse_query(sql).map_err(query_error)?;
        for (reference, connection, table) in
            named_tables(&self.ctx, &self.plan, None, &statement).map_err(query_error)?
        {
            let provider = self.open(&connection).await.map_err(|e| match e {
                FerryError::Job(message) => query_error(format!("`{reference}` {message}")),
                other => other,
            })?;
            check_table_exists(&self.plan, &provider, &connection, &table).map_err(query_error)?;
            if let Some(cluster) = &self.cluster {
                let files = self
                    .plan
                    .connections
                    .get(&connection)
                    .is_some_and(|c| crate::db::open(&c.endpoint).capabilities().files);
                if !files {
                    return Err(query_error(format!(
                        "`{reference}` is a database table, which the cluster at {cluster} cannot read (its \
                         executors read Parquet only); stage it first (`ferry stage --to URL`) and name the \
                         staged folder with --parquet NAME=URL"
                    )));
                }
            }
        }
        let state = self.ctx.state();
        let plan = state.statement_to_plan(statement).await.map_err(|e| query_error(crate::transform::plain(e)))?;
        refuse_writes(&plan)?;
        #[cfg(feature = "distributed")]
        if self.cluster.is_some() {
            // As the cluster will receive it: optimized (which turns some filters into joins).
            let optimized = state.optimize(&plan).map_err(|e| query_error(crate::transform::plain(e)))?;
            crate::distributed::refuse_wrong_answers(&optimized, "the statement")?;
        }
        let frame = self.ctx.execute_logical_plan(plan).await.map_err(|e| query_error(crate::transform::plain(e)))?;
        frame.execute_stream().await.map_err(FerryError::from)
    }

    /// Runs one statement and writes its result in `format`.
    pub async fn run(&mut self, sql: &str, format: Format, out: &mut (dyn std::io::Write + Send)) -> Result<Summary> {
        let started = Instant::now();
        let stream = self.execute(sql).await?;
        let mut summary = write_results(stream, format, out).await?;
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }
}

/// `ferry sql` reads. A statement that would change a connection is refused before it runs.
fn refuse_writes(plan: &LogicalPlan) -> Result<()> {
    let what = match plan {
        LogicalPlan::Dml(dml) => Some(dml.op.to_string()),
        LogicalPlan::Ddl(ddl) => Some(ddl.name().to_string()),
        _ => None,
    };
    match what {
        None => Ok(()),
        Some(what) => Err(FerryError::Job(format!(
            "`ferry sql` only reads; `{what}` is refused. Write migrations to change a target, or `COPY (query) TO 'file.parquet'` to save a result"
        ))),
    }
}
