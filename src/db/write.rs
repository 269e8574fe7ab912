//! What every writable engine implements: a [`Sink`] prepares one load, and the
//! [`PreparedLoad`] it returns consumes the rows and publishes them all or not at all, like
//! DataFusion's `DataSink::write_all`. Also the column matching every sink shares.

use std::pin::Pin;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use futures::Stream;

use super::state::{SavedState, Watermark};
use crate::error::{FerryError, Result};

/// What a load streams: target rows (already cast to the schema [`Sink::prepare`] returned)
/// and the quarantine records of rejected rows (with [`rejects_schema`]), as they come.
#[derive(Clone, Debug)]
pub enum SinkBatch {
    Rows(RecordBatch),
    Rejects(RecordBatch),
}

/// The stream a sink consumes.
pub type RowStream = Pin<Box<dyn Stream<Item = Result<SinkBatch>> + Send>>;

/// How a load publishes its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// The table's old rows (and the migration's old rejects) go, the new rows come.
    Replace,
    /// The new rows are added.
    Append,
    /// Rows whose key the table holds update it, the others are added (an upsert on `key`).
    Merge,
}

/// How a replace publishes over a table that exists (`publish` in a migration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Publish {
    /// Swapped in where the engine can without losing anything, in place otherwise.
    #[default]
    Auto,
    /// Swapped in, or the load fails saying why it cannot be.
    Swap,
    /// Emptied and loaded in the table itself.
    InPlace,
}

impl Publish {
    pub fn parse(text: &str) -> Option<Publish> {
        match text {
            "auto" => Some(Publish::Auto),
            "swap" => Some(Publish::Swap),
            "in_place" => Some(Publish::InPlace),
            _ => None,
        }
    }
}

/// Everything a sink needs to know about one load.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub migration: String,
    pub run_id: String,
    pub table: String,
    pub mode: WriteMode,
    pub key: Vec<String>,
    /// The query's output columns (ferry's own `_ferry_*` columns removed).
    pub schema: SchemaRef,
    /// Incremental loads: the watermark saved in `_ferry_state` in the load's transaction, read
    /// once the stream has ended.
    pub watermark: Option<Arc<Watermark>>,
    /// How a replace publishes over an existing table.
    pub publish: Publish,
    /// Writers of the rows at once, where the engine can (a PostgreSQL swap, Parquet files).
    pub writers: usize,
}

/// What a load published.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Rows written (inserted, updated, or merged unchanged), as the target counted them.
    pub rows: u64,
    /// Of those, rows whose key the table already held and whose values changed (merge only).
    pub updated: u64,
    /// Rows whose key the table already held with these very values (merge only).
    pub unchanged: u64,
    /// How a replace of an existing table was published (`swap` or `in place`), and why not
    /// swapped when it could not be; None when the engine has one way only.
    pub method: Option<&'static str>,
    pub note: Option<String>,
}

#[async_trait]
pub trait Sink: Send {
    /// The incremental state the target keeps for `migration`, or None when there is none or
    /// `table` is missing or empty (its rows are gone, so the state no longer describes them).
    async fn state(&mut self, migration: &str, table: &str) -> Result<Option<SavedState>>;
    /// Checks the target table against the query's output (or plans its creation) before any
    /// row moves, and returns the load, ready for its rows.
    async fn prepare(&mut self, spec: &LoadSpec) -> Result<Box<dyn PreparedLoad>>;
}

/// A load whose target has been checked: [`PreparedLoad::write_all`] consumes it, so it runs
/// once, after the checks, and nothing can be written to a target that was not prepared.
#[async_trait]
pub trait PreparedLoad: Send {
    /// The schema each batch must be cast to (with `sink::conform`).
    fn schema(&self) -> SchemaRef;
    /// Loads every row and reject of the stream and publishes them at once, with the watermark;
    /// on any error (the stream's included) the target is left as it was.
    async fn write_all(self: Box<Self>, rows: RowStream) -> Result<Loaded>;
    /// A digest of the rows this load sends that the database can compute over the published
    /// table itself, when the engine has one: the reconciliation of a replace then reads a
    /// count and a checksum instead of the whole table.
    fn digest(&self) -> Option<Box<dyn TableDigest>> {
        None
    }
}

