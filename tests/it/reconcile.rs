//! Reconciliation: every replace reads the published table back and compares it with the rows
//! sent; a target that changes values on the way in (here a trigger) is caught and named.

use ferry::check::reconcile::ReconcileStatus;
use ferry::incremental::RunOptions;
use ferry::job::{Overrides, Plan};
use ferry::report::Status;
use ferry::run::{run_with, Progress};

use crate::common::{MysqlDatabase, PgDatabase};
use crate::incremental::{job, load, Db};

const QUERY: &str = "SELECT CAST(id AS INT) AS id, name, amount, updated_at, day FROM events";

fn seed(db: &Db) {
    let (text, timestamp, decimal) = match db {
        Db::Pg(_) => ("TEXT", "TIMESTAMP", "NUMERIC(14, 4)"),
        Db::My(_) => ("VARCHAR(100)", "DATETIME(6)", "DECIMAL(14, 4)"),
        Db::Lite(_) => ("TEXT", "TIMESTAMP", "DECIMAL(14, 4)"),
    };
    db.execute(&format!(
        "CREATE TABLE events (id INT PRIMARY KEY, name {text}, amount {decimal}, updated_at {timestamp}, day DATE)"
    ));
    db.execute(
        "INSERT INTO events VALUES (1, 'ann', 10.5, '2024-01-01 10:00:00.123456', '2024-01-01'), \
         (2, NULL, NULL, NULL, NULL), (3, 'bob', -0.0001, '1999-12-31 23:59:59', '1999-12-31'), \
         (4, 'bob', 12345.6789, '2024-02-29 00:00:00', '2024-02-29')",
    );
}

