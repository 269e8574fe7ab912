//! Counting the rows a table yields, for tables ferry does not scan itself (Parquet listing
//! tables): a `TableProvider` wrapper whose scan wraps the plan in [`CountedExec`].

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

use super::ReadCounter;

/// A table whose every scan adds its rows to a [`ReadCounter`].
#[derive(Debug)]
pub struct CountedTable {
    inner: Arc<dyn TableProvider>,
    counter: Arc<ReadCounter>,
}

impl CountedTable {
    pub fn new(inner: Arc<dyn TableProvider>, counter: Arc<ReadCounter>) -> Self {
        CountedTable { inner, counter }
    }
}

#[async_trait]
impl TableProvider for CountedTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let inner = self.inner.scan(state, projection, filters, limit).await?;
        Ok(Arc::new(CountedExec { inner, counter: self.counter.clone() }))
    }
}

/// Passes its child's batches through, counting their rows.
#[derive(Debug)]
pub struct CountedExec {
    inner: Arc<dyn ExecutionPlan>,
    counter: Arc<ReadCounter>,
}

impl DisplayAs for CountedExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "CountedExec")
    }
}

impl ExecutionPlan for CountedExec {
    fn name(&self) -> &str {
        "CountedExec"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn properties(&self) -> &PlanProperties {
        self.inner.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.inner]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        match children.pop() {
            Some(inner) if children.is_empty() => Ok(Arc::new(CountedExec { inner, counter: self.counter.clone() })),
            _ => Err(datafusion::error::DataFusionError::Internal("CountedExec takes exactly one child".into())),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let counter = self.counter.clone();
        let stream = self.inner.execute(partition, context)?;
        let schema = stream.schema();
        let counted = stream.inspect(move |batch| {
            if let Ok(batch) = batch {
                counter.add(batch.num_rows());
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, counted)))
    }
}
