//! Reading a SQLite file into ferry's catalog model (`sqlite_master` and the table PRAGMAs).

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::ddl::quote;
use crate::db::catalog::referential_action;
use crate::db::{
    Catalog, ColumnDef, ColumnDefault, ColumnType, ForeignKeyDef, IndexDef, RoutineDef, TableDef, ViewDef,
};

pub fn read(connection: &Connection) -> rusqlite::Result<Catalog> {
    let names: Vec<String> = connection
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND name NOT LIKE '\\_ferry\\_%' ESCAPE '\\' ORDER BY 1",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let tables = names.into_iter().map(|name| table(connection, name)).collect::<rusqlite::Result<_>>()?;
    let views = connection
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid")?
        .query_map([], |row| Ok(ViewDef { name: row.get(0)?, create: row.get(1)? }))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Catalog { tables, views, ..Default::default() })
}

fn table(connection: &Connection, name: String) -> rusqlite::Result<TableDef> {
    // (position in the key, column)
    let mut key: Vec<(i64, String)> = Vec::new();
    let mut columns: Vec<ColumnDef> = connection
        .prepare(&format!("PRAGMA table_info({})", quote(&name)))?
        .query_map([], |row| {
            let name: String = row.get(1)?;
            let declared: String = row.get(2)?;
            let default: Option<String> = row.get(4)?;
            Ok((
                ColumnDef {
                    column_type: column_type(&declared),
                    declared,
                    nullable: row.get::<_, i64>(3)? == 0,
                    default: default.map(parse_default),
                    identity: false,
                    comment: None,
                    updated_now: false,
                    generated: None,
                    name: name.clone(),
                },
                row.get::<_, i64>(5)?,
            ))
        })?
        .map(|column| {
            column.map(|(column, position)| {
                if position > 0 {
                    key.push((position, column.name.clone()));
                }
                column
            })
        })
        .collect::<rusqlite::Result<_>>()?;
    key.sort();
    let primary_key: Vec<String> = key.into_iter().map(|(_, name)| name).collect();
    // A lone INTEGER PRIMARY KEY is the rowid: SQLite numbers the rows.
    if let [only] = primary_key.as_slice() {
        for column in columns.iter_mut().filter(|c| &c.name == only && c.declared.eq_ignore_ascii_case("integer")) {
            column.identity = true;
            column.nullable = false;
        }
    }
    let listed: Vec<(String, bool, String, bool)> = connection
        .prepare(&format!("PRAGMA index_list({})", quote(&name)))?
        .query_map([], |row| Ok((row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut indexes = Vec::new();
    let definition = |index: &str| -> String {
        connection
            .query_row("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", [index], |row| row.get(0))
            .unwrap_or_default()
    };
    for (index, unique, origin, partial) in listed {
        if origin == "pk" {
            continue;
        }
        let columns: Vec<Option<String>> = connection
            .prepare(&format!("PRAGMA index_info({})", quote(&index)))?
            .query_map([], |row| row.get(2))?
            .collect::<rusqlite::Result<_>>()?;
        // A partial or expression index has no portable form: SQLite's own statement then.
        let native = (partial || columns.iter().any(Option::is_none)).then(|| definition(&index));
        let columns = columns.into_iter().flatten().collect();
        indexes.push(IndexDef { name: index, columns, unique, native, ..Default::default() });
    }
    indexes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut keys: BTreeMap<i64, ForeignKeyDef> = BTreeMap::new();
    type Row = (i64, String, String, Option<String>, String, String);
    let rows: Vec<Row> = connection
        .prepare(&format!("PRAGMA foreign_key_list({})", quote(&name)))?
        .query_map([], |row| Ok((row.get(0)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, referenced, from, to, on_update, on_delete) in rows {
        let key = keys.entry(id).or_insert_with(|| ForeignKeyDef {
            name: String::new(),
            columns: Vec::new(),
            referenced_table: referenced.clone(),
            referenced_columns: Vec::new(),
            on_delete: referential_action(&on_delete),
            on_update: referential_action(&on_update),
        });
        key.columns.push(from);
        // Without a column list the key references the other table's primary key.
        key.referenced_columns.push(to.unwrap_or_default());
    }
    let created: Option<String> = connection
        .query_row("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [&name], |row| row.get(0))
        .unwrap_or(None);
    let named = constraint_names(created.as_deref().unwrap_or_default());
    for key in keys.values_mut() {
        // SQLite keeps a constraint's name only in the table's SQL; unnamed ones get PostgreSQL's.
        key.name = named
            .iter()
            .find(|(columns, _)| columns.eq_ignore_ascii_case(&key.columns.join(",")))
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| format!("{name}_{}_fkey", key.columns.join("_")));
    }
    let mut foreign_keys: Vec<ForeignKeyDef> = keys.into_values().collect();
    for key in foreign_keys.iter_mut().filter(|k| k.referenced_columns.iter().any(String::is_empty)) {
        let primary: Vec<String> = connection
            .prepare(&format!("PRAGMA table_info({})", quote(&key.referenced_table)))?
            .query_map([], |row| Ok((row.get::<_, i64>(5)?, row.get::<_, String>(1)?)))?
            .filter_map(|row| row.ok().filter(|(position, _)| *position > 0).map(|(_, name)| name))
            .collect();
        key.referenced_columns = primary;
    }
    foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
    let triggers = connection
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name")?
        .query_map([&name], |row| Ok(RoutineDef { kind: "trigger".into(), name: row.get(0)?, create: row.get(1)? }))?
        .collect::<rusqlite::Result<_>>()?;
    let columns = columns.into_iter().map(ColumnDef::portable).collect();
    Ok(TableDef { name, columns, primary_key, indexes, foreign_keys, triggers, ..Default::default() })
}

/// `CONSTRAINT name FOREIGN KEY (columns)` in a table's SQL: (the columns without quotes or
/// spaces, joined by commas; the name).
fn constraint_names(sql: &str) -> Vec<(String, String)> {
    let bare = |text: &str| text.chars().filter(|c| !matches!(c, '"' | '`' | '[' | ']' | ' ')).collect::<String>();
    let upper = sql.to_ascii_uppercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = upper[from..].find("CONSTRAINT").map(|i| i + from) {
        from = at + "CONSTRAINT".len();
        let rest = &sql[from..];
        let Some(foreign) = rest.to_ascii_uppercase().find("FOREIGN KEY") else { break };
        let name = bare(rest[..foreign].trim());
        let after = &rest[foreign + "FOREIGN KEY".len()..];
        let (Some(open), Some(close)) = (after.find('('), after.find(')')) else { continue };
        if !name.is_empty() && !name.contains([',', '(']) && open < close {
            found.push((bare(&after[open + 1..close]), name));
        }
    }
    found
}

/// The portable type of a declared type, by the names SQLite users write.
fn column_type(declared: &str) -> ColumnType {
    let upper = declared.to_ascii_uppercase();
    let number = |text: &str| text.trim().parse::<u32>().ok();
    let arguments = upper.split_once('(').map(|(_, rest)| rest.trim_end_matches(')').to_string());
    let base = upper.split('(').next().unwrap_or_default().trim().to_string();
    match base.as_str() {
        "BOOLEAN" | "BOOL" => ColumnType::Boolean,
        "SMALLINT" | "TINYINT" => ColumnType::SmallInt,
        // SQLite's INTEGER holds 64 bits whatever it is called; INT and MEDIUMINT say less.
        "INT" | "MEDIUMINT" => ColumnType::Integer,
        "INTEGER" | "BIGINT" => ColumnType::BigInt,
        "REAL" | "FLOAT" => ColumnType::Real,
        "DOUBLE" | "DOUBLE PRECISION" => ColumnType::Double,
        "DECIMAL" | "NUMERIC" => {
            let pair =
                arguments.as_deref().and_then(|a| a.split_once(',')).and_then(|(p, s)| Some((number(p)?, number(s)?)));
            ColumnType::Decimal(pair.map(|(p, s)| (p as u8, s as i8)))
        }
        "VARCHAR" | "CHARACTER VARYING" | "NVARCHAR" => {
            arguments.as_deref().and_then(number).map_or(ColumnType::Text, ColumnType::Varchar)
        }
        "CHAR" | "CHARACTER" | "NCHAR" => {
            arguments.as_deref().and_then(number).map_or(ColumnType::Text, ColumnType::Char)
        }
        "TEXT" | "CLOB" | "" => ColumnType::Text,
        "BLOB" => ColumnType::Binary,
        "DATE" => ColumnType::Date,
        "TIME" => ColumnType::Time,
        "DATETIME" | "TIMESTAMP" => ColumnType::Timestamp,
        "JSON" => ColumnType::Json,
        _ => ColumnType::Other(declared.to_string()),
    }
}

fn parse_default(text: String) -> ColumnDefault {
    let upper = text.to_ascii_uppercase();
    if upper == "CURRENT_TIMESTAMP" {
        ColumnDefault::CurrentTimestamp
    } else if text.parse::<f64>().is_ok() || (text.starts_with('\'') && text.ends_with('\'')) {
        ColumnDefault::Literal(text)
    } else {
        ColumnDefault::Expression(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_key_names_come_from_the_table_sql() {
        let sql = "CREATE TABLE \"c\" (\"id\" BIGINT, \"a\" INTEGER, \"b\" INTEGER, CONSTRAINT \"c_ab\" FOREIGN KEY (\"a\", \"b\") \
                   REFERENCES \"p\" (\"x\", \"y\"), constraint other foreign key (id) references q (id))";
        assert_eq!(
            constraint_names(sql),
            [("a,b".to_string(), "c_ab".to_string()), ("id".to_string(), "other".to_string())]
        );
    }
}
