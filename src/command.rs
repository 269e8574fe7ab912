//! What each CLI command does, and its exit code: 0 success (warnings allowed), 1 checks
//! failed (a run published nothing), 2 any other error.

use std::process::ExitCode;

use crate::check::junit::write_junit;
use crate::cli::{
    CheckArgs, Cli, Command, CopyArgs, GenerateArgs, JobArgs, ReconcileArgs, RunArgs, ServeArgs, SqlArgs, StageArgs,
};
use crate::connection::Endpoint;
use crate::error::ErrorKind;
use crate::error::Result;
use crate::incremental::RunOptions;
use crate::job::{Overrides, Plan};
use crate::report::RunReport;
use crate::run::Progress;

pub const EXIT_CHECKS_FAILED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "ferry=info",
        1 => "ferry=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

pub async fn execute(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Run(args) => run_command(args).await,
        Command::Check(args) => check_command(args).await,
        Command::Reconcile(args) => reconcile_command(args).await,
        Command::Copy(args) => copy_command(args).await,
        Command::Demo(args) => crate::demo::demo(&args).await.map(|report| finish(&report, false, None)),
        Command::Generate(args) => generate_command(args).await.map(|()| ExitCode::SUCCESS),
        Command::Stage(args) => stage_command(args).await,
        Command::Sql(args) => sql_command(args).await,
        Command::Serve(args) => serve_command(args).await.map(|()| ExitCode::SUCCESS),
        Command::Init(args) => crate::init::init(&args, std::path::Path::new(".")).await.map(|()| ExitCode::SUCCESS),
        Command::Completions(args) => {
            let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut command, "ferry", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Cluster(command) => cluster_command(command).await.map(|()| ExitCode::SUCCESS),
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("error: {}", crate::connection::mask_text(&error.to_string()));
        ExitCode::from(EXIT_ERROR)
    })
}

async fn run_command(args: RunArgs) -> Result<ExitCode> {
    let mut plan = load_plan(&args.job)?;
    if let Some(limit) = &args.memory_limit {
        plan.memory_limit = crate::job::size::parse_size(limit, "--memory-limit")?;
    }
    let partitions =
        args.partitions.as_deref().map(|text| crate::job::Parts::parse(text, "--partitions")).transpose()?;
    let writers = args.writers.map(|n| crate::job::check_writers(n, "--writers")).transpose()?;
    let jobs = match args.jobs {
        Some(0) => return Err(crate::error::FerryError::Job("--jobs 0: give at least 1".into())),
        Some(jobs) => jobs,
        None => crate::run::default_jobs(),
    };
    let options = RunOptions {
        full_refresh: args.full_refresh,
        from: args.from,
        to: args.to,
        partitions,
        writers,
        jobs: Some(jobs),
        retries: args.retries,
        cluster: cluster_run(args.cluster, args.stage)?,
        ..Default::default()
    };
    let report = crate::copy::run_job(&plan, &args.migrations, &options, Progress::Auto).await?;
    if let Some(path) = &args.output.junit {
        let suites: Vec<_> = report.migrations.iter().map(|m| (m.name.clone(), m.checks.clone())).collect();
        write_junit(path, &suites)?;
    }
    Ok(finish(&report, args.output.json, args.output.report.as_deref()))
}

