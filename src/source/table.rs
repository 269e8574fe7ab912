//! A database table as a DataFusion `TableProvider`: the scan sends only the projected columns,
//! the filters that are safe to push down, and the limit to the database.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, SchemaRef};
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
use datafusion::sql::unparser::dialect::{MySqlDialect, PostgreSqlDialect, SqliteDialect};
use datafusion::sql::unparser::Unparser;
use futures::StreamExt;

use super::{Dialect, ReadCounter, ReadRequest, SizeEstimate, SourceDatabase, TEXT_FORM};

/// One table of a source database.
#[derive(Debug)]
pub struct DatabaseTable {
    database: Arc<dyn SourceDatabase>,
    table: String,
    schema: SchemaRef,
    estimate: SizeEstimate,
    counter: Arc<ReadCounter>,
}

impl DatabaseTable {
    pub fn new(
        database: Arc<dyn SourceDatabase>,
        table: String,
        schema: SchemaRef,
        estimate: SizeEstimate,
        counter: Arc<ReadCounter>,
    ) -> Self {
        DatabaseTable { database, table, schema, estimate, counter }
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
        _state: &dyn Session,
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
            .filter_map(|f| unparse(f, self.database.dialect()))
            .collect();
        let filter_sql = (!pushed.is_empty()).then(|| pushed.join(" AND "));
        // A limit is only safe when no filter is left for DataFusion to apply after the read.
        let limit = if filters.is_empty() { limit } else { None };
        let request = ReadRequest { table: self.table.clone(), schema: schema.clone(), filter_sql, limit };
        Ok(Arc::new(DatabaseScanExec::new(self.database.clone(), request, self.estimate, self.counter.clone())))
    }
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
                | ScalarValue::Float64(_)
        )
}

/// Writes a filter in the database's SQL, with bare column names.
fn unparse(expr: &Expr, dialect: Dialect) -> Option<String> {
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
    let sql = match dialect {
        Dialect::Postgres => Unparser::new(&PostgreSqlDialect {}).expr_to_sql(&bare),
        Dialect::Mysql => Unparser::new(&MySqlDialect {}).expr_to_sql(&bare),
        Dialect::Sqlite => Unparser::new(&SqliteDialect {}).expr_to_sql(&bare),
    };
    sql.ok().map(|ast| ast.to_string())
}

/// The physical scan: one partition streaming from the database.
#[derive(Debug)]
pub struct DatabaseScanExec {
    database: Arc<dyn SourceDatabase>,
    request: ReadRequest,
    estimate: SizeEstimate,
    counter: Arc<ReadCounter>,
    properties: PlanProperties,
}

impl DatabaseScanExec {
    fn new(
        database: Arc<dyn SourceDatabase>,
        request: ReadRequest,
        estimate: SizeEstimate,
        counter: Arc<ReadCounter>,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(request.schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        DatabaseScanExec { database, request, estimate, counter, properties }
    }
}

impl DisplayAs for DatabaseScanExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let columns: Vec<&str> = self.request.schema.fields().iter().map(|f| f.name().as_str()).collect();
        write!(
            f,
            "DatabaseScanExec: {} table={} columns=[{}]",
            self.database.endpoint(),
            self.request.table,
            columns.join(", ")
        )?;
        if let Some(filter) = &self.request.filter_sql {
            write!(f, " filter=[{filter}]")?;
        }
        if let Some(limit) = self.request.limit {
            write!(f, " limit={limit}")?;
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
        Ok(statistics(&self.request.schema, self.estimate))
    }

    fn execute(&self, _partition: usize, _context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let counter = self.counter.clone();
        let stream = self.database.read(self.request.clone()).inspect(move |batch| {
            if let Ok(batch) = batch {
                counter.add(batch.num_rows());
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.request.schema.clone(), stream)))
    }
}

/// `SELECT <columns> FROM <table> [WHERE ...] [LIMIT n]`; a column marked [`TEXT_FORM`] is read
/// through the database's cast to text.
pub fn select_sql(database: &dyn SourceDatabase, request: &ReadRequest) -> String {
    let columns: Vec<String> = request
        .schema
        .fields()
        .iter()
        .map(|field| {
            let quoted = database.quote(field.name());
            match field.metadata().get(TEXT_FORM) {
                Some(source_type) => database.text_form(&quoted, source_type),
                None => quoted,
            }
        })
        .collect();
    let columns = if columns.is_empty() { "1 AS _ferry_none".to_string() } else { columns.join(", ") };
    let mut sql = format!("SELECT {columns} FROM {}", quote_table(database, &request.table));
    if let Some(filter) = &request.filter_sql {
        sql.push_str(" WHERE ");
        sql.push_str(filter);
    }
    if let Some(limit) = request.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    sql
}

/// Quotes `table` or `schema.table`.
pub fn quote_table(database: &dyn SourceDatabase, table: &str) -> String {
    table.split('.').map(|part| database.quote(part)).collect::<Vec<_>>().join(".")
}
