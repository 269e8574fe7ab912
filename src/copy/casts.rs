//! `--cast RULE=TYPE`: a column (`table.column`) or every column of a source type (`tinyint(1)`,
//! `point`) given another type in the target, like pgloader's CAST rules. Checked before anything
//! is written: an unknown type, table or column is an error naming it.

use std::collections::BTreeSet;

use crate::db::{ColumnType, TableDef};
use crate::error::{FerryError, Result};
pub use crate::job::copies::Cast;

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
