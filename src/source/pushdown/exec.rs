//! Running a pushed statement, with DataFusion's own plan of the same subtree behind it: when
//! the database refuses the statement or fails before its first row (SQL the unparser wrote
//! that this database does not take, an integer overflow it reports where DataFusion wraps),
//! ferry computes the subtree itself, so pushing down never changes what a query returns.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;

/// One partition: the database's rows, else `fallback`'s.
#[derive(Debug)]
pub(super) struct PushedExec {
    read: Arc<dyn ExecutionPlan>,
    /// Already optimized; not a child, so that no rule plans it again.
    fallback: Arc<dyn ExecutionPlan>,
    /// Where the statement goes, for messages.
    database: String,
    properties: PlanProperties,
    /// `fallbacks`: 1 where ferry computed the rows (`EXPLAIN ANALYZE` shows it).
    metrics: ExecutionPlanMetricsSet,
}

impl PushedExec {
    pub fn new(read: Arc<dyn ExecutionPlan>, fallback: Arc<dyn ExecutionPlan>, database: String) -> Self {
        let fallback: Arc<dyn ExecutionPlan> = match fallback.properties().output_partitioning().partition_count() {
            1 => fallback,
            _ => Arc::new(CoalescePartitionsExec::new(fallback)),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(read.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        PushedExec { read, fallback, database, properties, metrics: ExecutionPlanMetricsSet::new() }
    }
}

impl DisplayAs for PushedExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.read.fmt_as(format, f)
    }
}

impl ExecutionPlan for PushedExec {
    fn name(&self) -> &str {
        "PushedExec"
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

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let mut read = self.read.execute(partition, context.clone())?;
        let (fallback, database, schema) = (self.fallback.clone(), self.database.clone(), self.schema());
        let conform = schema.clone();
        let fallbacks = MetricBuilder::new(&self.metrics).global_counter("fallbacks");
        let stream = futures::stream::once(async move {
            match read.next().await {
                Some(Err(error)) => match fallback.execute(0, context) {
                    Ok(rows) => {
                        tracing::warn!(%error, "the statement sent to {database} failed; ferry computes it instead");
                        fallbacks.add(1);
                        rows.map(move |batch| {
                            let batch = batch?;
                            Ok(RecordBatch::try_new(conform.clone(), batch.columns().to_vec())?)
                        })
                        .boxed()
                    }
                    Err(_) => futures::stream::iter([Err(error)]).boxed(),
                },
                Some(Ok(batch)) => futures::stream::iter([Ok(batch)]).chain(read).boxed(),
                None => futures::stream::empty().boxed(),
            }
        })
        .flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
