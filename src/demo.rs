//! `ferry demo`: the shipped job with no server at all. The source is an embedded SQLite file
//! (the old system's sample rows plus generated ones, made once), the target another SQLite file,
//! and every migration is also copied to Parquet under `<dir>/parquet/`.

use std::path::Path;

use crate::cli::DemoArgs;
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
use crate::job::{Connection, Overrides, Plan};
use crate::report::RunReport;
use crate::run::{run, Progress};

pub async fn demo(args: &DemoArgs) -> Result<RunReport> {
    let source = args.dir.join("source.db");
    if !source.exists() {
        make_source(&source, args.rows).await?;
    }
    let overrides = Overrides {
        source: Some(format!("sqlite://{}", source.display())),
        target: Some(format!("sqlite://{}", args.dir.join("target.db").display())),
    };
    let mut plan = Plan::load(&args.job, &overrides)?;
    let lake = Connection::new(
        "lake",
        Endpoint::parse(&format!("file://{}", args.dir.join("parquet").display()), Path::new("."))?,
    );
    plan.connections.insert(lake.name.clone(), lake.clone());
    let copies: Vec<_> = plan
        .migrations
        .iter()
        .map(|migration| {
            let mut copy = migration.clone();
            copy.name = format!("{}_parquet", migration.name);
            copy.target = lake.clone();
            copy.depends_on = vec![migration.name.clone()];
            copy
        })
        .collect();
    plan.migrations.extend(copies);
    eprintln!("demo: {} -> {} and {}", plan_url(&plan, "source"), plan_url(&plan, "target"), lake.endpoint);
    run(&plan, &[], Progress::Auto).await
}

fn plan_url(plan: &Plan, name: &str) -> String {
    plan.connections.get(name).map(|c| c.endpoint.masked()).unwrap_or_default()
}

/// Generates the source into a temporary file and renames it, so an interrupted demo never
/// leaves a half-made source behind.
async fn make_source(path: &Path, rows: u64) -> Result<()> {
    let partial = path.with_extension("db.partial");
    let _ = std::fs::remove_file(&partial);
    eprintln!("demo: creating {} (the old system's sample rows + {rows} generated rows per table)", path.display());
    let endpoint = Endpoint::parse(&format!("sqlite://{}", partial.display()), Path::new("."))?;
    crate::generate::generate(&endpoint, rows, true).await?;
    std::fs::rename(&partial, path).map_err(|source| FerryError::Io { path: path.to_path_buf(), source })
}
