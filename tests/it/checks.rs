//! Data checks: every check type passing and failing with its exact count, NULL handling and
//! thresholds (on SQLite, where they are computed by ferry alone); a failing `error` check
//! blocks the publish on PostgreSQL, MySQL and SQLite; `ferry check`, exit codes and JUnit.

use std::path::{Path, PathBuf};

use ferry::check::{CheckResult, CheckStatus};
use ferry::incremental::RunOptions;
use ferry::job::{Overrides, Plan};
use ferry::run::{run_with, Progress};

use crate::common::{ferry, sqlite_rows, MysqlDatabase, PgDatabase};
use crate::incremental::{job, load, Db, EVENTS_QUERY};

/// id, code, qty, parent: a duplicate code, a NULL code, a NULL qty, values out of range, a
/// parent that does not exist.
const ITEMS: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT, qty INTEGER, parent INTEGER);
INSERT INTO items VALUES (1, 'A-1', 5, NULL), (2, 'A-2', 0, 1), (3, 'b-3', -1, 1), (4, NULL, 200, 9),
(5, 'A-1', NULL, 2), (6, 'A-10', 7, NULL);";

/// A job moving `items` within one SQLite file into `t`, with `checks` (TOML) on it.
fn items_job(dir: &Path, checks: &str) -> PathBuf {
    let db = dir.join("db.sqlite");
    if !db.exists() {
        rusqlite::Connection::open(&db).unwrap().execute_batch(ITEMS).unwrap();
    }
    job(dir, &Db::Lite(db), "SELECT id, code, qty, parent FROM items", checks)
}

/// The verdicts of `checks` on the items, whether the run published or not.
async fn verdicts(checks: &str) -> Vec<CheckResult> {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::load(&items_job(dir.path(), checks), &Overrides::default()).unwrap();
    let report = run_with(&plan, &[], &RunOptions::default(), Progress::Quiet).await.unwrap();
    report.migrations.into_iter().next().unwrap().checks
}

/// One check's (status, failing, allowed).
async fn verdict(check: &str) -> (CheckStatus, u64, u64) {
    let results = verdicts(&format!("[[migrations.checks]]\n{check}\n")).await;
    assert_eq!(results.len(), 1, "{results:?}");
    (results[0].status, results[0].failing, results[0].allowed)
}

