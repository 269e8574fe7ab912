//! A subquery sent whole to one database: the logical node that stands for it, and its
//! physical plan, one read of the statement's rows.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::DFSchemaRef;
use datafusion::error::Result as DfResult;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};

use super::exec::PushedExec;
use crate::db::{ReadCounter, ReadRequest, SourceDatabase};
use crate::source::table::DatabaseScanExec;

/// Rows computed by the database: `sql` yields, by position, the columns of `original`'s schema.
#[derive(Clone)]
pub struct PushedQuery {
    pub database: Arc<dyn SourceDatabase>,
    pub counter: Arc<ReadCounter>,
    /// The tables the statement reads, for messages.
    pub tables: String,
    pub sql: String,
    /// The subtree the statement stands for, which ferry computes if the database fails.
    pub original: LogicalPlan,
}

impl fmt::Debug for PushedQuery {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "PushedQuery({})", self.sql)
    }
}

impl PartialEq for PushedQuery {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.database, &other.database)
            && self.sql == other.sql
            && self.original.schema() == other.original.schema()
    }
}

impl Eq for PushedQuery {}

impl PartialOrd for PushedQuery {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.sql.partial_cmp(&other.sql)
    }
}

impl Hash for PushedQuery {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.sql.hash(state);
    }
}

impl UserDefinedLogicalNodeCore for PushedQuery {
    fn name(&self) -> &str {
        "DatabaseQuery"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.original.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "DatabaseQuery: {} sql=[{}]", self.database.endpoint(), self.sql)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, _inputs: Vec<LogicalPlan>) -> DfResult<Self> {
        Ok(self.clone())
    }
}

/// Plans [`PushedQuery`] nodes.
pub struct PushedPlanner;

#[async_trait]
impl ExtensionPlanner for PushedPlanner {
    async fn plan_extension(
        &self,
        planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        _physical_inputs: &[Arc<dyn ExecutionPlan>],
        session_state: &SessionState,
    ) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
        let Some(query) = node.as_any().downcast_ref::<PushedQuery>() else {
            return Ok(None);
        };
        let request = ReadRequest {
            table: query.tables.clone(),
            schema: Arc::new(query.original.schema().as_arrow().clone()),
            filter_sql: None,
            limit: None,
            part_sql: None,
            own_rows: false,
            zero_dates_as_null: false,
            query: Some(query.sql.clone()),
        };
        let read =
            DatabaseScanExec::new(query.database.clone(), vec![request], Default::default(), query.counter.clone());
        // Optimized only: the analyzer (which holds the pushdown rule) has run on it.
        let optimized = session_state.optimizer().optimize(query.original.clone(), session_state, |_, _| {})?;
        let fallback = planner.create_physical_plan(&optimized, session_state).await?;
        let database = query.database.endpoint().to_string();
        Ok(Some(Arc::new(PushedExec::new(Arc::new(read), fallback, database))))
    }
}
