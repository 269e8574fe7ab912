//! Faults in the middle of a load: a connection cut, a PostgreSQL backend terminated, a MariaDB
//! connection killed. Each gives a clear error or is retried, the target is never left half
//! loaded, and a rerun completes. (A server restarted mid-run: `cluster`; a killed ferry:
//! `crash`.)

use std::path::Path;
use std::time::Duration;

use ferry::incremental::RunOptions;
use ferry::job::{Overrides, Plan};
use ferry::report::RunReport;
use ferry::run::{run_with, Progress};

use crate::atomic::{load, source};
use crate::common::{MysqlDatabase, PgDatabase};
use crate::proxy::{Fault, Proxy};

const ALL_ROWS: &str =
    "SELECT CAST(id AS INT) AS user_id, name AS full_name, CAST(id AS BIGINT) AS boom FROM source_table";
const FIRST_ROWS: &str =
    "SELECT CAST(id AS INT) AS user_id, name AS full_name, CAST(id AS BIGINT) AS boom FROM source_table WHERE id <= 3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_mid_load_changes_nothing_and_a_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let target = PgDatabase::new();
    assert_eq!(load(dir.path(), &source, &target.url, FIRST_ROWS, "replace").await, None);
    let before = target.rows("SELECT * FROM t ORDER BY user_id");
    // 40,000 rows are about 1.5 MB of COPY data: cut after 300 kB.
    let proxy = Proxy::before(&target.url, Fault::CutAfter(300_000)).await;
    let error = load(dir.path(), &source, &proxy.url(&target.url), ALL_ROWS, "replace").await.expect("cut");
    let port = proxy.port.to_string();
    assert!(error.contains("`t`") && error.contains(&port) && error.contains("connection"), "{error}");
    assert_eq!(target.rows("SELECT * FROM t ORDER BY user_id"), before, "the old rows, as they were");
    assert!(target.rows("SELECT relname FROM pg_class WHERE relname LIKE '\\_ferry\\_shadow%'").is_empty());
    proxy.heal();
    assert_eq!(load(dir.path(), &source, &proxy.url(&target.url), ALL_ROWS, "replace").await, None);
    assert_eq!(target.rows("SELECT count(*) FROM t"), [[Some("40000".into())]]);
}

/// A PostgreSQL source whose `slow_rows` take 1.5 s to come, so that the load is caught in the
/// middle, and a job moving them to `target`.
async fn slow_job(dir: &Path, source: &PgDatabase, target: &str) -> Plan {
    source.rows(
        "CREATE VIEW slow_rows AS SELECT g AS user_id, 'name ' || g AS full_name \
         FROM generate_series(1, 1000) g, (SELECT pg_sleep(1.5)) s",
    );
    std::fs::create_dir_all(dir.join("queries")).unwrap();
    std::fs::write(dir.join("queries/q.sql"), "SELECT * FROM slow_rows").unwrap();
    let job = format!(
        "[connections]\nsource = \"{}\"\ntarget = \"{target}\"\n[[migrations]]\nname = \"m\"\nsource = \"source\"\n\
         query = \"queries/q.sql\"\ntarget = \"target\"\ntable = \"t\"\nkey = [\"user_id\"]\n",
        source.url
    );
    Plan::from_toml(&job, "job.toml", dir, &Overrides::default()).unwrap()
}

/// Runs `plan` with 2 retries while `kill` ends the target's connection once it shows.
async fn run_killing(plan: &Plan, kill: impl Fn() -> bool + Send + 'static) -> RunReport {
    let killer = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if kill() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    let options = RunOptions { retries: 2, ..Default::default() };
    let report = run_with(plan, &[], &options, Progress::Quiet).await.unwrap();
    assert!(killer.await.unwrap(), "the load's connection was found and ended");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_postgres_backend_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    let plan = slow_job(dir.path(), &source, &target.url).await;
    let name = target.name.clone();
    let report = run_killing(&plan, move || {
        let admin = PgDatabase { name: "postgres".into(), url: crate::common::pg_admin_url() };
        let killed = admin.rows(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND query LIKE 'COPY%'"
        ));
        std::mem::forget(admin);
        !killed.is_empty()
    })
    .await;
    let migration = &report.migrations[0];
    assert_eq!(report.error, None, "{:?}", migration.retried);
    assert_eq!(migration.retried.len(), 1, "{:?}", migration.retried);
    assert!(
        migration.retried[0].contains("writing `t`") && migration.retried[0].contains("connection"),
        "{}",
        migration.retried[0]
    );
    assert_eq!(target.rows("SELECT count(*) FROM t"), [[Some("1000".into())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_mariadb_connection_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (source, target) = (PgDatabase::new(), MysqlDatabase::new());
    let plan = slow_job(dir.path(), &source, &target.url).await;
    let (url, name) = (target.url.clone(), target.name.clone());
    let report = run_killing(&plan, move || {
        use mysql::prelude::Queryable;
        let mut admin = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
        // Once the load has made its shadow table, its connection is among those of the database.
        let shadow: Option<String> = admin
            .query_first(format!(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = '{name}' \
                 AND table_name LIKE '\\_ferry\\_shadow%'"
            ))
            .unwrap();
        if shadow.is_none() {
            return false;
        }
        let ids: Vec<u64> = admin
            .query(format!(
                "SELECT id FROM information_schema.processlist WHERE db = '{name}' AND id <> CONNECTION_ID()"
            ))
            .unwrap();
        for id in &ids {
            let _ = admin.query_drop(format!("KILL {id}"));
        }
        !ids.is_empty()
    })
    .await;
    let migration = &report.migrations[0];
    assert_eq!(report.error, None, "{:?}", migration.retried);
    assert!(!migration.retried.is_empty(), "the load was tried again");
    assert_eq!(target.rows("SELECT count(*) FROM t"), [[Some("1000".into())]]);
    let leftovers = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() \
                     AND table_name LIKE '\\_ferry\\_shadow%'";
    assert!(target.rows(leftovers).is_empty());
}
