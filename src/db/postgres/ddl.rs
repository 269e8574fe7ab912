//! PostgreSQL DDL written from ferry's catalog model.

use crate::db::{ColumnDef, ColumnDefault, ColumnType, IndexDef, TableDef};

pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// `"schema"."table"` or `"table"`.
pub fn quote_table(table: &str) -> String {
    table.split('.').map(quote).collect::<Vec<_>>().join(".")
}

fn quote_list(names: &[String]) -> String {
    names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", ")
}

/// The column's type in PostgreSQL's words; identity integers become the SERIAL kinds.
pub fn type_sql(column: &ColumnDef) -> String {
    match (&column.column_type, column.identity) {
        (ColumnType::SmallInt, true) => "smallserial".into(),
        (ColumnType::Integer, true) => "serial".into(),
        (ColumnType::BigInt, true) => "bigserial".into(),
        (ColumnType::Boolean, _) => "boolean".into(),
        (ColumnType::SmallInt, _) => "smallint".into(),
        (ColumnType::Integer, _) => "integer".into(),
        (ColumnType::BigInt, _) => "bigint".into(),
        (ColumnType::Real, _) => "real".into(),
        (ColumnType::Double, _) => "double precision".into(),
        (ColumnType::Decimal(Some((precision, scale))), _) => format!("numeric({precision}, {scale})"),
        (ColumnType::Decimal(None), _) => "numeric".into(),
        (ColumnType::Varchar(length), _) => format!("varchar({length})"),
        (ColumnType::Text, _) => "text".into(),
        (ColumnType::Binary, _) => "bytea".into(),
        (ColumnType::Date, _) => "date".into(),
        (ColumnType::Time, _) => "time".into(),
        (ColumnType::Timestamp, _) => "timestamp".into(),
        (ColumnType::TimestampTz, _) => "timestamptz".into(),
        (ColumnType::Json, _) => "jsonb".into(),
        (ColumnType::Uuid, _) => "uuid".into(),
        (ColumnType::Other(name), _) => name.clone(),
    }
}

fn column_sql(column: &ColumnDef) -> String {
    let mut sql = format!("{} {}", quote(&column.name), type_sql(column));
    if !column.nullable {
        sql.push_str(" NOT NULL");
    }
    match (&column.default, column.identity) {
        (_, true) | (None, _) => {}
        (Some(ColumnDefault::CurrentTimestamp), _) => sql.push_str(" DEFAULT CURRENT_TIMESTAMP"),
        (Some(ColumnDefault::Literal(value) | ColumnDefault::Expression(value)), _) => {
            sql.push_str(&format!(" DEFAULT {value}"))
        }
    }
    sql
}

pub fn create_table(table: &TableDef) -> String {
    let mut parts: Vec<String> = table.columns.iter().map(column_sql).collect();
    if !table.primary_key.is_empty() {
        parts.push(format!("PRIMARY KEY ({})", quote_list(&table.primary_key)));
    }
    for key in &table.foreign_keys {
        parts.push(format!(
            "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
            quote(&key.name),
            quote_list(&key.columns),
            quote_table(&key.referenced_table),
            quote_list(&key.referenced_columns)
        ));
    }
    format!("CREATE TABLE {} ({})", quote_table(&table.name), parts.join(", "))
}

pub fn create_index(table: &str, index: &IndexDef) -> String {
    let unique = if index.unique { "UNIQUE " } else { "" };
    format!("CREATE {unique}INDEX {} ON {} ({})", quote(&index.name), quote_table(table), quote_list(&index.columns))
}
