//! A `[[copies]]` entry of the job file: a whole database copied (`ferry copy`) as part of a
//! job, beside its query migrations; and the options every copy takes, checked before any
//! database is touched.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{check_identifier, named_connection, Connection};
use crate::db::ColumnType;
use crate::error::{FerryError, Result};

/// One `[[copies]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CopyFile {
    /// The copy's name, used on the command line and in reports.
    name: String,
    /// The connection whose tables are copied.
    source: String,
    /// The connection they are copied into.
    target: String,
    /// Globs of the tables to copy (all when none).
    #[serde(default)]
    tables: Vec<String>,
    /// Globs of tables to leave out (for example those a query migration of the job moves).
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    if_exists: IfExists,
    #[serde(default)]
    names: Names,
    /// `"Track.Bytes" = "bigint"` or `"tinyint(1)" = "smallint"`.
    #[serde(default)]
    casts: BTreeMap<String, String>,
    /// Tables loaded at once; the number of cores by default.
    #[serde(default)]
    workers: Option<usize>,
    #[serde(default)]
    source_schema: Option<String>,
    #[serde(default)]
    target_schema: Option<String>,
    #[serde(default)]
    schema_only: bool,
    #[serde(default)]
    data_only: bool,
    /// Into PostgreSQL: the whole copy in one transaction.
    #[serde(default)]
    single_transaction: bool,
}

/// A copy of the job, checked: its connections exist, its options agree.
#[derive(Clone, Debug)]
pub struct CopyPlan {
    pub name: String,
    pub source: Connection,
    pub target: Connection,
    pub options: CopyOptions,
}

impl CopyFile {
    pub(super) fn name(&self) -> &str {
        &self.name
    }
}

pub(super) fn check_copy(copy: &CopyFile, connections: &BTreeMap<String, Connection>) -> Result<CopyPlan> {
    let name = &copy.name;
    check_identifier(name, "copy name")?;
    let owner = format!("copy `{name}`");
    let source = named_connection(connections, &copy.source, "source", &owner)?;
    let target = named_connection(connections, &copy.target, "target", &owner)?;
    if copy.schema_only && copy.data_only {
        return Err(FerryError::Job(format!("copy `{name}`: schema_only and data_only exclude each other; give one")));
    }
    let workers = match copy.workers {
        Some(0) => return Err(FerryError::Job(format!("copy `{name}`: workers = 0; give at least 1"))),
        Some(workers) => workers,
        None => default_workers(),
    };
    let casts: Vec<String> = copy.casts.iter().map(|(subject, to)| format!("{subject}={to}")).collect();
    parse_casts(&casts).map_err(|e| FerryError::Job(format!("copy `{name}`: {e}")))?;
    let options = CopyOptions {
        tables: copy.tables.clone(),
        exclude: copy.exclude.clone(),
        if_exists: copy.if_exists,
        schema_only: copy.schema_only,
        data_only: copy.data_only,
        dry_run: false,
        workers,
        names: copy.names,
        resume: false,
        single_transaction: copy.single_transaction,
        casts,
        source_schema: copy.source_schema.clone(),
        target_schema: copy.target_schema.clone(),
    };
    Ok(CopyPlan { name: name.clone(), source, target, options })
}

/// One table loaded per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}

/// What a copy is asked to do.
#[derive(Clone, Debug, Default)]
pub struct CopyOptions {
    /// Globs of the tables to copy (all when empty).
    pub tables: Vec<String>,
    /// Globs of tables to leave out.
    pub exclude: Vec<String>,
    pub if_exists: IfExists,
    /// Create the tables, indexes and keys; move no rows.
    pub schema_only: bool,
    /// Move rows into tables that exist already; create nothing.
    pub data_only: bool,
    /// Say what would be done; touch nothing.
    pub dry_run: bool,
    /// Tables loaded at once (at least 1).
    pub workers: usize,
    /// The target's names: as the source's, or folded.
    pub names: Names,
    /// Go on with the tables an earlier copy from the same source did not load and reconcile.
    pub resume: bool,
    /// Into PostgreSQL: everything in one transaction on one connection, committed at the end.
    pub single_transaction: bool,
    /// `TABLE.COLUMN=TYPE` or `SOURCE_TYPE=TYPE`: other types in the target.
    pub casts: Vec<String>,
    /// Copy the tables of this schema of a PostgreSQL source (its current schema by default).
    pub source_schema: Option<String>,
    /// Create the tables in this schema of a PostgreSQL target (made if missing).
    pub target_schema: Option<String>,
}

/// What to do with a chosen table the target already has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IfExists {
    /// Refuse the copy, naming the tables, before anything is written.
    #[default]
    Fail,
    /// Drop them and copy them anew.
    Replace,
    /// Leave them as they are and copy the others.
    Skip,
}

