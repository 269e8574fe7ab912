//! PostgreSQL DDL written from ferry's catalog model.

use crate::db::catalog::{string_literals, Quoting};
use crate::db::{CheckDef, ColumnDef, ColumnDefault, ColumnType, ForeignKeyDef, IndexDef, Partitioning, TableDef};

pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// `"schema"."table"` or `"table"`.
pub fn quote_table(table: &str) -> String {
    table.split('.').map(quote).collect::<Vec<_>>().join(".")
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
        (ColumnType::Char(length), _) => format!("char({length})"),
        (ColumnType::Text | ColumnType::Set { .. }, _) => "text".into(),
        (ColumnType::Binary, _) => "bytea".into(),
        (ColumnType::Date, _) => "date".into(),
        (ColumnType::Time, _) => "time".into(),
        (ColumnType::Timestamp, _) => "timestamp".into(),
        (ColumnType::TimestampTz, _) => "timestamptz".into(),
        (ColumnType::Json, _) => "jsonb".into(),
        (ColumnType::Uuid, _) => "uuid".into(),
        (ColumnType::Enum { name, .. } | ColumnType::Domain { name, .. }, _) => quote(name),
        (ColumnType::Native { declared, .. } | ColumnType::Other(declared), _) => declared.clone(),
    }
}

fn column_sql(column: &ColumnDef) -> String {
    let mut sql = format!("{} {}", quote(&column.name), type_sql(column));
    if !column.nullable {
        sql.push_str(" NOT NULL");
    }
    if let Some(generated) = &column.generated {
        // PostgreSQL stores every generated column (before version 18).
        sql.push_str(&format!(" GENERATED ALWAYS AS ({}) STORED", generated.expression));
        return sql;
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

const QUOTING: Quoting = Quoting { name: quote, table: quote_table };

/// The table, after the enum types and domains its columns use (each made unless it exists).
pub fn create_table(table: &TableDef) -> String {
    let mut sql = String::new();
    let unless_exists =
        |create: String| format!("DO $$ BEGIN {create}; EXCEPTION WHEN duplicate_object THEN NULL; END $$; ");
    for column in &table.columns {
        match &column.column_type {
            ColumnType::Enum { name, labels } => sql.push_str(&unless_exists(format!(
                "CREATE TYPE {} AS ENUM ({})",
                quote(name),
                string_literals(labels)
            ))),
            ColumnType::Domain { name, declared, checks, .. } => {
                let checks: String = checks.iter().map(|check| format!(" {check}")).collect();
                sql.push_str(&unless_exists(format!("CREATE DOMAIN {} AS {declared}{checks}", quote(name))))
            }
            _ => {}
        }
    }
    let inherits = match table.inherits.is_empty() {
        true => String::new(),
        false => {
            format!(" INHERITS ({})", table.inherits.iter().map(|t| quote_table(t)).collect::<Vec<_>>().join(", "))
        }
    };
    let partitioned = match &table.partitioning {
        Some(partitioning) => format!(" PARTITION BY {}", partitioning.key),
        None => String::new(),
    };
    let suffix = format!("{inherits}{partitioned}");
    sql += &QUOTING.create_table(table, table.columns.iter().map(column_sql).collect(), true, &suffix);
    if let Some(partitioning) = &table.partitioning {
        sql += &partitions(&table.name, partitioning);
    }
    let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
    if let Some(comment) = &table.comment {
        sql += &format!("; COMMENT ON TABLE {} IS {}", quote_table(&table.name), literal(comment));
    }
    for column in &table.columns {
        if let Some(comment) = &column.comment {
            let name = format!("{}.{}", quote_table(&table.name), quote(&column.name));
            sql += &format!("; COMMENT ON COLUMN {name} IS {}", literal(comment));
        }
    }
    sql
}

/// `CREATE TABLE ... PARTITION OF` for each partition of `parent`, and theirs in turn.
fn partitions(parent: &str, partitioning: &Partitioning) -> String {
    let mut sql = String::new();
    for partition in &partitioning.partitions {
        sql += &format!(
            "; CREATE TABLE {} PARTITION OF {} {}",
            quote_table(&partition.name),
            quote_table(parent),
            partition.bound
        );
        if let Some(inner) = &partition.partitioning {
            sql += &format!(" PARTITION BY {}", inner.key);
            sql += &partitions(&partition.name, inner);
        }
    }
    sql
}

pub fn add_foreign_key(table: &str, key: &ForeignKeyDef) -> String {
    QUOTING.add_foreign_key(table, key)
}

pub fn add_check(table: &str, check: &CheckDef) -> String {
    QUOTING.add_check(table, check)
}

pub fn create_index(table: &str, index: &IndexDef) -> String {
    QUOTING.create_index(table, index)
}
