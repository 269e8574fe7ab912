//! SQLite DDL written from ferry's catalog model. Declared types are chosen so that SQLite's
//! affinity and ferry's reading of them (`source::arrow_type`) give the type back.

use crate::db::catalog::{string_literals, Quoting};
use crate::db::{ColumnDef, ColumnDefault, ColumnType, IndexDef, TableDef};

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
