//! A PostgreSQL table a load creates or replaces gets its indexes built once, after its rows,
//! and gets back exactly the indexes and key constraints it had; a table where dropping them
//! would lose something keeps them through the load.

use crate::atomic::{load, load_with, source};
use crate::common::PgDatabase;

const ALL_ROWS: &str =
    "SELECT CAST(id AS INT) AS user_id, name AS full_name, CAST(id AS BIGINT) AS boom FROM source_table";
/// user_id repeats: the primary key cannot be built.
const REPEATED_KEYS: &str =
    "SELECT CAST(id % 1000 AS INT) AS user_id, name AS full_name, CAST(id AS BIGINT) AS boom FROM source_table";

const DEFINITIONS: &str = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 't' ORDER BY 1";
const CONSTRAINTS: &str = "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint \
                           WHERE conrelid = 't'::regclass ORDER BY 1";
const INDEX_OIDS: &str = "SELECT indexrelid::int8 FROM pg_index WHERE indrelid = 't'::regclass ORDER BY 1";

/// In place the indexes are dropped and built again in the table; swapped, built in the shadow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_table_gets_its_indexes_back_built_after_the_rows() {
    indexes_back("publish = \"in_place\"").await;
    indexes_back("publish = \"swap\"").await;
}

async fn indexes_back(publish: &str) {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let target = PgDatabase::new();
    // Created by the load: the key is a primary key.
    assert_eq!(load(dir.path(), &source, &target.url, ALL_ROWS, "replace").await, None);
    assert_eq!(target.rows(CONSTRAINTS), [[Some("t_pkey".into()), Some("PRIMARY KEY (user_id)".into())]]);

    target.rows(
        "DROP TABLE t; \
         CREATE TABLE t (user_id int CONSTRAINT t_key PRIMARY KEY, full_name text, \
                         boom bigint CONSTRAINT t_boom UNIQUE DEFERRABLE INITIALLY DEFERRED); \
         CREATE INDEX t_name ON t (lower(full_name)) WHERE boom > 10; \
         CREATE INDEX t_boom_hash ON t USING hash (boom)",
    );
    let (definitions, constraints, oids) =
        (target.rows(DEFINITIONS), target.rows(CONSTRAINTS), target.rows(INDEX_OIDS));
    assert_eq!(definitions.len(), 4);
    assert_eq!(load_with(dir.path(), &source, &target.url, ALL_ROWS, "replace", publish).await, None);
    assert_eq!(target.rows(DEFINITIONS), definitions);
    assert_eq!(target.rows(CONSTRAINTS), constraints);
    assert_ne!(target.rows(INDEX_OIDS), oids, "the indexes were built again");
    assert_eq!(target.rows("SELECT count(*) FROM t"), [[Some("40000".into())]]);
    // The rebuilt indexes are valid and used.
    let plan = target
        .rows("SET enable_seqscan = off; EXPLAIN SELECT user_id FROM t WHERE lower(full_name) = 'x' AND boom > 10");
    assert!(plan.iter().flatten().flatten().any(|line| line.contains("t_name")), "{plan:?}");
    let found = target
        .rows("SELECT t.user_id FROM t WHERE lower(full_name) = (SELECT lower(full_name) FROM t WHERE user_id = 17)");
    assert!(found.contains(&vec![Some("17".to_string())]), "{found:?}");

    // A key the rows break fails where the key is built, and nothing changes.
    let error =
        load_with(dir.path(), &source, &target.url, REPEATED_KEYS, "replace", publish).await.expect("repeated keys");
    assert!(error.contains("could not create unique index \"t_key\"") && error.contains("is duplicated"), "{error}");
    assert_eq!(target.rows("SELECT count(*) FROM t"), [[Some("40000".into())]]);
    assert_eq!(target.rows(DEFINITIONS), definitions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_a_foreign_key_points_at_is_kept_through_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let target = PgDatabase::new();
    target.rows(
        "CREATE TABLE t (user_id int PRIMARY KEY, full_name text, boom int REFERENCES t (user_id)); \
         CREATE INDEX t_name ON t (full_name)",
    );
    let oids = target.rows(INDEX_OIDS);
    let in_place = "publish = \"in_place\"";
    assert_eq!(load_with(dir.path(), &source, &target.url, ALL_ROWS, "replace", in_place).await, None);
    assert_eq!(target.rows(INDEX_OIDS), oids, "the indexes were kept, not rebuilt");
    assert_eq!(target.rows("SELECT count(*) FROM t"), [[Some("40000".into())]]);
}

/// A login role that exists for one test, removed (with its grants) when dropped.
pub struct Role<'a> {
    pub name: String,
    pub database: &'a PgDatabase,
}

impl Drop for Role<'_> {
    fn drop(&mut self) {
        self.database.rows(&format!("DROP OWNED BY {0}; DROP ROLE {0}", self.name));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_another_role_owns_keeps_its_indexes_and_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let target = PgDatabase::new();
    let role = Role { name: format!("{}_writer", target.name), database: &target };
    target.rows(&format!(
        "CREATE ROLE {0} LOGIN; CREATE TABLE t (user_id int PRIMARY KEY, full_name text, boom bigint); \
         GRANT SELECT, INSERT, TRUNCATE ON t TO {0}",
        role.name
    ));
    let oids = target.rows(INDEX_OIDS);
    let mut writer_url = url::Url::parse(&target.url).unwrap();
    writer_url.set_username(&role.name).unwrap();
    assert_eq!(load(dir.path(), &source, writer_url.as_str(), ALL_ROWS, "replace").await, None);
    assert_eq!(target.rows(INDEX_OIDS), oids, "a role that does not own the table cannot drop its indexes");
    assert_eq!(target.rows("SELECT count(*) FROM t"), [[Some("40000".into())]]);
}
