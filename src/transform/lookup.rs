//! Lookup joins on a small integer key, with a bitmap instead of a hash table.
//!
//! A query that looks rows up in another table by its key, keeping only that key to see whether
//! it matched (`orders LEFT JOIN users u ON u.user_id = o.user_id ... u.user_id IS NULL`), is
//! planned by DataFusion as a hash join holding every looked-up key in a hash table: measured,
//! RSS grew from 120 MB at 1M users to 240 MB at 5M. When the looked-up side is one integer
//! column of at most 32 bits, the join needs only the set of its values: `LookupJoinRule` puts
//! `LookupJoinExec` in the hash join's place, which keeps them in a roaring bitmap (a bit per
//! dense key, 2 bytes per sparse one, 512 MB at the very most) and counts the keys that occur
//! more than once, so that every row comes out exactly as the hash join would give it.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::{make_array, Array, ArrayRef, AsArray, BooleanArray, RecordBatch, UInt32Array};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{JoinType, NullEquality};
use datafusion::config::ConfigOptions;
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::{CastExpr, Column};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExprRef};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::{StreamExt, TryStreamExt};
use roaring::RoaringBitmap;

/// Replaces each hash join that only looks keys up (see the module) with a `LookupJoinExec`.
#[derive(Debug, Default)]
pub struct LookupJoinRule;

