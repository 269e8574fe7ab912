//! `[[migrations.checks]]` as written, and the validated [`Check`] made from it. Everything
//! here reads only the job file: a bad check fails before any database is touched.

use std::collections::BTreeSet;

use datafusion::arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{FerryError, Result};

/// One check as written; which fields apply depends on `type`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckFile {
    #[serde(rename = "type")]
    kind: String,
    name: Option<String>,
    severity: Option<String>,
    threshold: Option<toml::Value>,
    column: Option<String>,
    columns: Option<toml::Value>,
    values: Option<Vec<toml::Value>>,
    min: Option<toml::Value>,
    max: Option<toml::Value>,
    pattern: Option<String>,
    to: Option<String>,
    equals_source: Option<bool>,
    sql: Option<String>,
    nulls: Option<String>,
    exact: Option<bool>,
}

/// A check ready to compile: its columns are identifiers, its regex and SQL parse.
#[derive(Clone, Debug)]
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
    pub severity: Severity,
    pub threshold: Threshold,
    /// Value checks: whether a NULL value fails (`nulls = "fail"`) or is left to `not_null`.
    pub nulls_fail: bool,
}

#[derive(Clone, Debug)]
pub enum CheckKind {
    Schema { columns: Vec<ExpectedColumn>, exact: bool },
    NotNull { columns: Vec<String> },
    Unique { columns: Vec<String> },
    AcceptedValues { column: String, values: Vec<Literal> },
    Range { column: String, min: Option<Literal>, max: Option<Literal> },
    Pattern { column: String, pattern: String },
    Length { column: String, min: Option<u64>, max: Option<u64> },
    Relationships { column: String, table: String, to_column: String },
    RowCount { min: Option<u64>, max: Option<u64>, equals_source: bool },
    Sql { sql: String },
}

