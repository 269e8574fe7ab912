//! What every readable engine implements: [`SourceDatabase`] streams the rows of one `SELECT`,
//! and the generic `source::DatabaseTable` turns that into a DataFusion `TableProvider`.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use chrono::NaiveDateTime;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::Operator;
use datafusion::sql::unparser::dialect::Dialect as UnparserDialect;

use crate::connection::Endpoint;
use crate::error::Result;

/// A database ferry reads from.
#[async_trait]
pub trait SourceDatabase: Debug + Send + Sync {
    fn endpoint(&self) -> &Endpoint;
    /// The tables (and views) a query may name.
    async fn tables(&self) -> Result<Vec<String>>;
    /// A table's columns as Arrow fields, from the database's own catalog.
    async fn schema(&self, table: &str) -> Result<SchemaRef>;
    /// A rough size from the database's catalog, for DataFusion's join planning (the smaller
    /// side of a join builds the hash table). Unknown by default.
    async fn estimate(&self, _table: &str) -> Result<SizeEstimate> {
        Ok(SizeEstimate::default())
    }
    /// Quotes an identifier for this database's SQL.
    fn quote(&self, identifier: &str) -> String;
    /// A quoted column of `source_type` read as its exact text form (for types with no exact
    /// Arrow reading through the database's driver).
    fn text_form(&self, quoted: &str, _source_type: &str) -> String {
        format!("CAST({quoted} AS TEXT)")
    }
    /// The dialect DataFusion's unparser writes pushed-down filters in.
    fn unparser_dialect(&self) -> Box<dyn UnparserDialect>;
    /// `quoted <op> <at>` for a date (`is_date`) or date-time column, exact where the database
    /// can compare exactly; a looser test is fine (DataFusion applies the exact one after the
    /// read), a stricter one is not. `zoned`: the column holds instants (read in UTC).
    fn compare_time(&self, quoted: &str, op: Operator, at: NaiveDateTime, is_date: bool, zoned: bool) -> String;
    /// The table as a `FROM` names it; `own_rows`: without the rows of tables that inherit from
    /// it, where the engine has inheritance.
    fn table_reference(&self, table: &str, _own_rows: bool) -> String {
        table.split('.').map(|part| self.quote(part)).collect::<Vec<_>>().join(".")
    }
    /// `quoted`, a date or date-time column, with its zero date (where the engine has one) read as
    /// NULL; None where the engine has no zero date.
    fn zero_date_as_null(&self, _quoted: &str) -> Option<String> {
        None
    }
    /// Conditions splitting `table` into about `parts` disjoint parts that together hold every
    /// row, to be read at once; empty when the table cannot be split (the default).
    async fn split(&self, _table: &str, _parts: usize) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    /// What this database computes exactly as DataFusion does, for sending whole subqueries to
    /// it (`source::pushdown`); None: only projections, filters and limits reach it.
    fn pushdown(&self) -> Option<Pushdown> {
        None
    }
    /// `expression` cast to this database's type that reads back as `data_type`, where the
    /// type the database computes (a `SUM`'s) may be wider; None: read as it comes.
    fn cast_to(&self, _expression: &str, _data_type: &DataType) -> Option<String> {
        None
    }
    /// Streams the rows of `SELECT <columns> FROM <table> [WHERE ...] [LIMIT ...]`, or of the
    /// request's whole query; the batches match `schema` (the projected columns, by position).
    fn read(&self, request: ReadRequest) -> SendableRecordBatchStream;
}

/// Where a database's SQL means what DataFusion's does, beyond integers, decimals, `AND`/`OR`,
/// `IS NULL`, `count/sum/min/max`, inner and left joins, `GROUP BY`, `ORDER BY` and `LIMIT`,
/// which every engine here computes alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pushdown {
    /// Text is equal only when its bytes are (`=`, `IN`, `GROUP BY`, `DISTINCT`, join keys):
    /// PostgreSQL's deterministic collations and SQLite's BINARY; not MySQL's, which fold case
    /// and trailing spaces.
    pub text_equality: bool,
    /// Text sorts in byte order (`<`, `ORDER BY`, `min`/`max`): SQLite's BINARY collation.
    pub text_order: bool,
    /// `LIKE` is case-sensitive, with no escape character unless one is written.
    pub like: bool,
    /// `ORDER BY` takes `NULLS FIRST`/`NULLS LAST`; without it, NULLs sort as the smallest value.
    pub nulls_order: bool,
    /// Dates and date-times are stored and compared as such (not as SQLite's text or numbers).
    pub temporal: bool,
    /// Decimals are exact (not SQLite's floating-point `NUMERIC`).
    pub decimals: bool,
    /// Booleans are only true or false (not MySQL's and SQLite's integers, where `2` is true
    /// to ferry but a value of its own to `=` and `GROUP BY`).
    pub booleans: bool,
}

/// A table's size as its database's catalog estimates it (not exact, possibly stale).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SizeEstimate {
    pub rows: Option<usize>,
    pub bytes: Option<usize>,
}

/// Field metadata marking a column read through its text form (the value is the source type).
pub const TEXT_FORM: &str = "ferry.read_as_text";

/// Field metadata marking a column the database compares otherwise than its Arrow values
/// compare (PostgreSQL's `char(n)`, equal whatever its trailing spaces): never pushed down.
pub const COMPARES_OTHERWISE: &str = "ferry.compares_otherwise";

