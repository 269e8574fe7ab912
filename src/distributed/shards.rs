//! A migration's result written by the cluster as Parquet shards, every partition of the
//! query's last stage by the task that computes it, at once: DataFusion's own file sink takes
//! one partition (one task writes everything), so ferry sends its own node, [`ShardWrite`], which
//! the scheduler plans as [`ShardWriteExec`] (through [`ShardPlanner`]) and the codecs in `codec.rs`
//! carry from client to scheduler to executors. Each task answers with the rows it wrote.

use std::cmp::Ordering;
use std::fmt;
use std::sync::{Arc, LazyLock};

use arrow::array::UInt64Array;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::common::{DFSchema, DFSchemaRef, DataFusionError};
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, SessionState, TaskContext};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning, PlanProperties,
};
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use futures::StreamExt;

use crate::db::parquet::files::FileRoller;
use crate::db::parquet::store::object_store;

/// What each writing task answers: the rows it wrote.
static WRITTEN: LazyLock<SchemaRef> =
    LazyLock::new(|| Arc::new(Schema::new(vec![Field::new("rows", DataType::UInt64, false)])));

/// Writes the rows of `input` under `folder` (a URL every executor can reach), each partition
/// into files of its own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShardWrite {
    pub input: LogicalPlan,
    pub folder: String,
    schema: DFSchemaRef,
}

impl ShardWrite {
    pub fn new(input: LogicalPlan, folder: String) -> DfResult<ShardWrite> {
        let schema = Arc::new(DFSchema::try_from(WRITTEN.as_ref().clone())?);
        Ok(ShardWrite { input, folder, schema })
    }

    /// The plan that writes `input`'s rows.
    pub fn plan(input: LogicalPlan, folder: String) -> DfResult<LogicalPlan> {
        Ok(LogicalPlan::Extension(Extension { node: Arc::new(ShardWrite::new(input, folder)?) }))
    }
}

impl PartialOrd for ShardWrite {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.folder.partial_cmp(&other.folder) {
            Some(Ordering::Equal) => self.input.partial_cmp(&other.input),
            order => order,
        }
    }
}

impl UserDefinedLogicalNodeCore for ShardWrite {
    fn name(&self) -> &str {
        "ShardWrite"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ShardWrite: folder={}", self.folder)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> DfResult<Self> {
        let input =
            inputs.into_iter().next().ok_or_else(|| DataFusionError::Internal("ShardWrite needs its input".into()))?;
        ShardWrite::new(input, self.folder.clone())
    }
}

/// The scheduler's extension planner: [`ShardWrite`] nodes become [`ShardWriteExec`].
pub struct ShardPlanner;

#[async_trait]
impl ExtensionPlanner for ShardPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session_state: &SessionState,
    ) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
        let Some(write) = node.as_any().downcast_ref::<ShardWrite>() else {
            return Ok(None);
        };
        let input = physical_inputs
            .first()
            .cloned()
            .ok_or_else(|| DataFusionError::Internal("ShardWrite planned without its input".into()))?;
        Ok(Some(Arc::new(ShardWriteExec::new(input, write.folder.clone()))))
    }
}

/// Partition `n` of the input written as `shard-<n>-<k>.parquet` files under the folder; its
/// one output row, the rows written. A task run again (an executor lost) writes the same names.
#[derive(Debug)]
pub struct ShardWriteExec {
    pub input: Arc<dyn ExecutionPlan>,
    pub folder: String,
    properties: PlanProperties,
}

impl ShardWriteExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, folder: String) -> ShardWriteExec {
        let partitions = input.output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(WRITTEN.clone()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        ShardWriteExec { input, folder, properties }
    }
}

impl DisplayAs for ShardWriteExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ShardWriteExec: folder={}", self.folder)
    }
}

impl ExecutionPlan for ShardWriteExec {
    fn name(&self) -> &str {
        "ShardWriteExec"
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn properties(&self) -> &PlanProperties {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        let input = children
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Internal("ShardWriteExec needs its input".into()))?;
        Ok(Arc::new(ShardWriteExec::new(input, self.folder.clone())))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let mut rows = self.input.execute(partition, context)?;
        let url = url::Url::parse(&self.folder).map_err(|e| DataFusionError::Plan(format!("{}: {e}", self.folder)))?;
        // The store is made here, from this machine's environment: no credential is in the plan.
        let (store, folder) = object_store(&url).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let schema = self.input.schema();
        let written = async move {
            let mut roller = FileRoller::named(store, folder, schema, &format!("shard-{partition:04}-"));
            let mut count = 0u64;
            while let Some(batch) = rows.next().await {
                let batch = batch?;
                count += batch.num_rows() as u64;
                roller.write(&batch).await.map_err(DataFusionError::Execution)?;
            }
            // The first partition leaves a file even for no rows, so that the result has a schema.
            roller.finish(partition == 0).await.map_err(DataFusionError::Execution)?;
            Ok(RecordBatch::try_new(WRITTEN.clone(), vec![Arc::new(UInt64Array::from(vec![count]))])?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(WRITTEN.clone(), futures::stream::once(written))))
    }
}
