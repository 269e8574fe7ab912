//! SQLite DDL written from ferry's catalog model. Declared types are chosen so that SQLite's
//! affinity and ferry's reading of them (`source::arrow_type`) give the type back.

use crate::db::catalog::{string_literals, Quoting};
use crate::db::{ColumnDef, ColumnDefault, ColumnType, ForeignKeyDef, IndexDef, TableDef};

pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

pub fn type_sql(column: &ColumnDef) -> String {
    match &column.column_type {
        ColumnType::Boolean => "BOOLEAN".into(),
        ColumnType::SmallInt => "SMALLINT".into(),
        ColumnType::Integer => "INT".into(),
        ColumnType::BigInt => "BIGINT".into(),
        ColumnType::Real => "REAL".into(),
        ColumnType::Double => "DOUBLE".into(),
        ColumnType::Decimal(Some((precision, scale))) => format!("DECIMAL({precision}, {scale})"),
        ColumnType::Decimal(None) => "NUMERIC".into(),
        ColumnType::Varchar(length) => format!("VARCHAR({length})"),
        ColumnType::Char(length) => format!("CHAR({length})"),
        ColumnType::Text | ColumnType::Json | ColumnType::Uuid => "TEXT".into(),
        ColumnType::Binary => "BLOB".into(),
        ColumnType::Date => "DATE".into(),
        ColumnType::Time => "TIME".into(),
        ColumnType::Timestamp | ColumnType::TimestampTz => "TIMESTAMP".into(),
        ColumnType::Enum { .. } | ColumnType::Set { .. } => "TEXT".into(),
        ColumnType::Domain { base, .. } => type_sql(&ColumnDef { column_type: (**base).clone(), ..column.clone() }),
        ColumnType::Native { declared, .. } | ColumnType::Other(declared) => declared.clone(),
    }
}

fn column_sql(column: &ColumnDef, rowid: bool) -> String {
    // A lone INTEGER PRIMARY KEY is SQLite's rowid: it numbers rows by itself.
    if rowid {
        return format!("{} INTEGER PRIMARY KEY", quote(&column.name));
    }
    let mut sql = format!("{} {}", quote(&column.name), type_sql(column));
    if !column.nullable {
        sql.push_str(" NOT NULL");
    }
    match &column.default {
        None => {}
        Some(ColumnDefault::CurrentTimestamp) => sql.push_str(" DEFAULT CURRENT_TIMESTAMP"),
        Some(ColumnDefault::Literal(value)) => sql.push_str(&format!(" DEFAULT {value}")),
        Some(ColumnDefault::Expression(value)) => sql.push_str(&format!(" DEFAULT ({value})")),
    }
    if let ColumnType::Enum { labels, .. } = &column.column_type {
        sql.push_str(&format!(" CHECK ({} IN ({}))", quote(&column.name), string_literals(labels)));
    }
    sql
}

const QUOTING: Quoting = Quoting { name: quote, table: quote };

pub fn create_table(table: &TableDef) -> String {
    let rowid = |column: &ColumnDef| {
        table.primary_key.len() == 1
            && table.primary_key[0] == column.name
            && matches!(column.column_type, ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt)
            && column.identity
    };
    let has_rowid = table.columns.iter().any(rowid);
    let columns = table.columns.iter().map(|c| column_sql(c, rowid(c))).collect();
    QUOTING.create_table(table, columns, !has_rowid, "")
}

pub fn create_index(table: &str, index: &IndexDef) -> String {
    QUOTING.create_index(table, index)
}

/// The rows of `table` whose foreign key `key` (found among the table's keys by its columns and
/// referenced table) references no row, as `PRAGMA foreign_key_check` finds them; None when the
/// table has no such key.
pub fn unchecked_rows(
    connection: &rusqlite::Connection,
    table: &str,
    key: &ForeignKeyDef,
) -> rusqlite::Result<Option<u64>> {
    let mut listed: std::collections::BTreeMap<i64, (String, Vec<String>)> = Default::default();
    let mut statement =
        connection.prepare("SELECT id, \"table\", \"from\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq")?;
    let rows = statement.query_map([table], |row| Ok((row.get::<_, i64>(0)?, row.get(1)?, row.get(2)?)))?;
    for row in rows {
        let (id, referenced, column): (i64, String, String) = row?;
        listed.entry(id).or_insert_with(|| (referenced, Vec::new())).1.push(column);
    }
    let same = |(referenced, columns): &(String, Vec<String>)| {
        referenced.eq_ignore_ascii_case(&key.referenced_table)
            && columns.len() == key.columns.len()
            && columns.iter().zip(&key.columns).all(|(a, b)| a.eq_ignore_ascii_case(b))
    };
    let Some(id) = listed.iter().find(|(_, listed)| same(listed)).map(|(id, _)| *id) else {
        return Ok(None);
    };
    let sql = "SELECT count(*) FROM pragma_foreign_key_check(?1) WHERE fkid = ?2";
    connection.query_row(sql, rusqlite::params![table, id], |row| row.get::<_, i64>(0)).map(|n| Some(n as u64))
}
