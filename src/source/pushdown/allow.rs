//! The allow list: the plan nodes and expressions a database computes exactly as DataFusion
//! does. Anything not named here stays in DataFusion; so does anything on floats (their
//! equality, order and sums differ in `-0`, `NaN` and rounding), and text or dates where the
//! database's [`Pushdown`] says its comparisons differ.

use arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::common::{DFSchema, NullEquality, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunction, Alias, Cast, InList, Like};
use datafusion::logical_expr::{
    Aggregate, Distinct, Expr, ExprSchemable, FetchType, Join, JoinType, Limit, LogicalPlan, Operator, SkipType, Sort,
};

use crate::db::{Pushdown, COMPARES_OTHERWISE, TEXT_FORM};

/// The checks for one database's SQL, over the schema a node's expressions read.
pub(super) struct Allow<'a> {
    pub rules: Pushdown,
    pub schema: &'a DFSchema,
}

impl Allow<'_> {
    /// Whether `node` itself (not its inputs) can be sent to the database.
    pub fn node(rules: Pushdown, node: &LogicalPlan) -> bool {
        fn over(rules: Pushdown, plan: &LogicalPlan) -> Allow<'_> {
            Allow { rules, schema: plan.schema() }
        }
        match node {
            LogicalPlan::Projection(projection) => {
                projection.expr.iter().all(|e| over(rules, &projection.input).value(e))
            }
            LogicalPlan::Filter(filter) => over(rules, &filter.input).value(&filter.predicate),
            LogicalPlan::SubqueryAlias(_) => true,
            LogicalPlan::Aggregate(aggregate) => over(rules, &aggregate.input).aggregate(aggregate),
            LogicalPlan::Join(join) => Allow { rules, schema: &join.schema }.join(join),
            LogicalPlan::Sort(sort) => over(rules, &sort.input).sort(sort),
            LogicalPlan::Limit(limit) => literal_limit(limit),
            LogicalPlan::Union(_) => true,
            LogicalPlan::Distinct(Distinct::All(input)) => {
                let allow = over(rules, input);
                input.schema().fields().iter().all(|field| allow.equality(field.data_type()))
            }
            _ => false,
        }
    }

    fn aggregate(&self, aggregate: &Aggregate) -> bool {
        let keys =
            aggregate.group_expr.iter().all(|e| self.value(e) && self.type_of(e).is_some_and(|t| self.equality(&t)));
        keys && aggregate.aggr_expr.iter().all(|e| self.aggregate_function(e))
    }

    /// `count`, `sum` of integers and decimals, `avg` of integers (sent as a sum and a count:
    /// `sql::averages`), `min`/`max` of what sorts alike; no `FILTER`, no ordered aggregates,
    /// `DISTINCT` only in `count`.
    fn aggregate_function(&self, expr: &Expr) -> bool {
        let expr = match expr {
            Expr::Alias(Alias { expr, .. }) => expr,
            other => other,
        };
        let Expr::AggregateFunction(AggregateFunction { func, params }) = expr else {
            return false;
        };
        if params.filter.is_some() || !params.order_by.is_empty() || params.null_treatment.is_some() {
            return false;
        }
        let [argument] = params.args.as_slice() else {
            return false;
        };
        if func.name() == "avg" {
            let integer =
                |inner: &Expr| self.value(inner) && self.type_of(inner).is_some_and(|t| t.is_signed_integer());
            return !params.distinct && averaged_integer(argument).is_some_and(integer);
        }
        let Some(argument_type) = self.type_of(argument).filter(|_| self.value(argument)) else {
            return false;
        };
        match func.name() {
            "count" => !params.distinct || self.equality(&argument_type),
            "sum" => !params.distinct && self.exact_number(&argument_type),
            "min" | "max" => self.ordering(&argument_type),
            _ => false,
        }
    }

    /// Inner and left joins whose keys compare alike; `NULL` keys never match.
    fn join(&self, join: &Join) -> bool {
        matches!(join.join_type, JoinType::Inner | JoinType::Left)
            && join.null_equality == NullEquality::NullEqualsNothing
            && join.on.iter().all(|(left, right)| {
                let (left_type, right_type) = (self.type_of(left), self.type_of(right));
                self.value(left)
                    && self.value(right)
                    && left_type == right_type
                    && left_type.is_some_and(|t| self.equality(&t))
            })
            && join.filter.as_ref().is_none_or(|filter| self.value(filter))
    }

    /// Keys that sort alike, with `NULL`s where the database puts them.
    fn sort(&self, sort: &Sort) -> bool {
        sort.expr.iter().all(|key| {
            let nulls_where_database_puts_them = self.rules.nulls_order
                || key.nulls_first == key.asc
                || key.expr.nullable(self.schema).is_ok_and(|nullable| !nullable);
            self.value(&key.expr)
                && self.type_of(&key.expr).is_some_and(|t| self.ordering(&t))
                && nulls_where_database_puts_them
        })
    }

    /// A value expression computed alike.
    pub fn value(&self, expr: &Expr) -> bool {
        let typed =
            |e: &Expr, test: &dyn Fn(&DataType) -> bool| self.value(e) && self.type_of(e).is_some_and(|t| test(&t));
        match expr {
            Expr::Column(column) => {
                self.schema.qualified_field_from_column(column).is_ok_and(|(_, field)| plain(field))
            }
            Expr::Literal(value, _) => self.literal(value),
            Expr::Alias(Alias { expr, .. }) => self.value(expr),
            Expr::Not(inner) | Expr::IsNull(inner) | Expr::IsNotNull(inner) => self.value(inner),
            Expr::Negative(inner) => typed(inner, &|t| self.arithmetic(t)),
            Expr::BinaryExpr(binary) => {
                let both = |test: &dyn Fn(&DataType) -> bool| typed(&binary.left, test) && typed(&binary.right, test);
                match binary.op {
                    Operator::And | Operator::Or => both(&|t| *t == DataType::Boolean),
                    Operator::Eq | Operator::NotEq => both(&|t| self.equality(t)),
                    Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => both(&|t| self.ordering(t)),
                    Operator::Plus | Operator::Minus | Operator::Multiply => both(&|t| self.arithmetic(t)),
                    _ => false,
                }
            }
            Expr::Between(between) => {
                [&between.expr, &between.low, &between.high].into_iter().all(|e| typed(e, &|t| self.ordering(t)))
            }
            Expr::InList(InList { expr, list, .. }) => {
                typed(expr, &|t| self.equality(t)) && list.iter().all(|e| typed(e, &|t| self.equality(t)))
            }
            Expr::Like(Like { expr, pattern, escape_char: None, case_insensitive: false, .. }) => {
                let plain = matches!(&**pattern, Expr::Literal(ScalarValue::Utf8(Some(p)), _) if !p.contains('\\'));
                self.rules.like && plain && typed(expr, &|t| *t == DataType::Utf8)
            }
            Expr::Cast(Cast { expr, data_type }) => {
                self.value(expr) && self.type_of(expr).is_some_and(|from| self.exact_cast(&from, data_type))
            }
            Expr::Case(case) => {
                let parts = case.expr.iter().chain(case.else_expr.iter()).map(|e| &**e);
                let branches = case.when_then_expr.iter().flat_map(|(when, then)| [&**when, &**then]);
                let float = self.type_of(expr).is_none_or(|t| t.is_floating());
                !float && case.expr.is_none() && parts.chain(branches).all(|e| self.value(e))
            }
            _ => false,
        }
    }

    fn literal(&self, value: &ScalarValue) -> bool {
        match value {
            ScalarValue::Null
            | ScalarValue::Boolean(_)
            | ScalarValue::Int8(_)
            | ScalarValue::Int16(_)
            | ScalarValue::Int32(_)
            | ScalarValue::Int64(_)
            | ScalarValue::Utf8(_) => true,
            ScalarValue::Decimal128(..) => self.rules.decimals,
            ScalarValue::Date32(_) => self.rules.temporal,
            _ => false,
        }
    }

    fn type_of(&self, expr: &Expr) -> Option<DataType> {
        expr.get_type(self.schema).ok()
    }

    /// Integers, and decimals where the database's are exact.
    fn exact_number(&self, data_type: &DataType) -> bool {
        data_type.is_signed_integer() || (self.rules.decimals && matches!(data_type, DataType::Decimal128(..)))
    }

    /// `+ - *` and unary minus: exact numbers. They differ only on overflow, where the database
    /// fails and DataFusion wraps around.
    fn arithmetic(&self, data_type: &DataType) -> bool {
        self.exact_number(data_type)
    }

    /// Types whose `=` is the same test in the database.
    pub fn equality(&self, data_type: &DataType) -> bool {
        self.exact_number(data_type)
            || data_type.is_unsigned_integer()
            || (self.rules.booleans && *data_type == DataType::Boolean)
            || (self.rules.text_equality && *data_type == DataType::Utf8)
            || (self.rules.temporal && temporal(data_type))
    }

    /// Types that sort alike.
    fn ordering(&self, data_type: &DataType) -> bool {
        self.exact_number(data_type)
            || data_type.is_unsigned_integer()
            || (self.rules.text_order && *data_type == DataType::Utf8)
            || (self.rules.temporal && temporal(data_type))
    }

    /// Casts that neither round nor change meaning: integers to integers (a value out of range
    /// fails on both sides), integers to decimals, decimals to as many or more decimal places.
    fn exact_cast(&self, from: &DataType, to: &DataType) -> bool {
        match (from, to) {
            (from, to) if from == to => true,
            (from, to) if from.is_signed_integer() && to.is_signed_integer() => true,
            (from, DataType::Decimal128(..)) if from.is_signed_integer() => self.rules.decimals,
            (DataType::Decimal128(_, from_scale), DataType::Decimal128(_, to_scale)) => {
                self.rules.decimals && to_scale >= from_scale
            }
            _ => false,
        }
    }
}

