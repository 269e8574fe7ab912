//! The HTTP API against real databases, over real HTTP on an ephemeral loopback port.

use std::time::Duration;

use ferry::api::Server;
use ferry::job::{Overrides, Plan};
use serde_json::Value;

use crate::common::{job_dir, PgDatabase};

const TOKEN: &str = "s3cret-token";

/// A server on 127.0.0.1:0 serving `plan`; stops when the returned sender is dropped or fired.
pub async fn serve(
    plan: Plan,
    token: Option<&str>,
) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let server = Server::bind(plan, "127.0.0.1:0", token.map(str::to_string)).await.unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (base, stop, task)
}

/// The shipped job from a generated PostgreSQL source (55 users) into a PostgreSQL target; the
/// URLs carry a password (trust auth ignores it) that no answer may show.
pub async fn shipped_plan(source: &PgDatabase, target: &PgDatabase) -> (tempfile::TempDir, Plan) {
    ferry::generate::generate(&source.endpoint(), 50, true).await.unwrap();
    let with_password = |url: &str| url.replace("postgres@", "postgres:pa55word@");
    let dir = job_dir(&[]);
    let overrides = Overrides { source: Some(with_password(&source.url)), target: Some(with_password(&target.url)) };
    let plan = Plan::load(&dir.path().join("ferry.toml"), &overrides).unwrap();
    (dir, plan)
}

pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client { base: base.to_string(), http: reqwest::Client::new() }
    }

    /// (status, JSON body) of a request with the token.
    pub async fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        self.call_as(Some(TOKEN), method, path, body).await
    }

    pub async fn call_as(&self, token: Option<&str>, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(!text.contains("pa55word"), "a password in an answer: {text}");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_endpoints_runs_history_and_metrics() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    let (_dir, plan) = shipped_plan(&source, &target).await;
    let (base, stop, task) = serve(plan.clone(), Some(TOKEN)).await;
    let client = Client::new(&base);

    let (status, body) = client.call("POST", "/migrate-users", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Users migrated successfully.");
    assert_eq!(body["report"]["migrations"][0]["rows_loaded"], 55);
    let (status, body) = client.call("POST", "/migrate-orders", None).await;
    assert_eq!((status, body["message"].as_str()), (200, Some("Orders migrated successfully.")), "{body}");
    let (status, body) = client.call("POST", "/migrate-cleaned-data", None).await;
    assert_eq!((status, body["message"].as_str()), (200, Some("Cleaned data migrated successfully.")), "{body}");
    assert_eq!(target.rows("SELECT count(*) FROM target_users")[0][0].as_deref(), Some("55"));

    let (status, migrations) = client.call("GET", "/migrations", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = migrations.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["users", "orders", "cleaned_data"]);
    assert!(migrations[0]["target"].as_str().unwrap().contains("***"));

    // A run started without waiting, followed to its end.
    let (status, started) =
        client.call("POST", "/migrations/users/runs?wait=false", Some("{\"full_refresh\": true}")).await;
    assert_eq!(status, 202, "{started}");
    let id = started["run_id"].as_str().unwrap().to_string();
    let finished = wait_for_run(&client, &id).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["rows_read"], 55);

    let (_, runs) = client.call("GET", "/runs", None).await;
    assert_eq!(runs.as_array().unwrap().len(), 4, "{runs}");
    let (_, metrics) = client.call("GET", "/metrics", None).await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(metrics.contains("ferry_runs_total{migration=\"users\",outcome=\"succeeded\"} 2\n"), "{metrics}");
    assert!(metrics.contains("ferry_rows_loaded_total{migration=\"users\"} 110\n"), "{metrics}");
    assert!(metrics.contains("ferry_run_duration_seconds_count{migration=\"orders\"} 1\n"), "{metrics}");
    stop.send(()).unwrap();
    task.await.unwrap();

    // A new server finds the history in the target.
    let (base, _stop, _task) = serve(plan, Some(TOKEN)).await;
    let client = Client::new(&base);
    let (_, runs) = client.call("GET", "/runs", None).await;
    assert_eq!(runs.as_array().unwrap().len(), 4, "{runs}");
    assert_eq!(runs[0]["id"], id.as_str(), "newest first");
    let (status, run) = client.call("GET", &format!("/runs/{id}"), None).await;
    assert_eq!((status, run["status"].as_str()), (200, Some("succeeded")), "{run}");
    assert_eq!(run["report"]["migrations"][0]["publish"], "replace");
}

