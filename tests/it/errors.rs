//! Every bad input a user can give, through the real binary: a one-line error naming the
//! culprit (passwords masked), exit code 2, and nothing written.

use std::path::Path;

use crate::common::{ferry, job_dir};

/// A job with one migration over an SQLite source holding the old system's sample rows.
fn sqlite_job(query: &str, extra_toml: &str) -> tempfile::TempDir {
    let job = format!(
        "[connections]\nsource = \"sqlite://source.db\"\ntarget = \"sqlite://target.db\"\n\n\
         [[migrations]]\nname = \"m\"\nsource = \"source\"\nquery = \"queries/q.sql\"\ntarget = \"target\"\ntable = \"t\"\n{extra_toml}"
    );
    let dir = job_dir(&[("job.toml", &job)]);
    std::fs::write(dir.path().join("queries/q.sql"), query).unwrap();
    let source = ferry::connection::Endpoint::Sqlite(dir.path().join("source.db"));
    crate::common::block_on(async move { ferry::generate::generate(&source, 0, true).await.unwrap() });
    dir
}

/// Runs ferry in `dir`, expects exit code 2, returns stderr with the folder replaced by `[DIR]`.
fn fails(dir: &Path, args: &[&str]) -> String {
    let output = ferry().current_dir(dir).args(args).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "expected exit code 2; stderr: {stderr}");
    let canonical = dir.canonicalize().unwrap();
    stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&canonical.display().to_string(), "[DIR]")
        .replace(&dir.display().to_string(), "[DIR]")
}

#[test]
fn unreachable_postgres_names_the_url_with_the_password_masked() {
    let dir = sqlite_job("SELECT * FROM source_table", "");
    let error =
        fails(dir.path(), &["run", "--job", "job.toml", "--source", "postgres://bob:hunter2@127.0.0.1:1/old_db"]);
    assert!(!error.contains("hunter2"), "{error}");
    assert!(error.starts_with("error: cannot connect to `postgres://bob:***@127.0.0.1:1/old_db`: "), "{error}");
    assert!(error.contains("is the PostgreSQL server running"), "{error}");
    assert_eq!(error.lines().count(), 1, "{error}");
}

#[test]
fn unreachable_mysql_names_the_url_with_the_password_masked() {
    let dir = sqlite_job("SELECT * FROM source_table", "");
    let error = fails(dir.path(), &["run", "--job", "job.toml", "--source", "mysql://bob:hunter2@127.0.0.1:1/old_db"]);
    assert!(!error.contains("hunter2"), "{error}");
    assert!(error.starts_with("error: cannot connect to `mysql://bob:***@127.0.0.1:1/old_db`: "), "{error}");
}

#[test]
fn malformed_url() {
    let dir = sqlite_job("SELECT * FROM source_table", "");
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml", "--target", "postgres://bob:hunter2@/new_db"]), @"error: --target: malformed connection URL `postgres://bob:***@/new_db`: empty host");
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml", "--target", "oracle://x/y"]), @"error: --target: malformed connection URL `oracle://x/y`: unknown scheme `oracle`; use postgres://, mysql://, sqlite://, file:// or s3://");
}

