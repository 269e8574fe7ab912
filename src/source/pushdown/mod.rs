//! Whole subqueries sent to the database that holds their tables. Once DataFusion has
//! resolved and typed a statement, every largest subtree that reads tables of one database connection only, and
//! uses only what that database computes exactly as DataFusion does ([`allow`]), becomes one
//! SQL statement (DataFusion's unparser, in the database's dialect) whose rows stream back as
//! the subtree's. Everything else still runs in DataFusion, over the pushed results.
//!
//! A plain scan is left alone: it already takes the projection, the filters and the limit, and
//! reads in parts. Only a subtree that joins, aggregates, sorts, limits or removes duplicates is
//! worth a statement of its own.

mod allow;
mod exec;
mod node;
mod sql;

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Result as DfResult;
use datafusion::config::ConfigOptions;
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::{Extension, Limit, LogicalPlan, Projection, Sort, SortExpr, TableScan};
use datafusion::optimizer::simplify_expressions::SimplifyExpressions;
use datafusion::optimizer::{AnalyzerRule, OptimizerContext, OptimizerRule};

use crate::db::{Pushdown, ReadCounter, SourceDatabase};
use crate::source::DatabaseTable;

use allow::Allow;
pub use node::PushedPlanner;
use node::PushedQuery;

/// The rule, run once per statement as the last of DataFusion's analyzer rules: after types
/// are coerced (every cast is written out) and before the optimizer reshapes the plan into
/// forms the unparser does not write back as SQL.
#[derive(Debug, Default)]
pub struct PushdownRule;

impl AnalyzerRule for PushdownRule {
    fn name(&self) -> &str {
        "ferry_pushdown"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> DfResult<LogicalPlan> {
        // Constants folded first (`CAST('2024-01-01' AS DATE)` becomes a date), as DataFusion
        // reads them rather than as the database would.
        let (simplify, context) = (SimplifyExpressions::new(), OptimizerContext::new());
        let plan = plan.transform_up(|node| simplify.rewrite(node, &context))?.data;
        let plan = plan.transform_down(limit_under_projection)?.data;
        Ok(push(plan)?.data)
    }
}

/// `LIMIT` over the select list over a sort (`SELECT a ... ORDER BY b LIMIT n`) made the
/// limit of the sort under the select list, which keeps the same rows: the database then
/// sorts and limits, and ferry projects the rows it keeps.
fn limit_under_projection(plan: LogicalPlan) -> DfResult<Transformed<LogicalPlan>> {
    let LogicalPlan::Limit(limit) = plan else {
        return Ok(Transformed::no(plan));
    };
    let LogicalPlan::Projection(projection) = limit.input.as_ref() else {
        return Ok(Transformed::no(LogicalPlan::Limit(limit)));
    };
    let row_wise = projection.expr.iter().all(|expr| !expr.is_volatile());
    if !row_wise || !matches!(projection.input.as_ref(), LogicalPlan::Sort(_)) {
        return Ok(Transformed::no(LogicalPlan::Limit(limit)));
    }
    let limited = LogicalPlan::Limit(Limit { input: projection.input.clone(), ..limit });
    let projected = Projection::try_new(projection.expr.clone(), Arc::new(limited))?;
    Ok(Transformed::yes(LogicalPlan::Projection(projected)))
}

/// Replaces the largest pushable subtrees, from the top down.
fn push(plan: LogicalPlan) -> DfResult<Transformed<LogicalPlan>> {
    if worth_pushing(&plan) {
        if let Some(target) = target(&plan) {
            if let Some(pushed) = pushed(&plan, target) {
                return Ok(Transformed::new(pushed, true, TreeNodeRecursion::Jump));
            }
        }
    }
    plan.map_children(push)
}

/// The database a whole subtree can be sent to.
struct Target {
    database: Arc<dyn SourceDatabase>,
    counter: Arc<ReadCounter>,
    rules: Pushdown,
    tables: Vec<String>,
}

fn target(plan: &LogicalPlan) -> Option<Target> {
    if let LogicalPlan::TableScan(scan) = plan {
        return scanned(scan);
    }
    let mut inputs = plan.inputs().into_iter();
    // A node without inputs other than a scan (VALUES, an empty relation) stays here.
    let mut found = target(inputs.next()?)?;
    for input in inputs {
        let other = target(input)?;
        if !Arc::ptr_eq(&found.database, &other.database) {
            return None;
        }
        found.tables.extend(other.tables);
    }
    // The database's row order reaches DataFusion only at the top of a statement (where the
    // sort is applied again): a node that would pass an inner order on stays here.
    let keeps_order =
        matches!(plan, LogicalPlan::Projection(_) | LogicalPlan::Filter(_) | LogicalPlan::SubqueryAlias(_));
    if keeps_order && plan.inputs().iter().any(|input| ordered(input)) {
        return None;
    }
    Allow::node(found.rules, plan).then_some(found)
}

/// A scan of a database table read plainly (not as a whole-database copy reads).
fn scanned(scan: &TableScan) -> Option<Target> {
    let provider = source_as_provider(&scan.source).ok()?;
    let table = provider.as_any().downcast_ref::<DatabaseTable>()?;
    let rules = table.database().pushdown()?;
    table.reads_plainly().then(|| Target {
        database: table.database().clone(),
        counter: table.counter().clone(),
        rules,
        tables: vec![table.name().to_string()],
    })
}

/// Whether the rows leave `plan` in an order a sort gave them.
fn ordered(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Sort(_) => true,
        LogicalPlan::Limit(_) | LogicalPlan::Projection(_) | LogicalPlan::Filter(_) | LogicalPlan::SubqueryAlias(_) => {
            plan.inputs().into_iter().any(ordered)
        }
        _ => false,
    }
}

