//! The API under concurrent requests and on shutdown: one run per migration at a time (in one
//! server and across processes), a bounded load test, and SIGTERM letting a run finish.

use std::io::BufRead;
use std::time::Duration;

use serde_json::Value;

use crate::api::{serve, shipped_plan, Client};
use crate::common::{ferry, PgDatabase};

/// Holds `LOCK TABLE table` in `database` until dropped (rolled back): a run writing the table waits.
struct TableLock {
    client: tokio_postgres::Client,
}

impl TableLock {
    async fn take(database: &PgDatabase, sql: &str) -> TableLock {
        let (client, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client.batch_execute(&format!("BEGIN; {sql}")).await.unwrap();
        TableLock { client }
    }

    async fn release(self) {
        self.client.batch_execute("ROLLBACK").await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_calls_load_the_target_once() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    let (_dir, plan) = shipped_plan(&source, &target).await;
    let (base, _stop, _task) = serve(plan, Some("s3cret-token")).await;
    let client = std::sync::Arc::new(Client::new(&base));
    assert_eq!(client.call("POST", "/migrate-users", None).await.0, 200);
    // The next run waits on this lock inside its load, so every concurrent call finds it running.
    let lock = TableLock::take(&target, "LOCK TABLE target_users IN ACCESS EXCLUSIVE MODE").await;
    let mut calls = Vec::new();
    for _ in 0..20 {
        let client = client.clone();
        calls.push(tokio::spawn(async move { client.call("POST", "/migrate-users", None).await }));
    }
    let mut health = Vec::new();
    for _ in 0..500 {
        let client = client.clone();
        health.push(tokio::spawn(async move { client.call_as(None, "GET", "/health", None).await.0 }));
    }
    for check in health {
        assert_eq!(check.await.unwrap(), 200);
    }
    // 19 calls answer 409 at once, naming the run that goes on.
    let mut conflicts = Vec::new();
    while conflicts.len() < 19 {
        let index = calls.iter().position(|c| c.is_finished()).unwrap_or(usize::MAX);
        if index == usize::MAX {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let (status, body) = calls.remove(index).await.unwrap();
        assert_eq!(status, 409, "{body}");
        conflicts.push(body["running_run_id"].as_str().unwrap().to_string());
    }
    let running = conflicts[0].clone();
    assert!(conflicts.iter().all(|id| *id == running));
    let (_, run) = client.call("GET", &format!("/runs/{running}"), None).await;
    assert_eq!(run["status"], "running");
    let (_, migrations) = client.call("GET", "/migrations", None).await;
    assert_eq!(migrations[0]["running_run_id"], running.as_str());
    lock.release().await;
    let (status, body) = calls.pop().unwrap().await.unwrap();
    assert_eq!((status, body["run_id"].as_str()), (200, Some(running.as_str())), "{body}");
    let succeeded = target.rows("SELECT count(*) FROM _ferry_runs WHERE migration = 'users' AND status = 'succeeded'");
    assert_eq!(succeeded[0][0].as_deref(), Some("2"), "the first call and the one of the twenty");
    assert_eq!(target.rows("SELECT count(*) FROM target_users")[0][0].as_deref(), Some("55"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_holding_the_migration_is_a_conflict() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    let (_dir, plan) = shipped_plan(&source, &target).await;
    let (base, _stop, _task) = serve(plan, Some("s3cret-token")).await;
    let client = Client::new(&base);
    // What another ferry (a CLI run, a server elsewhere) holds while it runs `users`.
    let other = TableLock::take(&target, "SELECT pg_advisory_lock(hashtextextended('ferry:users', 0))").await;
    let (status, body) = client.call("POST", "/migrate-users", None).await;
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.starts_with("migration `users` is already running (another ferry process holds its lock in `postgres://postgres:***@127.0.0.1:5432/"), "{error}");
    assert!(target.rows("SELECT 1 FROM pg_tables WHERE tablename = 'target_users'").is_empty());
    other.client.batch_execute("SELECT pg_advisory_unlock_all()").await.unwrap();
    other.release().await;
    assert_eq!(client.call("POST", "/migrate-users", None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_running_run_finish() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    let (dir, _plan) = shipped_plan(&source, &target).await;
    let mut server = ferry()
        .args(["serve", "--bind", "127.0.0.1:0", "--job"])
        .arg(dir.path().join("ferry.toml"))
        .args(["--source", &source.url, "--target", &target.url])
        .env("FERRY_API_TOKEN", "s3cret-token")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut first_line).unwrap();
    let base = first_line.trim().strip_prefix("ferry serves on ").unwrap().to_string();
    let client = Client::new(&base);
    assert_eq!(client.call("POST", "/migrate-users", None).await.0, 200);
    let lock = TableLock::take(&target, "LOCK TABLE target_users IN ACCESS EXCLUSIVE MODE").await;
    let (status, started) = client.call("POST", "/migrations/users/runs?wait=false", None).await;
    assert_eq!(status, 202);
    let id = started["run_id"].as_str().unwrap().to_string();
    std::process::Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    // The server stops taking requests but waits for the run.
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{base}/health")).send().await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(http.get(format!("{base}/health")).send().await.is_err(), "still accepting after SIGTERM");
    assert!(server.try_wait().unwrap().is_none(), "exited with a run going on");
    lock.release().await;
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap()).await.unwrap();
    assert!(status.success(), "{status}");
    let run = target.rows(&format!("SELECT status FROM _ferry_runs WHERE run_id = '{id}'"));
    assert_eq!(run, [[Some("succeeded".to_string())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_target_share_runs_and_the_lock() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    let (_dir, plan) = shipped_plan(&source, &target).await;
    let (first, _stop_first, _task_first) = serve(plan.clone(), Some("s3cret-token")).await;
    let (second, _stop_second, _task_second) = serve(plan, Some("s3cret-token")).await;
    let (first, second) = (Client::new(&first), Client::new(&second));
    assert_eq!(first.call("POST", "/migrate-users", None).await.0, 200);
    // A run whose process died: recorded as running for ever, unless a later run retires it.
    target.rows("INSERT INTO _ferry_runs VALUES ('20200101T000000-dead00', 'users', 'running', '2020-01-01T00:00:00.000Z', NULL, NULL)");
    let lock = TableLock::take(&target, "LOCK TABLE target_users IN ACCESS EXCLUSIVE MODE").await;
    let (status, started) = first.call("POST", "/migrations/users/runs?wait=false", None).await;
    assert_eq!(status, 202);
    let id = started["run_id"].as_str().unwrap().to_string();
    // The second server sees the run as running (from the target) and refuses to start another.
    let mut seen = Value::Null;
    for _ in 0..200 {
        seen = second.call("GET", &format!("/runs/{id}"), None).await.1;
        if seen["status"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(seen["status"], "running", "{seen}");
    let (status, body) = second.call("POST", "/migrate-users", None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["running_run_id"], id.as_str(), "{body}");
    lock.release().await;
    let mut done = Value::Null;
    for _ in 0..400 {
        done = second.call("GET", &format!("/runs/{id}"), None).await.1;
        if done["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(done["status"], "succeeded", "{done}");
    let (_, dead) = second.call("GET", "/runs/20200101T000000-dead00", None).await;
    assert_eq!(dead["status"], "interrupted", "{dead}");
}
