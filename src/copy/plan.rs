//! What a copy will do, decided before anything is written: the tables chosen by the globs,
//! each translated to the target (types through the portable map, foreign keys to tables left
//! out dropped), and the DDL in the target's words.

use std::collections::BTreeSet;

use crate::db::{Backend, Catalog, ColumnDefault, ColumnType, TableDef, ViewDef};
use crate::error::{FerryError, Result};
pub use crate::report::SchemaObject;

/// The tables to copy, in the source catalog's order, and what was left out and why.
pub struct Selection {
    pub tables: Vec<TableDef>,
    pub skipped: Vec<SchemaObject>,
}

/// `*` any run of characters, `?` one; everything else itself.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    fn matches(glob: &[char], name: &[char]) -> bool {
        match (glob.first(), name.first()) {
            (None, None) => true,
            (Some('*'), _) => matches(&glob[1..], name) || (!name.is_empty() && matches(glob, &name[1..])),
            (Some('?'), Some(_)) => matches(&glob[1..], &name[1..]),
            (Some(g), Some(n)) if g == n => matches(&glob[1..], &name[1..]),
            _ => false,
        }
    }
    let (glob, name): (Vec<char>, Vec<char>) = (glob.chars().collect(), name.chars().collect());
    matches(&glob, &name)
}

/// Whether the globs choose `name`: any of `include` (all when none) and none of `exclude`.
fn chosen(name: &str, include: &[String], exclude: &[String]) -> bool {
    (include.is_empty() || include.iter().any(|g| glob_matches(g, name)))
        && !exclude.iter().any(|g| glob_matches(g, name))
}

/// The source tables the globs choose; a glob that matches nothing is an error naming it.
pub fn select(catalog: &Catalog, source: &dyn Backend, include: &[String], exclude: &[String]) -> Result<Selection> {
    let names: Vec<&str> =
        catalog.tables.iter().map(|t| t.name.as_str()).chain(catalog.views.iter().map(|v| v.name.as_str())).collect();
    for glob in include.iter().chain(exclude) {
        if !names.iter().any(|name| glob_matches(glob, name)) {
            let listed: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            return Err(FerryError::Job(format!(
                "`{glob}` matches no table of `{}`; it has {}",
                source.endpoint(),
                if listed.is_empty() { "no tables".to_string() } else { listed.join(", ") }
            )));
        }
    }
    let tables: Vec<TableDef> = catalog.tables.iter().filter(|t| chosen(&t.name, include, exclude)).cloned().collect();
    Ok(Selection { tables: referenced_first(tables), skipped: Vec::new() })
}

/// The tables in an order where each comes after the tables it references (where the keys
/// form no cycle), so that a target checking keys as rows arrive accepts them.
fn referenced_first(mut pending: Vec<TableDef>) -> Vec<TableDef> {
    let mut ordered: Vec<TableDef> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|table| {
            let waits_for = |name: &String| *name != table.name && pending.iter().any(|other| other.name == *name);
            !table.foreign_keys.iter().any(|key| waits_for(&key.referenced_table))
                && !table.inherits.iter().any(waits_for)
        });
        // A cycle: take the next table as it comes; its keys are added after the rows.
        ordered.push(pending.remove(ready.unwrap_or(0)));
    }
    ordered
}