/// The sort at the top of `plan` (under limits), which DataFusion applies again to the
/// database's rows.
fn top_sort(plan: &LogicalPlan) -> Option<Vec<SortExpr>> {
    match plan {
        LogicalPlan::Sort(sort) => Some(sort.expr.clone()),
        LogicalPlan::Limit(limit) => top_sort(&limit.input),
        _ => None,
    }
}

fn worth_pushing(plan: &LogicalPlan) -> bool {
    let mut found = false;
    let _ = plan.apply(|node| {
        found = matches!(
            node,
            LogicalPlan::Aggregate(_)
                | LogicalPlan::Join(_)
                | LogicalPlan::Sort(_)
                | LogicalPlan::Limit(_)
                | LogicalPlan::Distinct(_)
        );
        Ok(if found { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    });
    found && !plan.schema().fields().is_empty()
}

/// `plan` as one statement of `target`'s database; None where the unparser cannot write it.
fn pushed(plan: &LogicalPlan, target: Target) -> Option<LogicalPlan> {
    let database = target.database.as_ref();
    let inner_sql = match sql::statement(plan, database) {
        Ok(sql) => sql,
        Err(error) => {
            tracing::debug!(%error, "not pushed to {}: the unparser cannot write it", database.endpoint());
            return None;
        }
    };
    // Cast where the database computes a wider type than DataFusion (a `SUM`).
    let mut casts = false;
    let columns: Vec<String> = plan
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let name = database.quote(&sql::column_name(index));
            match database.cast_to(&name, field.data_type()) {
                Some(cast) => {
                    casts = true;
                    format!("{cast} AS {name}")
                }
                None => name,
            }
        })
        .collect();
    let sql = match casts {
        true => format!("SELECT {} FROM ({inner_sql}) AS {}", columns.join(", "), database.quote("ferry_pushed")),
        false => inner_sql,
    };
    let node = LogicalPlan::Extension(Extension {
        node: Arc::new(PushedQuery {
            database: target.database.clone(),
            counter: target.counter,
            tables: target.tables.join(", "),
            sql,
            original: plan.clone(),
        }),
    });
    Some(match top_sort(plan) {
        Some(expr) => LogicalPlan::Sort(Sort { expr, input: Arc::new(node), fetch: None }),
        None => node,
    })
}
