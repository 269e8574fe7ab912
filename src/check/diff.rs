//! `ferry reconcile MIGRATION`: the migration's output, computed from the source now, compared
//! with its target table, and when they differ, the difference narrowed down by key ranges as
//! data-diff does: each side's figures per range (one scan of that range per side, the range
//! pushed into the databases as a filter), then only the ranges whose figures differ are split
//! again, until a range is small enough to compare row by row and name keys and columns.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{col, lit};
use futures::StreamExt;
use serde::Serialize;

use super::reconcile::{cast_to, Figures};
use crate::error::{FerryError, Result};
use crate::job::{MigrationPlan, Plan};

/// Ranges with at most this many rows (on the larger side) are compared row by row.
const LEAF_ROWS: u64 = 2_000;
/// How many parts a differing range is split into.
const SPLIT: i64 = 16;
/// At most this many differing keys are listed.
pub const MAX_LISTED: usize = 100;

#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    pub key: i64,
    /// `missing` (in the target), `extra` (only in the target) or `changed`.
    pub kind: &'static str,
    /// Changed columns, with the value expected from the source and the one in the target.
    pub columns: Vec<ColumnDifference>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ColumnDifference {
    pub column: String,
    pub source: Option<String>,
    pub target: Option<String>,
}

/// Both sides of the comparison: frames with the same columns (the key first), same types.
pub struct Sides {
    pub source: DataFrame,
    pub target: DataFrame,
    pub schema: SchemaRef,
}

/// What the bisection did and found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Narrowed {
    pub differences: Vec<Difference>,
    /// More differing keys exist than were listed.
    pub truncated: bool,
    /// Ranges whose figures were computed, and rows each side read in all.
    pub ranges_compared: u64,
    pub rows_read: u64,
}

/// Compares the sides over `[low, high)` of the key, splitting differing ranges.
pub async fn narrow(sides: &Sides, low: i64, high: i64) -> Result<Narrowed> {
    let mut found = Narrowed::default();
    let mut pending = vec![(low, high)];
    while let Some((low, high)) = pending.pop() {
        if found.differences.len() >= MAX_LISTED {
            found.truncated = true;
            break;
        }
        let parts = split(low, high);
        let source = bucket_figures(&sides.source, &sides.schema, &parts).await?;
        let target = bucket_figures(&sides.target, &sides.schema, &parts).await?;
        found.ranges_compared += parts.len() as u64;
        found.rows_read += source.iter().chain(&target).map(|f| f.rows).sum::<u64>();
        // Later ranges are pushed first, so the lowest keys are listed first.
        for (part, (a, b)) in parts.iter().zip(source.iter().zip(&target)).rev() {
            if a == b {
                continue;
            }
            if a.rows.max(b.rows) <= LEAF_ROWS || part.1 - part.0 <= 1 {
                let mut rows = compare_rows(sides, *part).await?;
                rows.sort_by_key(|d| d.key);
                found.differences.extend(rows);
            } else {
                pending.push(*part);
            }
        }
    }
    found.differences.sort_by_key(|d| d.key);
    if found.differences.len() > MAX_LISTED {
        found.differences.truncate(MAX_LISTED);
        found.truncated = true;
    }
    Ok(found)
}

/// `[low, high)` in up to SPLIT equal parts.
fn split(low: i64, high: i64) -> Vec<(i64, i64)> {
    let width = ((high as i128 - low as i128) / SPLIT as i128).max(1) as i64;
    let mut parts = Vec::new();
    let mut start = low;
    while start < high {
        let end = if high - start <= width { high } else { start + width };
        parts.push((start, end));
        start = end;
    }
    parts
}

/// `frame`'s rows with the key in `[low, high)` (the filter reaches the database).
fn in_range(frame: &DataFrame, key: &str, low: i64, high: i64) -> Result<DataFrame> {
    let key = col(format!("\"{key}\""));
    let filter = key.clone().gt_eq(lit(low)).and(key.lt(lit(high)));
    Ok(frame.clone().filter(filter)?)
}