impl PhysicalOptimizerRule for LookupJoinRule {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> DfResult<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let lookup = node.as_any().downcast_ref::<HashJoinExec>().and_then(LookupJoinExec::replacing);
            Ok(match lookup {
                Some(lookup) => Transformed::yes(Arc::new(lookup) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "ferry_lookup_join"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The build side's keys: each value once in the bitmap, and how many more times it occurs.
#[derive(Debug, Default)]
struct Keys {
    present: RoaringBitmap,
    extra: HashMap<u32, u32>,
}

/// A join of the probe side with a build side that holds only an integer key: keeping every
/// probe row (the hash join's Right or Left join, by which side was its left) or an inner join.
#[derive(Clone, Debug)]
pub struct LookupJoinExec {
    build: Arc<dyn ExecutionPlan>,
    probe: Arc<dyn ExecutionPlan>,
    build_key: PhysicalExprRef,
    probe_key: PhysicalExprRef,
    /// Whether probe rows without a match come out (build columns NULL), as in the hash join's
    /// Right or Left join, or are dropped, as in its Inner join.
    keep_unmatched: bool,
    /// Whether the build column is signed (its values are shifted into u32 order).
    signed: bool,
    /// Whether the build side's columns come first in the joined rows (it was the hash join's
    /// left side) or last.
    build_first: bool,
    /// The join's rows before its projection: the hash join's left columns, then its right ones.
    joined: SchemaRef,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    keys: Arc<tokio::sync::OnceCell<Arc<Keys>>>,
    properties: PlanProperties,
}

impl LookupJoinExec {
    /// The lookup doing `join`'s work, when `join` is one.
    fn replacing(join: &HashJoinExec) -> Option<LookupJoinExec> {
        let [(left_key, right_key)] = join.on() else { return None };
        // In a partitioned join both sides are split by the key's hash, so the keys of all
        // build partitions in one bitmap answer every probe partition as its own would.
        let plain = matches!(join.partition_mode(), PartitionMode::CollectLeft | PartitionMode::Partitioned)
            && join.filter().is_none()
            && join.null_equality() == NullEquality::NullEqualsNothing;
        if !plain {
            return None;
        }
        let keys_only = |side: &Arc<dyn ExecutionPlan>, key: &PhysicalExprRef| {
            key_domain(side).filter(|_| same_value(key, &side.schema()).is_some())
        };
        // Whichever side holds only the key is kept as a bitmap, whatever its size: DataFusion
        // picks a hash join's build side by the tables' size estimates, which may be stale.
        let (left, right) = (keys_only(join.left(), left_key), keys_only(join.right(), right_key));
        let (build_first, signed, keep_unmatched) = match (join.join_type(), left, right) {
            (JoinType::Right, Some(signed), _) => (true, signed, true),
            (JoinType::Left, _, Some(signed)) => (false, signed, true),
            (JoinType::Inner, Some(signed), _) => (true, signed, false),
            (JoinType::Inner, None, Some(signed)) => (false, signed, false),
            _ => return None,
        };
        let schema = join.schema();
        let (build, probe, build_key, probe_key, properties) = if build_first {
            // The rows come out as the hash join's would: same partitions, probe order.
            (join.left(), join.right(), left_key, right_key, join.properties().clone())
        } else {
            let parts = join.left().properties().output_partitioning().partition_count();
            if parts != join.right().properties().output_partitioning().partition_count() {
                return None;
            }
            let properties = PlanProperties::new(
                EquivalenceProperties::new(schema.clone()),
                Partitioning::UnknownPartitioning(parts),
                EmissionType::Incremental,
                Boundedness::Bounded,
            );
            (join.right(), join.left(), right_key, left_key, properties)
        };
        Some(LookupJoinExec {
            build: build.clone(),
            probe: probe.clone(),
            build_key: build_key.clone(),
            probe_key: probe_key.clone(),
            keep_unmatched,
            signed,
            build_first,
            joined: join.join_schema().clone(),
            projection: join.projection.clone(),
            schema,
            keys: Arc::default(),
            properties,
        })
    }
}

/// Whether every column of the build side holds one integer value of at most 32 bits (a column
/// alone, or it and lossless casts of it, as DataFusion projects it to match the probe's type):
/// then each is the join key itself. Some(signed) when so.
fn key_domain(build: &Arc<dyn ExecutionPlan>) -> Option<bool> {
    let schema = build.schema();
    if let [field] = &schema.fields()[..] {
        return signedness(field.data_type());
    }
    // Operators that move rows between batches or partitions leave the values as they are.
    let mut node = build;
    while ["CoalesceBatchesExec", "RepartitionExec", "CooperativeExec", "CoalescePartitionsExec"].contains(&node.name())
    {
        node = node.children().into_iter().next()?;
    }
    let projection = node.as_any().downcast_ref::<ProjectionExec>()?;
    let input = projection.input().schema();
    let [field] = &input.fields()[..] else { return None };
    let signed = signedness(field.data_type())?;
    projection.expr().iter().all(|p| same_value(&p.expr, &input).is_some()).then_some(signed)
}

/// `expr` is column `i` of `schema` or a lossless integer cast of it: Some(i).
fn same_value(expr: &PhysicalExprRef, schema: &SchemaRef) -> Option<usize> {
    if let Some(column) = expr.as_any().downcast_ref::<Column>() {
        return schema.field(column.index()).data_type().is_integer().then_some(column.index());
    }
    let cast = expr.as_any().downcast_ref::<CastExpr>()?;
    let column = cast.expr().as_any().downcast_ref::<Column>()?;
    let from = schema.field(column.index()).data_type();
    widens(from, cast.cast_type()).then_some(column.index())
}

/// Some(signed) for the integer types the bitmap holds (at most 32 bits).
fn signedness(data_type: &DataType) -> Option<bool> {
    match data_type {
        DataType::Int8 | DataType::Int16 | DataType::Int32 => Some(true),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => Some(false),
        _ => None,
    }
}

/// Whether every value of integer type `from` is a value of integer type `to`.
fn widens(from: &DataType, to: &DataType) -> bool {
    let (Some(f), Some(t)) = (from.primitive_width(), to.primitive_width()) else { return false };
    from.is_integer()
        && to.is_integer()
        && match (from.is_signed_integer(), to.is_signed_integer()) {
            (true, true) | (false, false) => t >= f,
            (false, true) => t > f,
            (true, false) => false,
        }
}

/// A key's place in the bitmap; None when it cannot be a value of the build column's type.
fn slot(value: i64, signed: bool) -> Option<u32> {
    let shifted = if signed { value.checked_sub(i32::MIN as i64)? } else { value };
    u32::try_from(shifted).ok()
}

fn key_values(expr: &PhysicalExprRef, batch: &RecordBatch) -> DfResult<ArrayRef> {
    let values = expr.evaluate(batch)?.into_array(batch.num_rows())?;
    Ok(arrow::compute::cast(&values, &DataType::Int64)?)
}

async fn collect_keys(
    build: Arc<dyn ExecutionPlan>,
    key: PhysicalExprRef,
    signed: bool,
    context: Arc<TaskContext>,
) -> DfResult<Arc<Keys>> {
    let mut keys = Keys::default();
    let mut batches = datafusion::physical_plan::execute_stream(build, context)?;
    while let Some(batch) = batches.next().await {
        let values = key_values(&key, &batch?)?;
        for value in values.as_primitive::<Int64Type>().iter().flatten() {
            let Some(slot) = slot(value, signed) else { continue };
            if !keys.present.insert(slot) {
                *keys.extra.entry(slot).or_default() += 1;
            }
        }
    }
    Ok(Arc::new(keys))
}

impl LookupJoinExec {
    /// The probe batch joined: the build column (the probe's key where it matched, else NULL)
    /// followed by the probe's columns, each row repeated once per build row with its key.
    fn join(&self, keys: &Keys, batch: RecordBatch) -> DfResult<RecordBatch> {
        let probe_keys = key_values(&self.probe_key, &batch)?;
        let matches: Vec<Option<u32>> = probe_keys
            .as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.and_then(|v| slot(v, self.signed)).filter(|s| keys.present.contains(*s)))
            .collect();
        let matched = BooleanArray::from(matches.iter().map(Option::is_some).collect::<Vec<_>>());
        let valid = NullBuffer::from(matched.values().clone());
        let build_fields = self.joined.fields().len() - batch.num_columns();
        let build_types = match self.build_first {
            true => &self.joined.fields()[..build_fields],
            false => &self.joined.fields()[batch.num_columns()..],
        };
        let mut build_columns = Vec::with_capacity(build_fields);
        for field in build_types {
            let values = arrow::compute::cast(&probe_keys, field.data_type())?;
            build_columns.push(make_array(values.to_data().into_builder().nulls(Some(valid.clone())).build()?));
        }
        let mut columns = batch.columns().to_vec();
        match self.build_first {
            true => columns.splice(0..0, build_columns),
            false => columns.splice(columns.len().., build_columns),
        };
        if let Some(projection) = &self.projection {
            columns = projection.iter().map(|&i| columns[i].clone()).collect();
        }
        if keys.extra.is_empty() {
            if !self.keep_unmatched && matched.true_count() < matched.len() {
                columns = columns.iter().map(|c| arrow::compute::filter(c, &matched)).collect::<Result<_, _>>()?;
            }
            return Ok(RecordBatch::try_new(self.schema.clone(), columns)?);
        }
        let mut rows = Vec::with_capacity(batch.num_rows());
        for (row, found) in matches.iter().enumerate() {
            let times = match found {
                Some(slot) => 1 + keys.extra.get(slot).copied().unwrap_or(0),
                None => u32::from(self.keep_unmatched),
            };
            rows.extend(std::iter::repeat_n(row as u32, times as usize));
        }
        let indices = UInt32Array::from(rows);
        let columns = columns.iter().map(|c| arrow::compute::take(c, &indices, None)).collect::<Result<_, _>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

impl DisplayAs for LookupJoinExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let kind = match (self.keep_unmatched, self.build_first) {
            (false, _) => "Inner",
            (true, true) => "Right",
            (true, false) => "Left",
        };
        write!(f, "LookupJoinExec: join_type={kind}, on=[({}, {})], keys in a bitmap", self.build_key, self.probe_key)
    }
}

impl ExecutionPlan for LookupJoinExec {
    fn name(&self) -> &str {
        "LookupJoinExec"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn properties(&self) -> &PlanProperties {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.build, &self.probe]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        let [build, probe] = <[_; 2]>::try_from(children)
            .map_err(|_| datafusion::error::DataFusionError::Internal("a lookup join has two children".into()))?;
        Ok(Arc::new(LookupJoinExec { build, probe, keys: Arc::default(), ..(*self).clone() }))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let probe = self.probe.execute(partition, context.clone())?;
        // Every partition shares `keys`: the build side is read once.
        let this = Arc::new(self.clone());
        let joined = futures::stream::once(async move {
            let build = || collect_keys(this.build.clone(), this.build_key.clone(), this.signed, context);
            let keys = this.keys.get_or_try_init(build).await?.clone();
            Ok::<_, datafusion::error::DataFusionError>(probe.map(move |batch| this.join(&keys, batch?)))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), joined)))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, Int64Array};
    use arrow::datatypes::{Field, Schema};
    use arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    /// `users(id)` with a duplicate, a negative and a NULL id; `orders(id, user_id BIGINT)`
    /// probing matches, misses, NULL and values beyond 32 bits, in two partitions.
    fn session(lookup: bool) -> SessionContext {
        partitioned_session(lookup, 1)
    }

    /// With `partitions` > 1, hash joins are partitioned: both sides split by the key's hash.
    fn partitioned_session(lookup: bool, partitions: usize) -> SessionContext {
        let mut config = SessionConfig::new().with_target_partitions(partitions);
        config.options_mut().optimizer.hash_join_single_partition_threshold = 0;
        config.options_mut().optimizer.hash_join_single_partition_threshold_rows = 0;
        let mut state = datafusion::execution::SessionStateBuilder::new().with_config(config).with_default_features();
        if lookup {
            state = state.with_physical_optimizer_rule(Arc::new(LookupJoinRule));
        }
        let ctx = SessionContext::new_with_state(state.build());
        let users = Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, true)]));
        let users_batch = RecordBatch::try_new(
            users.clone(),
            vec![Arc::new(Int32Array::from(vec![Some(1), Some(2), Some(2), Some(-7), None]))],
        )
        .unwrap();
        ctx.register_table("users", Arc::new(MemTable::try_new(users.clone(), vec![vec![users_batch]]).unwrap()))
            .unwrap();
        // More ids than orders: DataFusion builds its hash table on the orders.
        let many: Vec<i32> = [-7, 1, 2, 2].into_iter().chain(3..500).collect();
        let many_batch = RecordBatch::try_new(users.clone(), vec![Arc::new(Int32Array::from(many))]).unwrap();
        ctx.register_table("many", Arc::new(MemTable::try_new(users, vec![vec![many_batch]]).unwrap())).unwrap();
        let orders = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("user_id", DataType::Int64, true),
        ]));
        let batch = |ids: Vec<i64>, users: Vec<Option<i64>>| {
            RecordBatch::try_new(
                orders.clone(),
                vec![Arc::new(Int64Array::from(ids)), Arc::new(Int64Array::from(users))],
            )
            .unwrap()
        };
        // Two partitions: the probe partitions share one bitmap.
        let partitions = vec![
            vec![batch(vec![10, 11, 12], vec![Some(1), Some(2), Some(3)])],
            vec![batch(vec![13, 14, 15, 16], vec![None, Some(-7), Some(1 << 40), Some(-7 - (1 << 32))])],
        ];
        ctx.register_table("orders", Arc::new(MemTable::try_new(orders, partitions).unwrap())).unwrap();
        ctx
    }

    async fn run(ctx: &SessionContext, sql: &str) -> (String, String) {
        let frame = ctx.sql(sql).await.unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let plan = datafusion::physical_plan::displayable(plan.as_ref()).indent(false).to_string();
        let rows = pretty_format_batches(&frame.collect().await.unwrap()).unwrap().to_string();
        (plan, rows)
    }

    #[tokio::test]
    async fn lookups_give_the_hash_joins_rows() {
        for sql in [
            "SELECT o.id, o.user_id, u.id AS found FROM orders o LEFT JOIN users u ON u.id = o.user_id ORDER BY o.id, found",
            "SELECT o.id, u.id AS found FROM orders o JOIN users u ON u.id = o.user_id ORDER BY o.id, found",
            "SELECT o.id, u.id IS NULL AS missing FROM orders o LEFT JOIN users u ON o.user_id = u.id ORDER BY o.id",
            "SELECT o.id, o.user_id, m.id AS found FROM orders o LEFT JOIN many m ON m.id = o.user_id ORDER BY o.id, found",
            "SELECT m.id, o.id FROM many m JOIN orders o ON m.id = o.user_id ORDER BY o.id, m.id",
        ] {
            let (plan, rows) = run(&session(true), sql).await;
            assert!(plan.contains("LookupJoinExec"), "{sql}\n{plan}");
            let (hash_plan, expected) = run(&session(false), sql).await;
            assert!(hash_plan.contains("HashJoinExec"), "{hash_plan}");
            assert_eq!(rows, expected, "{sql}");
        }
        let sql = "SELECT o.id, o.user_id, u.id AS found FROM orders o LEFT JOIN users u ON u.id = o.user_id ORDER BY o.id, found";
        let (plan, rows) = run(&partitioned_session(true, 2), sql).await;
        let (hash_plan, _) = run(&partitioned_session(false, 2), sql).await;
        assert!(hash_plan.contains("mode=Partitioned"), "{hash_plan}");
        assert!(plan.contains("LookupJoinExec") && plan.contains("RepartitionExec"), "{plan}");
        assert_eq!(rows, run(&session(false), sql).await.1);
        let (plan, _) =
            run(&session(true), "SELECT o.id, m.id FROM orders o LEFT JOIN many m ON m.id = o.user_id").await;
        assert!(plan.contains("LookupJoinExec: join_type=Left"), "the hash join built on the orders: {plan}");
        let (_, rows) =
            run(&session(true), "SELECT count(*) AS n FROM orders o LEFT JOIN users u ON u.id = o.user_id").await;
        assert!(rows.contains("| 8 |"), "order 11 matches user 2 twice: {rows}");
    }

    #[tokio::test]
    async fn other_joins_stay_hash_joins() {
        for sql in [
            // The build side has two columns: their values are not the key's.
            "SELECT o.id, u.next FROM orders o JOIN (SELECT id, id + 1 AS next FROM users) u ON u.id = o.user_id",
            // A condition beside the key.
            "SELECT o.id FROM orders o LEFT JOIN users u ON u.id = o.user_id AND o.id > u.id",
        ] {
            let (plan, _) = run(&session(true), sql).await;
            assert!(!plan.contains("LookupJoinExec"), "{sql}\n{plan}");
        }
    }
}