async fn copy_command(args: CopyArgs) -> Result<ExitCode> {
    let here = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let here = here.as_path();
    let flag =
        |name: &'static str| move |e: crate::error::FerryError| crate::error::FerryError::Job(format!("--{name}: {e}"));
    let source = Endpoint::parse(&args.source, here).map_err(flag("source"))?;
    let target = Endpoint::parse(&args.target, here).map_err(flag("target"))?;
    let options = crate::copy::CopyOptions {
        tables: args.tables,
        exclude: args.exclude,
        if_exists: args.if_exists,
        schema_only: args.schema_only,
        data_only: args.data_only,
        dry_run: args.dry_run,
        names: args.names,
        resume: args.resume,
        single_transaction: args.single_transaction,
        casts: args.casts,
        source_schema: args.source_schema,
        target_schema: args.target_schema,
        workers: match args.workers {
            Some(0) => return Err(crate::error::FerryError::Job("--workers 0: give at least 1".into())),
            Some(workers) => workers,
            None => crate::job::copies::default_workers(),
        },
    };
    let report = crate::copy::copy(&source, &target, &options).await?;
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    if let Some(path) = &args.output.junit {
        write_junit(path, &crate::copy::junit_suites(&report.run))?;
    }
    if let Some(path) = &args.output.report {
        std::fs::write(path, format!("{json}\n"))
            .map_err(|source| crate::error::FerryError::Io { path: path.clone(), source })?;
    }
    if args.output.json {
        println!("{json}");
    } else {
        print!("{}", report.text());
    }
    if let Some(error) = &report.run.error {
        eprintln!("error: {}", crate::connection::mask_text(&error.to_string()));
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    let failed = report.schema.iter().any(|object| object.status == "failed");
    Ok(if failed { ExitCode::from(EXIT_ERROR) } else { ExitCode::SUCCESS })
}

async fn reconcile_command(args: ReconcileArgs) -> Result<ExitCode> {
    let plan = load_plan(&args.job)?;
    let report = crate::check::diff::reconcile(&plan, &args.migration).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!("{}", report.text());
    }
    Ok(if report.matched { ExitCode::SUCCESS } else { ExitCode::from(EXIT_CHECKS_FAILED) })
}

async fn check_command(args: CheckArgs) -> Result<ExitCode> {
    let plan = load_plan(&args.job)?;
    let (copies, migrations) = plan.chosen(&args.migrations)?;
    let mut report = crate::check::CheckReport {
        checked_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        tables: Vec::new(),
    };
    for copy in copies {
        report.tables.extend(crate::copy::verify(copy).await?);
    }
    if !migrations.is_empty() {
        report.tables.extend(crate::check::check_targets(&plan, &migrations).await?.tables);
    }
    if let Some(path) = &args.output.junit {
        let suites: Vec<_> = report.tables.iter().map(|t| (t.migration.clone(), t.checks.clone())).collect();
        write_junit(path, &suites)?;
    }
    if args.output.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!("{}", report.table());
    }
    if let Some(path) = &args.output.report {
        let json = serde_json::to_string_pretty(&report).unwrap_or_default();
        std::fs::write(path, json + "\n")
            .map_err(|source| crate::error::FerryError::Io { path: path.clone(), source })?;
    }
    Ok(if report.failed() { ExitCode::from(EXIT_CHECKS_FAILED) } else { ExitCode::SUCCESS })
}

const DEFAULT_JOB: &str = "ferry.toml";

fn overrides(job: &JobArgs) -> Overrides {
    Overrides { source: job.source.clone(), target: job.target.clone() }
}

/// Reads and validates the job file (`ferry.toml` unless `--job` names another).
fn load_plan(job: &JobArgs) -> Result<Plan> {
    let path = job.job.clone().unwrap_or_else(|| DEFAULT_JOB.into());
    Plan::load(&path, &overrides(job))
}

/// Prints the report (and writes it as JSON if asked); the exit code follows the outcome.
fn finish(report: &RunReport, json: bool, path: Option<&std::path::Path>) -> ExitCode {
    if json {
        println!("{}", serde_json::to_string_pretty(report).unwrap_or_default());
    } else {
        print!("{}", report.table());
    }
    if let Some(path) = path {
        if let Err(error) = report.write_json(path) {
            eprintln!("error: {}", crate::connection::mask_text(&error.to_string()));
            return ExitCode::from(EXIT_ERROR);
        }
    }
    match &report.error {
        None => ExitCode::SUCCESS,
        Some(error) => {
            eprintln!("error: {}", crate::connection::mask_text(&error.to_string()));
            match report.error_kind {
                Some(ErrorKind::Checks) => ExitCode::from(EXIT_CHECKS_FAILED),
                _ => ExitCode::from(EXIT_ERROR),
            }
        }
    }
}

