//! The publish sequence of the engines that load with INSERT statements (MySQL, SQLite), written
//! once: each engine gives an [`InsertSession`] (its statements and how it inserts a batch) and
//! [`publish`] runs the load in ferry's order, in one transaction, on a blocking thread.
//!
//! The order: the table created (or, replacing, emptied), the rows into it (or, merging, into a
//! staging table), the rejects beside them, a merge's duplicate check, count and upsert, the
//! watermark, the commit. Any error rolls it all back.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::bookkeeping::{if_not_exists, rejects_table, state_table, REJECTS_TABLE, STATE_TABLE};
use super::merge::{
    compared_columns, duplicates_error, duplicates_sql, insert_sql, key_columns, matched_sql, save_state_sql, Dialect,
    STAGING,
};
use super::{target_error, LoadSpec, Loaded, SinkBatch, TableDef, TextRows, WriteMode};
use crate::connection::Endpoint;
use crate::error::Result;

/// One engine's session for a load.
pub trait InsertSession {
    fn dialect(&self) -> Dialect;
    /// Whether DDL commits the transaction by itself (MySQL): then every table is made first.
    fn ddl_commits(&self) -> bool;
    /// `CREATE TABLE` in the engine's words (the bookkeeping tables).
    fn create_table_sql(&self, table: &TableDef) -> String;
    /// The statement that opens the load's transaction.
    fn begin_sql(&self) -> &'static str;
    /// A temporary table with `columns` of `table`, no rows, no keys.
    fn staging_sql(&self, table: &str, columns: &[String]) -> String;
    fn drop_staging_sql(&self) -> String;
    fn quote(&self, identifier: &str) -> String;
    fn quote_table(&self, table: &str) -> String;
    fn execute(&mut self, sql: &str) -> std::result::Result<(), String>;
    fn execute_with(&mut self, sql: &str, values: Vec<Option<String>>) -> std::result::Result<(), String>;
    fn text_rows(&mut self, sql: &str) -> std::result::Result<TextRows, String>;
    /// Inserts the batch's rows into `table`; returns the rows the database says it inserted.
    fn insert(&mut self, table: &str, batch: &RecordBatch) -> std::result::Result<u64, String>;
}

/// Runs the load; on an error rolls back (and drops a table it created where DDL committed).
pub fn publish(
    session: &mut dyn InsertSession,
    spec: &LoadSpec,
    create: Option<&str>,
    target: &SchemaRef,
    batches: &mut dyn Iterator<Item = Result<SinkBatch>>,
    endpoint: &Endpoint,
) -> Result<Loaded> {
    let early = session.ddl_commits();
    if early {
        make_tables(session, spec, create, endpoint)?;
    }
    session.execute(session.begin_sql()).map_err(|e| target_error(endpoint, &spec.table, e))?;
    let result = load(session, spec, create, target, batches, endpoint);
    match result {
        Ok(loaded) => {
            session.execute("COMMIT").map_err(|e| target_error(endpoint, &spec.table, e))?;
            Ok(loaded)
        }
        Err(failure) => {
            let _ = session.execute("ROLLBACK");
            if early && create.is_some() {
                let _ = session.execute(&format!("DROP TABLE IF EXISTS {}", session.quote_table(&spec.table)));
            }
            Err(failure)
        }
    }
}

/// The target table (when missing) and the bookkeeping tables the load writes (the rejects'
/// only where DDL commits: elsewhere it is made when the first reject comes).
fn make_tables(
    session: &mut dyn InsertSession,
    spec: &LoadSpec,
    create: Option<&str>,
    endpoint: &Endpoint,
) -> Result<()> {
    if session.ddl_commits() {
        let rejects = if_not_exists(session.create_table_sql(&rejects_table()));
        session.execute(&rejects).map_err(|e| target_error(endpoint, REJECTS_TABLE, e))?;
    }
    if spec.watermark.is_some() {
        let state = if_not_exists(session.create_table_sql(&state_table()));
        session.execute(&state).map_err(|e| target_error(endpoint, STATE_TABLE, e))?;
    }
    if let Some(create) = create {
        session.execute(create).map_err(|e| target_error(endpoint, &spec.table, e))?;
    }
    Ok(())
}

