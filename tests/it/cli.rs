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

/// An installed ferry in an empty folder: the demo runs on the job the binary carries.
#[test]
fn demo_runs_in_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let output = ferry().current_dir(dir.path()).args(["demo", "--rows", "50"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let users = sqlite_rows(&dir.path().join("data/demo/target.db"), "SELECT count(*) FROM target_users");
    assert_eq!(users[0][0].as_deref(), Some("55"));
    assert!(dir.path().join("data/demo/parquet/target_orders/_SUCCESS").exists());
    // A job that cannot be read fails before anything is made.
    let output =
        ferry().current_dir(dir.path()).args(["demo", "--job", "missing.toml", "--dir", "other"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.toml"));
    assert!(!dir.path().join("other").exists());
}

/// `ferry init --source URL` writes a job with one migration per source table, which runs.
#[test]
fn init_writes_a_job_that_runs() {
    let source = PgDatabase::new();
    source.rows("CREATE TABLE items (id INT PRIMARY KEY, name TEXT)");
    source.rows("INSERT INTO items VALUES (1, 'a'), (2, NULL)");
    source.rows("CREATE TABLE \"Audit Log\" (at TIMESTAMP, \"What\" TEXT)");
    source.rows("INSERT INTO \"Audit Log\" VALUES ('2024-01-01 00:00:00', 'x')");
    let dir = tempfile::tempdir().unwrap();
    let init = |extra: &[&str]| {
        ferry()
            .current_dir(dir.path())
            .args(["init", "--source", &source.url, "--target", "sqlite://target.db"])
            .args(extra)
            .output()
            .unwrap()
    };
    let output = init(&[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let job = std::fs::read_to_string(dir.path().join("ferry.toml")).unwrap();
    assert!(job.contains("name = \"items\"") && job.contains("key = [\"id\"]"), "{job}");
    assert!(job.contains("name = \"Audit_Log\"") && job.contains("# from the source table \"Audit Log\""), "{job}");
    assert!(dir.path().join("queries/Audit_Log.sql").exists());
    let output = ferry().current_dir(dir.path()).arg("run").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let target = dir.path().join("target.db");
    assert_eq!(sqlite_rows(&target, "SELECT count(*) FROM items")[0][0].as_deref(), Some("2"));
    assert_eq!(sqlite_rows(&target, "SELECT \"What\" FROM \"Audit_Log\"")[0][0].as_deref(), Some("x"));
    // An existing job is kept unless --force.
    let output = init(&[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr).replace(&dir.path().display().to_string(), "[dir]");
    insta::assert_snapshot!(stderr.trim(), @"error: ./ferry.toml exists; edit it, or run `ferry init --force` to overwrite it");
    assert!(init(&["--force"]).status.success());
    // Without a source: a commented starter that names the commands.
    let empty = tempfile::tempdir().unwrap();
    let output = ferry().current_dir(empty.path()).arg("init").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let job = std::fs::read_to_string(empty.path().join("ferry.toml")).unwrap();
    assert!(job.contains("[connections]") && job.contains("# [[migrations]]"), "{job}");
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let output = ferry().args(["completions", shell]).output().unwrap();
        assert!(output.status.success());
        let script = String::from_utf8(output.stdout).unwrap();
        // Commands and their options (fish spells `--source` as `-l source`).
        assert!(script.contains("ferry") && script.contains("reconcile") && script.contains("source"), "{shell}");
    }
    let output = ferry().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// The default build has no scale-out, and says how to get it.
#[cfg(not(feature = "distributed"))]
#[test]
fn the_cluster_commands_say_how_to_build_them() {
    let dir = tempfile::tempdir().unwrap();
    for arguments in [
        &["cluster", "scheduler"][..],
        &["sql", "--cluster", "df://127.0.0.1:50050", "SELECT 1"],
        &[
            "run",
            "--job",
            &repo().join("ferry.toml").display().to_string(),
            "--cluster",
            "df://h:1",
            "--stage",
            "file:///tmp/s",
        ],
    ] {
        let output = ferry().current_dir(dir.path()).args(arguments).output().unwrap();
        assert!(!output.status.success(), "{arguments:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            "error: this ferry was built without scale-out; build it with `cargo build --release --features \
             distributed` to use a Ballista cluster\n",
            "{arguments:?}"
        );
    }
}
