//! Checks that need the whole table: DataFusion queries over the spill file the audit wrote
//! (`unique`, `relationships`, `sql`), and the count check (`row_count`).

use std::path::PathBuf;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use datafusion::execution::options::ArrowReadOptions;
use datafusion::prelude::SessionContext;

use super::result::{quote, row_sample, Finding, SAMPLE};
use crate::error::{FerryError, Result};
use crate::job::checks::{Check, CheckKind};
use crate::job::Parts;

/// The files the table checks read, registered in one session.
pub struct Spilled {
    pub ctx: SessionContext,
    /// Check index -> table name of its prefetched `relationships` values.
    pub references: Vec<(usize, String)>,
}

impl Spilled {
    /// Registers the staged rows as `staged` and as the target table's bare name (which `sql`
    /// checks query), and each prefetched reference as `reference_<check>`.
    pub async fn open(table: &str, staged: Option<PathBuf>, references: Vec<(usize, PathBuf)>) -> Result<Spilled> {
        let ctx = bounded_session(MEMORY_LIMIT, Parts::Exactly(1))?;
        if let Some(path) = staged {
            let path = path.display().to_string();
            ctx.register_arrow("staged", &path, ArrowReadOptions::default()).await?;
            let bare = table.rsplit('.').next().unwrap_or(table);
            ctx.register_arrow(format!("\"{bare}\"").as_str(), &path, ArrowReadOptions::default()).await?;
        }
        let mut names = Vec::new();
        for (check, path) in references {
            let name = format!("reference_{check}");
            ctx.register_arrow(&name, &path.display().to_string(), ArrowReadOptions::default()).await?;
            names.push((check, name));
        }
        Ok(Spilled { ctx, references: names })
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.ctx.sql(sql).await?.collect().await?)
    }

    /// The one number a query returns.
    async fn count(&self, sql: &str) -> Result<u64> {
        let batches = self.query(sql).await?;
        Ok(batches
            .first()
            .and_then(|b| b.column(0).as_primitive_opt::<Int64Type>())
            .map(|a| a.value(0) as u64)
            .unwrap_or(0))
    }

    /// Adds the first rows of `sql` to the finding's sample (up to SAMPLE in all).
    async fn sample(&self, sql: &str, finding: &mut Finding) -> Result<()> {
        let room = SAMPLE.saturating_sub(finding.sample.len());
        for batch in self.query(&format!("{sql} LIMIT {room}")).await? {
            let columns: Vec<usize> = (0..batch.num_columns()).collect();
            finding.sample.extend((0..batch.num_rows()).map(|row| row_sample(&batch, &columns, row)));
        }
        Ok(())
    }

    /// The failing rows' count and the first of them.
    async fn failing(&self, failing_sql: &str, finding: &mut Finding) -> Result<()> {
        finding.failing = self.count(&format!("SELECT count(*) FROM ({failing_sql})")).await?;
        if finding.failing > 0 {
            self.sample(failing_sql, finding).await?;
        }
        Ok(())
    }
}

/// Table checks group and join whole tables: in a bounded memory pool, with operators that spill
/// to disk (sort-merge joins, spilling aggregates) rather than grow with the table.
pub fn bounded_session(limit: usize, parts: Parts) -> Result<SessionContext> {
    let runtime =
        datafusion::execution::runtime_env::RuntimeEnvBuilder::new().with_memory_limit(limit, 1.0).build_arc()?;
    let mut config = crate::source::partitioned(datafusion::prelude::SessionConfig::new(), parts, limit);
    config.options_mut().optimizer.prefer_hash_join = false;
    Ok(SessionContext::new_with_config_rt(config, runtime))
}

/// The memory the table checks of one migration may hold.
const MEMORY_LIMIT: usize = 16 * 1024 * 1024;