fn load(
    session: &mut dyn InsertSession,
    spec: &LoadSpec,
    create: Option<&str>,
    target: &SchemaRef,
    batches: &mut dyn Iterator<Item = Result<SinkBatch>>,
    endpoint: &Endpoint,
) -> Result<Loaded> {
    let table_error = |e: String| target_error(endpoint, &spec.table, e);
    let rejects_error = |e: String| target_error(endpoint, REJECTS_TABLE, e);
    if !session.ddl_commits() {
        make_tables(session, spec, create, endpoint)?;
    }
    if create.is_none() && spec.mode == WriteMode::Replace {
        session.execute(&format!("DELETE FROM {}", session.quote_table(&spec.table))).map_err(table_error)?;
    }
    // A replace clears the migration's earlier rejects, whether this run has any or not.
    let mut rejects = Rejects { ready: false };
    if spec.mode == WriteMode::Replace {
        rejects.prepare(session, spec).map_err(rejects_error)?;
    }
    let merge = spec.mode == WriteMode::Merge;
    let names: Vec<String> = target.fields().iter().map(|f| f.name().clone()).collect();
    if merge {
        session.execute(&session.staging_sql(&spec.table, &names)).map_err(table_error)?;
    }
    let rows_into = if merge { STAGING } else { spec.table.as_str() };
    let mut loaded = Loaded::default();
    for batch in batches {
        match batch? {
            SinkBatch::Rows(batch) => loaded.rows += session.insert(rows_into, &batch).map_err(table_error)?,
            SinkBatch::Rejects(batch) => {
                rejects.prepare(session, spec).map_err(rejects_error)?;
                session.insert(REJECTS_TABLE, &batch).map_err(rejects_error)?;
            }
        }
    }
    if merge {
        let dialect = session.dialect();
        let key = key_columns(spec, target);
        let count = |value: &Option<String>| value.as_deref().and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        let found = session.text_rows(&duplicates_sql(dialect, &key)).map_err(table_error)?;
        if !found.is_empty() {
            let found: Vec<(Vec<Option<String>>, i64, i64)> = found
                .iter()
                .map(|row| (row[..key.len()].to_vec(), count(&row[key.len()]), count(&row[key.len() + 1])))
                .collect();
            return Err(duplicates_error(spec, &found));
        }
        let compared = compared_columns(dialect, &names, &key);
        let counted = session.text_rows(&matched_sql(dialect, &spec.table, &key, &compared)).map_err(table_error)?;
        let (matched, unchanged) = match counted.first() {
            Some(row) if row.len() == 2 => (count(&row[0]) as u64, count(&row[1]) as u64),
            _ => (0, 0),
        };
        (loaded.updated, loaded.unchanged) = (matched - unchanged, unchanged);
        let columns: Vec<String> = names.iter().map(|n| session.quote(n)).collect();
        session.execute(&insert_sql(dialect, &spec.table, &names, &columns, Some(&key))).map_err(table_error)?;
        session.execute(&session.drop_staging_sql()).map_err(table_error)?;
    }
    if let Some(watermark) = &spec.watermark {
        let values = vec![
            Some(spec.migration.clone()),
            Some(watermark.cursor.clone()),
            watermark.text()?,
            Some(spec.run_id.clone()),
        ];
        let save = save_state_sql(session.dialect());
        session.execute_with(&save, values).map_err(|e| target_error(endpoint, STATE_TABLE, e))?;
    }
    Ok(loaded)
}

/// `_ferry_rejects`, made and (replacing) cleared of the migration's earlier rejects once.
struct Rejects {
    ready: bool,
}

impl Rejects {
    fn prepare(&mut self, session: &mut dyn InsertSession, spec: &LoadSpec) -> std::result::Result<(), String> {
        if self.ready {
            return Ok(());
        }
        if !session.ddl_commits() {
            session.execute(&if_not_exists(session.create_table_sql(&rejects_table())))?;
        }
        if spec.mode == WriteMode::Replace {
            let clear = format!("DELETE FROM {REJECTS_TABLE} WHERE migration = ?");
            session.execute_with(&clear, vec![Some(spec.migration.clone())])?;
        }
        self.ready = true;
        Ok(())
    }
}
