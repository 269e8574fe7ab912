//! `--cast RULE=TYPE`: a column (`table.column`) or every column of a source type (`tinyint(1)`,
//! `point`) given another type in the target, like pgloader's CAST rules. Checked before anything
//! is written: an unknown type, table or column is an error naming it.

use std::collections::BTreeSet;

use crate::db::{ColumnType, TableDef};
use crate::error::{FerryError, Result};

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
pub fn parse(rules: &[String]) -> Result<Vec<Cast>> {
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

/// Gives the columns their cast types; returns the (table, column) pairs whose values the copy's
/// query converts. A `table.column` rule that names no copied column is an error.
pub fn apply(tables: &mut [TableDef], casts: &[Cast]) -> Result<BTreeSet<(String, String)>> {
    let mut converted = BTreeSet::new();
    for cast in casts {
        let mut matched = false;
        for table in tables.iter_mut() {
            for column in &mut table.columns {
                let named = cast.subject == format!("{}.{}", table.name, column.name);
                if named || cast.subject.eq_ignore_ascii_case(&column.declared) {
                    column.column_type = cast.column_type.clone();
                    converted.insert((table.name.clone(), column.name.clone()));
                    matched = true;
                }
            }
        }
        if !matched && cast.subject.contains('.') {
            return Err(FerryError::Job(format!(
                "--cast `{}`: no column of that name among the tables copied (write TABLE.COLUMN as the source spells them)",
                cast.rule
            )));
        }
    }
    Ok(converted)
}

/// The DataFusion SQL type a converted value is cast to in the copy's query.
pub fn sql_type(column_type: &ColumnType) -> String {
    match column_type.portable() {
        ColumnType::Boolean => "BOOLEAN".into(),
        ColumnType::SmallInt => "SMALLINT".into(),
        ColumnType::Integer => "INT".into(),
        ColumnType::BigInt => "BIGINT".into(),
        ColumnType::Real => "REAL".into(),
        ColumnType::Double => "DOUBLE".into(),
        ColumnType::Decimal(Some((p, s))) => format!("DECIMAL({p}, {s})"),
        ColumnType::Decimal(None) => "DECIMAL(38, 10)".into(),
        ColumnType::Binary => "BYTEA".into(),
        ColumnType::Date => "DATE".into(),
        ColumnType::Time => "TIME".into(),
        ColumnType::Timestamp => "TIMESTAMP".into(),
        ColumnType::TimestampTz => "TIMESTAMP WITH TIME ZONE".into(),
        _ => "VARCHAR".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_columns_or_types() {
        let rules =
            ["Track.Bytes=bigint".to_string(), "tinyint(1) = smallint".to_string(), "point=varchar(40)".to_string()];
        let casts = parse(&rules).unwrap();
        assert_eq!((casts[0].subject.as_str(), &casts[0].column_type), ("Track.Bytes", &ColumnType::BigInt));
        assert_eq!(casts[1].column_type, ColumnType::SmallInt);
        assert_eq!(casts[2].column_type, ColumnType::Varchar(40));
        let error = parse(&["a.b=int8".to_string()]).unwrap_err().to_string();
        assert!(error.starts_with("--cast `a.b=int8`: `int8` is not a type ferry writes"), "{error}");
        let error = parse(&["nothing".to_string()]).unwrap_err().to_string();
        assert_eq!(error, "--cast `nothing`: write TABLE.COLUMN=TYPE or SOURCE_TYPE=TYPE");
    }
}