#[derive(Clone, Debug)]
pub struct ExpectedColumn {
    pub name: String,
    /// As written, for messages (`INTEGER`).
    pub sql_type: String,
    pub data_type: DataType,
    pub not_null: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

impl Literal {
    /// As a SQL literal; DataFusion coerces text to the column's type (dates, timestamps).
    pub fn sql(&self) -> String {
        match self {
            Literal::Int(value) => value.to_string(),
            Literal::Float(value) => format!("{value:?}"),
            Literal::Text(text) => format!("'{}'", text.replace('\'', "''")),
            Literal::Bool(value) => value.to_string().to_uppercase(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A failure blocks the publish.
    Error,
    /// A failure is reported; the run publishes.
    Warn,
}

/// How many failing rows a check tolerates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    Rows(u64),
    Percent(f64),
}

impl Threshold {
    /// The failing rows allowed among `checked`.
    pub fn allowed(&self, checked: u64) -> u64 {
        match self {
            Threshold::Rows(rows) => *rows,
            Threshold::Percent(percent) => (checked as f64 * percent / 100.0).floor() as u64,
        }
    }

    pub fn text(&self) -> String {
        match self {
            Threshold::Rows(rows) => rows.to_string(),
            Threshold::Percent(percent) => format!("{percent}%"),
        }
    }
}

const TYPES: &str = "schema, not_null, unique, accepted_values, range, pattern, length, relationships, row_count, sql";

/// Which optional fields each type takes (besides name, severity, threshold).
fn fields_of(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "schema" => &["columns", "exact"],
        "not_null" | "unique" => &["column", "columns"],
        "accepted_values" => &["column", "values", "nulls"],
        "range" => &["column", "min", "max", "nulls"],
        "pattern" => &["column", "pattern", "nulls"],
        "length" => &["column", "min", "max", "nulls"],
        "relationships" => &["column", "to", "nulls"],
        "row_count" => &["min", "max", "equals_source"],
        "sql" => &["sql"],
        _ => return None,
    })
}

impl CheckFile {
    fn given(&self) -> Vec<&'static str> {
        let fields: [(&'static str, bool); 12] = [
            ("column", self.column.is_some()),
            ("columns", self.columns.is_some()),
            ("values", self.values.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("pattern", self.pattern.is_some()),
            ("to", self.to.is_some()),
            ("equals_source", self.equals_source.is_some()),
            ("sql", self.sql.is_some()),
            ("nulls", self.nulls.is_some()),
            ("exact", self.exact.is_some()),
            ("threshold", self.threshold.is_some()),
        ];
        fields.iter().filter(|(_, given)| *given).map(|(name, _)| *name).collect()
    }

    /// The name a check goes by when it has none: its type and what it looks at.
    fn default_name(&self) -> String {
        let columns = match (&self.column, &self.columns) {
            (Some(column), _) => column.clone(),
            (None, Some(toml::Value::Array(items))) => {
                items.iter().map(|v| v.as_str().unwrap_or("?").to_string()).collect::<Vec<_>>().join(", ")
            }
            _ => String::new(),
        };
        match (self.kind.as_str(), &self.to) {
            ("relationships", Some(to)) => format!("relationships({columns} -> {to})"),
            (kind, _) if columns.is_empty() || kind == "schema" => kind.to_string(),
            (kind, _) => format!("{kind}({columns})"),
        }
    }
}

/// Validates one migration's checks; `tables` are the tables the job's migrations write.
pub fn check_checks(migration: &str, files: &[CheckFile], tables: &BTreeSet<String>) -> Result<Vec<Check>> {
    let mut names = BTreeSet::new();
    let mut checks = Vec::new();
    for file in files {
        let name = file.name.clone().unwrap_or_else(|| file.default_name());
        let fail = |message: String| FerryError::Job(format!("migration `{migration}`: check `{name}`: {message}"));
        if !names.insert(name.clone()) {
            return Err(fail("two checks have this name; give one of them another `name`".into()));
        }
        checks.push(check_one(file, name.clone(), tables).map_err(fail)?);
    }
    Ok(checks)
}

fn check_one(file: &CheckFile, name: String, tables: &BTreeSet<String>) -> std::result::Result<Check, String> {
    let allowed =
        fields_of(&file.kind).ok_or_else(|| format!("unknown check type `{}`; use one of: {TYPES}", file.kind))?;
    for field in file.given() {
        let fits = allowed.contains(&field) || (field == "threshold" && !matches!(file.kind.as_str(), "schema"));
        if !fits {
            return Err(format!(
                "`{field}` does not apply to `{}` checks; they take: {}",
                file.kind,
                allowed.join(", ")
            ));
        }
    }
    let severity = match file.severity.as_deref().unwrap_or("error") {
        "error" => Severity::Error,
        "warn" => Severity::Warn,
        other => return Err(format!("unknown severity `{other}`; use `error` or `warn`")),
    };
    let threshold = match &file.threshold {
        None => Threshold::Rows(0),
        Some(value) => parse_threshold(value)?,
    };
    let nulls_fail = match file.nulls.as_deref().unwrap_or("pass") {
        "pass" => false,
        "fail" => true,
        other => return Err(format!("unknown `nulls = \"{other}\"`; use `pass` (the default) or `fail`")),
    };
    let column = || -> std::result::Result<String, String> {
        let column = file.column.clone().ok_or("needs `column`, the column it looks at")?;
        identifier(&column)?;
        Ok(column)
    };
    let kind = match file.kind.as_str() {
        "schema" => schema(file)?,
        "not_null" | "unique" => {
            let columns = column_list(file)?;
            if file.kind == "unique" {
                CheckKind::Unique { columns }
            } else {
                CheckKind::NotNull { columns }
            }
        }
        "accepted_values" => {
            let values = file.values.as_ref().ok_or("needs `values`, the list of accepted values")?;
            if values.is_empty() {
                return Err("`values` is empty; list the accepted values".into());
            }
            CheckKind::AcceptedValues {
                column: column()?,
                values: values.iter().map(literal).collect::<Result<_, _>>()?,
            }
        }
        "range" => {
            let min = file.min.as_ref().map(literal).transpose()?;
            let max = file.max.as_ref().map(literal).transpose()?;
            if min.is_none() && max.is_none() {
                return Err("needs `min`, `max` or both (inclusive bounds)".into());
            }
            CheckKind::Range { column: column()?, min, max }
        }
        "pattern" => {
            let pattern = file.pattern.clone().ok_or("needs `pattern`, a regular expression")?;
            regex::Regex::new(&pattern).map_err(|e| format!("`pattern` is not a valid regular expression: {e}"))?;
            CheckKind::Pattern { column: column()?, pattern }
        }
        "length" => {
            let (min, max) = (count(&file.min, "min")?, count(&file.max, "max")?);
            bounds(min, max)?;
            if min.is_none() && max.is_none() {
                return Err("needs `min`, `max` or both (inclusive, in characters)".into());
            }
            CheckKind::Length { column: column()?, min, max }
        }
        "relationships" => {
            let to = file.to.clone().ok_or("needs `to = \"table.column\"`, the column its values must exist in")?;
            let (table, to_column) = to.rsplit_once('.').ok_or(format!("`to = \"{to}\"` is not `table.column`"))?;
            if !tables.contains(table) {
                let known = tables.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ");
                return Err(format!(
                    "`to` names table `{table}`, which no migration of the job writes; it writes: {known}"
                ));
            }
            identifier(to_column)?;
            CheckKind::Relationships { column: column()?, table: table.to_string(), to_column: to_column.to_string() }
        }
        "row_count" => {
            let (min, max) = (count(&file.min, "min")?, count(&file.max, "max")?);
            bounds(min, max)?;
            let equals_source = file.equals_source.unwrap_or(false);
            if min.is_none() && max.is_none() && !equals_source {
                return Err("needs `min`, `max` or `equals_source = true`".into());
            }
            CheckKind::RowCount { min, max, equals_source }
        }
        _ => {
            let sql = file.sql.clone().ok_or("needs `sql`, a query that returns the failing rows")?;
            super::parse_query(&sql).map_err(|e| format!("`sql` does not parse: {e}"))?;
            CheckKind::Sql { sql }
        }
    };
    Ok(Check { name, kind, severity, threshold, nulls_fail })
}

fn parse_threshold(value: &toml::Value) -> std::result::Result<Threshold, String> {
    let bad = || format!("threshold `{value}` is neither a row count (`10`) nor a percentage (`\"0.5%\"`)");
    match value {
        toml::Value::Integer(rows) if *rows >= 0 => Ok(Threshold::Rows(*rows as u64)),
        toml::Value::String(text) => {
            let percent: f64 = text.strip_suffix('%').ok_or_else(bad)?.trim().parse().map_err(|_| bad())?;
            if (0.0..=100.0).contains(&percent) {
                Ok(Threshold::Percent(percent))
            } else {
                Err(format!("threshold `{text}` is not between 0% and 100%"))
            }
        }
        _ => Err(bad()),
    }
}

fn literal(value: &toml::Value) -> std::result::Result<Literal, String> {
    Ok(match value {
        toml::Value::Integer(value) => Literal::Int(*value),
        toml::Value::Float(value) => Literal::Float(*value),
        toml::Value::String(text) => Literal::Text(text.clone()),
        toml::Value::Boolean(value) => Literal::Bool(*value),
        toml::Value::Datetime(value) => Literal::Text(value.to_string()),
        other => return Err(format!("`{other}` is not a value to compare with; write a number, a string or a date")),
    })
}

fn count(value: &Option<toml::Value>, field: &str) -> std::result::Result<Option<u64>, String> {
    match value {
        None => Ok(None),
        Some(toml::Value::Integer(n)) if *n >= 0 => Ok(Some(*n as u64)),
        Some(other) => Err(format!("`{field} = {other}` is not a count; write a whole number >= 0")),
    }
}

fn bounds(min: Option<u64>, max: Option<u64>) -> std::result::Result<(), String> {
    match (min, max) {
        (Some(min), Some(max)) if min > max => Err(format!("`min = {min}` is above `max = {max}`")),
        _ => Ok(()),
    }
}

fn column_list(file: &CheckFile) -> std::result::Result<Vec<String>, String> {
    let columns = match (&file.column, &file.columns) {
        (Some(column), None) => vec![column.clone()],
        (None, Some(toml::Value::Array(items))) if !items.is_empty() => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or(format!("`columns` holds `{item}`, not a column name")))
            .collect::<Result<_, _>>()?,
        (None, Some(_)) => return Err("`columns` must be a non-empty list of column names".into()),
        (Some(_), Some(_)) => return Err("give `column` or `columns`, not both".into()),
        (None, None) => return Err("needs `columns`, the list of columns it looks at".into()),
    };
    columns.iter().try_for_each(|c| identifier(c))?;
    Ok(columns)
}

fn schema(file: &CheckFile) -> std::result::Result<CheckKind, String> {
    let Some(toml::Value::Table(table)) = &file.columns else {
        return Err("needs `columns = { name = \"TYPE [NOT NULL]\", ... }`".into());
    };
    let ctx = datafusion::prelude::SessionContext::new();
    let empty = datafusion::common::DFSchema::empty();
    let mut columns = Vec::new();
    for (name, value) in table {
        identifier(name)?;
        let written =
            value.as_str().ok_or(format!("column `{name}`: write its type as a string, e.g. \"BIGINT NOT NULL\""))?;
        let upper = written.trim().to_uppercase();
        let (sql_type, not_null) = match upper.strip_suffix("NOT NULL") {
            Some(rest) => (rest.trim().to_string(), true),
            None => (upper.strip_suffix("NULL").unwrap_or(&upper).trim().to_string(), false),
        };
        let parsed = ctx.parse_sql_expr(&format!("CAST(NULL AS {sql_type})"), &empty);
        let data_type = match parsed {
            Ok(datafusion::logical_expr::Expr::Cast(cast)) => cast.data_type,
            _ => {
                return Err(format!(
                "column `{name}`: `{written}` is not a SQL type (e.g. INTEGER, TEXT, DATE, NUMERIC(12, 2), TIMESTAMP)"
            ))
            }
        };
        columns.push(ExpectedColumn { name: name.clone(), sql_type, data_type, not_null });
    }
    if columns.is_empty() {
        return Err("`columns` is empty; list the expected columns".into());
    }
    Ok(CheckKind::Schema { columns, exact: file.exact.unwrap_or(false) })
}

fn identifier(name: &str) -> std::result::Result<(), String> {
    super::check_identifier(name, "column").map_err(|e| e.to_string())
}

impl CheckKind {
    /// The check's type as written in the job file.
    pub fn type_name(&self) -> &'static str {
        match self {
            CheckKind::Schema { .. } => "schema",
            CheckKind::NotNull { .. } => "not_null",
            CheckKind::Unique { .. } => "unique",
            CheckKind::AcceptedValues { .. } => "accepted_values",
            CheckKind::Range { .. } => "range",
            CheckKind::Pattern { .. } => "pattern",
            CheckKind::Length { .. } => "length",
            CheckKind::Relationships { .. } => "relationships",
            CheckKind::RowCount { .. } => "row_count",
            CheckKind::Sql { .. } => "sql",
        }
    }

    /// The output columns the check names, to validate against the query's output.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            CheckKind::Schema { .. } | CheckKind::RowCount { .. } | CheckKind::Sql { .. } => vec![],
            CheckKind::NotNull { columns } | CheckKind::Unique { columns } => {
                columns.iter().map(String::as_str).collect()
            }
            CheckKind::AcceptedValues { column, .. }
            | CheckKind::Range { column, .. }
            | CheckKind::Pattern { column, .. }
            | CheckKind::Length { column, .. }
            | CheckKind::Relationships { column, .. } => vec![column.as_str()],
        }
    }
}
