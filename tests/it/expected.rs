//! The three migrations' rules written again in PostgreSQL's own SQL (its `initcap`, `btrim`,
//! regex and numeric casts), run on a PostgreSQL copy of the source: an independent engine's
//! answer that ferry's DataFusion output is compared with, row by row.

use crate::common::PgDatabase;

pub type Rows = Vec<Vec<Option<String>>>;

pub fn users(source: &PgDatabase) -> Rows {
    source.rows(
        "SELECT id::text, name, CASE WHEN age IS NULL THEN 'unknown' WHEN age < 30 THEN '<30' \
         WHEN age <= 40 THEN '30-40' ELSE '>40' END, city, created_at::text FROM source_table s ORDER BY s.id",
    )
}

const ORDER_IS_GOOD: &str =
    "o.user_id IS NOT NULL AND EXISTS (SELECT 1 FROM source_table u WHERE u.id = o.user_id) AND o.order_total >= 0";

pub fn orders(source: &PgDatabase) -> Rows {
    source.rows(&format!(
        "SELECT order_id::text, user_id::text, order_total::text, order_date::text FROM source_orders o \
         WHERE {ORDER_IS_GOOD} ORDER BY o.order_id"
    ))
}

pub fn order_rejects(source: &PgDatabase) -> Rows {
    source.rows(&format!(
        "SELECT order_id::text, CASE WHEN o.user_id IS NULL OR NOT EXISTS (SELECT 1 FROM source_table u WHERE u.id = o.user_id) \
         THEN 'unknown_user' ELSE 'negative_total' END FROM source_orders o WHERE NOT ({ORDER_IS_GOOD}) ORDER BY o.order_id"
    ))
}

const CLEANING: &str = "WITH t AS (
    SELECT record_id, btrim(full_name, E' \\t\\r\\n') AS n, btrim(age, E' \\t\\r\\n') AS a,
           btrim(split_part(btrim(location, E' \\t\\r\\n'), ',', 1), E' \\t\\r\\n') AS c
    FROM source_unnormalized),
r AS (
    SELECT *, CASE
        WHEN n IS NULL OR n = '' THEN 'missing_name'
        WHEN a IS NULL OR a = '' THEN NULL
        WHEN a !~ '^[+-]?[0-9]+$' THEN 'invalid_age'
        WHEN a::numeric < 0 OR a::numeric > 130 THEN 'age_out_of_range'
    END AS reason FROM t)";

pub fn cleaned(source: &PgDatabase) -> Rows {
    source.rows(&format!(
        "{CLEANING} SELECT record_id::text, initcap(split_part(regexp_replace(n, E'[ \\t\\r\\n]+', ' ', 'g'), ' ', 1)), \
         CASE WHEN a <> '' THEN a::numeric::int::text END, NULLIF(initcap(c), '') FROM r WHERE reason IS NULL ORDER BY r.record_id"
    ))
}

pub fn cleaned_rejects(source: &PgDatabase) -> Rows {
    source.rows(&format!(
        "{CLEANING} SELECT record_id::text, reason FROM r WHERE reason IS NOT NULL ORDER BY r.record_id"
    ))
}

/// The target tables of a PostgreSQL target, in the same text form.
pub fn pg_target(target: &PgDatabase) -> [Rows; 5] {
    [
        target.rows("SELECT user_id::text, full_name, age_group, city, registered_date::text FROM target_users t ORDER BY t.user_id"),
        target.rows("SELECT order_id::text, user_id::text, order_total::text, order_date::text FROM target_orders t ORDER BY t.order_id"),
        target.rows("SELECT source_key, reason FROM _ferry_rejects WHERE migration = 'orders' ORDER BY source_key::int"),
        target.rows("SELECT record_id::text, name, age::text, city FROM target_cleaned_data t ORDER BY t.record_id"),
        target.rows("SELECT source_key, reason FROM _ferry_rejects WHERE migration = 'cleaned_data' ORDER BY source_key::int"),
    ]
}

/// What [`pg_target`] must equal, computed from a PostgreSQL source.
pub fn all(source: &PgDatabase) -> [Rows; 5] {
    [users(source), orders(source), order_rejects(source), cleaned(source), cleaned_rejects(source)]
}

/// Compares table by table, showing the first differing row rather than two huge vectors.
pub fn assert_same(actual: &[Rows], expected: &[Rows]) {
    let names = ["target_users", "target_orders", "orders rejects", "target_cleaned_data", "cleaned_data rejects"];
    for ((actual, expected), name) in actual.iter().zip(expected).zip(names) {
        assert!(!expected.is_empty(), "{name}: the expectation is empty; the test data is wrong");
        for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert_eq!(a, e, "{name}: row {index} differs");
        }
        assert_eq!(actual.len(), expected.len(), "{name}: row counts differ");
    }
}
