//! The commands as a user runs them: demo, run with a JSON report, generate; and what the
//! source is asked for (only the needed columns, the filters it can apply).

use std::path::Path;

use ferry::connection::Endpoint;
use ferry::job::{Overrides, Plan};

use crate::common::{assert_succeeded, ferry, job_dir, repo, sqlite_rows, PgDatabase};

#[test]
fn demo_runs_with_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let run_demo = || {
        ferry()
            .args(["demo", "--rows", "200", "--job"])
            .arg(repo().join("ferry.toml"))
            .arg("--dir")
            .arg(&demo)
            .output()
            .unwrap()
    };
    let output = run_demo();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for name in ["users", "orders", "cleaned_data", "users_parquet", "orders_parquet", "cleaned_data_parquet"] {
        assert!(stdout.lines().any(|l| l.starts_with(name) && l.contains("succeeded")), "{name} in:\n{stdout}");
    }
    let users = sqlite_rows(&demo.join("target.db"), "SELECT count(*) FROM target_users");
    assert_eq!(users[0][0].as_deref(), Some("205"));
    assert!(demo.join("parquet/target_users/_SUCCESS").exists());
    // A second run reuses the source and replaces the targets.
    let again = run_demo();
    assert!(again.status.success());
    let users = sqlite_rows(&demo.join("target.db"), "SELECT count(*) FROM target_users");
    assert_eq!(users[0][0].as_deref(), Some("205"));
}

#[test]
fn run_writes_a_json_report() {
    let dir = job_dir(&[]);
    let source = dir.path().join("source.db");
    crate::common::block_on(async {
        ferry::generate::generate(&Endpoint::Sqlite(source.clone()), 20, true).await.unwrap()
    });
    let output = ferry()
        .current_dir(dir.path())
        .args(["run", "--source", "sqlite://source.db", "--target", "sqlite://target.db", "--report", "report.json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    insta::assert_json_snapshot!(report, {
        ".run_id" => "[run id]",
        ".started_at" => "[time]",
        ".migrations[].started_at" => "[time]",
        ".migrations[].seconds" => "[seconds]",
        ".migrations[].rows_per_second" => "[rate]",
    });
}

#[test]
fn generate_writes_the_source_tables() {
    let dir = tempfile::tempdir().unwrap();
    let output = ferry()
        .current_dir(dir.path())
        .args(["generate", "--rows", "50", "--sample", "--to", "sqlite://g.db"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        "sqlite://./g.db: source_table 55 rows, source_orders 155 rows, source_unnormalized 55 rows"
    );
    let rows = sqlite_rows(&dir.path().join("g.db"), "SELECT name, age, city FROM source_table WHERE id = 1");
    assert_eq!(rows, vec![vec![Some("Alice".into()), Some("30".into()), Some("New York".into())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_needed_columns_and_safe_filters_reach_the_source() {
    let source = PgDatabase::new();
    ferry::generate::generate(&source.endpoint(), 10, false).await.unwrap();
    let dir = crate::common::job_dir_without_checks();
    std::fs::write(
        dir.path().join("queries/users.sql"),
        "SELECT id, upper(city) AS city FROM source_table WHERE age > 30 AND city = 'Boston' AND name LIKE 'A%'",
    )
    .unwrap();
    let overrides = Overrides { source: Some(source.url.clone()), target: Some("sqlite://t.db".into()) };
    let plan = Plan::load(&dir.path().join("ferry.toml"), &overrides).unwrap();
    let (frame, _) = ferry::transform::plan_migration(&plan, &plan.migrations[0]).await.unwrap();
    let physical = frame.create_physical_plan().await.unwrap();
    let shown = datafusion::physical_plan::displayable(physical.as_ref()).indent(true).to_string();
    let scan = shown.lines().find(|l| l.contains("DatabaseScanExec")).unwrap().trim().to_string();
    let scan = scan.replace(&source.url, "[url]").replace(&source.name, "[db]");
    // `name` is read for DataFusion's LIKE; `age > 30` and `city = 'Boston'` run in PostgreSQL.
    assert!(scan.contains("columns=[id, name, age, city]"), "{scan}");
    assert!(scan.ends_with(r#"filter=[("age" > 30) AND ("city" = 'Boston')]"#), "{scan}");
    assert!(!scan.contains("LIKE"), "LIKE's collation rules differ between engines: {scan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_in_an_object_store_is_a_target_and_a_source() {
    // source (SQLite) -> lake (memory:// object store) -> target (SQLite), in one job.
    let dir = job_dir(&[]);
    let source = dir.path().join("source.db");
    ferry::generate::generate(&Endpoint::Sqlite(source.clone()), 100, true).await.unwrap();
    std::fs::write(
        dir.path().join("queries/from_lake.sql"),
        "SELECT user_id, age_group FROM lake.target_users WHERE user_id <= 10",
    )
    .unwrap();
    let job = "[connections]\nsource = \"sqlite://source.db\"\nlake = \"memory:///ferry-it-lake\"\ntarget = \"sqlite://target.db\"\n\
        [[migrations]]\nname = \"users\"\nsource = \"source\"\nquery = \"queries/users.sql\"\ntarget = \"lake\"\ntable = \"target_users\"\n\
        [[migrations]]\nname = \"back\"\nsource = \"lake\"\nquery = \"queries/from_lake.sql\"\ntarget = \"target\"\ntable = \"users_back\"\ndepends_on = [\"users\"]\n";
    std::fs::write(dir.path().join("lake.toml"), job).unwrap();
    let plan = Plan::load(&dir.path().join("lake.toml"), &Overrides::default()).unwrap();
    let report = ferry::run::run(&plan, &[], ferry::run::Progress::Quiet).await.unwrap();
    assert_succeeded(&report);
    // Every row of the Parquet files is read; the query's WHERE drops all but ten.
    assert_eq!((report.migrations[1].rows_read, report.migrations[1].rows_filtered), (105, 95));
    let rows = sqlite_rows(
        Path::new(&dir.path().join("target.db")),
        "SELECT user_id, age_group FROM users_back ORDER BY user_id",
    );
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[0], vec![Some("1".into()), Some("30-40".into())]);
}

#[test]
fn incremental_flags_reach_the_run() {
    let dir = job_dir(&[]);
    let run = |flags: &[&str]| {
        let output = ferry()
            .current_dir(dir.path())
            .args(["run", "--source", "sqlite://source.db", "--target", "sqlite://target.db"])
            .args(flags)
            .output()
            .unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stderr).trim().to_string())
    };
    let (code, stderr) = run(&["--full-refresh", "--from", "2024-01-01"]);
    assert_eq!(code, Some(2));
    assert_eq!(stderr, "error: --full-refresh loads everything, --from/--to load a range: use one or the other");
    let (code, stderr) = run(&["--to", "2024-01-01"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("none of the migrations to run is incremental"), "{stderr}");
}
