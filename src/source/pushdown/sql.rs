//! A pushed subtree written as one statement of its database's SQL, by DataFusion's unparser
//! after four rewrites: tables named as the database names them, integer averages split into
//! a sum and a count, inner projections made derived tables with aliases of their own, and the
//! output columns named by position.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, Result as DfResult, TableReference};
use datafusion::datasource::source_as_provider;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    cast, Aggregate, Distinct, Expr, Limit, LogicalPlan, Projection, Sort, SubqueryAlias, TableScan, Union,
};
use datafusion::sql::unparser::Unparser;

use super::allow::averaged_integer;
use crate::db::SourceDatabase;
use crate::source::DatabaseTable;

/// The statement whose columns, by position, are `plan`'s (named `c0`, `c1`...).
pub(super) fn statement(plan: &LogicalPlan, database: &dyn SourceDatabase) -> DfResult<String> {
    let mut renames = Renames::default();
    let plan = renamed(plan.clone(), true, &mut renames)?;
    let plan = positional(plan)?;
    let dialect = database.unparser_dialect();
    Ok(Unparser::new(dialect.as_ref()).plan_to_sql(&plan)?.to_string())
}

pub(super) fn column_name(index: usize) -> String {
    format!("c{index}")
}

/// Columns now known by another qualifier: a table's (`db.items` is `items` in its database),
/// or an inner projection's (the alias of its derived table).
#[derive(Default)]
struct Renames {
    /// (qualifier, the column or every column of it, the new qualifier), searched latest first.
    entries: Vec<(Option<TableReference>, Option<String>, TableReference)>,
    aliases: usize,
}

impl Renames {
    fn column(&self, column: &Column) -> Option<TableReference> {
        self.entries.iter().rev().find_map(|(qualifier, name, to)| {
            let matches = *qualifier == column.relation && name.as_ref().is_none_or(|name| *name == column.name);
            matches.then(|| to.clone())
        })
    }
}

/// `plan` with the renames applied bottom up. `top`: the node's rows are the statement's own
/// select list (the root, or under the sort, limit and `DISTINCT` at the top), or a derived
/// table's already; any other projection, and an aggregate under a join, becomes a derived
/// table, which the unparser otherwise writes without an alias. Filters the scans took are
/// dropped (their `Filter` nodes are still above them).
fn renamed(plan: LogicalPlan, top: bool, renames: &mut Renames) -> DfResult<LogicalPlan> {
    if let LogicalPlan::TableScan(scan) = plan {
        let provider = source_as_provider(&scan.source)?;
        let name = match provider.as_any().downcast_ref::<DatabaseTable>() {
            Some(table) => database_reference(table.name()),
            None => scan.table_name.clone(),
        };
        renames.entries.push((Some(scan.table_name.clone()), None, name.clone()));
        let scan = TableScan::try_new(name, scan.source, scan.projection, vec![], scan.fetch)?;
        return Ok(LogicalPlan::TableScan(scan));
    }
    let children_top = match &plan {
        // Each input of a union is a select list of its own.
        LogicalPlan::SubqueryAlias(_) | LogicalPlan::Union(_) => true,
        LogicalPlan::Sort(_) | LogicalPlan::Limit(_) | LogicalPlan::Distinct(_) => top,
        _ => false,
    };
    let under_join = matches!(plan, LogicalPlan::Join(_) | LogicalPlan::Aggregate(_));
    let plan = plan
        .map_children(|child| {
            let child = renamed(child, children_top, renames)?;
            let derived = match &child {
                LogicalPlan::Projection(_) | LogicalPlan::Union(_) => !children_top,
                LogicalPlan::Aggregate(_) => under_join,
                _ => false,
            };
            Ok(Transformed::yes(if derived { derived_table(child, renames)? } else { child }))
        })?
        .data;
    // Output names derived from expressions (`count(db.items.qty)`) stay as they were: the
    // nodes above name them so.
    let names = NamePreserver::new(&plan);
    let plan = plan
        .map_expressions(|expr| {
            let saved = names.save(&expr);
            let expr = expr.transform(|expr| match expr {
                Expr::Column(column) => match renames.column(&column) {
                    Some(to) => Ok(Transformed::yes(Expr::Column(Column { relation: Some(to), ..column }))),
                    None => Ok(Transformed::no(Expr::Column(column))),
                },
                other => Ok(Transformed::no(other)),
            })?;
            Ok(expr.update_data(|expr| saved.restore(expr)))
        })?
        .data;
    averages(plan.recompute_schema()?)
}

