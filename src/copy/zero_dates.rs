//! MySQL's zero dates (`0000-00-00`), which a copy reads as NULL: counted per column for the
//! report, and a NOT NULL column holding some created nullable.

use std::collections::BTreeMap;

use crate::db::{Backend, TableDef};
use crate::error::Result;
use crate::report::SchemaObject;

/// MySQL's zero dates arrive as NULL, counted per column and reported. A NOT NULL column that
/// holds some must be created nullable, so those are counted before the DDL (`not_null`); the
/// others only for the report, while the rows load.
pub(super) async fn count(
    source: &dyn Backend,
    tables: &[TableDef],
    sources: &BTreeMap<String, TableDef>,
    not_null: bool,
) -> Result<Vec<(String, String, u64)>> {
    let pairs: Vec<(&TableDef, &TableDef)> =
        tables.iter().filter_map(|table| Some((table, sources.get(&table.name)?))).collect();
    let subsets: Vec<TableDef> = pairs
        .iter()
        .map(|(_, original)| {
            let columns = original.columns.iter().filter(|c| c.nullable != not_null).cloned().collect();
            TableDef { name: original.name.clone(), columns, ..Default::default() }
        })
        .collect();
    // Each count scans its table: all at once, as the loads do.
    let counts = futures::future::try_join_all(subsets.iter().map(|subset| source.zero_dates(subset))).await?;
    let mut found = Vec::new();
    for ((table, original), counts) in pairs.into_iter().zip(counts) {
        for (name, count) in counts {
            let Some(at) = original.columns.iter().position(|c| c.name == name) else { continue };
            found.push((table.name.clone(), table.columns[at].name.clone(), count));
        }
    }
    Ok(found)
}

/// The report's line for a column's zero dates; a NOT NULL column is made nullable.
pub(super) fn line(tables: &mut [TableDef], (table, column, count): (String, String, u64)) -> SchemaObject {
    let mut detail = format!("{count} zero dates ('0000-00-00') arrive as NULL");
    let made =
        tables.iter_mut().find(|t| t.name == table).and_then(|t| t.columns.iter_mut().find(|c| c.name == column));
    if let Some(made) = made.filter(|c| !c.nullable) {
        made.nullable = true;
        detail.push_str("; the column is created nullable to hold them");
    }
    SchemaObject::new(&table, format!("column {column}"), "translated", Some(detail))
}
