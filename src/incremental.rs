//! What a migration's load does this run: how rows are published (replace, append, merge) and,
//! for incremental migrations, which source rows are read and what watermark is saved.
//!
//! An incremental run reads the rows whose cursor is at or after the saved watermark: the
//! filter is put on the query's output and DataFusion pushes it through the query into the
//! source's own SQL, so only those rows leave the database. Rows sharing the boundary value are
//! read again and merged on the key, so none is lost or doubled. The new watermark (the highest
//! cursor read, never lower than the old one) is saved in the load's transaction.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{ident, lit, Expr};

use crate::db::state::{parse_scalar, Watermark};
use crate::db::{Sink, WriteMode};
use crate::error::{FerryError, Result};
use crate::job::{MigrationPlan, Mode, Plan};
use crate::report::RunReport;
use futures::future::BoxFuture;

/// Command-line choices of a run that change how incremental and merge migrations load.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Reload everything: replace the table's rows and reset the watermark.
    pub full_refresh: bool,
    /// Backfill: load the cursor range [from, to) and leave the watermark as it is.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The run's id (the API names a run before it starts); a new one when None.
    pub run_id: Option<String>,
    /// Parts each source table is read in, for every migration (instead of the job's `partitions`).
    pub partitions: Option<crate::job::Parts>,
    /// Connections writing a swapped replace's rows, for every migration (instead of `writers`).
    pub writers: Option<usize>,
    /// Work on a migration's table once its rows are published, beside its reconciliation.
    pub after_publish: Option<AfterPublish>,
    /// Independent migrations run at once (one when None).
    pub jobs: Option<usize>,
    /// Times a migration that failed for a passing reason is tried again.
    pub retries: u32,
    /// Compute the migrations' queries on a Ballista cluster (`--cluster`, `--stage`), instead of
    /// the job's `cluster` and `stage`.
    pub cluster: Option<ClusterRun>,
    /// How a cluster run stages a migration's sources just before its query (`copy::run_job`
    /// gives `ferry stage`, itself a run, which `run` cannot name without a cycle).
    pub stager: Option<Stager>,
}

/// Stages tables to Parquet: (job, `connection.table` names, the folder, the connection).
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct Stager(
    pub Arc<dyn Fn(Plan, Vec<String>, String, String) -> BoxFuture<'static, Result<RunReport>> + Send + Sync>,
);

impl std::fmt::Debug for Stager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stager")
    }
}

pub use crate::job::ClusterRun;

/// What to do with a table once a migration has published its rows (a copy builds its indexes
/// and keys then), given the migration's name.
#[derive(Clone)]
pub struct AfterPublish(pub Arc<dyn Fn(String) -> futures::future::BoxFuture<'static, ()> + Send + Sync>);

impl std::fmt::Debug for AfterPublish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AfterPublish")
    }
}

impl RunOptions {
    /// Refuses options that contradict each other or apply to none of the migrations.
    pub fn check(&self, migrations: &[&MigrationPlan]) -> Result<()> {
        let range = self.from.is_some() || self.to.is_some();
        if range && self.full_refresh {
            return Err(FerryError::Job(
                "--full-refresh loads everything, --from/--to load a range: use one or the other".into(),
            ));
        }
        if range && !migrations.iter().any(|m| m.mode == Mode::Incremental) {
            return Err(FerryError::Job(
                "--from/--to select a range of an incremental migration's cursor, and none of the migrations to run is incremental".into(),
            ));
        }
        Ok(())
    }
}

/// How one migration loads this run.
#[derive(Debug)]
pub struct LoadPlan {
    pub write: WriteMode,
    pub cursor: Option<String>,
    /// The saved watermark the run started from (incremental), as text.
    pub before: Option<String>,
    /// The watermark the load saves (None: the state is left alone).
    pub watermark: Option<Arc<Watermark>>,
    /// Whether the query was narrowed to a cursor range (NULL cursors then need counting apart).
    pub filtered: bool,
}

