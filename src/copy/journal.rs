//! What a copy finished, kept in the target (`_ferry_copied`), so that `--resume` goes on with the
//! tables an interrupted or failed copy did not load.

use crate::connection::Endpoint;
use crate::db::bookkeeping::{copied_table, if_not_exists, COPIED_TABLE};
use crate::db::Backend;
use crate::error::Result;

/// The tables loaded and reconciled from `source` by earlier copies.
pub async fn finished(target: &dyn Backend, source: &Endpoint) -> Result<Vec<String>> {
    if !target.capabilities().runs_sql || !target.has_table(COPIED_TABLE).await? {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT table_name FROM {COPIED_TABLE} WHERE source = ?");
    let rows = target.text_rows(&sql, vec![Some(source.masked())]).await?;
    Ok(rows.into_iter().filter_map(|row| row.into_iter().next().flatten()).collect())
}

/// Records `tables` as loaded from `source` by `run_id`, in one transaction.
pub async fn record(target: &dyn Backend, source: &Endpoint, run_id: &str, tables: &[String]) -> Result<()> {
    if !target.capabilities().runs_sql || tables.is_empty() {
        return Ok(());
    }
    let create = if_not_exists(target.create_table_sql(&copied_table())?);
    let mut statements = Vec::new();
    for table in tables {
        let key = vec![Some(source.masked()), Some(table.clone())];
        statements.push((format!("DELETE FROM {COPIED_TABLE} WHERE source = ? AND table_name = ?"), key.clone()));
        let values = [key, vec![Some(run_id.to_string())]].concat();
        statements.push((format!("INSERT INTO {COPIED_TABLE} (source, table_name, run_id) VALUES (?, ?, ?)"), values));
    }
    target.transaction(&create, statements).await
}
