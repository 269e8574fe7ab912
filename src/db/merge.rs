//! The SQL of merge loads, for every database target. The rows go first into a staging table
//! without constraints, in the load's transaction; from there ferry finds keys that occur more
//! than once (an error naming them, before any row reaches the table), counts the keys the table
//! already holds (the rows that will be updated), and upserts them all in one statement.

use arrow::datatypes::SchemaRef;

use super::state::STATE_TABLE;
use super::LoadSpec;
use crate::error::{FerryError, Result};

/// The SQL dialects of the engines that load through SQL statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

/// The staging table's name (temporary, dropped with the transaction or the session).
pub const STAGING: &str = "_ferry_load";

pub fn quote(dialect: Dialect, identifier: &str) -> String {
    match dialect {
        Dialect::Mysql => format!("`{}`", identifier.replace('`', "``")),
        Dialect::Postgres | Dialect::Sqlite => format!("\"{}\"", identifier.replace('"', "\"\"")),
    }
}

/// `"schema"."table"` or `"table"`.
pub fn quote_table(dialect: Dialect, table: &str) -> String {
    table.split('.').map(|part| quote(dialect, part)).collect::<Vec<_>>().join(".")
}

/// The key columns as the target table names them (the query may spell them in another case).
pub fn key_columns(spec: &LoadSpec, target: &SchemaRef) -> Vec<String> {
    spec.key
        .iter()
        .map(|key| {
            target
                .fields()
                .iter()
                .find(|f| f.name().eq_ignore_ascii_case(key))
                .map_or(key.clone(), |f| f.name().clone())
        })
        .collect()
}

/// The keys found more than once: each key's columns as text, its row count, and (on every row)
/// how many keys are duplicated in all. At most ten, the most repeated first.
pub fn duplicates_sql(dialect: Dialect, key: &[String]) -> String {
    let text = match dialect {
        Dialect::Mysql => "CHAR",
        Dialect::Postgres | Dialect::Sqlite => "TEXT",
    };
    let columns: Vec<String> = key.iter().map(|k| quote(dialect, k)).collect();
    let as_text: Vec<String> = columns.iter().map(|c| format!("CAST({c} AS {text})")).collect();
    format!(
        "SELECT {}, count(*), count(*) OVER () FROM {STAGING} GROUP BY {} HAVING count(*) > 1 \
         ORDER BY count(*) DESC, {} LIMIT 10",
        as_text.join(", "),
        columns.join(", "),
        columns.join(", ")
    )
}

/// The error for keys that occur more than once among the rows read. `found` holds what
/// [`duplicates_sql`] returned: the key values, the row count, the number of duplicated keys.
pub fn duplicates_error(spec: &LoadSpec, found: &[(Vec<Option<String>>, i64, i64)]) -> FerryError {
    let total = found.first().map_or(0, |row| row.2);
    let examples: Vec<String> = found
        .iter()
        .map(|(values, count, _)| {
            let pairs: Vec<String> = spec
                .key
                .iter()
                .zip(values)
                .map(|(name, value)| format!("{name} = {}", value.as_deref().unwrap_or("NULL")))
                .collect();
            format!("{} ({count} rows)", pairs.join(", "))
        })
        .collect();
    FerryError::Value {
        migration: spec.migration.clone(),
        column: spec.key.join(", "),
        message: format!(
            "the key is not unique in the rows read: {total} key{} occur{} more than once: {}{}; nothing was published. \
             Make the query return one row per key (GROUP BY, or a window function keeping the latest row)",
            if total == 1 { "" } else { "s" },
            if total == 1 { "s" } else { "" },
            examples.join(", "),
            if total > found.len() as i64 { ", ..." } else { "" }
        ),
    }
}

/// Two counts: the staged rows whose key the table already holds (the rows the merge updates),
/// and of those the rows that hold the table's values already (the merge leaves them as they
/// are). `compared`: each column that is not part of the key, with its staged value as the
/// table stores it (an expression over `s`).
pub fn matched_sql(dialect: Dialect, table: &str, key: &[String], compared: &[(String, String)]) -> String {
    let on: Vec<String> = key.iter().map(|k| format!("t.{column} = s.{column}", column = quote(dialect, k))).collect();
    let same: Vec<String> = compared
        .iter()
        .map(|(column, staged)| {
            let column = quote(dialect, column);
            match dialect {
                // Text forms: every type has one, not every type has an equality operator (json).
                Dialect::Postgres => format!("CAST(t.{column} AS TEXT) IS NOT DISTINCT FROM CAST({staged} AS TEXT)"),
                Dialect::Mysql => format!("t.{column} <=> {staged}"),
                Dialect::Sqlite => format!("t.{column} IS {staged}"),
            }
        })
        .collect();
    let same = if same.is_empty() { "1 = 1".to_string() } else { same.join(" AND ") };
    format!(
        "SELECT count(*), count(CASE WHEN {same} THEN 1 END) FROM {STAGING} s JOIN {} t ON {}",
        quote_table(dialect, table),
        on.join(" AND ")
    )
}