async fn matches_after_a_replace(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    seed(&db);
    let job = job(dir.path(), &db, QUERY, "");
    let report = load(&job, RunOptions::default()).await.unwrap();
    let reconciliation = report.reconciliation.unwrap();
    assert_eq!(reconciliation.status, ReconcileStatus::Matched, "{reconciliation:?}");
    assert_eq!((reconciliation.rows_sent, reconciliation.rows_in_target), (4, 4));
    // A merge is compared on the rows with the keys it sent, whatever else the table holds.
    db.execute("INSERT INTO t (id, name) VALUES (100, 'not from the source')");
    db.execute("UPDATE events SET name = 'changed' WHERE id = 3");
    let job = crate::incremental::job(dir.path(), &db, QUERY, "mode = \"merge\"");
    let reconciliation = load(&job, RunOptions::default()).await.unwrap().reconciliation.unwrap();
    assert_eq!(reconciliation.status, ReconcileStatus::Matched, "{reconciliation:?}");
    assert_eq!((reconciliation.rows_sent, reconciliation.rows_in_target), (4, 4));
    // An append's table holds earlier rows (and the rows sent may repeat): not compared.
    db.execute("DELETE FROM t");
    let job = crate::incremental::job(dir.path(), &db, QUERY, "mode = \"append\"");
    let reconciliation = load(&job, RunOptions::default()).await.unwrap().reconciliation.unwrap();
    assert_eq!(reconciliation.status, ReconcileStatus::Skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_matches_in_postgres() {
    matches_after_a_replace(Db::Pg(PgDatabase::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_matches_in_mysql() {
    matches_after_a_replace(Db::My(MysqlDatabase::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_matches_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    matches_after_a_replace(Db::Lite(dir.path().join("db.sqlite"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_changes_values_is_caught() {
    let db = Db::Pg(PgDatabase::new());
    seed(&db);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), &db, QUERY, "");
    load(&job, RunOptions::default()).await.unwrap();
    db.execute(
        "CREATE FUNCTION shout() RETURNS trigger AS $$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$ LANGUAGE plpgsql",
    );
    db.execute("CREATE TRIGGER shout BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION shout()");
    let plan = Plan::load(&job, &Overrides::default()).unwrap();
    let report = run_with(&plan, &[], &RunOptions::default(), Progress::Quiet).await.unwrap();
    let m = &report.migrations[0];
    assert_eq!(m.status, Status::Mismatched);
    let reconciliation = m.reconciliation.clone().unwrap();
    assert_eq!(reconciliation.status, ReconcileStatus::Differs);
    assert_eq!(reconciliation.columns_differing, ["name"]);
    insta::assert_snapshot!(report.error.unwrap(), @"migration `m`: published, but `t` does not match the rows sent: values differ in `name`; something in the target changed them (a trigger, a default, a truncation)");
    assert_eq!(report.error_kind, Some(ferry::error::ErrorKind::Failure));
    // A merge updating rows through the trigger is caught too.
    db.execute("CREATE TRIGGER shout_again BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION shout()");
    let job = crate::incremental::job(dir.path(), &db, QUERY, "mode = \"merge\"");
    let error = load(&job, RunOptions::default()).await.unwrap_err();
    assert!(error.contains("values differ in `name`"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferry_reconcile_names_the_changed_keys_and_columns() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    ferry::generate::generate(&source.endpoint(), 20_000, false).await.unwrap();
    let dir = crate::common::job_dir(&[]);
    let report = crate::common::run_shipped(dir.path(), &source.url, &target.url, &["users"]).await;
    crate::common::assert_succeeded(&report);
    let overrides = Overrides { source: Some(source.url.clone()), target: Some(target.url.clone()) };
    let plan = Plan::load(&dir.path().join("ferry.toml"), &overrides).unwrap();
    let found = ferry::check::diff::reconcile(&plan, "users").await.unwrap();
    assert!(found.matched, "{}", found.text());
    assert_eq!((found.rows_source, found.rows_target), (20_000, 20_000));
    // Behind ferry's back: one value changed, one row deleted, one added.
    let city = target.rows("SELECT city FROM target_users WHERE user_id = 12345")[0][0].clone();
    target.rows("UPDATE target_users SET city = 'Nowhere' WHERE user_id = 12345");
    target.rows("DELETE FROM target_users WHERE user_id = 17");
    target.rows("INSERT INTO target_users VALUES (99999, 'Mallory', '<30', 'X', '2024-01-01')");
    let found = ferry::check::diff::reconcile(&plan, "users").await.unwrap();
    assert!(!found.matched);
    let listed: Vec<String> = found
        .narrowed
        .differences
        .iter()
        .map(|d| {
            let columns: Vec<String> =
                d.columns.iter().map(|c| format!("{}: {:?} -> {:?}", c.column, c.source, c.target)).collect();
            format!("{} {} {}", d.key, d.kind, columns.join(", "))
        })
        .collect();
    assert_eq!(
        listed,
        [
            "17 missing ".to_string(),
            format!("12345 changed city: {city:?} -> Some(\"Nowhere\")"),
            "99999 extra ".to_string()
        ]
    );
    // Narrowed down by ranges: far fewer rows read than comparing every range row by row.
    assert!(found.narrowed.ranges_compared > 16, "{:?}", found.narrowed.ranges_compared);
    // The command: exit code 1, the keys in its output.
    let output = crate::common::ferry()
        .current_dir(dir.path())
        .args(["reconcile", "users", "--source", &source.url, "--target", &target.url])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("user_id=12345: changed; city: "), "{stdout}");
    assert!(!stdout.contains(&source.url) && !stdout.contains(&target.url));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_needs_one_integer_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Lite(dir.path().join("db.sqlite"));
    seed(&db);
    let job = job(dir.path(), &db, QUERY, "");
    load(&job, RunOptions::default()).await.unwrap();
    let text = std::fs::read_to_string(&job).unwrap().replace("key = [\"id\"]", "key = [\"id\", \"name\"]");
    std::fs::write(&job, text).unwrap();
    let plan = Plan::load(&job, &Overrides::default()).unwrap();
    let error = ferry::check::diff::reconcile(&plan, "m").await.unwrap_err().to_string();
    insta::assert_snapshot!(error, @"migration `m`: reconcile: needs a one-column integer `key` to compare rows by");
    let text = std::fs::read_to_string(&job).unwrap().replace("key = [\"id\", \"name\"]", "key = [\"name\"]");
    std::fs::write(&job, text).unwrap();
    let plan = Plan::load(&job, &Overrides::default()).unwrap();
    let error = ferry::check::diff::reconcile(&plan, "m").await.unwrap_err().to_string();
    insta::assert_snapshot!(error, @"migration `m`: reconcile: key `name` is Utf8, not an integer; ranges need an integer key");
}

/// Every column type the PostgreSQL digest covers, at its edge values and NULL: the database's
/// own count and checksum of the published table equal ferry's of the rows it sent, so a replace
/// is verified without reading the table back; a type the digest does not cover is read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_verifies_a_replace_itself() {
    let db = Db::Pg(PgDatabase::new());
    db.execute(
        "CREATE TABLE kinds (id INT PRIMARY KEY, small SMALLINT, big BIGINT, yes BOOLEAN, real REAL, \
         double DOUBLE PRECISION, amount NUMERIC(20, 4), loose NUMERIC, day DATE, at TIMESTAMP, \
         at_zone TIMESTAMPTZ, clock TIME, bytes BYTEA, words TEXT, short VARCHAR(20), doc JSON)",
    );
    db.execute(
        "INSERT INTO kinds VALUES \
         (1, 32767, 9223372036854775807, true, 1.5, 'NaN', 1234567890123456.7891, 0.000001, '0001-01-01', \
          '1970-01-01 00:00:00', '2000-01-01 00:00:00+00', '00:00:00', '\\x', '', '', '{}'), \
         (2, -32768, -9223372036854775808, false, '-Infinity', 'Infinity', -0.0001, -12.5, '9999-12-31', \
          '1969-12-31 23:59:59.999999', '1999-12-31 23:59:59.000001+00', '23:59:59.999999', '\\x00ff', \
          'twelve bytes', 'ünïcödé ✓', '{\"a\": [1, 2]}'), \
         (3, 0, 0, NULL, '-0', 1e-300, 0, 100, '2000-01-01', '2024-02-29 12:34:56.5', '1900-06-01 00:00:00+00', \
          '12:00:00', '\\x000102030405060708090a0b0c', 'a longer text than twelve bytes', 'a''b', 'null'), \
         (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    );
    db.execute(
        "INSERT INTO kinds (id, big, amount, at, words) SELECT i, i * 7919, i / 7.0, \
         timestamp '2020-01-01' + i * interval '1 second', 'row ' || i FROM generate_series(5, 30000) i",
    );
    let nudge = [
        "CREATE FUNCTION nudge() RETURNS trigger AS $$ BEGIN NEW.amount := -NEW.amount; RETURN NEW; END $$ \
         LANGUAGE plpgsql",
        "CREATE TRIGGER nudge BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION nudge()",
    ];
    // Blank-padded text is not covered (its text drops trailing blanks).
    let uncovered = "ALTER TABLE kinds ADD COLUMN code CHAR(4) DEFAULT 'ab'";
    verified_in_database(&db, 30_000, &nudge, "DROP TRIGGER nudge ON t", uncovered).await;
}

/// Loads `SELECT * FROM kinds` into a new table `t` and over it: verified by the database (`rows`
/// rows). Then with `nudge` (a trigger negating `amount`): the digest differs and the read-back
/// names the column. Then, `nudge` undone, with a column of a type the digest does not cover
/// (`uncovered` adds it): read back, and matched.
async fn verified_in_database(db: &Db, rows: u64, nudge: &[&str], undo: &str, uncovered: &str) {
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), db, "SELECT * FROM kinds", "");
    for _ in 0..2 {
        let reconciliation = load(&job, RunOptions::default()).await.unwrap().reconciliation.unwrap();
        assert_eq!(reconciliation.status, ReconcileStatus::Matched, "{reconciliation:?}");
        assert_eq!(reconciliation.method, Some("in_database"));
        assert_eq!((reconciliation.rows_sent, reconciliation.rows_in_target), (rows, rows));
    }
    for statement in nudge {
        db.execute(statement);
    }
    let plan = Plan::load(&job, &Overrides::default()).unwrap();
    let report = run_with(&plan, &[], &RunOptions::default(), Progress::Quiet).await.unwrap();
    let reconciliation = report.migrations[0].reconciliation.clone().unwrap();
    assert_eq!(reconciliation.status, ReconcileStatus::Differs, "{reconciliation:?}");
    assert_eq!(reconciliation.method, Some("read_back"));
    assert_eq!(reconciliation.columns_differing, ["amount"]);
    db.execute(undo);
    db.execute(uncovered);
    db.execute("DROP TABLE t");
    let reconciliation = load(&job, RunOptions::default()).await.unwrap().reconciliation.unwrap();
    assert_eq!(reconciliation.status, ReconcileStatus::Matched, "{reconciliation:?}");
    assert_eq!(reconciliation.method, Some("read_back"));
}

/// MySQL / MariaDB likewise: the server's own count and CRC-32 sum of the published table equal
/// ferry's of the rows it sent, for every type the digest covers, at edge values and NULL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_verifies_a_replace_itself() {
    let db = Db::My(MysqlDatabase::new());
    db.execute(
        "CREATE TABLE kinds (id INT PRIMARY KEY, small SMALLINT, big BIGINT, flag BOOLEAN, amount DECIMAL(20, 4), \
         day DATE, at DATETIME(6), stamp TIMESTAMP(6) NULL, words TEXT, short VARCHAR(20), bytes BLOB, \
         positive BIGINT UNSIGNED)",
    );
    db.execute(
        "INSERT INTO kinds VALUES \
         (1, 32767, 9223372036854775807, true, 1234567890123456.7891, '1000-01-01', '1000-01-01 00:00:00', \
          '1970-01-01 00:00:01.000001', '', '', X'', 18446744073709551615), \
         (2, -32768, -9223372036854775808, false, -0.0001, '9999-12-31', '9999-12-31 23:59:59.999999', \
          '2038-01-19 03:14:07.999999', 'twelve bytes', 'ünïcödé ✓', X'00ff', 0), \
         (3, 0, 0, NULL, 0, '2000-01-01', '2024-02-29 12:34:56.5', NULL, 'a,b', 'n', X'6e', 1), \
         (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    );
    for i in 0..3 {
        db.execute(&format!(
            "INSERT INTO kinds (id, big, amount, at, words) SELECT {i} * 10000 + seq + 5, seq * 7919, seq / 7, \
             TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq SECOND, CONCAT('row ', seq) FROM seq_0_to_9999"
        ));
    }
    let nudge = ["CREATE TRIGGER nudge BEFORE INSERT ON t FOR EACH ROW SET NEW.amount = -NEW.amount"];
    // Floats are not covered (MySQL prints them its own way).
    let uncovered = "ALTER TABLE kinds ADD COLUMN ratio DOUBLE DEFAULT 0.1";
    verified_in_database(&db, 30_004, &nudge, "DROP TRIGGER nudge", uncovered).await;
}
