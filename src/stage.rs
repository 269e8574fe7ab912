//! `ferry stage`: source tables, or migrations' transformed output, extracted to Parquet under
//! a local folder or an object store, one folder per table, `_SUCCESS` written last. It is a
//! migration whose target is the stage: the same streaming, staging and publish.

use std::path::Path;

use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
use crate::job::{check_identifier, Connection, MigrationPlan, Mode, Plan};
use crate::report::RunReport;
use crate::run::{run, Progress};

/// Stages each name: a migration of the job (its output), `connection.table`, or a table of the
/// `from` connection. No names: every table of `from`.
pub async fn stage(plan: &Plan, names: &[String], to: &str, from: &str) -> Result<RunReport> {
    let endpoint = Endpoint::parse(to, Path::new(".")).map_err(|e| FerryError::Job(format!("--to: {e}")))?;
    if !crate::db::open(&endpoint).capabilities().files {
        return Err(FerryError::Job(format!(
            "--to `{endpoint}` is a database; `ferry stage` writes Parquet to file://, s3://, gs:// or az://"
        )));
    }
    let stage = Connection::new("stage", endpoint);
    let connection = |name: &str| {
        plan.connections.get(name).cloned().ok_or_else(|| {
            let known: Vec<String> = plan.connections.keys().map(|k| format!("`{k}`")).collect();
            FerryError::Job(format!("unknown connection `{name}`; the job defines {}", known.join(", ")))
        })
    };
    let names = if names.is_empty() {
        crate::source::database(&connection(from)?.endpoint)?.tables().await?
    } else {
        names.to_vec()
    };
    let mut migrations = Vec::new();
    for name in &names {
        if let Some(migration) = plan.migrations.iter().find(|m| &m.name == name) {
            migrations.push(MigrationPlan {
                target: stage.clone(),
                table: migration.name.clone(),
                mode: Mode::Replace,
                cursor: None,
                depends_on: vec![],
                checks: vec![],
                reconcile: false,
                ..migration.clone()
            });
            continue;
        }
        let (source, table) = name.split_once('.').unwrap_or((from, name));
        check_identifier(table, "table")?;
        migrations.push(MigrationPlan {
            name: name.clone(),
            source: connection(source)?,
            target: stage.clone(),
            query_file: format!("(stage {name})"),
            query_sql: format!("SELECT * FROM \"{source}\".\"{table}\""),
            table: table.to_string(),
            mode: Mode::Replace,
            key: vec![],
            cursor: None,
            partitions: crate::job::Parts::Auto,
            pushdown: false,
            depends_on: vec![],
            checks: vec![],
            reconcile: false,
            publish: crate::db::Publish::Auto,
            writers: None,
        });
    }
    let mut connections = plan.connections.clone();
    connections.insert(stage.name.clone(), stage);
    run(
        &Plan { connections, migrations, copies: Vec::new(), memory_limit: plan.memory_limit, cluster: None },
        &[],
        Progress::Auto,
    )
    .await
}
