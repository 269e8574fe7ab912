//! ferry's own tables in a target, defined once here and written by each engine in its own DDL:
//! `_ferry_runs` (the API's run history), `_ferry_state` (incremental watermarks) and
//! `_ferry_rejects` (the rows a run set aside, with the reason and the whole source row).

use super::{ColumnDef, ColumnDefault, ColumnType, TableDef};

pub const RUNS_TABLE: &str = "_ferry_runs";
pub const STATE_TABLE: &str = "_ferry_state";
pub const REJECTS_TABLE: &str = "_ferry_rejects";
pub const COPIED_TABLE: &str = "_ferry_copied";

fn text(name: &str) -> ColumnDef {
    ColumnDef::new(name, ColumnType::Text)
}

fn varchar(name: &str, length: u32) -> ColumnDef {
    ColumnDef::new(name, ColumnType::Varchar(length))
}

fn stamped(name: &str) -> ColumnDef {
    ColumnDef::new(name, ColumnType::TimestampTz).not_null().default(ColumnDefault::CurrentTimestamp)
}

/// One row per run the API started; every value is text, the report is the run's JSON.
pub fn runs_table() -> TableDef {
    TableDef {
        name: RUNS_TABLE.into(),
        columns: vec![
            varchar("run_id", 64).not_null(),
            varchar("migration", 128).not_null(),
            varchar("status", 16).not_null(),
            varchar("started_at", 40).not_null(),
            varchar("finished_at", 40),
            text("report"),
        ],
        primary_key: vec!["run_id".into()],
        ..Default::default()
    }
}

/// One row per incremental migration: its cursor and the highest value loaded.
pub fn state_table() -> TableDef {
    TableDef {
        name: STATE_TABLE.into(),
        columns: vec![
            varchar("migration", 128).not_null(),
            text("cursor_column").not_null(),
            text("watermark"),
            text("run_id").not_null(),
            stamped("updated_at"),
        ],
        primary_key: vec!["migration".into()],
        ..Default::default()
    }
}

/// The rows set aside, each with its key (as text), reason code and whole source row as JSON;
/// the columns a load writes are `super::rejects_schema()`'s.
pub fn rejects_table() -> TableDef {
    TableDef {
        name: REJECTS_TABLE.into(),
        columns: vec![
            text("run_id").not_null(),
            text("migration").not_null(),
            text("source_key"),
            text("reason").not_null(),
            ColumnDef::new("source_row", ColumnType::Json).not_null(),
            stamped("rejected_at"),
        ],
        ..Default::default()
    }
}

/// The tables `ferry copy` loaded and reconciled, per source (its URL, password masked), so that
/// `--resume` goes on with the others.
pub fn copied_table() -> TableDef {
    TableDef {
        name: COPIED_TABLE.into(),
        columns: vec![
            varchar("source", 512).not_null(),
            varchar("table_name", 128).not_null(),
            text("run_id").not_null(),
            stamped("copied_at"),
        ],
        primary_key: vec!["source".into(), "table_name".into()],
        ..Default::default()
    }
}

/// An engine's `CREATE TABLE` made harmless when the table exists.
pub fn if_not_exists(create: String) -> String {
    create.replacen("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_engine_writes_the_bookkeeping_tables() {
        assert_eq!(
            if_not_exists(crate::db::postgres::ddl::create_table(&rejects_table())),
            "CREATE TABLE IF NOT EXISTS \"_ferry_rejects\" (\"run_id\" text NOT NULL, \"migration\" text NOT NULL, \
             \"source_key\" text, \"reason\" text NOT NULL, \"source_row\" jsonb NOT NULL, \
             \"rejected_at\" timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        );
        assert_eq!(
            crate::db::mysql::ddl::create_table(&state_table()),
            "CREATE TABLE `_ferry_state` (`migration` VARCHAR(128) NOT NULL, `cursor_column` LONGTEXT NOT NULL, \
             `watermark` LONGTEXT, `run_id` LONGTEXT NOT NULL, `updated_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), \
             PRIMARY KEY (`migration`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        );
        assert_eq!(
            crate::db::sqlite::ddl::create_table(&runs_table()),
            "CREATE TABLE \"_ferry_runs\" (\"run_id\" VARCHAR(64) NOT NULL, \"migration\" VARCHAR(128) NOT NULL, \
             \"status\" VARCHAR(16) NOT NULL, \"started_at\" VARCHAR(40) NOT NULL, \"finished_at\" VARCHAR(40), \
             \"report\" TEXT, PRIMARY KEY (\"run_id\"))"
        );
    }
}
