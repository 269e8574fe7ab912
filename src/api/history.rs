//! The run history, kept in each migration's target database (`_ferry_runs`), so it survives
//! a restart of the server. Every value is text; the report is the run's JSON.

use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
use crate::source::{mysql_connect, mysql_text_rows, pg_connect, pg_message, sqlite_open};

pub const RUNS_TABLE: &str = "_ferry_runs";

/// One stored run, as `GET /runs` lists it.
#[derive(Clone, Debug)]
pub struct StoredRun {
    pub id: String,
    pub migration: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The run's report, as JSON text.
    pub report: Option<String>,
}

/// One row, one column: 1 when `_ferry_runs` exists. Reads never create it.
fn exists_sql(endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::Postgres(_) => format!("SELECT CAST(count(*) AS TEXT) FROM pg_class WHERE oid = to_regclass('{RUNS_TABLE}')"),
        Endpoint::Mysql(_) => format!(
            "SELECT CAST(count(*) AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{RUNS_TABLE}'"
        ),
        _ => format!("SELECT CAST(count(*) AS TEXT) FROM sqlite_master WHERE type = 'table' AND name = '{RUNS_TABLE}'"),
    }
}

fn create_sql(endpoint: &Endpoint) -> String {
    let report = if matches!(endpoint, Endpoint::Mysql(_)) { "LONGTEXT" } else { "TEXT" };
    format!(
        "CREATE TABLE IF NOT EXISTS {RUNS_TABLE} (run_id VARCHAR(64) NOT NULL PRIMARY KEY, migration VARCHAR(128) NOT NULL, \
         status VARCHAR(16) NOT NULL, started_at VARCHAR(40) NOT NULL, finished_at VARCHAR(40), report {report})"
    )
}

/// Records a run in `target` (again as it goes: running, then finished). Parquet targets keep
/// no history (nothing to write it in).
pub async fn record(target: &Endpoint, run: &StoredRun) -> Result<()> {
    let values = vec![
        Some(run.id.clone()),
        Some(run.migration.clone()),
        Some(run.status.clone()),
        Some(run.started_at.clone()),
        run.finished_at.clone(),
        run.report.clone(),
    ];
    let statements = vec![
        (format!("DELETE FROM {RUNS_TABLE} WHERE run_id = ?"), vec![Some(run.id.clone())]),
        (
            format!(
                "INSERT INTO {RUNS_TABLE} (run_id, migration, status, started_at, finished_at, report) \
                 VALUES (?, ?, ?, ?, ?, ?)"
            ),
            values,
        ),
    ];
    execute(target, statements).await
}

/// Runs of `migration` recorded as running that started before `before` and are not `ours`:
/// once `ours` has held the migration's lock, they cannot be running any more (their process died).
pub async fn mark_interrupted(target: &Endpoint, migration: &str, ours: &str, before: &str) -> Result<()> {
    let sql = format!(
        "UPDATE {RUNS_TABLE} SET status = 'interrupted' WHERE migration = ? AND status = 'running' \
         AND run_id <> ? AND started_at < ?"
    );
    let values = vec![Some(migration.to_string()), Some(ours.to_string()), Some(before.to_string())];
    execute(target, vec![(sql, values)]).await
}

/// The run of `migration` another process records as running, if any.
pub async fn running_elsewhere(target: &Endpoint, migration: &str, ours: &str) -> Result<Option<String>> {
    let sql = format!(
        "SELECT run_id FROM {RUNS_TABLE} WHERE migration = ? AND status = 'running' AND run_id <> ? \
         ORDER BY started_at DESC LIMIT 1"
    );
    let rows = query(target, &sql, vec![Some(migration.to_string()), Some(ours.to_string())]).await?;
    Ok(rows.into_iter().next().and_then(|row| row.into_iter().next().flatten()))
}

/// The latest runs stored in `target` (at most `limit`), newest first, or one run by id.
pub async fn stored(target: &Endpoint, id: Option<&str>, limit: usize) -> Result<Vec<StoredRun>> {
    let columns = "run_id, migration, status, started_at, finished_at, report";
    let (filter, values) = match id {
        Some(id) => ("WHERE run_id = ?", vec![Some(id.to_string())]),
        None => ("", vec![]),
    };
    let sql = format!("SELECT {columns} FROM {RUNS_TABLE} {filter} ORDER BY started_at DESC LIMIT {limit}");
    let rows = query(target, &sql, values).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let text = |i: usize| row.get(i).cloned().flatten();
            StoredRun {
                id: text(0).unwrap_or_default(),
                migration: text(1).unwrap_or_default(),
                status: text(2).unwrap_or_default(),
                started_at: text(3).unwrap_or_default(),
                finished_at: text(4),
                report: text(5),
            }
        })
        .collect())
}