/// Figures of rows that both ferry (over the rows it sends) and the target database (over the
/// table it published) compute: a row count and a checksum of whole rows.
#[async_trait]
pub trait TableDigest: Send {
    /// Folds in rows as they are sent (cast to the load's schema).
    fn add(&mut self, batch: &RecordBatch) -> Result<()>;
    /// The same digest with no row added yet, for another partition of the rows.
    fn fork(&self) -> Box<dyn TableDigest>;
    /// The rows added and their checksum, a wrapping sum that adds up across forks.
    fn figures(&self) -> (u64, u64);
    /// Adds a fork's figures.
    fn absorb(&mut self, figures: (u64, u64));
    /// Whether the published table's figures, computed by the database, are the rows'. False
    /// also when the database cannot compute them exactly as ferry did (a column type the
    /// digest does not cover): the caller then reads the table back.
    async fn matches(self: Box<Self>) -> Result<bool>;
}

/// The quarantine table's columns (`_ferry_rejects` in every target).
pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("migration", DataType::Utf8, false),
        Field::new("source_key", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("source_row", DataType::Utf8, false),
    ]))
}

pub use super::bookkeeping::REJECTS_TABLE;

/// A column of an existing target table, as the sink will write it.
#[derive(Clone, Debug)]
pub struct TargetColumn {
    pub name: String,
    /// The Arrow type values are cast to before they are written.
    pub data_type: DataType,
    /// The database's own name of the type, for messages.
    pub sql_type: String,
    pub not_null: bool,
    pub has_default: bool,
}

/// The column list of a `CREATE TABLE` for a target that does not exist yet (each column with
/// `sql_type`'s type, NOT NULL where the output cannot be NULL, and the key as primary key), and
/// the schema batches are cast to before they are written.
pub fn new_table_columns(
    spec: &LoadSpec,
    kind: &str,
    sql_type: impl Fn(&Field) -> Option<String>,
    quote: impl Fn(&str) -> String,
    write_type: impl Fn(&DataType) -> DataType,
) -> Result<(String, SchemaRef)> {
    let mut columns = Vec::new();
    let mut fields = Vec::new();
    for field in spec.schema.fields() {
        let column_type = sql_type(field).ok_or_else(|| FerryError::Value {
            migration: spec.migration.clone(),
            column: field.name().clone(),
            message: format!(
                "ferry cannot create a {kind} column for Arrow type {}; cast it in the query",
                field.data_type()
            ),
        })?;
        let not_null = if field.is_nullable() { "" } else { " NOT NULL" };
        columns.push(format!("{} {column_type}{not_null}", quote(field.name())));
        fields.push(field.as_ref().clone().with_data_type(write_type(field.data_type())));
    }
    if !spec.key.is_empty() {
        let key: Vec<String> = spec.key.iter().map(|k| quote(k)).collect();
        columns.push(format!("PRIMARY KEY ({})", key.join(", ")));
    }
    Ok((columns.join(", "), Arc::new(Schema::new(fields))))
}

/// Compares the query's output with an existing table; returns the schema to cast batches to
/// (target column names and types, output order), or an error listing every difference.
pub fn match_columns(spec: &LoadSpec, existing: &[TargetColumn]) -> Result<SchemaRef> {
    let mut differences = Vec::new();
    let mut fields = Vec::new();
    for field in spec.schema.fields() {
        let found = existing
            .iter()
            .find(|c| c.name == *field.name())
            .or_else(|| existing.iter().find(|c| c.name.eq_ignore_ascii_case(field.name())));
        match found {
            None => differences.push(format!("column `{}` ({}) is not in the table", field.name(), field.data_type())),
            Some(column) if !compatible(field.data_type(), &column.data_type) => differences.push(format!(
                "column `{}`: the query gives {}, the table has {}",
                field.name(),
                field.data_type(),
                column.sql_type
            )),
            Some(column) => fields.push(Field::new(&column.name, column.data_type.clone(), !column.not_null)),
        }
    }
    for column in existing {
        let given = spec.schema.fields().iter().any(|f| f.name().eq_ignore_ascii_case(&column.name));
        if !given && column.not_null && !column.has_default {
            differences.push(format!(
                "column `{}` ({}) is NOT NULL without a default and the query does not give it",
                column.name, column.sql_type
            ));
        }
    }
    if differences.is_empty() {
        Ok(Arc::new(Schema::new(fields)))
    } else {
        Err(FerryError::Schema {
            migration: spec.migration.clone(),
            table: spec.table.clone(),
            differences: differences.join("; "),
        })
    }
}

