//! `--names`: the target's names as the source spells them, or folded the same way everywhere
//! (tables, columns, keys, indexes, foreign keys, enum types).

use std::collections::BTreeMap;

use crate::db::{ColumnType, TableDef};
use crate::error::{FerryError, Result};
pub use crate::job::copies::Names;

/// Renames the tables in place; returns each table as the source has it, by its new name. Two
/// names that fold to one are an error naming both.
pub fn rename(tables: &mut [TableDef], names: Names) -> Result<BTreeMap<String, TableDef>> {
    let mut sources = BTreeMap::new();
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    let mut claim = |scope: &str, from: &str, to: String| -> Result<String> {
        let key = format!("{scope}\u{0}{to}");
        match taken.insert(key, from.to_string()) {
            Some(other) if other != from => Err(FerryError::Job(format!(
                "--names: `{other}` and `{from}` both become `{to}`{}; use --names keep, or leave one out with --exclude",
                if scope.is_empty() { String::new() } else { format!(" in `{scope}`") }
            ))),
            _ => Ok(to),
        }
    };
    for table in tables.iter_mut() {
        let source = table.clone();
        let fold = |name: &str| names.fold(name);
        table.name = claim("", &source.name, fold(&source.name))?;
        for column in &mut table.columns {
            column.name = claim(&source.name, &column.name, fold(&column.name))?;
            if let ColumnType::Enum { name, .. } | ColumnType::Domain { name, .. } = &mut column.column_type {
                *name = fold(name);
            }
        }
        table.primary_key = table.primary_key.iter().map(|c| fold(c)).collect();
        table.inherits = table.inherits.iter().map(|t| fold(t)).collect();
        for index in &mut table.indexes {
            index.name = fold(&index.name);
            index.columns = index.columns.iter().map(|c| fold(c)).collect();
        }
        for key in &mut table.foreign_keys {
            key.name = fold(&key.name);
            key.columns = key.columns.iter().map(|c| fold(c)).collect();
            key.referenced_table = fold(&key.referenced_table);
            key.referenced_columns = key.referenced_columns.iter().map(|c| fold(c)).collect();
        }
        sources.insert(table.name.clone(), source);
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_alike_everywhere() {
        let cases = [
            ("InvoiceLine", "invoice_line"),
            ("AlbumId", "album_id"),
            ("HTTPServer", "http_server"),
            ("already_snake", "already_snake"),
            ("Track2Name", "track2_name"),
            ("My Table", "my_table"),
        ];
        for (name, snake) in cases {
            assert_eq!(Names::Snake.fold(name), snake, "{name}");
        }
        assert_eq!(Names::Lower.fold("InvoiceLine"), "invoiceline");
        assert_eq!(Names::Keep.fold("InvoiceLine"), "InvoiceLine");
    }

    #[test]
    fn two_names_folding_to_one_are_refused() {
        let table = |name: &str| TableDef { name: name.into(), ..Default::default() };
        let mut tables = vec![table("Album"), table("album")];
        let error = rename(&mut tables, Names::Lower).unwrap_err().to_string();
        assert_eq!(
            error,
            "--names: `Album` and `album` both become `album`; use --names keep, or leave one out with --exclude"
        );
    }
}