/// Each table as the target gets it: types only the source's engine has become their portable
/// counterparts (each decision reported), types no engine could be given are an error naming the
/// column; foreign keys to tables not copied are dropped and reported. Columns whose values the
/// copy's query must convert are added to `converted`.
pub fn translate(
    selection: &mut Selection,
    source: &dyn Backend,
    target: &dyn Backend,
    converted: &mut BTreeSet<(String, String)>,
    names_kept: bool,
) -> Result<()> {
    let same_engine = source.name() == target.name();
    // The engine's own SQL of an index or check names the source's columns in its words.
    let native = same_engine && names_kept;
    let why_not = |kind: &str| match same_engine {
        true => format!("{kind} is copied with --names keep only"),
        false => format!("{kind} is {}'s, copied only to {0}", source.name()),
    };
    unique_index_names(&mut selection.tables);
    let copied: Vec<String> = selection.tables.iter().map(|t| t.name.clone()).collect();
    for table in &mut selection.tables {
        for column in &mut table.columns {
            if column.updated_now && !target.capabilities().updates_now {
                let object = format!("on update {}", column.name);
                let (status, detail) = match target.updated_now_trigger(&table.name, &column.name) {
                    // Made once the rows are in (super::routines::create).
                    Some(_) => ("translated", format!("{} has no ON UPDATE CURRENT_TIMESTAMP: a trigger sets the column when its row is updated without setting it", target.name())),
                    None => {
                        column.updated_now = false;
                        ("skipped", format!("{} has no ON UPDATE CURRENT_TIMESTAMP: the column keeps the value written", target.name()))
                    }
                };
                selection.skipped.push(SchemaObject::new(&table.name, object, status, Some(detail)));
            }
            let object = format!("column {}", column.name);
            if let Some(generated) = column.generated.take_if(|_| !native) {
                let detail = format!(
                    "{} computes it as ({}); here it is a plain column holding the copied values",
                    source.name(),
                    generated.expression
                );
                selection.skipped.push(SchemaObject::new(&table.name, object.clone(), "translated", Some(detail)));
            }
            if !same_engine && target.capabilities().runs_sql {
                if let Some(ColumnDefault::Expression(expression)) =
                    column.default.take_if(|default| matches!(default, ColumnDefault::Expression(_)))
                {
                    let detail = format!("({expression}) is {}'s SQL: the column has no default", source.name());
                    let object = format!("default {}", column.name);
                    selection.skipped.push(SchemaObject::new(&table.name, object, "skipped", Some(detail)));
                }
                // A number only some engines have ('NaN', 'Infinity' of PostgreSQL's floats).
                let numeric = column.column_type.is_number();
                let finite = |value: &str| value.trim_matches('\'').parse::<f64>().is_ok_and(f64::is_finite);
                if let Some(ColumnDefault::Literal(value)) = column
                    .default
                    .take_if(|default| numeric && matches!(default, ColumnDefault::Literal(v) if !finite(v)))
                {
                    let detail = format!("{value} is no number in {}: the column has no default", target.name());
                    let object = format!("default {}", column.name);
                    selection.skipped.push(SchemaObject::new(&table.name, object, "skipped", Some(detail)));
                }
            }
            if same_engine {
                continue;
            }
            let was = column.column_type.to_string();
            let (portable, detail) = match &column.column_type {
                // PostgreSQL pads char(n) with spaces and MySQL strips them: only varchar keeps the value.
                ColumnType::Char(length) => {
                    (ColumnType::Varchar(*length), "char(n) keeps its padding only within one engine".to_string())
                }
                ColumnType::Domain { base, checks, .. } => {
                    converted.insert((table.name.clone(), column.name.clone()));
                    let checks = if checks.is_empty() {
                        String::new()
                    } else {
                        format!("; its checks are not copied: {}", checks.join(", "))
                    };
                    ((**base).clone(), format!("a domain is {}'s{checks}", source.name()))
                }
                // Read as its exact text, which such a target's decimal column is not.
                ColumnType::Decimal(None) if !target.capabilities().decimals_without_precision => {
                    converted.insert((table.name.clone(), column.name.clone()));
                    let detail = format!(
                        "{} has no decimal without a precision: values are rounded to 30 decimal places, \
                         and one with more than 35 digits before the point fails the table's load",
                        target.name()
                    );
                    (ColumnType::Decimal(Some((65, 30))), detail)
                }
                ColumnType::Set { .. } => {
                    (ColumnType::Text, "the labels joined by commas, as MySQL reads them".to_string())
                }
                ColumnType::Native { portable, .. } => {
                    column.column_type = (**portable).clone();
                    continue;
                }
                ColumnType::Other(declared) if source.capabilities().text_forms => (
                    ColumnType::Text,
                    format!("`{declared}` has no counterpart in {}; its text form is kept", target.name()),
                ),
                ColumnType::Other(declared) => {
                    return Err(FerryError::Job(format!(
                        "column `{}.{}` has type `{declared}`, which ferry cannot translate from {} to {}; \
                         give it one with --cast {0}.{1}=TYPE (e.g. text), or leave the table out with --exclude {0}",
                        table.name,
                        column.name,
                        source.name(),
                        target.name()
                    )));
                }
                _ => continue,
            };
            column.column_type = portable;
            let detail = format!("{} {was} -> {}: {detail}", column.name, target.type_sql(column));
            selection.skipped.push(SchemaObject::new(&table.name, object, "translated", Some(detail)));
        }
        if !target.capabilities().comments {
            let commented = table.comment.is_some() || table.columns.iter().any(|c| c.comment.is_some());
            if commented {
                let detail = format!("{} keeps no comments", target.name());
                selection.skipped.push(SchemaObject::new(&table.name, "comments".into(), "skipped", Some(detail)));
            }
        }
        if !same_engine {
            for parent in &table.inherits {
                let detail = format!(
                    "{} has no table inheritance: these rows are copied here, not into `{parent}`",
                    target.name()
                );
                selection.skipped.push(SchemaObject::new(
                    &table.name,
                    format!("inherits {parent}"),
                    "translated",
                    Some(detail),
                ));
            }
        }
        if !native {
            if let Some(why) = super::routines::why_not(source, target, names_kept, (None, None)) {
                for trigger in table.triggers.drain(..) {
                    let object = format!("trigger {}", trigger.name);
                    selection.skipped.push(SchemaObject::new(&table.name, object, "skipped", Some(why.clone())));
                }
            }
            let (kept, dropped): (Vec<_>, Vec<_>) = table.indexes.drain(..).partition(|index| index.native.is_none());
            table.indexes = kept;
            let indexes = dropped.into_iter().map(|index| {
                let detail = format!("{}: {}", why_not("this index"), index.native.unwrap_or_default());
                (format!("index {}", index.name), detail)
            });
            let checks = table.checks.drain(..).map(|check| {
                (format!("check {}", check.name), format!("{}: {}", why_not("a CHECK constraint"), check.clause))
            });
            for (object, detail) in indexes.chain(checks).collect::<Vec<_>>() {
                selection.skipped.push(SchemaObject::new(&table.name, object, "skipped", Some(detail)));
            }
        }
        if let Some(partitioning) = table.partitioning.take_if(|_| !native) {
            let detail = format!(
                "PARTITION BY {}: {}; read through the partitioned table, its partitions' rows are copied into one table",
                partitioning.key.lines().next().unwrap_or_default(),
                why_not("partitioning")
            );
            selection.skipped.push(SchemaObject::new(&table.name, "partitioning".into(), "translated", Some(detail)));
        }
        for object in table.unsupported.drain(..) {
            selection.skipped.push(SchemaObject::new(&table.name, object.object, "skipped", Some(object.reason)));
        }
        let (kept, dropped): (Vec<_>, Vec<_>) =
            table.foreign_keys.drain(..).partition(|key| copied.contains(&key.referenced_table));
        table.foreign_keys = kept;
        for key in dropped {
            let detail = format!("it references `{}`, which is not copied", key.referenced_table);
            selection.skipped.push(SchemaObject::new(
                &table.name,
                format!("foreign key {}", key.name),
                "skipped",
                Some(detail),
            ));
        }
    }
    Ok(())
}

