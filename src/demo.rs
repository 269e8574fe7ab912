//! `ferry demo`: the shipped job with no server at all. The source is an embedded SQLite file
//! (the old system's sample rows plus generated ones, made once), the target another SQLite file,
//! and every migration is also copied to Parquet under `<dir>/parquet/`. The job is `--job`, else
//! `ferry.toml` in the current folder, else the shipped job the binary carries (written to
//! `<dir>/job/`), so an installed ferry runs the demo in any folder.

use std::path::Path;

use crate::cli::DemoArgs;
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
use crate::job::{Connection, Overrides, Plan};
use crate::report::RunReport;
use crate::run::{run, Progress};

/// The shipped job and its queries, carried by the binary so that the demo runs anywhere.
const EMBEDDED: [(&str, &str); 4] = [
    ("ferry.toml", include_str!("../ferry.toml")),
    ("queries/users.sql", include_str!("../queries/users.sql")),
    ("queries/orders.sql", include_str!("../queries/orders.sql")),
    ("queries/cleaned_data.sql", include_str!("../queries/cleaned_data.sql")),
];

pub async fn demo(args: &DemoArgs) -> Result<RunReport> {
    let source = args.dir.join("source.db");
    let overrides = Overrides {
        source: Some(format!("sqlite://{}", source.display())),
        target: Some(format!("sqlite://{}", args.dir.join("target.db").display())),
    };
    // The job is validated before anything is made: a demo that cannot run leaves nothing.
    let mut plan = match &args.job {
        Some(job) => Plan::load(job, &overrides)?,
        None if Path::new("ferry.toml").exists() => Plan::load(Path::new("ferry.toml"), &overrides)?,
        None => Plan::load(&write_embedded_job(&args.dir.join("job"))?, &overrides)?,
    };
    if !source.exists() {
        make_source(&source, args.rows).await?;
    }
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

/// Writes the embedded job under `folder` (again each time: it is the binary's own) and returns
/// its path.
fn write_embedded_job(folder: &Path) -> Result<std::path::PathBuf> {
    for (name, text) in EMBEDDED {
        crate::init::write_file(&folder.join(name), text)?;
    }
    Ok(folder.join("ferry.toml"))
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