/// Field metadata naming the PostgreSQL type a PostgreSQL target column created for this field
/// gets: the source's own type (with its modifiers) for PostgreSQL sources, the closest one for
/// others. Used only while the field still has the Arrow type the source read it as.
pub const PG_TYPE: &str = "ferry.pg_type";

/// How a whole-database copy reads, where a migration reads otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// Tables read without the rows of the tables inheriting from them (those are copied too).
    pub own_rows: Vec<String>,
    /// Zero dates read as NULL (the copy counts and reports them) rather than failing the read.
    pub zero_dates_as_null: bool,
}

/// What one scan asks of a source.
#[derive(Clone, Debug)]
pub struct ReadRequest {
    pub table: String,
    /// The projected columns, in order, with the types the batches must have.
    pub schema: SchemaRef,
    pub filter_sql: Option<String>,
    pub limit: Option<usize>,
    /// This part's share of a table read in parts ([`SourceDatabase::split`]); all parts of one
    /// source read in one snapshot.
    pub part_sql: Option<String>,
    /// Only the table's own rows, not those of tables that inherit from it (PostgreSQL's `ONLY`).
    pub own_rows: bool,
    /// Zero dates (MySQL's `0000-00-00`) read as NULL rather than failing the read.
    pub zero_dates_as_null: bool,
    /// A whole statement to run instead (a pushed-down subquery); `table` then names its tables.
    pub query: Option<String>,
}

/// Rows read so far through the tables of one schema: the "read" count and the progress bar.
#[derive(Debug, Default)]
pub struct ReadCounter(AtomicU64);

impl ReadCounter {
    pub fn add(&self, rows: usize) {
        self.0.fetch_add(rows as u64, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// `SELECT <columns> FROM <table> [WHERE ...] [LIMIT n]`; a column marked [`TEXT_FORM`] is read
/// through the database's cast to text.
pub fn select_sql(database: &dyn SourceDatabase, request: &ReadRequest) -> String {
    if let Some(query) = &request.query {
        return query.clone();
    }
    let columns: Vec<String> = request
        .schema
        .fields()
        .iter()
        .map(|field| {
            let quoted = database.quote(field.name());
            let dated = matches!(field.data_type(), DataType::Date32 | DataType::Timestamp(..));
            let guarded = (request.zero_dates_as_null && dated).then(|| database.zero_date_as_null(&quoted)).flatten();
            let value = guarded.unwrap_or_else(|| quoted.clone());
            let value = match field.metadata().get(TEXT_FORM) {
                Some(source_type) => database.text_form(&value, source_type),
                None => value,
            };
            if value == quoted {
                value
            } else {
                format!("{value} AS {quoted}")
            }
        })
        .collect();
    let columns = if columns.is_empty() { "1 AS _ferry_none".to_string() } else { columns.join(", ") };
    let mut sql = format!("SELECT {columns} FROM {}", database.table_reference(&request.table, request.own_rows));
    let conditions: Vec<String> =
        [&request.filter_sql, &request.part_sql].into_iter().flatten().map(|c| format!("({c})")).collect();
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    if let Some(limit) = request.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    sql
}

/// Quotes `table` or `schema.table`.
pub fn quote_table(database: &dyn SourceDatabase, table: &str) -> String {
    database.table_reference(table, false)
}

/// The SQL operator of a comparison a source can be asked to test, or None.
pub fn comparison(op: Operator) -> Option<&'static str> {
    Some(match op {
        Operator::Eq => "=",
        Operator::Lt => "<",
        Operator::LtEq => "<=",
        Operator::Gt => ">",
        Operator::GtEq => ">=",
        _ => return None,
    })
}

/// A date or date-time as the text databases read back exactly (microseconds).
pub fn time_text(at: NaiveDateTime, is_date: bool) -> String {
    if is_date {
        at.format("%Y-%m-%d").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

/// `parts` conditions on `column` that split low..=high into ranges of equal width; the first
/// and last are open, so rows outside the range read when splitting are still read.
pub fn key_ranges(column: &str, low: i64, high: i64, parts: usize) -> Vec<String> {
    let span = (high as i128 - low as i128 + 1).max(1);
    let parts = (parts as i128).min(span);
    if parts < 2 {
        return Vec::new();
    }
    let bound = |k: i128| (low as i128 + span * k / parts) as i64;
    (0..parts)
        .map(|k| match k {
            0 => format!("{column} < {}", bound(1)),
            k if k == parts - 1 => format!("{column} >= {}", bound(k)),
            k => format!("{column} >= {} AND {column} < {}", bound(k), bound(k + 1)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::key_ranges;

    #[test]
    fn key_ranges_cover_everything_once() {
        assert_eq!(
            key_ranges("\"id\"", 1, 100, 4),
            ["\"id\" < 26", "\"id\" >= 26 AND \"id\" < 51", "\"id\" >= 51 AND \"id\" < 76", "\"id\" >= 76"]
        );
        assert_eq!(key_ranges("k", 5, 6, 4), ["k < 6", "k >= 6"]);
        assert!(key_ranges("k", 7, 7, 4).is_empty());
        assert_eq!(key_ranges("k", i64::MIN, i64::MAX, 2), ["k < 0", "k >= 0"]);
    }
}
