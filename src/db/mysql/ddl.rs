//! MySQL DDL written from ferry's catalog model.

use crate::db::catalog::{string_literals, Quoting};
use crate::db::{CheckDef, ColumnDef, ColumnDefault, ColumnType, ForeignKeyDef, IndexDef, TableDef};

pub fn quote(identifier: &str) -> String {
    format!("`{}`", identifier.replace('`', "``"))
}

pub fn quote_table(table: &str) -> String {
    table.split('.').map(quote).collect::<Vec<_>>().join(".")
}

/// The column's type in MySQL's words. `keyed`: the column is part of a key or index, where
/// MySQL refuses unbounded TEXT.
pub fn type_sql(column: &ColumnDef, keyed: bool) -> String {
    match &column.column_type {
        ColumnType::Boolean => "BOOLEAN".into(),
        ColumnType::SmallInt => "SMALLINT".into(),
        ColumnType::Integer => "INT".into(),
        ColumnType::BigInt => "BIGINT".into(),
        ColumnType::Real => "FLOAT".into(),
        ColumnType::Double => "DOUBLE".into(),
        ColumnType::Decimal(Some((precision, scale))) => format!("DECIMAL({precision}, {scale})"),
        ColumnType::Decimal(None) => "DECIMAL(65, 30)".into(),
        ColumnType::Varchar(length) => format!("VARCHAR({length})"),
        // MySQL's CHAR holds at most 255 characters.
        ColumnType::Char(length) if *length <= 255 => format!("CHAR({length})"),
        ColumnType::Char(length) => format!("VARCHAR({length})"),
        ColumnType::Text if keyed => "VARCHAR(255)".into(),
        ColumnType::Text => "LONGTEXT".into(),
        ColumnType::Binary => "LONGBLOB".into(),
        ColumnType::Date => "DATE".into(),
        ColumnType::Time => "TIME(6)".into(),
        ColumnType::Timestamp => "DATETIME(6)".into(),
        ColumnType::TimestampTz => "TIMESTAMP(6)".into(),
        ColumnType::Json => "JSON".into(),
        ColumnType::Uuid => "CHAR(36)".into(),
        ColumnType::Enum { labels, .. } => format!("ENUM({})", string_literals(labels)),
        ColumnType::Set { labels } => format!("SET({})", string_literals(labels)),
        ColumnType::Domain { base, .. } => {
            type_sql(&ColumnDef { column_type: (**base).clone(), ..column.clone() }, keyed)
        }
        ColumnType::Native { declared, .. } | ColumnType::Other(declared) => declared.clone(),
    }
}

/// A MySQL string literal: quotes doubled and backslashes escaped (MySQL reads `\` as an escape).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// `(p)` of a date-time column as MySQL writes its current time: the column's own precision
/// (MySQL refuses another).
fn precision(column: &ColumnDef) -> String {
    match &column.column_type {
        ColumnType::Timestamp | ColumnType::TimestampTz => "(6)".into(),
        ColumnType::Native { declared, .. } => match declared.split_once('(') {
            Some((_, rest)) => format!("({})", rest.trim_end_matches(')')),
            None => String::new(),
        },
        _ => String::new(),
    }
}

fn column_sql(column: &ColumnDef, keyed: bool) -> String {
    let mut sql = format!("{} {}", quote(&column.name), type_sql(column, keyed));
    if let Some(generated) = &column.generated {
        // MariaDB takes no NOT NULL on a generated column.
        let kind = if generated.stored { "STORED" } else { "VIRTUAL" };
        sql.push_str(&format!(" AS ({}) {kind}", generated.expression));
        if let Some(comment) = &column.comment {
            sql.push_str(&format!(" COMMENT {}", literal(comment)));
        }
        return sql;
    }
    if !column.nullable {
        sql.push_str(" NOT NULL");
    }
    if column.identity {
        sql.push_str(" AUTO_INCREMENT");
    }
    match &column.default {
        None => {}
        // The default's precision must be the column's.
        Some(ColumnDefault::CurrentTimestamp) => {
            sql.push_str(&format!(" DEFAULT CURRENT_TIMESTAMP{}", precision(column)))
        }
        Some(ColumnDefault::Literal(value)) => sql.push_str(&format!(" DEFAULT {value}")),
        Some(ColumnDefault::Expression(value)) => sql.push_str(&format!(" DEFAULT ({value})")),
    }
    if column.updated_now {
        sql.push_str(&format!(" ON UPDATE CURRENT_TIMESTAMP{}", precision(column)));
    }
    if let Some(comment) = &column.comment {
        sql.push_str(&format!(" COMMENT {}", literal(comment)));
    }
    sql
}

const QUOTING: Quoting = Quoting { name: quote, table: quote_table };

pub fn create_table(table: &TableDef) -> String {
    let keyed = |name: &str| {
        table.primary_key.iter().any(|k| k == name)
            || table.indexes.iter().any(|i| i.columns.iter().any(|c| c == name))
            || table.foreign_keys.iter().chain(&table.later_keys).any(|f| f.columns.iter().any(|c| c == name))
    };
    let mut columns: Vec<String> = table.columns.iter().map(|c| column_sql(c, keyed(&c.name))).collect();
    // InnoDB counts AUTO_INCREMENT from an index that the column leads; a primary key it is
    // not first in (PostgreSQL's partitioned tables key on the partition column first) gets one.
    for column in table.columns.iter().filter(|c| c.identity) {
        if table.primary_key.first() != Some(&column.name) {
            columns.push(format!("KEY ({})", quote(&column.name)));
        }
    }
    let comment = table.comment.as_deref().map(|c| format!(" COMMENT={}", literal(c))).unwrap_or_default();
    // MySQL's own clause (a copy within MySQL), partitions included.
    let partitions = table.partitioning.as_ref().map(|p| format!(" PARTITION BY {}", p.key)).unwrap_or_default();
    QUOTING.create_table(table, columns, true, &format!(" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4{comment}{partitions}"))
}

pub fn add_foreign_key(table: &str, key: &ForeignKeyDef) -> String {
    QUOTING.add_foreign_key(table, key)
}

pub fn add_check(table: &str, check: &CheckDef) -> String {
    QUOTING.add_check(table, check)
}

pub fn create_index(table: &str, index: &IndexDef) -> String {
    if index.native.is_some() || index.prefixes.is_empty() {
        return QUOTING.create_index(table, index);
    }
    let columns: Vec<String> = index
        .columns
        .iter()
        .zip(&index.prefixes)
        .map(|(column, prefix)| match prefix {
            Some(length) => format!("{}({length})", quote(column)),
            None => quote(column),
        })
        .collect();
    let unique = if index.unique { "UNIQUE " } else { "" };
    format!("CREATE {unique}INDEX {} ON {} ({})", quote(&index.name), quote_table(table), columns.join(", "))
}