/// One side's figures per part, from one scan of the parts' whole span.
async fn bucket_figures(frame: &DataFrame, schema: &SchemaRef, parts: &[(i64, i64)]) -> Result<Vec<Figures>> {
    let width = schema.fields().len();
    let mut figures = vec![Figures::new(width); parts.len()];
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else { return Ok(figures) };
    let mut stream = in_range(frame, schema.field(0).name(), first.0, last.1)?.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let columns = cast_to(&batch?, schema)?;
        let keys = keys(&columns[0])?;
        let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); parts.len()];
        for (row, key) in keys.iter().enumerate() {
            if let Some(key) = key {
                let part = parts.partition_point(|p| p.1 <= *key);
                if part < parts.len() {
                    rows_of[part].push(row as u32);
                }
            }
        }
        for (part, rows) in rows_of.into_iter().enumerate().filter(|(_, rows)| !rows.is_empty()) {
            let indices = UInt32Array::from(rows);
            let taken =
                columns.iter().map(|c| arrow::compute::take(c, &indices, None)).collect::<Result<Vec<_>, _>>()?;
            figures[part].add(&taken)?;
        }
    }
    Ok(figures)
}

fn keys(column: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let as_int = arrow::compute::cast(column, &DataType::Int64)?;
    Ok(as_int.as_primitive::<Int64Type>().iter().collect())
}

/// Both sides' rows of `[low, high)`, compared key by key.
async fn compare_rows(sides: &Sides, (low, high): (i64, i64)) -> Result<Vec<Difference>> {
    let source = keyed_rows(&sides.source, &sides.schema, low, high).await?;
    let target = keyed_rows(&sides.target, &sides.schema, low, high).await?;
    let names: Vec<String> = sides.schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut differences = Vec::new();
    for (key, expected) in &source {
        match target.get(key) {
            None => differences.push(Difference { key: *key, kind: "missing", columns: vec![] }),
            Some(found) if found != expected => {
                let columns = names
                    .iter()
                    .zip(expected.iter().zip(found))
                    .filter(|(_, (a, b))| a != b)
                    .map(|(name, (a, b))| ColumnDifference {
                        column: name.clone(),
                        source: a.clone(),
                        target: b.clone(),
                    })
                    .collect();
                differences.push(Difference { key: *key, kind: "changed", columns });
            }
            Some(_) => {}
        }
    }
    for key in target.keys().filter(|k| !source.contains_key(k)) {
        differences.push(Difference { key: *key, kind: "extra", columns: vec![] });
    }
    Ok(differences)
}

/// A range's rows as key -> values shown as text (exact: decimals with their scale,
/// timestamps with their fraction).
async fn keyed_rows(
    frame: &DataFrame,
    schema: &SchemaRef,
    low: i64,
    high: i64,
) -> Result<BTreeMap<i64, Vec<Option<String>>>> {
    let mut rows = BTreeMap::new();
    let batches: Vec<RecordBatch> = in_range(frame, schema.field(0).name(), low, high)?.collect().await?;
    for batch in batches {
        let columns = cast_to(&batch, schema)?;
        for (row, key) in keys(&columns[0])?.into_iter().enumerate() {
            let Some(key) = key else { continue };
            let values = columns
                .iter()
                .map(|c| if c.is_null(row) { None } else { arrow::util::display::array_value_to_string(c, row).ok() })
                .collect();
            if rows.insert(key, values).is_some() {
                return Err(FerryError::Execution(format!("key {key} occurs more than once")));
            }
        }
    }
    Ok(rows)
}

/// What `ferry reconcile` found for one migration.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    pub migration: String,
    pub table: String,
    pub key: String,
    /// The columns compared (the query's output columns the table has).
    pub columns: Vec<String>,
    pub rows_source: u64,
    pub rows_target: u64,
    pub matched: bool,
    #[serde(flatten)]
    pub narrowed: Narrowed,
}

impl DiffReport {
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let verdict = if self.matched { "matches" } else { "DIFFERS from" };
        let _ = writeln!(
            out,
            "{}: `{}` {verdict} the source: {} rows in the source, {} in the table, {} columns compared ({} ranges, {} rows read)",
            self.migration,
            self.table,
            self.rows_source,
            self.rows_target,
            self.columns.len(),
            self.narrowed.ranges_compared,
            self.narrowed.rows_read
        );
        for difference in &self.narrowed.differences {
            let _ = write!(out, "  {}={}: {}", self.key, difference.key, difference.kind);
            for column in &difference.columns {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
                let _ = write!(out, "; {}: {} -> {}", column.column, show(&column.source), show(&column.target));
            }
            out.push('\n');
        }
        if self.narrowed.truncated {
            let _ = writeln!(out, "  (more differences: only the first {MAX_LISTED} keys are listed)");
        }
        out
    }
}

