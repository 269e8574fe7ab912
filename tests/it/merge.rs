//! Merge mode on every database target, other cursor types, and every bad input of merge and
//! incremental loading: each a clear error naming the migration, before any row moves.

use ferry::db::WriteMode;
use ferry::incremental::RunOptions;

use crate::common::{MysqlDatabase, PgDatabase};
use crate::incremental::{job, load, Db, EVENTS_QUERY, INCREMENTAL};

/// Six events, ids 1..=6, one hour apart from 01:00.
fn events(db: &Db) {
    let (id, text, timestamp) = match db {
        Db::Pg(_) => ("INT", "TEXT", "TIMESTAMP"),
        Db::My(_) => ("INT", "VARCHAR(100)", "DATETIME"),
        Db::Lite(_) => ("INTEGER", "TEXT", "TIMESTAMP"),
    };
    db.execute(&format!("CREATE TABLE events (id {id} PRIMARY KEY, name {text}, updated_at {timestamp})"));
    for id in 1..=6 {
        db.execute(&format!("INSERT INTO events VALUES ({id}, 'name {id}', '2024-01-01 0{id}:00:00')"));
    }
}

async fn merge_updates_and_inserts(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    events(&db);
    // The target exists, with a row to update, a row the source does not have, and its own key.
    let (text, timestamp) = if matches!(db, Db::My(_)) { ("VARCHAR(100)", "DATETIME") } else { ("TEXT", "TIMESTAMP") };
    db.execute(&format!("CREATE TABLE t (id INT PRIMARY KEY, name {text}, updated_at {timestamp})"));
    db.execute("INSERT INTO t VALUES (1, 'old', '2000-01-01 00:00:00')");
    db.execute("INSERT INTO t VALUES (100, 'only in the target', '2000-01-01 00:00:00')");
    let job = job(dir.path(), &db, EVENTS_QUERY, "mode = \"merge\"");
    let report = load(&job, RunOptions::default()).await.unwrap();
    assert_eq!(report.publish, WriteMode::Merge);
    assert_eq!([report.rows_read, report.rows_loaded, report.rows_inserted, report.rows_updated], [6, 6, 5, 1]);
    let names: Vec<Option<String>> =
        db.rows("SELECT name FROM t ORDER BY id").into_iter().map(|r| r[0].clone()).collect();
    let expected = ["name 1", "name 2", "name 3", "name 4", "name 5", "name 6", "only in the target"];
    assert_eq!(names, expected.map(|n| Some(n.to_string())));
    // Merging again changes nothing and says so.
    let again = load(&job, RunOptions::default()).await.unwrap();
    assert_eq!([again.rows_inserted, again.rows_updated, again.rows_unchanged], [0, 0, 6]);
    assert_eq!(db.rows("SELECT count(*) FROM t")[0][0].as_deref(), Some("7"));
    // --full-refresh turns the merge into a replace.
    let full = load(&job, RunOptions { full_refresh: true, ..Default::default() }).await.unwrap();
    assert_eq!(full.publish, WriteMode::Replace);
    assert_eq!(db.rows("SELECT count(*) FROM t")[0][0].as_deref(), Some("6"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_merge() {
    merge_updates_and_inserts(Db::Pg(PgDatabase::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_merge() {
    merge_updates_and_inserts(Db::My(MysqlDatabase::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_merge() {
    let dir = tempfile::tempdir().unwrap();
    merge_updates_and_inserts(Db::Lite(dir.path().join("db.sqlite"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_and_date_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Pg(PgDatabase::new());
    events(&db);
    // An integer cursor (an append-only log's id), through a cast in the query.
    let job_by_id = job(dir.path(), &db, EVENTS_QUERY, "mode = \"incremental\"\ncursor = \"id\"");
    assert_eq!(load(&job_by_id, RunOptions::default()).await.unwrap().watermark_after.as_deref(), Some("6"));
    db.execute("INSERT INTO events VALUES (7, 'seven', NULL)");
    let second = load(&job_by_id, RunOptions::default()).await.unwrap();
    // 6 again (the boundary, unchanged) and 7.
    assert_eq!([second.rows_read, second.rows_inserted, second.rows_updated, second.rows_unchanged], [2, 1, 0, 1]);
    assert_eq!(second.watermark_after.as_deref(), Some("7"));
    // A date cursor: the day's rows are read again, the older days' are not.
    let dated = "SELECT CAST(id AS INT) AS id, name, CAST(updated_at AS DATE) AS day FROM events";
    let by_day = tempfile::tempdir().unwrap();
    let job_by_day = job(by_day.path(), &db, dated, "mode = \"incremental\"\ncursor = \"day\"");
    db.execute("UPDATE events SET updated_at = '2023-12-31 23:00:00' WHERE id = 1");
    db.execute("DROP TABLE t; DROP TABLE _ferry_state");
    let first = load(&job_by_day, RunOptions::default()).await.unwrap();
    assert_eq!(first.watermark_after.as_deref(), Some("2024-01-01"));
    assert_eq!(first.rows_null_cursor, Some(1));
    let again = load(&job_by_day, RunOptions::default()).await.unwrap();
    assert_eq!(again.rows_loaded, 5, "the rows of 2024-01-01, not the one of 2023-12-31 nor the NULL");
}

/// The error of one run against SQLite (no server needed), and the target's rows after it.
async fn sqlite_error(
    query: &str,
    settings: &str,
    options: RunOptions,
    setup: &str,
) -> (String, Vec<Vec<Option<String>>>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Lite(dir.path().join("db.sqlite"));
    events(&db);
    db.execute(setup);
    let job = job(dir.path(), &db, query, settings);
    let error = load(&job, options).await.expect_err("the run must fail");
    let rows = db.rows("SELECT name FROM sqlite_master WHERE name = 't'");
    let target = if rows.is_empty() { vec![] } else { db.rows("SELECT * FROM t ORDER BY id") };
    (error, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cursors_are_refused_before_any_row_moves() {
    let (error, target) =
        sqlite_error(EVENTS_QUERY, "mode = \"incremental\"\ncursor = \"changed_at\"", RunOptions::default(), "").await;
    insta::assert_snapshot!(error, @"migration `m`: cursor `changed_at` is not a column of the query's output; it has `id`, `name`, `updated_at`");
    assert!(target.is_empty());
    let (error, _) =
        sqlite_error(EVENTS_QUERY, "mode = \"incremental\"\ncursor = \"name\"", RunOptions::default(), "").await;
    insta::assert_snapshot!(error, @"migration `m`: cursor `name` is text, whose order depends on each database's collation; use a timestamp, date or number column (or cast it in the query)");
    let with_flag = "SELECT CAST(id AS INT) AS id, id > 3 AS late FROM events";
    let (error, _) =
        sqlite_error(with_flag, "mode = \"incremental\"\ncursor = \"late\"", RunOptions::default(), "").await;
    insta::assert_snapshot!(error, @"migration `m`: cursor `late` is Boolean, which has no order a watermark can follow; use a timestamp, date or number column");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ranges_and_flags_are_refused() {
    let from = |value: &str| RunOptions { from: Some(value.into()), ..Default::default() };
    let (error, _) = sqlite_error(EVENTS_QUERY, INCREMENTAL, from("last tuesday"), "").await;
    insta::assert_snapshot!(error, @"migration `m`: --from `last tuesday` is not a value of cursor `updated_at`, a date-time: write it like 2024-01-31 or 2024-01-31 13:45:00");
    let (error, _) = sqlite_error(EVENTS_QUERY, "mode = \"merge\"", from("2024-01-01"), "").await;
    insta::assert_snapshot!(error, @"--from/--to select a range of an incremental migration's cursor, and none of the migrations to run is incremental");
    let both = RunOptions { full_refresh: true, to: Some("2024-01-01".into()), ..Default::default() };
    let (error, _) = sqlite_error(EVENTS_QUERY, INCREMENTAL, both, "").await;
    insta::assert_snapshot!(error, @"--full-refresh loads everything, --from/--to load a range: use one or the other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_needs_a_unique_key_in_the_target_and_in_the_rows() {
    let no_key = "CREATE TABLE t (id INT, name TEXT, updated_at TIMESTAMP); INSERT INTO t VALUES (1, 'kept', NULL)";
    let (error, target) = sqlite_error(EVENTS_QUERY, "mode = \"merge\"", RunOptions::default(), no_key).await;
    insta::assert_snapshot!(error, @r#"migration `m`: target table `t` has no primary key or unique index on (id); a merge matches rows on `key`, so it needs one: add it (e.g. `ALTER TABLE t ADD PRIMARY KEY (id)`) or use mode = "replace""#);
    assert_eq!(target, [[Some("1".into()), Some("kept".into()), None]]);
    // Six rows on three keys: every duplicate named, nothing published.
    let folded = "SELECT CAST(id % 3 AS INT) AS id, name, updated_at FROM events";
    let existing =
        "CREATE TABLE t (id INT PRIMARY KEY, name TEXT, updated_at TIMESTAMP); INSERT INTO t VALUES (1, 'kept', NULL)";
    let (error, target) = sqlite_error(folded, INCREMENTAL, RunOptions::default(), existing).await;
    insta::assert_snapshot!(error, @"migration `m`: column `id`: the key is not unique in the rows read: 3 keys occur more than once: id = 0 (2 rows), id = 1 (2 rows), id = 2 (2 rows); nothing was published. Make the query return one row per key (GROUP BY, or a window function keeping the latest row)");
    assert_eq!(target, [[Some("1".into()), Some("kept".into()), None]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watermark_on_another_cursor_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Lite(dir.path().join("db.sqlite"));
    events(&db);
    load(&job(dir.path(), &db, EVENTS_QUERY, INCREMENTAL), RunOptions::default()).await.unwrap();
    let by_id = job(dir.path(), &db, EVENTS_QUERY, "mode = \"incremental\"\ncursor = \"id\"");
    let error = load(&by_id, RunOptions::default()).await.unwrap_err();
    insta::assert_snapshot!(error, @"migration `m`: the target's watermark is on cursor `updated_at`, the job's cursor is `id`; run once with --full-refresh to reload and start a watermark on `id`");
    let reset = load(&by_id, RunOptions { full_refresh: true, ..Default::default() }).await.unwrap();
    assert_eq!(reset.watermark_after.as_deref(), Some("6"));
    assert_eq!(load(&by_id, RunOptions::default()).await.unwrap().rows_read, 1);
}

/// Instants as cursors: PostgreSQL `timestamptz` and MySQL `TIMESTAMP` (read as UTC instants,
/// compared in the source through UNIX_TIMESTAMP whatever the session's zone).
async fn instant_cursor(db: Db, timestamp: &str) {
    let dir = tempfile::tempdir().unwrap();
    // The literals below are UTC whatever the server's zone.
    let utc = if matches!(db, Db::My(_)) { "SET time_zone = '+00:00';" } else { "SET TIME ZONE 'UTC';" };
    db.execute(&format!("CREATE TABLE events (id INT PRIMARY KEY, name VARCHAR(20), updated_at {timestamp})"));
    for id in 1..=4 {
        db.execute(&format!("{utc} INSERT INTO events VALUES ({id}, 'n{id}', '2024-06-01 0{id}:00:00.25')"));
    }
    let job = job(dir.path(), &db, EVENTS_QUERY, INCREMENTAL);
    let first = load(&job, RunOptions::default()).await.unwrap();
    assert_eq!(first.watermark_after.as_deref(), Some("2024-06-01T04:00:00.250Z"));
    db.execute(&format!("{utc} INSERT INTO events VALUES (5, 'n5', '2024-06-01 04:00:00.5')"));
    let second = load(&job, RunOptions::default()).await.unwrap();
    assert_eq!([second.rows_read, second.rows_inserted, second.rows_updated, second.rows_unchanged], [2, 1, 0, 1]);
    assert_eq!(second.watermark_after.as_deref(), Some("2024-06-01T04:00:00.500Z"));
    let range = RunOptions { from: Some("2024-06-01T01:30:00Z".into()), ..Default::default() };
    assert_eq!(load(&job, range).await.unwrap().rows_read, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_timestamptz_cursor() {
    instant_cursor(Db::Pg(PgDatabase::new()), "TIMESTAMPTZ").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_timestamp_cursor() {
    instant_cursor(Db::My(MysqlDatabase::new()), "TIMESTAMP(6)").await;
}

/// A composite key, and a decimal cursor pushed down like an integer one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composite_keys_and_decimal_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Pg(PgDatabase::new());
    db.execute("CREATE TABLE ledger (account INT, line INT, amount NUMERIC(12, 2), version NUMERIC(10, 3))");
    db.execute("INSERT INTO ledger SELECT a, l, a * 10 + l, (a * 10 + l) / 8.0 FROM generate_series(1, 3) a, generate_series(1, 4) l");
    let query = "SELECT account, line, amount, version FROM ledger";
    std::fs::write(dir.path().join("q.sql"), query).unwrap();
    let job = format!(
        "[connections]\nsource = \"{url}\"\ntarget = \"{url}\"\n[[migrations]]\nname = \"m\"\nsource = \"source\"\n\
         query = \"q.sql\"\ntarget = \"target\"\ntable = \"t\"\nkey = [\"account\", \"line\"]\nmode = \"incremental\"\ncursor = \"version\"\n",
        url = db.url()
    );
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    let path = dir.path().join("job.toml");
    let first = load(&path, RunOptions::default()).await.unwrap();
    assert_eq!([first.rows_read, first.rows_inserted], [12, 12]);
    assert_eq!(first.watermark_after.as_deref(), Some("4.250"));
    db.execute("UPDATE ledger SET amount = 0, version = 9 WHERE account = 2 AND line = 3");
    db.execute("INSERT INTO ledger VALUES (2, 5, 1, 9.5)");
    let second = load(&path, RunOptions::default()).await.unwrap();
    // 4.250 (the boundary, account 3 line 4), the update and the new line: read in PostgreSQL.
    assert_eq!([second.rows_read, second.rows_inserted, second.rows_updated, second.rows_unchanged], [3, 1, 1, 1]);
    let rows = db.rows("SELECT account, line, amount FROM t WHERE account = 2 ORDER BY line");
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[2], [Some("2".into()), Some("3".into()), Some("0.00".into())]);
}
