//! A database table as a DataFusion `TableProvider`: the scan sends only the projected columns,
//! the filters that are safe to push down, and the limit to the database.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, ScalarValue, Statistics};
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, Operator, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use datafusion::sql::unparser::Unparser;
use futures::StreamExt;

use crate::db::{comparison, ReadCounter, ReadRequest, Reading, SizeEstimate, SourceDatabase};

/// One table of a source database.
#[derive(Debug)]
pub struct DatabaseTable {
    database: Arc<dyn SourceDatabase>,
    table: String,
    schema: SchemaRef,
    estimate: SizeEstimate,
    counter: Arc<ReadCounter>,
    own_rows: bool,
    zero_dates_as_null: bool,
}

impl DatabaseTable {
    pub fn new(
        database: Arc<dyn SourceDatabase>,
        table: String,
        schema: SchemaRef,
        estimate: SizeEstimate,
        counter: Arc<ReadCounter>,
    ) -> Self {
        DatabaseTable { database, table, schema, estimate, counter, own_rows: false, zero_dates_as_null: false }
    }

    pub fn database(&self) -> &Arc<dyn SourceDatabase> {
        &self.database
    }

    /// The table as its database names it.
    pub fn name(&self) -> &str {
        &self.table
    }

    pub fn counter(&self) -> &Arc<ReadCounter> {
        &self.counter
    }

    /// Whether the table is read as it is (not as a whole-database copy reads it).
    pub fn reads_plainly(&self) -> bool {
        !self.own_rows && !self.zero_dates_as_null
    }

    /// Reads as a whole-database copy does.
    pub fn reading(mut self, reading: &Reading) -> Self {
        self.own_rows = reading.own_rows.contains(&self.table);
        self.zero_dates_as_null = reading.zero_dates_as_null;
        if self.zero_dates_as_null {
            // A date column may hold a zero date, read as NULL.
            let fields = self.schema.fields().iter().map(|field| match field.data_type() {
                DataType::Date32 | DataType::Timestamp(..) => Arc::new(field.as_ref().clone().with_nullable(true)),
                _ => field.clone(),
            });
            self.schema =
                Arc::new(Schema::new_with_metadata(fields.collect::<Vec<_>>(), self.schema.metadata().clone()));
        }
        self
    }
}

/// Inexact statistics from a catalog estimate.
fn statistics(schema: &Schema, estimate: SizeEstimate) -> Statistics {
    let mut statistics = Statistics::new_unknown(schema);
    if let Some(rows) = estimate.rows {
        statistics.num_rows = Precision::Inexact(rows);
    }
    if let Some(bytes) = estimate.bytes {
        statistics.total_byte_size = Precision::Inexact(bytes);
    }
    statistics
}