/// Decides how `migration` loads and narrows `frame` to the rows to read.
pub async fn plan_load(
    migration: &MigrationPlan,
    options: &RunOptions,
    sink: &mut dyn Sink,
    frame: DataFrame,
) -> Result<(DataFrame, LoadPlan)> {
    let simple = |write| LoadPlan { write, cursor: None, before: None, watermark: None, filtered: false };
    let cursor = match (migration.mode, &migration.cursor) {
        (Mode::Replace, _) => return Ok((frame, simple(WriteMode::Replace))),
        (Mode::Append, _) => return Ok((frame, simple(WriteMode::Append))),
        (Mode::Merge, _) if options.full_refresh => return Ok((frame, simple(WriteMode::Replace))),
        (Mode::Merge, _) => return Ok((frame, simple(WriteMode::Merge))),
        (Mode::Incremental, Some(cursor)) => cursor.clone(),
        (Mode::Incremental, None) => return Err(FerryError::internal("incremental migration without a cursor")),
    };
    let (cursor, data_type) = cursor_field(migration, &frame, &cursor)?;
    let error = |message: String| FerryError::Job(format!("migration `{}`: {message}", migration.name));
    let saved = if options.full_refresh { None } else { sink.state(&migration.name, &migration.table).await? };
    let before = match &saved {
        Some(saved) if !saved.cursor.eq_ignore_ascii_case(&cursor) => {
            return Err(error(format!(
                "the target's watermark is on cursor `{}`, the job's cursor is `{cursor}`; \
                 run once with --full-refresh to reload and start a watermark on `{cursor}`",
                saved.cursor
            )))
        }
        Some(saved) => saved.watermark.clone(),
        None => None,
    };
    let parse = |text: &str, what: &str| {
        parse_scalar(text, &data_type).map_err(|_| {
            error(format!("{what} `{text}` is not a value of cursor `{cursor}`, {}", value_hint(&data_type)))
        })
    };
    let floor = before
        .as_deref()
        .map(|text| {
            parse(text, "the saved watermark").map_err(|e| {
                FerryError::Job(format!("{e}; did the cursor's type change? Run with --full-refresh to reset it"))
            })
        })
        .transpose()?;
    let mut plan = LoadPlan {
        write: WriteMode::Merge,
        cursor: Some(cursor.clone()),
        before: before.clone(),
        watermark: None,
        filtered: false,
    };
    let column = || ident(&cursor);
    let mut conditions: Vec<Expr> = Vec::new();
    if options.from.is_some() || options.to.is_some() {
        if let Some(from) = &options.from {
            conditions.push(column().gt_eq(lit(parse(from, "--from")?)));
        }
        if let Some(to) = &options.to {
            conditions.push(column().lt(lit(parse(to, "--to")?)));
        }
    } else if options.full_refresh {
        plan.write = WriteMode::Replace;
        plan.watermark = Some(Arc::new(Watermark::new(&cursor, None)));
    } else {
        if let Some(floor) = &floor {
            conditions.push(column().gt_eq(lit(floor.clone())));
        }
        plan.watermark = Some(Arc::new(Watermark::new(&cursor, floor)));
    }
    let frame = match conditions.into_iter().reduce(Expr::and) {
        Some(condition) => {
            plan.filtered = true;
            frame.filter(condition).map_err(FerryError::from)?
        }
        None => frame,
    };
    Ok((frame, plan))
}

/// The cursor's type in the query's output; it must be there and have an order every database agrees on.
fn cursor_field(migration: &MigrationPlan, frame: &DataFrame, cursor: &str) -> Result<(String, DataType)> {
    let schema = frame.schema();
    let field = schema
        .fields()
        .iter()
        .find(|f| f.name() == cursor)
        .or_else(|| schema.fields().iter().find(|f| f.name().eq_ignore_ascii_case(cursor)));
    let error =
        |message: String| FerryError::Job(format!("migration `{}`: cursor `{cursor}` {message}", migration.name));
    let Some(field) = field else {
        let columns: Vec<String> = schema
            .fields()
            .iter()
            .filter(|f| !f.name().starts_with("_ferry_"))
            .map(|f| format!("`{}`", f.name()))
            .collect();
        return Err(error(format!("is not a column of the query's output; it has {}", columns.join(", "))));
    };
    let data_type = field.data_type().clone();
    match &data_type {
        t if t.is_integer() || t.is_floating() => Ok((field.name().clone(), data_type)),
        DataType::Decimal128(..) | DataType::Decimal256(..) | DataType::Date32 | DataType::Timestamp(..) => {
            Ok((field.name().clone(), data_type))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Err(error(
            "is text, whose order depends on each database's collation; use a timestamp, date or number column \
             (or cast it in the query)"
                .to_string(),
        )),
        other => Err(error(format!(
            "is {other}, which has no order a watermark can follow; use a timestamp, date or number column"
        ))),
    }
}

/// What a cursor value looks like, for messages.
fn value_hint(data_type: &DataType) -> String {
    match data_type {
        DataType::Date32 => "a date: write it like 2024-01-31".to_string(),
        DataType::Timestamp(_, None) => "a date-time: write it like 2024-01-31 or 2024-01-31 13:45:00".to_string(),
        DataType::Timestamp(_, Some(_)) => {
            "an instant: write it like 2024-01-31T13:45:00Z or 2024-01-31 13:45:00+01:00".to_string()
        }
        t if t.is_integer() => "an integer".to_string(),
        other => format!("a number ({other})"),
    }
}