/// Completes `finding` for the checks that need the whole table.
#[allow(clippy::too_many_arguments)]
pub async fn table_level(
    migration: &str,
    index: usize,
    check: &Check,
    finding: &mut Finding,
    spilled: &Spilled,
    rows: u64,
    source_rows: Option<u64>,
) -> Result<()> {
    let named = |error: FerryError| match error {
        FerryError::Execution(message) | FerryError::Internal(message) => {
            FerryError::Job(format!("migration `{migration}`: check `{}`: {message}", check.name))
        }
        other => other,
    };
    let sample = finding.sample_columns.iter().map(|c| format!("s.{}", quote(c))).collect::<Vec<_>>().join(", ");
    match &check.kind {
        CheckKind::RowCount { min, max, equals_source } => {
            let mut expected = Vec::new();
            let mut distance = 0;
            if let Some(min) = min {
                expected.push(format!("at least {min}"));
                distance = distance.max(min.saturating_sub(rows));
            }
            if let Some(max) = max {
                expected.push(format!("at most {max}"));
                distance = distance.max(rows.saturating_sub(*max));
            }
            if *equals_source {
                match source_rows {
                    Some(source) => {
                        expected.push(format!("the {source} rows read from the source"));
                        distance = distance.max(source.abs_diff(rows));
                    }
                    None => finding.skipped = Some("`equals_source` needs a run: no rows were read here".into()),
                }
            }
            finding.failing = distance;
            finding.detail = Some(format!("{rows} rows; expected {}", expected.join(" and ")));
        }
        CheckKind::Unique { columns } => {
            let listed = columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
            let present = columns.iter().map(|c| format!("{} IS NOT NULL", quote(c))).collect::<Vec<_>>().join(" AND ");
            let groups = format!("SELECT {listed}, count(*) AS occurrences FROM staged WHERE {present} GROUP BY {listed} HAVING count(*) > 1");
            let count = spilled
                .query(&format!("SELECT CAST(COALESCE(sum(occurrences), 0) AS BIGINT) FROM ({groups})"))
                .await
                .map_err(named)?;
            finding.failing = count
                .first()
                .and_then(|b| b.column(0).as_primitive_opt::<Int64Type>())
                .map(|a| a.value(0) as u64)
                .unwrap_or(0);
            if finding.failing > 0 {
                let sampled = spilled
                    .query(&format!("{groups} ORDER BY occurrences DESC, {listed} LIMIT {SAMPLE}"))
                    .await
                    .map_err(named)?;
                for batch in sampled {
                    let all: Vec<usize> = (0..batch.num_columns()).collect();
                    finding.sample.extend((0..batch.num_rows()).map(|row| row_sample(&batch, &all, row)));
                }
            }
        }
        CheckKind::Relationships { column, to_column, .. } => {
            let (reference, to) = match spilled.references.iter().find(|(i, _)| *i == index) {
                Some((_, name)) => (name.clone(), "value".to_string()),
                None => ("staged".to_string(), to_column.clone()),
            };
            // One spilling aggregate over both sides instead of a join (whose build side would
            // have to fit in memory): a value fails when no reference row carries it.
            let value = quote(column);
            let missing = format!(
                "SELECT ferry_value, sum(ferry_staged) AS ferry_rows FROM (\
                 SELECT {value} AS ferry_value, 1 AS ferry_staged, 0 AS ferry_found FROM staged WHERE {value} IS NOT NULL \
                 UNION ALL SELECT {} AS ferry_value, 0 AS ferry_staged, 1 AS ferry_found FROM {reference}) \
                 GROUP BY ferry_value HAVING max(ferry_found) = 0",
                quote(&to)
            );
            let nulls = if check.nulls_fail {
                spilled.count(&format!("SELECT count(*) FROM staged WHERE {value} IS NULL")).await.map_err(named)?
            } else {
                0
            };
            let absent = spilled
                .count(&format!("SELECT CAST(COALESCE(sum(ferry_rows), 0) AS BIGINT) FROM ({missing})"))
                .await
                .map_err(named)?;
            finding.failing = nulls + absent;
            if nulls > 0 {
                spilled
                    .sample(&format!("SELECT {sample} FROM staged s WHERE s.{value} IS NULL"), finding)
                    .await
                    .map_err(named)?;
            }
            if absent > 0 && finding.sample.len() < SAMPLE {
                let first = format!("SELECT ferry_value FROM ({missing}) ORDER BY ferry_value LIMIT {SAMPLE}");
                let rows = format!(
                    "SELECT {sample} FROM ({first}) m JOIN staged s ON s.{value} = m.ferry_value ORDER BY s.{value}"
                );
                spilled.sample(&rows, finding).await.map_err(named)?;
            }
        }
        CheckKind::Sql { sql } => {
            let query = sql.trim().trim_end_matches(';');
            let columns = spilled
                .ctx
                .sql(query)
                .await
                .map_err(|e| named(e.into()))?
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            finding.sample_columns = columns;
            spilled.failing(query, finding).await.map_err(named)?;
        }
        _ => {}
    }
    Ok(())
}
