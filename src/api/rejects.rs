//! A migration's rejected rows, read from `_ferry_rejects` in its target: counts per reason,
//! and pages of the rows themselves. Every value the request carries goes in as a parameter.

use crate::connection::Endpoint;
use crate::db::{self, REJECTS_TABLE};
use crate::error::Result;

use super::views::{ReasonCount, RejectPage, RejectRow, RejectSummary};

/// The most rows one page may hold.
pub const MAX_PAGE: u64 = 500;

/// What a page asks for; `limit` and `offset` are checked numbers, the rest parameters.
#[derive(Debug, Default)]
pub struct PageRequest {
    pub reason: Option<String>,
    pub run_id: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

/// Whether `target` keeps rejects in a table ferry can query, and whether it has one yet.
async fn table(target: &Endpoint) -> Result<(bool, bool)> {
    let backend = db::open(target);
    if !backend.capabilities().runs_sql {
        return Ok((false, false));
    }
    Ok((true, backend.has_table(REJECTS_TABLE).await?))
}

pub async fn summary(target: &Endpoint, migration: &str) -> Result<RejectSummary> {
    let (stored, exists) = table(target).await?;
    let mut answer = RejectSummary { migration: migration.to_string(), stored, total: 0, reasons: Vec::new() };
    if !exists {
        return Ok(answer);
    }
    let sql = format!(
        "SELECT reason, count(*), count(DISTINCT run_id), max(rejected_at) FROM {REJECTS_TABLE} \
         WHERE migration = ? GROUP BY reason ORDER BY reason"
    );
    let rows = db::open(target).text_rows(&sql, vec![Some(migration.to_string())]).await?;
    for row in rows {
        let text = |i: usize| row.get(i).cloned().flatten();
        let number = |i: usize| text(i).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
        answer.reasons.push(ReasonCount {
            reason: text(0).unwrap_or_default(),
            rows: number(1),
            runs: number(2),
            last_rejected_at: text(3),
        });
    }
    answer.total = answer.reasons.iter().map(|r| r.rows).sum();
    Ok(answer)
}

pub async fn page(target: &Endpoint, migration: &str, request: PageRequest) -> Result<RejectPage> {
    let mut answer = RejectPage {
        migration: migration.to_string(),
        reason: request.reason.clone(),
        run_id: request.run_id.clone(),
        total: 0,
        offset: request.offset,
        limit: request.limit,
        rows: Vec::new(),
    };
    if !table(target).await?.1 {
        return Ok(answer);
    }
    let mut filter = String::from("migration = ?");
    let mut values = vec![Some(migration.to_string())];
    for (column, value) in [("reason", &request.reason), ("run_id", &request.run_id)] {
        if let Some(value) = value {
            filter.push_str(&format!(" AND {column} = ?"));
            values.push(Some(value.clone()));
        }
    }
    let backend = db::open(target);
    let count = format!("SELECT count(*) FROM {REJECTS_TABLE} WHERE {filter}");
    let counted = backend.text_rows(&count, values.clone()).await?;
    answer.total = counted.first().and_then(|r| r.first().cloned().flatten()).and_then(|t| t.parse().ok()).unwrap_or(0);
    // Newest run first; within a run, by key, so that pages neither repeat nor skip rows.
    let sql = format!(
        "SELECT run_id, source_key, reason, source_row, rejected_at FROM {REJECTS_TABLE} WHERE {filter} \
         ORDER BY rejected_at DESC, run_id DESC, source_key, reason LIMIT {} OFFSET {}",
        request.limit, request.offset
    );
    for row in backend.text_rows(&sql, values).await? {
        let text = |i: usize| row.get(i).cloned().flatten();
        let source_row = text(3).unwrap_or_default();
        answer.rows.push(RejectRow {
            run_id: text(0).unwrap_or_default(),
            source_key: text(1),
            reason: text(2).unwrap_or_default(),
            // Stored as JSON by ferry; anything else is shown as the text it is.
            source_row: serde_json::from_str(&source_row).unwrap_or(serde_json::Value::String(source_row)),
            rejected_at: text(4),
        });
    }
    Ok(answer)
}