/// The columns a merge compares to find unchanged rows: all but the key, staged as they are.
pub fn compared_columns(dialect: Dialect, names: &[String], key: &[String]) -> Vec<(String, String)> {
    names
        .iter()
        .filter(|name| !key.contains(name))
        .map(|name| (name.clone(), format!("s.{}", quote(dialect, name))))
        .collect()
}

/// Moves the staged rows into the table: plain insert, or an upsert on `key` (merge).
/// `selected` are the staging expressions for `columns` (a cast where text is staged).
pub fn insert_sql(
    dialect: Dialect,
    table: &str,
    columns: &[String],
    selected: &[String],
    merge_key: Option<&[String]>,
) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| quote(dialect, c)).collect();
    // SQLite needs a WHERE before ON CONFLICT, so the parser does not read it as a join's ON.
    let filter = if dialect == Dialect::Sqlite { " WHERE true" } else { "" };
    let mut sql = format!(
        "INSERT INTO {} ({}) SELECT {} FROM {STAGING}{filter}",
        quote_table(dialect, table),
        quoted.join(", "),
        selected.join(", ")
    );
    let Some(key) = merge_key else { return sql };
    let others: Vec<&String> =
        quoted.iter().zip(columns).filter(|(_, c)| !key.iter().any(|k| k == *c)).map(|(q, _)| q).collect();
    let keys: Vec<String> = key.iter().map(|k| quote(dialect, k)).collect();
    let clause = match dialect {
        Dialect::Mysql => {
            let sets: Vec<String> = others.iter().map(|c| format!("{c} = VALUES({c})")).collect();
            let sets = if sets.is_empty() { vec![format!("{0} = {0}", keys[0])] } else { sets };
            format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", "))
        }
        Dialect::Postgres | Dialect::Sqlite => {
            let sets: Vec<String> = others.iter().map(|c| format!("{c} = excluded.{c}")).collect();
            let action =
                if sets.is_empty() { "NOTHING".to_string() } else { format!("UPDATE SET {}", sets.join(", ")) };
            format!(" ON CONFLICT ({}) DO {action}", keys.join(", "))
        }
    };
    sql.push_str(&clause);
    sql
}

/// Saves a migration's state; parameters: migration, cursor column, watermark, run id.
pub fn save_state_sql(dialect: Dialect) -> String {
    let columns = "(migration, cursor_column, watermark, run_id)";
    match dialect {
        Dialect::Postgres => format!(
            "INSERT INTO {STATE_TABLE} {columns} VALUES ($1, $2, $3, $4) ON CONFLICT (migration) DO UPDATE SET \
             cursor_column = excluded.cursor_column, watermark = excluded.watermark, run_id = excluded.run_id, updated_at = now()"
        ),
        Dialect::Mysql => format!(
            "INSERT INTO {STATE_TABLE} {columns} VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
             cursor_column = VALUES(cursor_column), watermark = VALUES(watermark), run_id = VALUES(run_id), \
             updated_at = CURRENT_TIMESTAMP(6)"
        ),
        Dialect::Sqlite => format!(
            "INSERT INTO {STATE_TABLE} {columns} VALUES (?, ?, ?, ?) ON CONFLICT (migration) DO UPDATE SET \
             cursor_column = excluded.cursor_column, watermark = excluded.watermark, run_id = excluded.run_id, \
             updated_at = CURRENT_TIMESTAMP"
        ),
    }
}

/// Refuses a merge into a table with no primary key or unique index on exactly the key columns
/// (the upsert could not match rows, and MySQL would silently insert duplicates).
pub fn check_unique_key(spec: &LoadSpec, unique: &[Vec<String>]) -> Result<()> {
    let wanted: Vec<String> = spec.key.iter().map(|k| k.to_lowercase()).collect();
    let matches = unique
        .iter()
        .any(|columns| columns.len() == wanted.len() && columns.iter().all(|c| wanted.contains(&c.to_lowercase())));
    if matches {
        return Ok(());
    }
    Err(FerryError::Job(format!(
        "migration `{}`: target table `{}` has no primary key or unique index on ({}); a merge matches rows on `key`, \
         so it needs one: add it (e.g. `ALTER TABLE {} ADD PRIMARY KEY ({})`) or use mode = \"replace\"",
        spec.migration,
        spec.table,
        spec.key.join(", "),
        spec.table,
        spec.key.join(", ")
    )))
}