/// The target's names in a copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Names {
    /// As the source spells them (quoted where needed).
    #[default]
    Keep,
    /// Lower case: `InvoiceLine` -> `invoiceline`.
    Lower,
    /// Snake case: `InvoiceLine` -> `invoice_line`, `HTTPServer` -> `http_server`.
    Snake,
}

impl Names {
    pub fn fold(self, name: &str) -> String {
        match self {
            Names::Keep => name.to_string(),
            Names::Lower => name.to_lowercase(),
            Names::Snake => snake(name),
        }
    }
}

fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && previous.is_some_and(|p| {
                p.is_lowercase() || p.is_ascii_digit() || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if boundary && !out.ends_with('_') {
            out.push('_');
        }
        match c {
            ' ' | '-' if !out.ends_with('_') => out.push('_'),
            ' ' | '-' => {}
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// One rule, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cast {
    /// As written, for messages.
    pub rule: String,
    /// `table.column`, or a source type as its catalog declares it (compared ignoring case).
    pub subject: String,
    pub column_type: ColumnType,
}

/// Parses `SUBJECT=TYPE` rules.
pub fn parse_casts(rules: &[String]) -> Result<Vec<Cast>> {
    rules
        .iter()
        .map(|rule| {
            let (subject, type_name) = rule.rsplit_once('=').ok_or_else(|| {
                FerryError::Job(format!("--cast `{rule}`: write TABLE.COLUMN=TYPE or SOURCE_TYPE=TYPE"))
            })?;
            let column_type = portable(type_name).ok_or_else(|| {
                FerryError::Job(format!(
                    "--cast `{rule}`: `{}` is not a type ferry writes; use boolean, smallint, integer, bigint, real, \
                     double, decimal(p, s), varchar(n), text, binary, date, time, timestamp, timestamptz, json or uuid",
                    type_name.trim()
                ))
            })?;
            Ok(Cast { rule: rule.clone(), subject: subject.trim().to_string(), column_type })
        })
        .collect()
}

/// A portable type from its name.
fn portable(text: &str) -> Option<ColumnType> {
    let lower = text.trim().to_ascii_lowercase();
    let (base, arguments) = match lower.split_once('(') {
        Some((base, rest)) => (base.trim(), Some(rest.trim_end_matches(')').to_string())),
        None => (lower.as_str(), None),
    };
    let numbers: Vec<u32> = arguments.iter().flat_map(|a| a.split(',')).filter_map(|n| n.trim().parse().ok()).collect();
    Some(match (base, numbers.as_slice()) {
        ("boolean" | "bool", []) => ColumnType::Boolean,
        ("smallint", []) => ColumnType::SmallInt,
        ("integer" | "int", []) => ColumnType::Integer,
        ("bigint", []) => ColumnType::BigInt,
        ("real" | "float", []) => ColumnType::Real,
        ("double" | "double precision", []) => ColumnType::Double,
        ("decimal" | "numeric", [p, s]) if *p <= 76 && s <= p => ColumnType::Decimal(Some((*p as u8, *s as i8))),
        ("decimal" | "numeric", []) => ColumnType::Decimal(None),
        ("varchar", [n]) => ColumnType::Varchar(*n),
        ("text", []) => ColumnType::Text,
        ("binary" | "bytea" | "blob", []) => ColumnType::Binary,
        ("date", []) => ColumnType::Date,
        ("time", []) => ColumnType::Time,
        ("timestamp" | "datetime", []) => ColumnType::Timestamp,
        ("timestamptz", []) => ColumnType::TimestampTz,
        ("json", []) => ColumnType::Json,
        ("uuid", []) => ColumnType::Uuid,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_columns_or_types() {
        let rules =
            ["Track.Bytes=bigint".to_string(), "tinyint(1) = smallint".to_string(), "point=varchar(40)".to_string()];
        let casts = parse_casts(&rules).unwrap();
        assert_eq!((casts[0].subject.as_str(), &casts[0].column_type), ("Track.Bytes", &ColumnType::BigInt));
        assert_eq!(casts[1].column_type, ColumnType::SmallInt);
        assert_eq!(casts[2].column_type, ColumnType::Varchar(40));
        let error = parse_casts(&["a.b=int8".to_string()]).unwrap_err().to_string();
        assert!(error.starts_with("--cast `a.b=int8`: `int8` is not a type ferry writes"), "{error}");
        let error = parse_casts(&["nothing".to_string()]).unwrap_err().to_string();
        assert_eq!(error, "--cast `nothing`: write TABLE.COLUMN=TYPE or SOURCE_TYPE=TYPE");
    }
}