#[async_trait]
impl TableProvider for DatabaseTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn statistics(&self) -> Option<Statistics> {
        Some(statistics(&self.schema, self.estimate))
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Inexact: DataFusion applies every filter again, so a database whose comparison is
        // looser (MySQL's case-insensitive `=`) still gives the right answer. Only filters whose
        // database result is a superset of DataFusion's are pushed.
        Ok(filters
            .iter()
            .map(|filter| {
                if pushable(filter, &self.schema) {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let schema = match projection {
            Some(indices) => Arc::new(self.schema.project(indices)?),
            None => self.schema.clone(),
        };
        let pushed: Vec<String> = filters
            .iter()
            .filter(|f| pushable(f, &self.schema))
            .filter_map(|f| unparse(f, self.database.as_ref(), &self.schema))
            .collect();
        let filter_sql = (!pushed.is_empty()).then(|| pushed.join(" AND "));
        // A limit is only safe when no filter is left for DataFusion to apply after the read.
        let limit = if filters.is_empty() { limit } else { None };
        let request = ReadRequest {
            table: self.table.clone(),
            schema: schema.clone(),
            filter_sql,
            limit,
            part_sql: None,
            own_rows: self.own_rows,
            zero_dates_as_null: self.zero_dates_as_null,
            query: None,
        };
        // A table is read in parts when the session asks for several and its database can split
        // it; with `partitions = "auto"`, a small table in fewer.
        let wanted = match state.config().get_extension::<SplitBySize>() {
            Some(_) => auto_parts(self.estimate, state.config().target_partitions()),
            None => state.config().target_partitions(),
        };
        let parts =
            if wanted > 1 && limit.is_none() { self.database.split(&self.table, wanted).await? } else { vec![] };
        let requests = if parts.is_empty() {
            vec![request]
        } else {
            parts.into_iter().map(|part| ReadRequest { part_sql: Some(part), ..request.clone() }).collect()
        };
        Ok(Arc::new(DatabaseScanExec::new(self.database.clone(), requests, self.estimate, self.counter.clone())))
    }
}

/// Rows (or, where the database only knows a table's size, bytes) that make a part worth its
/// own connection, with `partitions = "auto"`.
const ROWS_PER_PART: usize = 100_000;
const BYTES_PER_PART: usize = 8 << 20;

/// Marks a session whose tables are read in parts by their size (`partitions = "auto"`).
#[derive(Debug)]
pub struct SplitBySize;

/// The parts of a table of `estimate`'s size, read by a query of `partitions` partitions (one
/// per core): one while the size is unknown. The larger of the two estimates counts (a row count
/// is stale after a bulk load until the next ANALYZE; the size is not). At most half the
/// partitions: each part is also a database backend producing its rows, and the loads' own
/// backends need cores too (on 2 cores, with the databases on the same machine, users
/// PostgreSQL -> PostgreSQL took 1.75 s in one part and 2.00 s in two).
pub fn auto_parts(estimate: SizeEstimate, partitions: usize) -> usize {
    let by_rows = estimate.rows.unwrap_or(0) / ROWS_PER_PART;
    let by_bytes = estimate.bytes.unwrap_or(0) / BYTES_PER_PART;
    by_rows.max(by_bytes).clamp(1, (partitions / 2).max(1))
}

/// Filters whose pushed-down result is a superset of DataFusion's own.
fn pushable(expr: &Expr, schema: &Schema) -> bool {
    let column_type = |expr: &Expr| match expr {
        Expr::Column(c) => schema.field_with_name(&c.name).ok().map(|f| f.data_type().clone()),
        _ => None,
    };
    match expr {
        Expr::IsNull(inner) | Expr::IsNotNull(inner) => column_type(inner).is_some(),
        Expr::BinaryExpr(binary) => match binary.op {
            Operator::And | Operator::Or => pushable(&binary.left, schema) && pushable(&binary.right, schema),
            Operator::Eq | Operator::NotEq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => {
                let (column, literal) = match (&*binary.left, &*binary.right) {
                    (c @ Expr::Column(_), Expr::Literal(v, _)) | (Expr::Literal(v, _), c @ Expr::Column(_)) => (c, v),
                    _ => return false,
                };
                match (column_type(column), literal) {
                    (Some(t), v) if t.is_integer() || t.is_floating() || matches!(t, DataType::Decimal128(..)) => {
                        is_numeric_literal(v)
                    }
                    // Text ordering depends on collations; only equality is a safe superset.
                    (Some(DataType::Utf8), ScalarValue::Utf8(Some(_))) => binary.op == Operator::Eq,
                    // Dates and date-times, the usual incremental cursors (see `temporal`).
                    (Some(t), v) if t.is_temporal() => binary.op != Operator::NotEq && temporal_value(v, &t).is_some(),
                    _ => false,
                }
            }
            _ => false,
        },
        _ => false,
    }
}

fn is_numeric_literal(value: &ScalarValue) -> bool {
    !value.is_null()
        && matches!(
            value,
            ScalarValue::Int8(_)
                | ScalarValue::Int16(_)
                | ScalarValue::Int32(_)
                | ScalarValue::Int64(_)
                | ScalarValue::UInt8(_)
                | ScalarValue::UInt16(_)
                | ScalarValue::UInt32(_)
                | ScalarValue::UInt64(_)
                | ScalarValue::Float32(_)
                | ScalarValue::Float64(_)
                | ScalarValue::Decimal128(..)
        )
}

/// A date or date-time literal of the column's own type, as a UTC date-time (dates at midnight).
/// Years outside 1..=9999 are left to DataFusion: not every database reads them back.
fn temporal_value(value: &ScalarValue, column: &DataType) -> Option<(chrono::NaiveDateTime, bool)> {
    use chrono::Datelike;
    let micros = match (value, column) {
        (ScalarValue::Date32(Some(days)), DataType::Date32) => *days as i64 * 86_400_000_000,
        (ScalarValue::TimestampMicrosecond(Some(v), zone), DataType::Timestamp(TimeUnit::Microsecond, z))
            if zone.is_some() == z.is_some() =>
        {
            *v
        }
        _ => return None,
    };
    let at = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
    (1..=9999).contains(&at.year()).then_some((at, matches!(column, DataType::Date32)))
}

/// Writes a filter in the database's SQL, with bare column names.
fn unparse(expr: &Expr, database: &dyn SourceDatabase, schema: &Schema) -> Option<String> {
    match expr {
        Expr::BinaryExpr(binary) if matches!(binary.op, Operator::And | Operator::Or) => Some(format!(
            "({}) {} ({})",
            unparse(&binary.left, database, schema)?,
            binary.op,
            unparse(&binary.right, database, schema)?
        )),
        Expr::BinaryExpr(binary) => match (&*binary.left, &*binary.right) {
            (Expr::Column(c), Expr::Literal(v, _)) => temporal(database, schema, &c.name, binary.op, v),
            (Expr::Literal(v, _), Expr::Column(c)) => temporal(database, schema, &c.name, binary.op.swap()?, v),
            _ => None,
        }
        .or_else(|| unparse_leaf(expr, database)),
        _ => unparse_leaf(expr, database),
    }
}

/// A date or date-time comparison in the database's terms. PostgreSQL and MySQL compare exactly
/// (a MySQL TIMESTAMP, read as an instant, through UNIX_TIMESTAMP). SQLite keeps date-times as
/// text or Unix seconds, so it gets a test a little looser than the exact one, which DataFusion
/// applies after the read.
fn temporal(
    database: &dyn SourceDatabase,
    schema: &Schema,
    column: &str,
    op: Operator,
    value: &ScalarValue,
) -> Option<String> {
    let field = schema.field_with_name(column).ok()?;
    let (at, is_date) = temporal_value(value, field.data_type())?;
    comparison(op)?;
    let zoned = matches!(field.data_type(), DataType::Timestamp(_, Some(_)));
    Some(database.compare_time(&database.quote(column), op, at, is_date, zoned))
}

/// Writes a comparison in the database's SQL through DataFusion's unparser, with bare column names.
fn unparse_leaf(expr: &Expr, database: &dyn SourceDatabase) -> Option<String> {
    let bare = expr
        .clone()
        .transform(|e| {
            Ok(match e {
                Expr::Column(c) => Transformed::yes(Expr::Column(Column::new_unqualified(c.name))),
                other => Transformed::no(other),
            })
        })
        .ok()?
        .data;
    let dialect = database.unparser_dialect();
    Unparser::new(dialect.as_ref()).expr_to_sql(&bare).ok().map(|ast| ast.to_string())
}

/// The physical scan: one partition per part of the table, each streaming from the database.
#[derive(Debug)]
pub struct DatabaseScanExec {
    database: Arc<dyn SourceDatabase>,
    /// One per partition; never empty.
    requests: Vec<ReadRequest>,
    estimate: SizeEstimate,
    counter: Arc<ReadCounter>,
    properties: PlanProperties,
}

impl DatabaseScanExec {
    pub(crate) fn new(
        database: Arc<dyn SourceDatabase>,
        requests: Vec<ReadRequest>,
        estimate: SizeEstimate,
        counter: Arc<ReadCounter>,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(requests[0].schema.clone()),
            Partitioning::UnknownPartitioning(requests.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        DatabaseScanExec { database, requests, estimate, counter, properties }
    }
}

impl DisplayAs for DatabaseScanExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let request = &self.requests[0];
        if let Some(query) = &request.query {
            return write!(f, "DatabaseScanExec: {} query=[{query}]", self.database.endpoint());
        }
        let columns: Vec<&str> = request.schema.fields().iter().map(|f| f.name().as_str()).collect();
        write!(
            f,
            "DatabaseScanExec: {} table={} columns=[{}]",
            self.database.endpoint(),
            request.table,
            columns.join(", ")
        )?;
        if let Some(filter) = &request.filter_sql {
            write!(f, " filter=[{filter}]")?;
        }
        if let Some(limit) = request.limit {
            write!(f, " limit={limit}")?;
        }
        if self.requests.len() > 1 {
            write!(f, " parts={}", self.requests.len())?;
        }
        Ok(())
    }
}

impl ExecutionPlan for DatabaseScanExec {
    fn name(&self) -> &str {
        "DatabaseScanExec"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn properties(&self) -> &PlanProperties {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn partition_statistics(&self, _partition: Option<usize>) -> DfResult<Statistics> {
        Ok(statistics(&self.requests[0].schema, self.estimate))
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let request = self.requests.get(partition).cloned().ok_or_else(|| {
            datafusion::error::DataFusionError::Internal(format!("no partition {partition} of the scan"))
        })?;
        let counter = self.counter.clone();
        let schema = request.schema.clone();
        let stream = self.database.read(request).inspect(move |batch| {
            if let Ok(batch) = batch {
                counter.add(batch.num_rows());
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_parts_follow_the_size_up_to_the_cores() {
        let rows = |rows| SizeEstimate { rows: Some(rows), bytes: None };
        assert_eq!(auto_parts(rows(3_000), 16), 1);
        assert_eq!(auto_parts(rows(250_000), 16), 2);
        assert_eq!(auto_parts(rows(5_000_000), 16), 8);
        assert_eq!(auto_parts(rows(5_000_000), 4), 2);
        assert_eq!(auto_parts(rows(5_000_000), 2), 1);
        // Only the size known (PostgreSQL before the first ANALYZE): by bytes.
        assert_eq!(auto_parts(SizeEstimate { rows: None, bytes: Some(40 << 20) }, 16), 5);
        assert_eq!(auto_parts(SizeEstimate { rows: Some(1_000), bytes: Some(40 << 20) }, 16), 5);
        assert_eq!(auto_parts(SizeEstimate::default(), 16), 1);
        assert_eq!(auto_parts(rows(5_000_000), 0), 1);
    }
}