/// Index names that are unique in the database: PostgreSQL and SQLite name indexes per schema,
/// MySQL per table, so an index whose name another table's index or a table has is prefixed
/// with its table's name.
fn unique_index_names(tables: &mut [TableDef]) {
    let mut seen: std::collections::BTreeMap<String, usize> = tables.iter().map(|t| (t.name.clone(), 1)).collect();
    for table in tables.iter() {
        for index in &table.indexes {
            *seen.entry(index.name.clone()).or_default() += 1;
        }
    }
    for table in tables.iter_mut() {
        for index in &mut table.indexes {
            if seen.get(&index.name).copied().unwrap_or_default() > 1 {
                index.name = format!("{}_{}", table.name, index.name);
            }
        }
    }
}

/// The views the globs choose: created when source and target are the same engine (their SQL is
/// the source's), else reported as skipped.
pub fn views(
    catalog: &Catalog,
    source: &dyn Backend,
    target: &dyn Backend,
    include: &[String],
    exclude: &[String],
    report: &mut Vec<SchemaObject>,
) -> Vec<ViewDef> {
    let views: Vec<ViewDef> = catalog.views.iter().filter(|v| chosen(&v.name, include, exclude)).cloned().collect();
    if source.name() == target.name() {
        return views;
    }
    for view in views {
        let detail = format!("a view's SQL is {}'s; views move only between engines of the same kind", source.name());
        report.push(SchemaObject::new(&view.name, "view".into(), "skipped", Some(detail)));
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_matches("*", "Album"));
        assert!(glob_matches("Al*", "Album"));
        assert!(glob_matches("*um", "Album"));
        assert!(glob_matches("A?bum", "Album"));
        assert!(!glob_matches("Al", "Album"));
        assert!(!glob_matches("album", "Album"));
        assert!(glob_matches("*_*", "source_table"));
    }
}