async fn serve_command(args: ServeArgs) -> Result<()> {
    let plan = load_plan(&args.job)?;
    let token = args.token.or_else(|| std::env::var("FERRY_API_TOKEN").ok());
    let server = crate::api::Server::bind(plan, &args.bind, token).await?;
    let address = server.local_addr()?;
    // The first line of output says where: a caller that asked for port 0 reads it here.
    println!("ferry serves on http://{address}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tracing::info!(%address, "serving");
    server.run(stop_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM (docker stop) or Ctrl-C.
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn generate_command(args: GenerateArgs) -> Result<()> {
    let endpoint = Endpoint::parse(&args.to, std::path::Path::new("."))?;
    let counts = crate::generate::generate(&endpoint, args.rows, args.sample).await?;
    println!(
        "{}: source_table {} rows, source_orders {} rows, source_unnormalized {} rows",
        endpoint, counts[0], counts[1], counts[2]
    );
    Ok(())
}

async fn stage_command(args: StageArgs) -> Result<ExitCode> {
    let plan = load_plan(&args.job)?;
    let report = crate::stage::stage(&plan, &args.names, &args.to, &args.from).await?;
    Ok(finish(&report, false, None))
}

async fn sql_command(args: SqlArgs) -> Result<ExitCode> {
    use std::io::IsTerminal;
    let plan = match &args.job.job {
        None if !std::path::Path::new(DEFAULT_JOB).exists() => {
            Plan::from_toml("", "(no job file)", std::path::Path::new("."), &overrides(&args.job))?
        }
        _ => load_plan(&args.job)?,
    };
    let mut session = crate::sql::SqlSession::new(plan, &args.parquet)?.pushdown(!args.no_pushdown);
    if let Some(url) = &args.cluster {
        session = session.on_cluster(url).await?;
    }
    let Some(query) = args.query else {
        let mut stdout = std::io::stdout();
        if std::io::stdin().is_terminal() {
            let mut terminal = crate::sql::prompt::Terminal::new()?;
            crate::sql::prompt::prompt_loop(&mut session, &mut terminal, &mut stdout).await?;
        } else {
            let mut lines = std::io::stdin().lines().map_while(std::result::Result::ok);
            crate::sql::prompt::prompt_loop(&mut session, &mut lines, &mut stdout).await?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    if args.format == crate::sql::Format::Parquet && args.out.is_none() {
        return Err(crate::error::FerryError::Job("--format parquet writes a file: add --out FILE.parquet".into()));
    }
    let summary = match &args.out {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .map_err(|source| crate::error::FerryError::Io { path: path.clone(), source })?;
            session.run(&query, args.format, &mut file).await?
        }
        None => session.run(&query, args.format, &mut std::io::stdout()).await?,
    };
    if args.format == crate::sql::Format::Table && args.out.is_none() {
        println!("{}", summary.line());
    } else {
        eprintln!("{}", summary.line());
    }
    Ok(ExitCode::SUCCESS)
}

/// `--cluster` and `--stage`, checked before anything runs (they replace the job's).
fn cluster_run(cluster: Option<String>, stage: Option<String>) -> Result<Option<crate::incremental::ClusterRun>> {
    if cluster.is_some() && !cfg!(feature = "distributed") {
        return Err(crate::error::FerryError::Job(crate::sql::WITHOUT_CLUSTER.into()));
    }
    crate::job::check_cluster(cluster.as_deref(), stage.as_deref(), std::path::Path::new("."), "--cluster/--stage")
}

#[cfg(feature = "distributed")]
async fn cluster_command(command: crate::cli::ClusterCommand) -> Result<()> {
    use crate::cli::ClusterCommand;
    use crate::distributed::Liveness;
    match command {
        ClusterCommand::Scheduler { bind, executor_timeout } => {
            crate::distributed::scheduler(bind, executor_timeout).await
        }
        ClusterCommand::Standalone { bind, executors, slots, work_dir, heartbeat, executor_timeout } => {
            if heartbeat >= executor_timeout {
                return Err(crate::error::FerryError::Job(format!(
                    "--heartbeat {heartbeat} is not below --executor-timeout {executor_timeout}: every executor would \
                     be taken for lost between two heartbeats; make the heartbeat shorter"
                )));
            }
            crate::distributed::standalone(bind, executors, slots, work_dir, Liveness { heartbeat, executor_timeout })
                .await
        }
        ClusterCommand::Executor { scheduler, slots, work_dir, bind, grpc_port, external_host, heartbeat } => {
            let options = crate::distributed::ExecutorOptions {
                scheduler,
                bind,
                grpc_port,
                external_host,
                slots,
                work_dir,
                heartbeat,
            };
            crate::distributed::executor(options).await
        }
    }
}

#[cfg(not(feature = "distributed"))]
async fn cluster_command(_command: crate::cli::ClusterCommand) -> Result<()> {
    Err(crate::error::FerryError::Job(crate::sql::WITHOUT_CLUSTER.into()))
}