/// For targets that store date-times without a zone and write them in UTC (MySQL, SQLite): a
/// date-time column given instants (timestamps with a zone) takes them as UTC date-times.
pub fn instants_as_utc(spec: &LoadSpec, existing: Vec<TargetColumn>) -> Vec<TargetColumn> {
    existing
        .into_iter()
        .map(|mut column| {
            let given = spec.schema.fields().iter().find(|f| f.name().eq_ignore_ascii_case(&column.name));
            if let (Some(given), DataType::Timestamp(unit, None)) = (given, &column.data_type) {
                if let DataType::Timestamp(_, Some(_)) = given.data_type() {
                    column.data_type = DataType::Timestamp(*unit, Some("UTC".into()));
                }
            }
            column
        })
        .collect()
}

/// Whether values of type `from` can be stored in a column read as `to` without changing
/// meaning. Narrowing (bigint -> integer) is allowed here and checked value by value.
pub fn compatible(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let numeric = |t: &DataType| t.is_integer() || matches!(t, Decimal128(..) | Decimal256(..));
    match (from, to) {
        (Null, _) => true,
        (a, b) if a == b => true,
        (a, b) if numeric(a) && numeric(b) => true,
        (a, Float32 | Float64) if a.is_integer() || a.is_floating() || matches!(a, Decimal128(..)) => true,
        (Utf8 | LargeUtf8 | Utf8View, Utf8) => true,
        (Binary | LargeBinary | BinaryView, Binary) => true,
        (Timestamp(_, None), Timestamp(_, None)) => true,
        (Timestamp(_, Some(_)), Timestamp(_, Some(_))) => true,
        (Date32 | Date64, Date32) => true,
        (Date32 | Date64, Timestamp(_, None)) => true,
        (Time32(_) | Time64(_), Time64(_)) => true,
        (Boolean, Boolean) => true,
        _ => false,
    }
}

/// Runs a blocking `write` (a synchronous driver) on its own thread, feeding it the stream's
/// batches through a bounded channel so a slow database holds the reader back.
pub async fn feed_blocking<T: Send + 'static>(
    mut rows: RowStream,
    write: impl FnOnce(&mut dyn Iterator<Item = Result<SinkBatch>>) -> Result<T> + Send + 'static,
) -> Result<T> {
    use futures::StreamExt;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<SinkBatch>>(2);
    let writer = tokio::task::spawn_blocking(move || write(&mut std::iter::from_fn(|| rx.blocking_recv())));
    while let Some(batch) = rows.next().await {
        let failed = batch.is_err();
        if tx.send(batch).await.is_err() || failed {
            break; // the writer stopped (its error is returned below), or has the error to roll back on
        }
    }
    drop(tx);
    writer.await.map_err(FerryError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(fields: Vec<Field>) -> LoadSpec {
        LoadSpec {
            migration: "m".into(),
            run_id: "r".into(),
            table: "t".into(),
            mode: WriteMode::Replace,
            key: vec![],
            schema: Arc::new(Schema::new(fields)),
            watermark: None,
            publish: Publish::Auto,
            writers: 1,
        }
    }

    fn column(name: &str, data_type: DataType, sql_type: &str, not_null: bool) -> TargetColumn {
        TargetColumn { name: name.into(), data_type, sql_type: sql_type.into(), not_null, has_default: false }
    }

    #[test]
    fn lists_every_difference() {
        let spec = spec(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Int32, true),
            Field::new("extra", DataType::Utf8, true),
        ]);
        let existing = [
            column("id", DataType::Int32, "integer", true),
            column("name", DataType::Utf8, "text", false),
            column("must", DataType::Utf8, "text", true),
        ];
        let error = match_columns(&spec, &existing).unwrap_err().to_string();
        insta::assert_snapshot!(error);
    }
}
