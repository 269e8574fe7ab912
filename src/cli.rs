//! The command line (clap derive only; what each command does is in `command.rs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "Columnar batch data migration: databases -> Arrow -> DataFusion -> databases or Parquet"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log more (repeat for even more); RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run migrations: all of the job's (in dependency order) or the named ones.
    Run(RunArgs),
    /// Run migrations' checks on their target tables as they are, without migrating anything.
    Check(CheckArgs),
    /// Compare a migration's output, computed from the source now, with its target table; list
    /// the differing keys and columns.
    Reconcile(ReconcileArgs),
    /// Copy a whole database, schema and rows: tables with their keys, indexes, foreign keys,
    /// defaults and identity columns.
    Copy(CopyArgs),
    /// Run the three shipped migrations with no server at all: SQLite -> SQLite and Parquet.
    Demo(DemoArgs),
    /// Write the three source tables at scale N (deterministic, with dirty rows) into a database.
    Generate(GenerateArgs),
    /// Extract source tables, or migrations' output, to Parquet (a folder or an object store).
    Stage(StageArgs),
    /// Query every connection of the job with SQL; without QUERY, an interactive prompt.
    Sql(SqlArgs),
    /// Serve the HTTP API: the old system's endpoints, runs and their history, health, metrics.
    Serve(ServeArgs),
    /// Write a commented starter job (ferry.toml) in the current folder; given a source, one
    /// migration per source table, with its query under queries/.
    Init(InitArgs),
    /// Print the shell's completion script: `ferry completions bash > /etc/bash_completion.d/ferry`.
    Completions(CompletionsArgs),
    /// Start a Ballista scheduler or executor that knows ferry's object stores (needs a ferry
    /// built with `--features distributed`).
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The scheduler: plans the queries clients send and hands tasks to executors.
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
        /// Seconds without a heartbeat after which an executor is taken for lost and its work is
        /// done again elsewhere (keep it above the executors' --heartbeat).
        #[arg(long, value_name = "SECONDS", default_value_t = 180, value_parser = clap::value_parser!(u64).range(1..))]
        executor_timeout: u64,
    },
    /// A scheduler and executors in this one process: a cluster to try things on one machine.
    Standalone {
        /// Address the scheduler listens on (the executors take the next ports).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
        /// How many executors.
        #[arg(long, default_value_t = 2)]
        executors: u16,
        /// Tasks at once per executor [default: one per core].
        #[arg(long, default_value_t = 0)]
        slots: usize,
        /// Where their shuffle files and spills go (a folder per executor) [default: temporary].
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Seconds between the executors' heartbeats.
        #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        heartbeat: u64,
        /// Seconds without a heartbeat after which an executor is taken for lost.
        #[arg(long, value_name = "SECONDS", default_value_t = 180, value_parser = clap::value_parser!(u64).range(1..))]
        executor_timeout: u64,
    },
    /// An executor: runs tasks, keeps their shuffle files, serves results over Arrow Flight.
    Executor {
        /// The scheduler, as df://HOST:PORT.
        #[arg(long)]
        scheduler: String,
        /// Tasks at once [default: one per core].
        #[arg(long, default_value_t = 0)]
        slots: usize,
        /// Where shuffle files and spills go [default: a temporary folder].
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Address the executor's Arrow Flight service listens on.
        #[arg(long, default_value = "127.0.0.1:50051")]
        bind: std::net::SocketAddr,
        /// Port of its gRPC service.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// The host name the scheduler and clients reach it by [default: the bind address].
        #[arg(long)]
        external_host: Option<String>,
        /// Seconds between heartbeats to the scheduler (keep them below its --executor-timeout).
        #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        heartbeat: u64,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The source database: its tables become one migration each.
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
    /// The target database [default: $FERRY_TARGET, else sqlite://target.db].
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Overwrite an existing ferry.toml and query files.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// The address to listen on; anything but loopback needs a token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// The bearer token every endpoint but /health requires (default: $FERRY_API_TOKEN).
    #[arg(long)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct StageArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Migrations (their output), `connection.table`, or tables of --from; none: every table of --from.
    pub names: Vec<String>,
    /// Where the Parquet goes: file://dir, s3://bucket/prefix, gs://..., az://...
    #[arg(long)]
    pub to: String,
    /// The connection bare table names are read from.
    #[arg(long, default_value = "source")]
    pub from: String,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// One statement to run; without it, an interactive prompt.
    pub query: Option<String>,
    /// Adds a Parquet location as a connection: NAME=URL (its folders are the tables).
    #[arg(long = "parquet", value_name = "NAME=URL")]
    pub parquet: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::sql::Format,
    /// Write the result to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute everything in ferry: send the databases only projections, filters and limits,
    /// not whole subqueries (joins, aggregates, sorts) over their own tables.
    #[arg(long)]
    pub no_pushdown: bool,
    /// Run the statements on a Ballista cluster (df://HOST:PORT, `ferry cluster scheduler`);
    /// they may read Parquet tables only (`--parquet`, Parquet connections).
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Migrations to run; all when none is named.
    pub migrations: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Reload everything: merge and incremental migrations replace the table's rows, and
    /// incremental ones restart their watermark from what is loaded.
    #[arg(long)]
    pub full_refresh: bool,
    /// Backfill incremental migrations from this cursor value (inclusive); the watermark stays.
    #[arg(long, value_name = "CURSOR_VALUE")]
    pub from: Option<String>,
    /// Backfill incremental migrations up to this cursor value (exclusive); the watermark stays.
    #[arg(long, value_name = "CURSOR_VALUE")]
    pub to: Option<String>,
    /// Keep N partitions through each query, each source table read in N parts at once
    /// (ranges of its integer primary key, or a SQLite table's rowid; PostgreSQL's on one
    /// snapshot), or `auto` (one per core, fewer for small tables), instead of each migration's
    /// `partitions`.
    #[arg(long, value_name = "N|auto")]
    pub partitions: Option<String>,
    /// The memory the run's queries may hold together (e.g. `256MB`), instead of the job's
    /// `memory_limit` [default: 512MB].
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Writers of the rows at once (COPY connections into a PostgreSQL replace's shadow table,
    /// Parquet file writers), instead of each migration's `writers`.
    #[arg(long, value_name = "N")]
    pub writers: Option<usize>,
    /// Migrations run at once, each when those it depends on have succeeded [default: the
    /// number of cores, at most 4].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Times a migration is tried again after a connection refused or dropped, a restart, a
    /// serialization failure or a deadlock, before it published anything.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
    /// Compute the migrations' queries on a Ballista cluster (df://HOST:PORT); needs --stage and
    /// a ferry built with `--features distributed`.
    #[arg(long, value_name = "df://HOST:PORT", requires = "stage")]
    pub cluster: Option<String>,
    /// Where the source tables are staged as Parquet for the cluster (a folder every executor
    /// reaches, or an object store such as s3://bucket/stage).
    #[arg(long, value_name = "URL", requires = "cluster")]
    pub stage: Option<String>,
}

/// The job file and the URLs that replace its `source` and `target` connections: every command
/// that reads a job takes these.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// The job file [default: ferry.toml; `ferry sql` runs without one when it is missing].
    #[arg(long)]
    pub job: Option<PathBuf>,
    /// Replaces the URL of the connection named `source`.
    #[arg(long)]
    pub source: Option<String>,
    /// Replaces the URL of the connection named `target`.
    #[arg(long)]
    pub target: Option<String>,
}

