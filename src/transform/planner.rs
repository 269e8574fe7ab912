//! DataFusion's physical planner plus ferry's own nodes: a subquery sent whole to its database
//! (`source::pushdown`), a cluster's result written as shards (`distributed`).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::error::Result as DfResult;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};

/// Plans the nodes its extension planners know; everything else as DataFusion does.
pub struct Planner(pub Vec<Arc<dyn ExtensionPlanner + Send + Sync>>);

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "Planner with {} extension planners", self.0.len())
    }
}

#[async_trait]
impl QueryPlanner for Planner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &SessionState,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(self.0.clone())
            .create_physical_plan(logical_plan, session_state)
            .await
    }
}