async fn wait_for_run(client: &Client, id: &str) -> Value {
    for _ in 0..600 {
        let (status, run) = client.call("GET", &format!("/runs/{id}"), None).await;
        assert_eq!(status, 200, "{run}");
        if run["status"] != "running" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_their_reason() {
    let dir = job_dir(&[]);
    // Absolute paths: the server runs in this process, whose folder is the repository.
    let url = |name: &str| Some(format!("sqlite://{}", dir.path().join(name).display()));
    let overrides = Overrides { source: url("source.db"), target: url("target.db") };
    let plan = Plan::load(&dir.path().join("ferry.toml"), &overrides).unwrap();
    let (base, _stop, _task) = serve(plan, Some(TOKEN)).await;
    let client = Client::new(&base);
    // The token: none, wrong, right; /health needs none.
    assert_eq!(client.call_as(None, "POST", "/migrate-users", None).await.0, 401);
    let (status, body) = client.call_as(Some("s3cret-tokeN"), "GET", "/runs", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "missing or wrong bearer token: send `Authorization: Bearer <FERRY_API_TOKEN>`");
    assert_eq!(client.call_as(None, "GET", "/health", None).await.0, 200);
    // Unknown things are 404, malformed requests 400, impossible ones 422.
    let (status, body) = client.call("POST", "/migrations/nope/runs", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "the job defines no migration `nope`; it defines: users, orders, cleaned_data");
    assert_eq!(client.call("GET", "/runs/20260101T000000-abcdef", None).await.0, 404);
    assert_eq!(client.call("GET", "/runs/'%20OR%201=1", None).await.0, 404);
    assert_eq!(client.call("GET", "/nowhere", None).await.0, 404);
    let (status, body) = client.call("POST", "/migrations/users/runs", Some("{\"full_refresh\": tru")).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().starts_with("the body is not a valid run request"), "{body}");
    let (status, body) = client.call("POST", "/migrations/users/runs", Some("{\"fullrefresh\": true}")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("unknown field `fullrefresh`"), "{body}");
    let (status, body) = client.call("POST", "/migrations/users/runs?wait=maybe", None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unknown query `wait=maybe`; the only parameter is `wait=true|false`");
    let (status, body) = client.call("POST", "/migrations/users/runs", Some("{\"from\": \"2024-01-01\"}")).await;
    assert_eq!(status, 422);
    assert!(body["error"].as_str().unwrap().contains("none of the migrations to run is incremental"), "{body}");
    // A run that fails on the source answers with the CLI's text and a fitting status.
    let (status, body) = client.call("POST", "/migrate-users", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("source.db"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_the_connection_that_does_not_answer() {
    let target = PgDatabase::new();
    let dir = job_dir(&[]);
    let overrides = Overrides {
        source: Some("postgres://postgres:pa55word@127.0.0.1:1/old_db".into()),
        target: Some(target.url.clone()),
    };
    let plan = Plan::load(&dir.path().join("ferry.toml"), &overrides).unwrap();
    let (base, _stop, _task) = serve(plan, None).await;
    let client = Client::new(&base);
    let (status, body) = client.call_as(None, "GET", "/health", None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable: source");
    assert_eq!(body["connections"]["target"]["ok"], true);
    assert!(body["connections"]["source"]["error"].as_str().unwrap().contains("127.0.0.1:1"), "{body}");
    // Reading the history of a target that never ran anything leaves it untouched.
    let (status, runs) = client.call_as(None, "GET", "/runs", None).await;
    assert_eq!((status, runs), (200, serde_json::json!([])));
    assert!(target.rows("SELECT 1 FROM pg_tables WHERE tablename = '_ferry_runs'").is_empty());
    // A run that fails before it reads keeps its error and who must act in the history.
    let (status, failed) = client.call_as(None, "POST", "/migrations/users/runs", None).await;
    assert_eq!(status, 503, "{failed}");
    let overrides = Overrides {
        source: Some("postgres://postgres:pa55word@127.0.0.1:1/old_db".into()),
        target: Some(target.url.clone()),
    };
    let plan = Plan::load(&dir.path().join("ferry.toml"), &overrides).unwrap();
    let (base, _stop, _task) = serve(plan, None).await;
    let (_, runs) = Client::new(&base).call_as(None, "GET", "/runs", None).await;
    assert_eq!(runs[0]["id"], failed["run_id"], "{runs}");
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[0]["error_kind"], "unavailable");
    assert!(runs[0]["error"].as_str().unwrap().contains("127.0.0.1:1"), "{runs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_address_needs_a_token() {
    let plan = Plan::from_toml("", "job", std::path::Path::new("."), &Overrides::default()).unwrap();
    let error = match Server::bind(plan, "0.0.0.0:0", None).await {
        Ok(_) => panic!("bound a public address without a token"),
        Err(error) => error.to_string(),
    };
    assert!(error.starts_with("refusing to serve on 0.0.0.0:"), "{error}");
    assert!(error.contains("set FERRY_API_TOKEN (or --token)"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_parameters_are_named() {
    let plan = Plan::from_toml("", "job", std::path::Path::new("."), &Overrides::default()).unwrap();
    let (base, _stop, _task) = serve(plan, None).await;
    let client = Client::new(&base);
    for (path, message) in [
        ("/runs?limt=5", "unknown query parameter `limt`; this endpoint takes `migration`, `status`, `limit`"),
        ("/runs?limit=5&limit=6", "query parameter `limit` given twice"),
        ("/runs?limit=-1", "query parameter `limit` must be a whole number from 0 to 1000, not `-1`"),
        ("/runs?limit=1001", "query parameter `limit` must be a whole number from 0 to 1000, not `1001`"),
        ("/migrations/users/rejects", "the job defines no migration `users`; it defines: "),
    ] {
        let (status, body) = client.call("GET", path, None).await;
        assert_eq!((status, body["error"].as_str()), (if path.contains("rejects") { 404 } else { 400 }, Some(message)));
    }
}

/// The rejects endpoints read `_ferry_rejects` in MySQL and SQLite as in PostgreSQL: the counts
/// per reason are the run report's, and the pages hold every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_are_read_from_mysql_and_sqlite_targets() {
    let source = PgDatabase::new();
    ferry::generate::generate(&source.endpoint(), 50, true).await.unwrap();
    let mysql = crate::common::MysqlDatabase::new();
    let dir = job_dir(&[]);
    let sqlite = format!("sqlite://{}", dir.path().join("target.db").display());
    for target in [mysql.url.clone(), sqlite] {
        let overrides = Overrides { source: Some(source.url.clone()), target: Some(target.clone()) };
        let plan = Plan::load(&dir.path().join("ferry.toml"), &overrides).unwrap();
        let (base, _stop, _task) = serve(plan, None).await;
        let client = Client::new(&base);
        let (status, run) = client.call("POST", "/migrations/cleaned_data/runs", None).await;
        assert_eq!(status, 200, "{target}: {run}");
        let counted = &run["report"]["migrations"][0]["rejects"];
        let (_, summary) = client.call("GET", "/migrations/cleaned_data/rejects", None).await;
        assert_eq!(summary["stored"], true);
        let reasons: serde_json::Map<String, Value> = summary["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["reason"].as_str().unwrap().to_string(), r["rows"].clone()))
            .collect();
        assert_eq!(&Value::Object(reasons), counted, "{target}");
        let total = summary["total"].as_u64().unwrap();
        let mut keys = std::collections::BTreeSet::new();
        for offset in (0..total).step_by(4) {
            let path = format!("/migrations/cleaned_data/rejects/rows?limit=4&offset={offset}");
            let (_, page) = client.call("GET", &path, None).await;
            for row in page["rows"].as_array().unwrap() {
                assert!(row["source_row"]["record_id"].is_number(), "{target}: {row}");
                keys.insert(row["source_key"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(keys.len() as u64, total, "{target}: every row on one page");
    }
}