fn pg_placeholders(sql: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Creates `_ferry_runs` if missing, then runs the statements with their parameters in one
/// transaction, so a reader never sees a run between its DELETE and its INSERT.
async fn execute(target: &Endpoint, statements: Vec<(String, Vec<Option<String>>)>) -> Result<()> {
    let error = |message: String| FerryError::Target { url: target.masked(), table: RUNS_TABLE.into(), message };
    match target {
        Endpoint::Postgres(_) => {
            let mut client = pg_connect(target).await?;
            client.batch_execute(&create_sql(target)).await.map_err(|e| error(pg_message(&e)))?;
            let transaction = client.transaction().await.map_err(|e| error(pg_message(&e)))?;
            for (sql, values) in &statements {
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    values.iter().map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
                transaction.execute(&pg_placeholders(sql), &params).await.map_err(|e| error(pg_message(&e)))?;
            }
            transaction.commit().await.map_err(|e| error(pg_message(&e)))
        }
        Endpoint::Mysql(_) | Endpoint::Sqlite(_) => {
            let target = target.clone();
            blocking(move || blocking_execute(&target, statements)).await
        }
        Endpoint::Parquet(_) => Ok(()),
    }
}

fn blocking_execute(target: &Endpoint, statements: Vec<(String, Vec<Option<String>>)>) -> Result<()> {
    let error = |message: String| FerryError::Target { url: target.masked(), table: RUNS_TABLE.into(), message };
    if let Endpoint::Mysql(_) = target {
        use mysql::prelude::Queryable;
        let mut connection = mysql_connect(target)?;
        // DDL commits implicitly in MySQL: the table first, then the transaction.
        connection.query_drop(create_sql(target)).map_err(|e| error(e.to_string()))?;
        let mut transaction =
            connection.start_transaction(mysql::TxOpts::default()).map_err(|e| error(e.to_string()))?;
        for (sql, values) in statements {
            let params: Vec<mysql::Value> = values.into_iter().map(mysql::Value::from).collect();
            transaction.exec_drop(sql, params).map_err(|e| error(e.to_string()))?;
        }
        return transaction.commit().map_err(|e| error(e.to_string()));
    }
    let mut connection = sqlite_open(target, false)?;
    connection.execute(&create_sql(target), []).map_err(|e| error(e.to_string()))?;
    let transaction = connection.transaction().map_err(|e| error(e.to_string()))?;
    for (sql, values) in statements {
        transaction.execute(&sql, rusqlite::params_from_iter(values)).map_err(|e| error(e.to_string()))?;
    }
    transaction.commit().map_err(|e| error(e.to_string()))
}

/// Text rows of `sql`; none when the target has no `_ferry_runs` (it never ran anything).
/// One session asks both.
async fn query(target: &Endpoint, sql: &str, values: Vec<Option<String>>) -> Result<Vec<Vec<Option<String>>>> {
    let error = |message: String| FerryError::Target { url: target.masked(), table: RUNS_TABLE.into(), message };
    let present = |rows: &[Vec<Option<String>>]| {
        rows.first().and_then(|row| row.first()).cloned().flatten().as_deref() == Some("1")
    };
    match target {
        Endpoint::Postgres(_) => {
            let client = pg_connect(target).await?;
            let text_rows = |rows: Vec<tokio_postgres::Row>| -> Vec<Vec<Option<String>>> {
                rows.iter().map(|row| (0..row.len()).map(|i| row.get::<_, Option<String>>(i)).collect()).collect()
            };
            let exists = client.query(&exists_sql(target), &[]).await.map_err(|e| error(pg_message(&e)))?;
            if !present(&text_rows(exists)) {
                return Ok(Vec::new());
            }
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                values.iter().map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
            let rows = client.query(&pg_placeholders(sql), &params).await.map_err(|e| error(pg_message(&e)))?;
            Ok(text_rows(rows))
        }
        Endpoint::Mysql(_) => {
            let (target, sql) = (target.clone(), sql.to_string());
            blocking(move || {
                let error =
                    |message: String| FerryError::Target { url: target.masked(), table: RUNS_TABLE.into(), message };
                let mut connection = mysql_connect(&target)?;
                let exists = mysql_text_rows(&mut connection, &exists_sql(&target), Vec::new())
                    .map_err(|e| error(e.to_string()))?;
                if !present(&exists) {
                    return Ok(Vec::new());
                }
                let params: Vec<mysql::Value> = values.into_iter().map(mysql::Value::from).collect();
                mysql_text_rows(&mut connection, &sql, params).map_err(|e| error(e.to_string()))
            })
            .await
        }
        Endpoint::Sqlite(path) if !path.exists() => Ok(vec![]),
        Endpoint::Sqlite(_) => {
            let (target, sql) = (target.clone(), sql.to_string());
            blocking(move || {
                let error =
                    |message: String| FerryError::Target { url: target.masked(), table: RUNS_TABLE.into(), message };
                let connection = sqlite_open(&target, true)?;
                let text_rows =
                    |sql: &str, values: Vec<Option<String>>| -> rusqlite::Result<Vec<Vec<Option<String>>>> {
                        let mut statement = connection.prepare(sql)?;
                        let width = statement.column_count();
                        let rows = statement.query_map(rusqlite::params_from_iter(values), |row| {
                            (0..width).map(|i| row.get::<_, Option<String>>(i)).collect::<rusqlite::Result<Vec<_>>>()
                        })?;
                        rows.collect()
                    };
                let exists = text_rows(&exists_sql(&target), Vec::new()).map_err(|e| error(e.to_string()))?;
                if !present(&exists) {
                    return Ok(Vec::new());
                }
                text_rows(&sql, values).map_err(|e| error(e.to_string()))
            })
            .await
        }
        Endpoint::Parquet(_) => Ok(vec![]),
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(FerryError::internal)?
}