/// A column the database holds as ferry reads it: not one read through its text form (the
/// database would compare the value, ferry its text), except decimals, which MySQL's driver
/// reads through text only for their precision; not one marked as comparing otherwise.
fn plain(field: &Field) -> bool {
    let metadata = field.metadata();
    let text_form = metadata.contains_key(TEXT_FORM) && !matches!(field.data_type(), DataType::Decimal128(..));
    !text_form && !metadata.contains_key(COMPARES_OTHERWISE)
}

/// The integer an `avg` averages: DataFusion casts it to a float first.
pub(super) fn averaged_integer(argument: &Expr) -> Option<&Expr> {
    match argument {
        Expr::Cast(Cast { expr, data_type: DataType::Float64 }) => Some(expr),
        _ => None,
    }
}

fn temporal(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Date32 | DataType::Timestamp(TimeUnit::Microsecond, _))
}

fn literal_limit(limit: &Limit) -> bool {
    matches!(limit.get_skip_type(), Ok(SkipType::Literal(_)))
        && matches!(limit.get_fetch_type(), Ok(FetchType::Literal(_)))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::datatypes::{Field, Schema};
    use datafusion::prelude::{cast, col, lit};

    use super::*;

    fn rules(text: bool, like: bool, decimals: bool) -> Pushdown {
        Pushdown {
            text_equality: text,
            text_order: false,
            like,
            nulls_order: true,
            temporal: true,
            decimals,
            booleans: true,
        }
    }

    fn schema() -> DFSchema {
        let json = HashMap::from([(TEXT_FORM.to_string(), "json".to_string())]);
        let fields = vec![
            Field::new("qty", DataType::Int32, true),
            Field::new("label", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
            Field::new("price", DataType::Decimal128(10, 2), true),
            Field::new("doc", DataType::Utf8, true).with_metadata(json),
        ];
        DFSchema::try_from(Schema::new(fields)).unwrap()
    }

    #[test]
    fn only_what_computes_alike_is_allowed() {
        let schema = schema();
        let postgres = Allow { rules: rules(true, true, true), schema: &schema };
        let mysql = Allow { rules: rules(false, false, true), schema: &schema };
        let sqlite = Allow { rules: rules(true, false, false), schema: &schema };
        let everywhere = [&postgres, &mysql, &sqlite];
        let text_equal = col("label").eq(lit("a"));
        assert!(postgres.value(&text_equal) && !mysql.value(&text_equal) && sqlite.value(&text_equal));
        assert!(everywhere.iter().all(|allow| allow.value(&(col("qty") * lit(2)).gt(lit(3)))));
        // Floats, division and functions stay in DataFusion everywhere.
        assert!(everywhere.iter().all(|allow| !allow.value(&col("score").gt(lit(1.5)))));
        assert!(everywhere.iter().all(|allow| !allow.value(&(col("qty") / lit(2)).eq(lit(1)))));
        assert!(!postgres.value(&datafusion::functions::string::expr_fn::upper(col("label")).eq(lit("A"))));
        // LIKE only case-sensitive, and without backslashes.
        assert!(postgres.value(&col("label").like(lit("a%"))) && !mysql.value(&col("label").like(lit("a%"))));
        assert!(!postgres.value(&col("label").like(lit("a\\%"))));
        // A decimal where decimals are exact; a column read as its text form nowhere.
        let widened = cast(col("qty"), DataType::Decimal128(12, 2)).lt(col("price"));
        assert!(postgres.value(&widened) && !sqlite.value(&widened));
        assert!(!postgres.value(&col("doc").is_null()));
        let narrowed = cast(col("price"), DataType::Decimal128(10, 1)).eq(lit(ScalarValue::Decimal128(Some(5), 10, 1)));
        assert!(!postgres.value(&narrowed));
    }
}