use CheckStatus::{Failed, Passed, Warned};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_null_and_unique() {
    assert_eq!(verdict("type = \"not_null\"\ncolumns = [\"id\"]").await, (Passed, 0, 0));
    assert_eq!(verdict("type = \"not_null\"\ncolumns = [\"code\"]").await, (Failed, 1, 0));
    assert_eq!(verdict("type = \"not_null\"\ncolumns = [\"code\", \"qty\"]").await, (Failed, 2, 0));
    assert_eq!(verdict("type = \"unique\"\ncolumns = [\"id\"]").await, (Passed, 0, 0));
    // Both rows of the duplicate fail; the NULL code is not compared.
    assert_eq!(verdict("type = \"unique\"\ncolumns = [\"code\"]").await, (Failed, 2, 0));
    assert_eq!(verdict("type = \"unique\"\ncolumns = [\"code\", \"qty\"]").await, (Passed, 0, 0));
    // An integer column is first tested against a bitmap of the values seen; a duplicate falls
    // back to the exact query.
    assert_eq!(verdict("type = \"unique\"\ncolumns = [\"parent\"]").await, (Failed, 2, 0));
    let results = verdicts("[[migrations.checks]]\ntype = \"unique\"\ncolumn = \"code\"\n").await;
    assert_eq!(results[0].sample_columns, ["code", "occurrences"]);
    assert_eq!(results[0].sample, [[Some("A-1".to_string()), Some("2".to_string())]]);
    assert_eq!(results[0].nulls, Some("ignored"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn value_checks_and_their_nulls() {
    let accepted = "type = \"accepted_values\"\ncolumn = \"code\"\nvalues = [\"A-1\", \"A-2\", \"A-10\"]";
    assert_eq!(verdict(accepted).await, (Failed, 1, 0));
    assert_eq!(verdict(&format!("{accepted}\nnulls = \"fail\"")).await, (Failed, 2, 0));
    let range = "type = \"range\"\ncolumn = \"qty\"\nmin = 0\nmax = 100";
    assert_eq!(verdict(range).await, (Failed, 2, 0));
    assert_eq!(verdict(&format!("{range}\nnulls = \"fail\"")).await, (Failed, 3, 0));
    assert_eq!(verdict("type = \"range\"\ncolumn = \"qty\"\nmin = -1").await, (Passed, 0, 0));
    assert_eq!(verdict("type = \"range\"\ncolumn = \"qty\"\nmax = 199").await, (Failed, 1, 0));
    assert_eq!(verdict("type = \"pattern\"\ncolumn = \"code\"\npattern = \"^A-[0-9]+$\"").await, (Failed, 1, 0));
    assert_eq!(verdict("type = \"pattern\"\ncolumn = \"code\"\npattern = \"(?i)^a-\"").await, (Failed, 1, 0));
    assert_eq!(verdict("type = \"length\"\ncolumn = \"code\"\nmax = 3").await, (Failed, 1, 0));
    assert_eq!(verdict("type = \"length\"\ncolumn = \"code\"\nmin = 3\nmax = 4").await, (Passed, 0, 0));
    assert_eq!(verdict("type = \"length\"\ncolumn = \"code\"\nmin = 3\nnulls = \"fail\"").await, (Failed, 1, 0));
    // The sample: the key, then the checked column, failing rows in order.
    let results = verdicts(&format!("[[migrations.checks]]\n{range}\n")).await;
    assert_eq!(results[0].sample_columns, ["id", "qty"]);
    let sample: Vec<Vec<&str>> =
        results[0].sample.iter().map(|row| row.iter().map(|v| v.as_deref().unwrap()).collect()).collect();
    assert_eq!(sample, [["3", "-1"], ["4", "200"]]);
    assert_eq!(results[0].nulls, Some("pass"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relationships_row_count_sql_and_schema() {
    // `t.id` is the table being loaded: parent 9 does not exist; NULL parents pass.
    let related = "type = \"relationships\"\ncolumn = \"parent\"\nto = \"t.id\"";
    assert_eq!(verdict(related).await, (Failed, 1, 0));
    assert_eq!(verdict(&format!("{related}\nnulls = \"fail\"")).await, (Failed, 3, 0));
    assert_eq!(verdict("type = \"row_count\"\nequals_source = true").await, (Passed, 0, 0));
    assert_eq!(verdict("type = \"row_count\"\nmin = 10").await, (Failed, 4, 0));
    assert_eq!(verdict("type = \"row_count\"\nmin = 1\nmax = 5").await, (Failed, 1, 0));
    assert_eq!(verdict("type = \"sql\"\nsql = \"SELECT id FROM t WHERE qty < 0 OR qty > 100\"").await, (Failed, 2, 0));
    assert_eq!(
        verdict("type = \"sql\"\nsql = \"SELECT id, count(*) FROM t GROUP BY id HAVING count(*) > 1\"").await,
        (Passed, 0, 0)
    );
    let schema = "type = \"schema\"\ncolumns = { id = \"BIGINT NOT NULL\", code = \"VARCHAR\", parent = \"INTEGER\" }";
    assert_eq!(verdict(schema).await, (Passed, 0, 0));
    let results = verdicts(
        "[[migrations.checks]]\ntype = \"schema\"\nexact = true\ncolumns = { id = \"INTEGER\", code = \"DATE\", qty = \"INTEGER NOT NULL\", gone = \"TEXT\" }\n",
    )
    .await;
    let problems: Vec<String> = results[0]
        .sample
        .iter()
        .map(|r| format!("{}: {}", r[0].as_deref().unwrap(), r[1].as_deref().unwrap()))
        .collect();
    insta::assert_snapshot!(problems.join("\n"), @r"
    code: is Utf8, expected DATE (Date32)
    gone: is missing
    parent: is not expected (`exact = true`)
    qty: holds 1 NULL values but is declared NOT NULL
    ");
    assert_eq!(results[0].failing, 4);
}

/// `relationships` to another migration's table: integer values are tested against a bitmap of
/// the referenced keys while the rows stream; a missing value or a failing NULL falls back to
/// the exact query, which counts and shows the rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relationships_to_another_table() {
    let all = "SELECT id FROM items UNION ALL SELECT 9";
    for (parents, rule, expected, sample) in [
        (all, "", (Passed, 0, 0), vec![]),
        ("SELECT id FROM items", "", (Failed, 1, 0), vec![["4", "9"]]),
        (all, "nulls = \"fail\"", (Failed, 2, 0), vec![["1", ""], ["6", ""]]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.sql"), parents).unwrap();
        let settings = format!(
            "depends_on = [\"p\"]\n[[migrations.checks]]\ntype = \"relationships\"\ncolumn = \"parent\"\nto = \"p.id\"\n{rule}\n\
             [[migrations]]\nname = \"p\"\nsource = \"source\"\nquery = \"p.sql\"\ntarget = \"target\"\ntable = \"p\"\n"
        );
        let plan = Plan::load(&items_job(dir.path(), &settings), &Overrides::default()).unwrap();
        let report = run_with(&plan, &[], &RunOptions::default(), Progress::Quiet).await.unwrap();
        let m = report.migrations.iter().find(|m| m.name == "m").unwrap();
        let check = &m.checks[0];
        assert_eq!((check.status, check.failing, check.allowed), expected, "{parents} {rule}");
        let shown: Vec<Vec<&str>> =
            check.sample.iter().map(|row| row.iter().map(|v| v.as_deref().unwrap_or("")).collect()).collect();
        assert_eq!(shown, sample, "{parents} {rule}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_and_severities() {
    let range = "type = \"range\"\ncolumn = \"qty\"\nmin = 0\nmax = 100";
    assert_eq!(verdict(&format!("{range}\nthreshold = 2")).await, (Passed, 2, 2));
    assert_eq!(verdict(&format!("{range}\nthreshold = 1")).await, (Failed, 2, 1));
    // Percentages of the 6 rows checked, rounded down.
    assert_eq!(verdict(&format!("{range}\nthreshold = \"50%\"")).await, (Passed, 2, 3));
    assert_eq!(verdict(&format!("{range}\nthreshold = \"20%\"")).await, (Failed, 2, 1));
    assert_eq!(verdict(&format!("{range}\nseverity = \"warn\"")).await, (Warned, 2, 0));
    // A warning publishes; an error does not.
    let dir = tempfile::tempdir().unwrap();
    let job = items_job(dir.path(), &format!("[[migrations.checks]]\n{range}\nseverity = \"warn\"\n"));
    let report = load(&job, RunOptions::default()).await.unwrap();
    assert_eq!((report.rows_loaded, report.checks[0].status), (6, Warned));
    let job = items_job(dir.path(), &format!("[[migrations.checks]]\n{range}\n"));
    let error = load(&job, RunOptions::default()).await.unwrap_err();
    insta::assert_snapshot!(error, @"migration `m`: 1 check failed, nothing was published: `range(qty)` (2 failing); the report shows the failing rows");
}

/// Every check type honours its threshold: its failing count tolerated passes, one less fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_honours_its_threshold() {
    let failing = [
        ("type = \"not_null\"\ncolumns = [\"code\", \"qty\"]", 2),
        ("type = \"unique\"\ncolumns = [\"code\"]", 2),
        ("type = \"accepted_values\"\ncolumn = \"code\"\nvalues = [\"A-1\"]", 3),
        ("type = \"range\"\ncolumn = \"qty\"\nmax = 5", 2),
        ("type = \"pattern\"\ncolumn = \"code\"\npattern = \"^A-1$\"", 3),
        ("type = \"length\"\ncolumn = \"code\"\nmin = 4", 4),
        ("type = \"relationships\"\ncolumn = \"parent\"\nto = \"t.id\"\nnulls = \"fail\"", 3),
        ("type = \"row_count\"\nmax = 2", 4),
        ("type = \"sql\"\nsql = \"SELECT * FROM t WHERE id > 1\"", 5),
    ];
    for (check, count) in failing {
        assert_eq!(verdict(&format!("{check}\nthreshold = {count}")).await, (Passed, count, count), "{check}");
        assert_eq!(
            verdict(&format!("{check}\nthreshold = {}", count - 1)).await,
            (Failed, count, count - 1),
            "{check}"
        );
    }
}

/// Bounds for dates, timestamps and decimals are written as strings or numbers and compared in
/// the column's type, on PostgreSQL rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_over_dates_timestamps_and_decimals() {
    let db = Db::Pg(PgDatabase::new());
    db.execute(
        "CREATE TABLE events (id INT PRIMARY KEY, name TEXT, updated_at TIMESTAMP, day DATE, amount NUMERIC(10, 2))",
    );
    db.execute(
        "INSERT INTO events VALUES (1, 'a', '2024-01-01 10:00:00', '2024-01-01', 10.00), \
         (2, 'b', '2024-06-30 23:59:59.5', '2024-06-30', 99.99), (3, 'c', NULL, '2023-12-31', 100.01)",
    );
    let query = "SELECT id, name, updated_at, day, amount FROM events";
    let dir = tempfile::tempdir().unwrap();
    let run = |check: &'static str| {
        let job = job(dir.path(), &db, query, &format!("[[migrations.checks]]\n{check}\nseverity = \"warn\"\n"));
        async move { load(&job, RunOptions::default()).await.unwrap().checks[0].failing }
    };
    assert_eq!(run("type = \"range\"\ncolumn = \"day\"\nmin = \"2024-01-01\"").await, 1);
    assert_eq!(run("type = \"range\"\ncolumn = \"day\"\nmin = 2024-01-01").await, 1);
    assert_eq!(run("type = \"range\"\ncolumn = \"updated_at\"\nmax = \"2024-06-30 23:59:59\"").await, 1);
    assert_eq!(run("type = \"range\"\ncolumn = \"amount\"\nmin = 10\nmax = 99.99").await, 1);
    assert_eq!(run("type = \"range\"\ncolumn = \"amount\"\nmax = 100.005").await, 1);
    let error = load(
        &job(dir.path(), &db, query, "[[migrations.checks]]\ntype = \"range\"\ncolumn = \"day\"\nmin = \"soon\"\n"),
        RunOptions::default(),
    )
    .await
    .unwrap_err();
    insta::assert_snapshot!(error, @"migration `m`: check `range(day)`: `soon` is not a value of column `day`'s type (Date32)");
}

/// A run whose `error` check fails publishes nothing: the table keeps its earlier rows.
async fn blocked_publish(db: Db, mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    db.execute("CREATE TABLE events (id INT PRIMARY KEY, name VARCHAR(100), updated_at TIMESTAMP)");
    for id in 1..=3 {
        db.execute(&format!("INSERT INTO events VALUES ({id}, 'name {id}', '2024-01-01 00:00:00')"));
    }
    let checks = "[[migrations.checks]]\ntype = \"not_null\"\ncolumn = \"name\"\n\
                  [[migrations.checks]]\ntype = \"pattern\"\ncolumn = \"name\"\npattern = \"^name\"\nseverity = \"warn\"\n";
    let job = job(dir.path(), &db, EVENTS_QUERY, &format!("{mode}\n{checks}"));
    assert_eq!(load(&job, RunOptions::default()).await.unwrap().rows_loaded, 3);
    let before = db.rows("SELECT id, name FROM t ORDER BY id");
    db.execute("UPDATE events SET name = NULL WHERE id = 2");
    db.execute("INSERT INTO events VALUES (4, 'other', '2024-01-02 00:00:00')");
    let plan = Plan::load(&job, &Overrides::default()).unwrap();
    let report = run_with(&plan, &[], &RunOptions::default(), Progress::Quiet).await.unwrap();
    assert_eq!(report.error_kind, Some(ferry::error::ErrorKind::Checks), "{:?}", report.error);
    let m = &report.migrations[0];
    assert_eq!(m.checks.iter().map(|c| (c.status, c.failing)).collect::<Vec<_>>(), [(Failed, 1), (Warned, 1)]);
    assert_eq!(m.checks[0].sample, [[Some("2".to_string()), None]]);
    assert_eq!(db.rows("SELECT id, name FROM t ORDER BY id"), before, "the target changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_publish_in_postgres() {
    blocked_publish(Db::Pg(PgDatabase::new()), "").await;
    blocked_publish(Db::Pg(PgDatabase::new()), "mode = \"merge\"").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_publish_in_mysql() {
    blocked_publish(Db::My(MysqlDatabase::new()), "").await;
    blocked_publish(Db::My(MysqlDatabase::new()), "mode = \"merge\"").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_publish_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    blocked_publish(Db::Lite(dir.path().join("a.sqlite")), "").await;
    blocked_publish(Db::Lite(dir.path().join("b.sqlite")), "mode = \"merge\"").await;
}

#[test]
fn ferry_check_and_run_exit_codes_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let checks = "[[migrations.checks]]\ntype = \"range\"\ncolumn = \"qty\"\nmin = -1\nmax = 200\n";
    let job = items_job(dir.path(), checks);
    let run = |args: &[&str]| ferry().current_dir(dir.path()).args(args).output().unwrap();
    assert_eq!(run(&["run", "--job", "job.toml"]).status.code(), Some(0));
    let checked = run(&["check", "--job", "job.toml", "--junit", "ok.xml"]);
    assert_eq!(checked.status.code(), Some(0), "{}", String::from_utf8_lossy(&checked.stderr));
    // Behind ferry's back, a value goes out of range: `ferry check` finds it, exit code 1.
    rusqlite::Connection::open(dir.path().join("db.sqlite"))
        .unwrap()
        .execute("UPDATE t SET qty = 999 WHERE id = 2", [])
        .unwrap();
    let checked = run(&["check", "--job", "job.toml", "--junit", "checks.xml", "--report", "checks.json"]);
    assert_eq!(checked.status.code(), Some(1));
    let stdout = String::from_utf8(checked.stdout).unwrap();
    assert!(stdout.contains("failed   range(qty) (1 failing)"), "{stdout}");
    assert!(stdout.contains("id=2 qty=999"), "{stdout}");
    let junit = std::fs::read_to_string(dir.path().join("checks.xml")).unwrap();
    assert!(junit.contains("<testsuite name=\"m\" tests=\"1\" failures=\"1\" skipped=\"0\">"), "{junit}");
    assert!(junit.contains("<failure message=\"1 failing\" type=\"range\">id=2 qty=999\n</failure>"), "{junit}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("checks.json")).unwrap()).unwrap();
    assert_eq!(json["tables"][0]["checks"][0]["sample"], serde_json::json!([["2", "999"]]));
    // A run whose checks fail: exit code 1, the report and JUnit say which, the table stays.
    std::fs::write(
        job,
        std::fs::read_to_string(dir.path().join("job.toml")).unwrap().replace("max = 200", "max = 100"),
    )
    .unwrap();
    let ran = run(&["run", "--job", "job.toml", "--junit", "run.xml", "--report", "run.json"]);
    assert_eq!(ran.status.code(), Some(1));
    let stderr = String::from_utf8(ran.stderr).unwrap();
    assert!(stderr.contains("error: migration `m`: 1 check failed, nothing was published"), "{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("run.json")).unwrap()).unwrap();
    assert_eq!(json["error_kind"], "checks");
    assert_eq!(json["migrations"][0]["checks"][0]["failing"], 1);
    assert!(std::fs::read_to_string(dir.path().join("run.xml")).unwrap().contains("failures=\"1\""));
    assert_eq!(
        sqlite_rows(&dir.path().join("db.sqlite"), "SELECT qty FROM t WHERE id = 2"),
        [[Some("999".to_string())]]
    );
}

#[test]
fn bad_checks_fail_before_any_database_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let error = |checks: &str| {
        // The URLs point nowhere: a check error must come before any connection.
        let text =
            std::fs::read_to_string(items_job(dir.path(), checks)).unwrap().replace("db.sqlite", "missing/db.sqlite");
        Plan::from_toml(&text, "job.toml", dir.path(), &Overrides::default()).unwrap_err().to_string()
    };
    let check = |body: &str| error(&format!("[[migrations.checks]]\n{body}\n"));
    insta::assert_snapshot!(check("type = \"not_null\"\ncolumns = [\"cod\"]"), @"migration `m`: check `not_null(cod)`: column `cod` is not in the query's output (the rows written to `t`); it has: `id`, `code`, `qty`, `parent`");
    insta::assert_snapshot!(check("type = \"pattern\"\ncolumn = \"code\"\npattern = \"^(A\""), @r"
    migration `m`: check `pattern(code)`: `pattern` is not a valid regular expression: regex parse error:
        ^(A
         ^
    error: unclosed group
    ");
    insta::assert_snapshot!(check("type = \"relationships\"\ncolumn = \"parent\"\nto = \"users.id\""), @"migration `m`: check `relationships(parent -> users.id)`: `to` names table `users`, which no migration of the job writes; it writes: `t`");
    insta::assert_snapshot!(check("type = \"relationships\"\ncolumn = \"parent\"\nto = \"t.ident\""), @"migration `m`: check `relationships(parent -> t.ident)`: column `ident` is not in table `t` (migration `m`); it has: `id`, `code`, `qty`, `parent`");
    insta::assert_snapshot!(check("type = \"sql\"\nsql = \"SELEC id FROM t\""), @"migration `m`: check `sql`: `sql` does not parse: SQL syntax error: Expected: an SQL statement, found: SELEC at Line: 1, Column: 1");
    insta::assert_snapshot!(check("type = \"sql\"\nsql = \"SELECT * FROM items\""), @"migration `m`: check `sql`: `sql` reads `items`; it may only read the rows being checked, as table `t`");
    insta::assert_snapshot!(check("type = \"uniq\"\ncolumn = \"id\""), @"migration `m`: check `uniq(id)`: unknown check type `uniq`; use one of: schema, not_null, unique, accepted_values, range, pattern, length, relationships, row_count, sql");
    insta::assert_snapshot!(check("type = \"unique\"\ncolumn = \"id\"\nvalues = [1]"), @"migration `m`: check `unique(id)`: `values` does not apply to `unique` checks; they take: column, columns");
    insta::assert_snapshot!(check("type = \"range\"\ncolumn = \"qty\"\nmin = 1\nthreshold = \"5 percent\""), @r#"migration `m`: check `range(qty)`: threshold `"5 percent"` is neither a row count (`10`) nor a percentage (`"0.5%"`)"#);
    insta::assert_snapshot!(check("type = \"range\"\ncolumn = \"qty\""), @"migration `m`: check `range(qty)`: needs `min`, `max` or both (inclusive bounds)");
    insta::assert_snapshot!(check("type = \"schema\"\ncolumns = { id = \"WHOLE NUMBER\" }"), @"migration `m`: check `schema`: column `id`: `WHOLE NUMBER` is not a SQL type (e.g. INTEGER, TEXT, DATE, NUMERIC(12, 2), TIMESTAMP)");
    insta::assert_snapshot!(check("type = \"not_null\"\ncolumn = \"id\"\nseverity = \"fatal\""), @"migration `m`: check `not_null(id)`: unknown severity `fatal`; use `error` or `warn`");
    insta::assert_snapshot!(error("[[migrations.checks]]\ntype = \"unique\"\ncolumn = \"id\"\n[[migrations.checks]]\ntype = \"unique\"\ncolumn = \"id\"\n"), @"migration `m`: check `unique(id)`: two checks have this name; give one of them another `name`");
}

/// When the query's text does not name its columns (`SELECT *`), an unknown column is found
/// once the query is planned: still before any row moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_column_behind_a_star_fails_before_rows_move() {
    let dir = tempfile::tempdir().unwrap();
    let job = items_job(dir.path(), "[[migrations.checks]]\ntype = \"range\"\ncolumn = \"quantity\"\nmin = 0\n");
    std::fs::write(dir.path().join("q.sql"), "SELECT * FROM items").unwrap();
    let error = load(&job, RunOptions::default()).await.unwrap_err();
    insta::assert_snapshot!(error, @"migration `m`: check `range(quantity)`: column `quantity` is not in the rows written to `t`; they have: `id`, `code`, `qty`, `parent`");
    assert!(sqlite_rows(&dir.path().join("db.sqlite"), "SELECT name FROM sqlite_master WHERE name = 't'").is_empty());
}

/// Through the API, a run whose checks fail answers 422 with the report naming the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_failed_checks_with_422_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let job = items_job(dir.path(), "[[migrations.checks]]\ntype = \"not_null\"\ncolumn = \"code\"\n");
    let plan = Plan::load(&job, &Overrides::default()).unwrap();
    let (base, _stop, _task) = crate::api::serve(plan, Some("t0ken")).await;
    let response = reqwest::Client::new()
        .post(format!("{base}/migrations/m/runs"))
        .bearer_auth("t0ken")
        .body("{}")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    let check = &body["report"]["migrations"][0]["checks"][0];
    assert_eq!(
        (check["name"].as_str(), check["status"].as_str(), check["failing"].as_u64()),
        (Some("not_null(code)"), Some("failed"), Some(1))
    );
    assert_eq!(body["report"]["error_kind"], "checks");
    assert!(sqlite_rows(&dir.path().join("db.sqlite"), "SELECT name FROM sqlite_master WHERE name = 't'").is_empty());
}