#[test]
fn missing_source_table_lists_what_exists() {
    let dir = sqlite_job("SELECT id FROM source_tabel", "");
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml"]), @"error: migration `m`: query `queries/q.sql`: table `source_tabel` does not exist in connection `source` (sqlite://source.db); did you mean `source_table`? It has: `source_orders`, `source_table`, `source_unnormalized`");
}

#[test]
fn missing_sqlite_source_file() {
    let dir = sqlite_job("SELECT id FROM source_table", "");
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml", "--source", "sqlite://nope.db"]), @"error: cannot connect to `sqlite://./nope.db`: the file does not exist; check the path (relative paths start at the job file's folder)");
}

#[test]
fn sql_errors_name_the_file_and_position() {
    let dir = sqlite_job("SELECT id\nFROM source_table\nWHERE id > > 1", "");
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml"]), @"error: migration `m`: query `queries/q.sql`: SQL syntax error: Expected: an expression, found: > at Line: 3, Column: 12");
    let dir = sqlite_job("SELECT id, nosuch FROM source_table", "");
    let error = fails(dir.path(), &["run", "--job", "job.toml"]);
    assert!(error.starts_with("error: migration `m`: query `queries/q.sql`: "), "{error}");
    assert!(error.contains("nosuch"), "{error}");
}

#[test]
fn unknown_connection_and_migration_names() {
    let dir = sqlite_job("SELECT id FROM source_table", "");
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml", "nope"]), @"error: unknown migration `nope`; the job defines: `m`");
    let dir = sqlite_job("SELECT id FROM lake.source_table", "");
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml"]), @"error: migration `m`: query `queries/q.sql`: `lake.source_table` names connection `lake`, which the job does not define; it defines `source`, `target`");
    let dir = sqlite_job("SELECT id FROM source_table", "");
    std::fs::write(
        dir.path().join("job.toml"),
        "[connections]\nsource = \"sqlite://source.db\"\n[[migrations]]\nname = \"m\"\nsource = \"source\"\nquery = \"queries/q.sql\"\ntarget = \"tgt\"\ntable = \"t\"\n",
    )
    .unwrap();
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml"]), @"error: migration `m`: unknown target connection `tgt`; the job defines: `source`");
}

#[test]
fn dependency_cycle() {
    let dir = sqlite_job("SELECT id FROM source_table", "depends_on = [\"n\"]\n[[migrations]]\nname = \"n\"\nsource = \"source\"\nquery = \"queries/q.sql\"\ntarget = \"target\"\ntable = \"u\"\ndepends_on = [\"m\"]\n");
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml"]), @"error: dependency cycle among migrations `m`, `n`; remove one of their `depends_on` entries");
}

#[test]
fn malformed_job_file_names_line_and_column() {
    let dir = sqlite_job("SELECT id FROM source_table", "mode = replace\n");
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml"]), @"error: `job.toml` line 11, column 8: invalid string");
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "missing.toml"]), @"error: cannot read job file `missing.toml`: No such file or directory (os error 2)");
    let dir = sqlite_job("SELECT id FROM source_table", "colour = \"blue\"\n");
    let error = fails(dir.path(), &["run", "--job", "job.toml"]);
    assert!(
        error.starts_with("error: `job.toml` line 11, column 1: unknown field `colour`, expected one of"),
        "{error}"
    );
}

#[test]
fn missing_environment_variable() {
    let dir = sqlite_job("SELECT id FROM source_table", "");
    let job = std::fs::read_to_string(dir.path().join("job.toml"))
        .unwrap()
        .replace("sqlite://target.db", "${FERRY_IT_UNSET_VARIABLE}");
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml"]), @"error: `job.toml`: connection `target`: environment variable `FERRY_IT_UNSET_VARIABLE` used in `${FERRY_IT_UNSET_VARIABLE}` is not set; export it, or write `${FERRY_IT_UNSET_VARIABLE:-default}`");
}

#[test]
fn schema_mismatch_with_an_existing_target_lists_the_columns_and_writes_nothing() {
    let dir = sqlite_job("SELECT CAST(id AS INT) AS id, name, age FROM source_table", "key = [\"id\"]\n");
    let target = dir.path().join("target.db");
    rusqlite::Connection::open(&target)
        .unwrap()
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name INTEGER, extra TEXT NOT NULL); INSERT INTO t VALUES (1, 2, 'x');")
        .unwrap();
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml"]), @"error: migration `m`: target table `t` does not match the query's output: column `name`: the query gives Utf8, the table has INTEGER; column `age` (Int64) is not in the table; column `extra` (TEXT) is NOT NULL without a default and the query does not give it; alter the table, or change the query so its columns match");
    let rows = crate::common::sqlite_rows(&target, "SELECT * FROM t");
    assert_eq!(rows, vec![vec![Some("1".into()), Some("2".into()), Some("x".into())]]);
}

#[test]
fn a_key_column_missing_from_the_output() {
    let dir = sqlite_job("SELECT name FROM source_table", "key = [\"id\"]\n");
    insta::assert_snapshot!(fails(dir.path(), &["run", "--job", "job.toml"]), @"error: migration `m`: key column `id` is not in the query's output; it has `name`");
}

#[test]
fn bad_input_to_generate() {
    let dir = tempfile::tempdir().unwrap();
    insta::assert_snapshot!(fails(dir.path(), &["generate", "--to", "file://out"]), @"error: `ferry generate` writes to a database (postgres://, mysql://, sqlite://), not to Parquet");
}

#[test]
fn bad_input_to_copy() {
    let dir = tempfile::tempdir().unwrap();
    insta::assert_snapshot!(fails(dir.path(), &["copy", "--source", "oracle://u:pw@h/db", "--target", "sqlite://t.db"]), @"error: --source: malformed connection URL `oracle://u:***@h/db`: unknown scheme `oracle`; use postgres://, mysql://, sqlite://, file:// or s3://");
    insta::assert_snapshot!(fails(dir.path(), &["copy", "--source", "sqlite://missing.db", "--target", "sqlite://t.db"]), @"error: cannot connect to `sqlite://[DIR]/missing.db`: the file does not exist; check the path (relative paths start at the job file's folder)");
    assert!(!dir.path().join("t.db").exists(), "nothing is written when the source cannot be read");
}