/// Compares migration `name`'s output, computed from the source now, with its target table.
pub async fn reconcile(plan: &Plan, name: &str) -> Result<DiffReport> {
    let migration =
        plan.select(&[name.to_string()])?.into_iter().next().ok_or_else(|| FerryError::internal("no migration"))?;
    let fail = |message: String| FerryError::Job(format!("migration `{}`: reconcile: {message}", migration.name));
    let [key] = migration.key.as_slice() else {
        return Err(fail("needs a one-column integer `key` to compare rows by".into()));
    };
    let (source, _) = crate::transform::plan_migration(plan, migration).await?;
    let source = without_rejects(source)?;
    let ctx = datafusion::prelude::SessionContext::new();
    let target = super::target_table(&ctx, migration, &migration.table).await?.ok_or_else(|| {
        fail(format!("table `{}` does not exist in `{}`", migration.table, migration.target.endpoint.masked()))
    })?;
    let sides = compared(migration, source, target, key)?;
    if !sides.schema.field(0).data_type().is_integer() {
        return Err(fail(format!(
            "key `{key}` is {}, not an integer; ranges need an integer key",
            sides.schema.field(0).data_type()
        )));
    }
    let (low, high) = key_span(&sides).await?;
    let totals = bucket_figures(&sides.source, &sides.schema, &[(low, high)]).await?;
    let target_totals = bucket_figures(&sides.target, &sides.schema, &[(low, high)]).await?;
    let matched = totals == target_totals;
    let narrowed = if matched {
        Narrowed { ranges_compared: 1, ..Narrowed::default() }
    } else {
        narrow(&sides, low, high).await?
    };
    Ok(DiffReport {
        migration: migration.name.clone(),
        table: migration.table.clone(),
        key: key.clone(),
        columns: sides.schema.fields().iter().map(|f| f.name().clone()).collect(),
        rows_source: totals.first().map(|f| f.rows).unwrap_or(0),
        rows_target: target_totals.first().map(|f| f.rows).unwrap_or(0),
        matched,
        narrowed: Narrowed {
            rows_read: narrowed.rows_read + totals.iter().chain(&target_totals).map(|f| f.rows).sum::<u64>(),
            ..narrowed
        },
    })
}

/// The rows the migration would write: rejected rows and the reject columns left out.
fn without_rejects(frame: DataFrame) -> Result<DataFrame> {
    let has = |name: &str| frame.schema().field_with_unqualified_name(name).is_ok();
    let frame = if has("_ferry_reject") { frame.filter(col("_ferry_reject").is_null())? } else { frame };
    let keep: Vec<String> = frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| n != "_ferry_reject" && n != "_ferry_source")
        .collect();
    let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
    Ok(frame.select_columns(&keep)?)
}

/// Both sides with the columns they share, the key first, as the table's types.
fn compared(migration: &MigrationPlan, source: DataFrame, target: DataFrame, key: &str) -> Result<Sides> {
    let output: Vec<String> = source.schema().fields().iter().map(|f| f.name().clone()).collect();
    let table = target.schema().as_arrow().clone();
    if !output.iter().any(|c| c == key) || table.index_of(key).is_err() {
        return Err(FerryError::Job(format!(
            "migration `{}`: reconcile: key `{key}` must be a column of both the query's output and `{}`",
            migration.name, migration.table
        )));
    }
    let mut columns = vec![key.to_string()];
    columns.extend(output.into_iter().filter(|c| c != key && table.index_of(c).is_ok()));
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let target = target.select_columns(&names)?;
    let schema = std::sync::Arc::new(target.schema().as_arrow().clone());
    Ok(Sides { source: source.select_columns(&names)?, target, schema })
}

/// The lowest key and one past the highest, over both sides.
async fn key_span(sides: &Sides) -> Result<(i64, i64)> {
    use datafusion::functions_aggregate::expr_fn::{max, min};
    let key = col(format!("\"{}\"", sides.schema.field(0).name()));
    let mut low = i64::MAX;
    let mut high = i64::MIN;
    for frame in [&sides.source, &sides.target] {
        let batches = frame.clone().aggregate(vec![], vec![min(key.clone()), max(key.clone())])?.collect().await?;
        for batch in batches {
            let (lows, highs) = (keys(batch.column(0))?, keys(batch.column(1))?);
            low = low.min(lows.into_iter().flatten().min().unwrap_or(i64::MAX));
            high = high.max(highs.into_iter().flatten().max().unwrap_or(i64::MIN));
        }
    }
    Ok(if low > high { (0, 0) } else { (low, high.saturating_add(1)) })
}
