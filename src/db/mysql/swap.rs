//! MySQL commits DDL by itself, so a table cannot be made or emptied inside the load's
//! transaction. Instead the rows go into a shadow table (`_ferry_shadow_<hash of the name>`,
//! made like the table, or made new) and one `RENAME TABLE` statement, which MySQL runs
//! atomically, puts it in the table's place. Until then readers see the old table, or no table;
//! a killed run leaves at most a shadow (or the renamed-away old table), which the next load of
//! the table removes. A table with foreign keys or triggers, which a rename would leave on the
//! old table, is loaded in place (a `DELETE` in the transaction) and the report says so.

use mysql::prelude::Queryable;

use crate::db::merge::{quote_table, Dialect};

/// The shadow's name: short and the same for the same table, so the next run finds a leftover.
pub fn shadow_name(table: &str) -> String {
    format!("_ferry_shadow_{:016x}", fnv(table))
}

/// The name the old table takes for the moment between the swap and its drop.
fn old_name(table: &str) -> String {
    format!("_ferry_old_{:016x}", fnv(table))
}

/// FNV-1a: stable across builds, unlike the standard library's hasher.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3))
}

fn quoted(name: &str) -> String {
    quote_table(Dialect::Mysql, name)
}

/// Drops what an earlier, killed load of `table` may have left.
pub fn clear(connection: &mut mysql::Conn, table: &str) -> Result<(), mysql::Error> {
    connection.query_drop(format!("DROP TABLE IF EXISTS {}, {}", quoted(&shadow_name(table)), quoted(&old_name(table))))
}

/// Why `table` cannot be swapped, when it cannot.
pub fn blocker(connection: &mut mysql::Conn, table: &str) -> Result<Option<String>, mysql::Error> {
    let key: Option<(String, String)> = connection.exec_first(
        "SELECT constraint_name, table_name FROM information_schema.referential_constraints \
         WHERE constraint_schema = DATABASE() AND (table_name = ? OR referenced_table_name = ?) LIMIT 1",
        (table, table),
    )?;
    if let Some((name, of)) = key {
        return Ok(Some(format!("the foreign key {name} of {of} would stay with the old table")));
    }
    let trigger: Option<String> = connection.exec_first(
        "SELECT trigger_name FROM information_schema.triggers \
         WHERE event_object_schema = DATABASE() AND event_object_table = ? LIMIT 1",
        (table,),
    )?;
    Ok(trigger.map(|name| format!("the trigger {name} would stay with the old table")))
}

/// Makes the empty shadow, with the table's columns, indexes and options.
pub fn shadow_like(connection: &mut mysql::Conn, table: &str) -> Result<(), mysql::Error> {
    connection.query_drop(format!("CREATE TABLE {} LIKE {}", quoted(&shadow_name(table)), quoted(table)))
}

/// Puts the loaded shadow in the table's place in one atomic rename (waiting at most 10 s for
/// readers' metadata locks unless the session says otherwise), then drops the old table.
pub fn swap(connection: &mut mysql::Conn, table: &str, existed: bool) -> Result<(), mysql::Error> {
    let wait: Option<u64> = connection.query_first("SELECT @@SESSION.lock_wait_timeout")?;
    if wait.unwrap_or(0) >= 31_536_000 {
        connection.query_drop("SET SESSION lock_wait_timeout = 10")?;
    }
    let (shadow, old, table) = (quoted(&shadow_name(table)), quoted(&old_name(table)), quoted(table));
    if existed {
        connection.query_drop(format!("RENAME TABLE {table} TO {old}, {shadow} TO {table}"))?;
        connection.query_drop(format!("DROP TABLE {old}"))
    } else {
        connection.query_drop(format!("RENAME TABLE {shadow} TO {table}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadow_names_are_short_and_stable() {
        // FNV-1a of "users", computed apart (Python).
        assert_eq!(shadow_name("users"), "_ferry_shadow_42288471628c3333");
        assert!(shadow_name(&"x".repeat(200)).len() <= 64);
        assert_ne!(shadow_name("users"), shadow_name("orders"));
    }
}