/// An aggregate's `avg(x)` of integers as `CAST(sum(x) AS DOUBLE) / count(x)` in a projection
/// above it: what DataFusion computes (the sum rounded once to a float, then divided), where
/// the databases' own `avg` returns decimals (PostgreSQL's to 16 digits, MySQL's to 4).
fn averages(plan: LogicalPlan) -> DfResult<LogicalPlan> {
    let LogicalPlan::Aggregate(aggregate) = &plan else {
        return Ok(plan);
    };
    let average = |expr: &Expr| match unaliased(expr.clone()) {
        Expr::AggregateFunction(function) if function.func.name() == "avg" => {
            function.params.args.first().and_then(averaged_integer).cloned()
        }
        _ => None,
    };
    if !aggregate.aggr_expr.iter().any(|expr| average(expr).is_some()) {
        return Ok(plan);
    }
    let schema = aggregate.schema.clone();
    let groups = aggregate.group_expr.len();
    let mut aggregates = Vec::new();
    let mut outputs: Vec<Expr> = schema
        .iter()
        .take(groups)
        .map(|(qualifier, field)| Expr::Column(Column::new(qualifier.cloned(), field.name())))
        .collect();
    for (index, expr) in aggregate.aggr_expr.iter().enumerate() {
        let (qualifier, field) = schema.qualified_field(groups + index);
        match average(expr) {
            Some(integer) => {
                let (total, counted) = (format!("ferry_sum_{index}"), format!("ferry_count_{index}"));
                aggregates.push(sum(cast(integer.clone(), DataType::Int64)).alias(&total));
                aggregates.push(count(integer).alias(&counted));
                let float = |name: &str| cast(Expr::Column(Column::from_name(name)), DataType::Float64);
                outputs.push((float(&total) / float(&counted)).alias_qualified(qualifier.cloned(), field.name()));
            }
            None => {
                let name = format!("ferry_aggregate_{index}");
                aggregates.push(expr.clone().alias(&name));
                outputs.push(Expr::Column(Column::from_name(name)).alias_qualified(qualifier.cloned(), field.name()));
            }
        }
    }
    let input = aggregate.input.clone();
    let split = Aggregate::try_new(input, aggregate.group_expr.clone(), aggregates)?;
    Ok(LogicalPlan::Projection(Projection::try_new(outputs, Arc::new(LogicalPlan::Aggregate(split)))?))
}

/// `plan` as a derived table with an alias of its own, which the columns above now name.
fn derived_table(plan: LogicalPlan, renames: &mut Renames) -> DfResult<LogicalPlan> {
    renames.aliases += 1;
    let alias = TableReference::bare(format!("ferry_{}", renames.aliases));
    for (qualifier, field) in plan.schema().iter() {
        renames.entries.push((qualifier.cloned(), Some(field.name().clone()), alias.clone()));
    }
    Ok(LogicalPlan::SubqueryAlias(SubqueryAlias::try_new(Arc::new(plan), alias)?))
}

/// `plan` with its output columns named by position (`c0`, `c1`...), since a subtree's may
/// repeat a name or be named like `count(*)`: the top projection's expressions renamed, or a
/// projection added, under the sort and limit at the top, whose keys follow the new names.
fn positional(plan: LogicalPlan) -> DfResult<LogicalPlan> {
    match plan {
        LogicalPlan::Limit(limit) => {
            let input = Arc::new(positional(Arc::unwrap_or_clone(limit.input))?);
            Ok(LogicalPlan::Limit(Limit { input, ..limit }))
        }
        LogicalPlan::Sort(sort) => {
            let schema = sort.input.schema().clone();
            let input = Arc::new(positional(Arc::unwrap_or_clone(sort.input))?);
            let expr = sort
                .expr
                .into_iter()
                .map(|key| {
                    let expr = key.expr.clone().transform(|expr| match expr {
                        Expr::Column(column) => {
                            let index = schema.index_of_column(&column)?;
                            Ok(Transformed::yes(Expr::Column(Column::from_name(column_name(index)))))
                        }
                        other => Ok(Transformed::no(other)),
                    })?;
                    Ok(key.with_expr(expr.data))
                })
                .collect::<DfResult<Vec<_>>>()?;
            Ok(LogicalPlan::Sort(Sort { expr, input, fetch: sort.fetch }))
        }
        LogicalPlan::Distinct(Distinct::All(input)) => {
            Ok(LogicalPlan::Distinct(Distinct::All(Arc::new(positional(Arc::unwrap_or_clone(input))?))))
        }
        LogicalPlan::Union(union) => {
            let inputs = union.inputs.into_iter().map(|input| positional(Arc::unwrap_or_clone(input)).map(Arc::new));
            Ok(LogicalPlan::Union(Union::try_new_with_loose_types(inputs.collect::<DfResult<_>>()?)?))
        }
        LogicalPlan::Projection(projection) => {
            let expr =
                projection.expr.into_iter().enumerate().map(|(index, expr)| unaliased(expr).alias(column_name(index)));
            Ok(LogicalPlan::Projection(Projection::try_new(expr.collect(), projection.input)?))
        }
        other => {
            let expr = other.schema().iter().enumerate().map(|(index, (qualifier, field))| {
                Expr::Column(Column::new(qualifier.cloned(), field.name())).alias(column_name(index))
            });
            Ok(LogicalPlan::Projection(Projection::try_new(expr.collect(), Arc::new(other))?))
        }
    }
}

fn unaliased(expr: Expr) -> Expr {
    match expr {
        Expr::Alias(alias) => unaliased(*alias.expr),
        other => other,
    }
}

/// `schema.table` or `table` as a reference the unparser quotes part by part.
fn database_reference(table: &str) -> TableReference {
    match table.split_once('.') {
        Some((schema, table)) => TableReference::partial(schema, table),
        None => TableReference::bare(table),
    }
}