/// Where a report goes, for the commands that run checks.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the checks as JUnit XML to this file, for CI systems.
    #[arg(long, value_name = "FILE.xml")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Migrations whose checks run; all when none is named.
    pub migrations: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// The migration whose source and target are compared.
    pub migration: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The database to copy: postgres://, mysql://, sqlite:// (or a Parquet location).
    #[arg(long)]
    pub source: String,
    /// The database to copy into (or a Parquet location: one folder per table, rows only).
    #[arg(long)]
    pub target: String,
    /// Copy only the tables matching this glob (`*` and `?`); repeatable.
    #[arg(long = "tables", value_name = "GLOB")]
    pub tables: Vec<String>,
    /// Leave out the tables matching this glob; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// What to do with chosen tables the target has already.
    #[arg(long, value_enum, default_value = "fail")]
    pub if_exists: crate::copy::IfExists,
    /// Create the tables, indexes and keys, move no rows.
    #[arg(long, conflicts_with = "data_only")]
    pub schema_only: bool,
    /// Load rows into tables that exist already; create nothing.
    #[arg(long)]
    pub data_only: bool,
    /// Print the DDL and what would be created or skipped; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The target's names: as the source spells them, or folded to lower or snake case.
    #[arg(long, value_enum, default_value = "keep")]
    pub names: crate::copy::Names,
    /// Another type in the target for a column (`TABLE.COLUMN=TYPE`) or for every column of a
    /// source type (`tinyint(1)=smallint`); repeatable.
    #[arg(long = "cast", value_name = "RULE=TYPE")]
    pub casts: Vec<String>,
    /// Go on after a copy that failed part way: the tables it loaded and reconciled stay, the
    /// others are copied anew.
    #[arg(long)]
    pub resume: bool,
    /// Into PostgreSQL: the whole copy in one transaction on one connection (tables one at a
    /// time); nothing is seen before it commits, and a failure leaves the target as it was.
    #[arg(long, conflicts_with = "resume")]
    pub single_transaction: bool,
    /// The PostgreSQL source's schema to copy [default: its current schema].
    #[arg(long, value_name = "SCHEMA")]
    pub source_schema: Option<String>,
    /// The PostgreSQL target's schema to create the tables in, made if missing [default: its
    /// current schema].
    #[arg(long, value_name = "SCHEMA")]
    pub target_schema: Option<String>,
    /// Tables loaded at once [default: the number of cores].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Also a `--junit` test case per table: its reconciliation with the source.
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The job whose migrations the demo runs [default: ferry.toml in the current folder if
    /// there is one, else the shipped job, which the binary carries].
    #[arg(long)]
    pub job: Option<PathBuf>,
    /// Where the demo's databases and Parquet files go.
    #[arg(long, default_value = "data/demo")]
    pub dir: PathBuf,
    /// Generated rows per table, added to the old system's sample rows (when the source is made).
    #[arg(long, default_value_t = 10_000)]
    pub rows: u64,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Users rows (orders get three times as many, unnormalized as many).
    #[arg(long, default_value_t = 1_000)]
    pub rows: u64,
    /// The database: postgres://, mysql:// or sqlite://. Its three source tables are replaced.
    #[arg(long)]
    pub to: String,
    /// Start with the old system's five sample rows per table.
    #[arg(long)]
    pub sample: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_arguments_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
