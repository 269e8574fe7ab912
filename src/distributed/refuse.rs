//! Plans the cluster would answer wrongly, refused before they are sent. Ballista 50 decodes a
//! join that compares NULLs as equal (what `EXCEPT` and `INTERSECT` become) as one that does not,
//! and returns wrong rows without an error (apache/datafusion-ballista issue 2046, fixed only with
//! DataFusion 54.1); the cluster tests showed it. The plan is checked as the cluster receives it.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::NullEquality;
use datafusion::logical_expr::LogicalPlan;

use crate::error::{FerryError, Result};

/// An error naming what the cluster cannot be trusted with in `plan`, if anything.
pub fn refuse_wrong_answers(plan: &LogicalPlan, what: &str) -> Result<()> {
    let mut nulls_equal = false;
    plan.apply(|node| {
        if let LogicalPlan::Join(join) = node {
            nulls_equal |= join.null_equality == NullEquality::NullEqualsNull;
        }
        Ok(if nulls_equal { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    })
    .map_err(FerryError::from)?;
    match nulls_equal {
        false => Ok(()),
        true => Err(FerryError::Job(format!(
            "{what} uses EXCEPT or INTERSECT (a join whose NULLs match), which the cluster (Ballista 50) \
             answers wrongly: it loses that NULLs match when it decodes the plan. Run it without \
             --cluster, or write the NULL case out (e.g. NOT EXISTS with IS NOT DISTINCT FROM)"
        ))),
    }
}
