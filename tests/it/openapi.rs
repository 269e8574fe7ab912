//! `GET /openapi.json`: a valid OpenAPI document (checked by an independent validator), and
//! every real answer of every endpoint matches the schema it documents for that status.

use std::collections::BTreeSet;

use ferry::job::{Overrides, Plan};
use serde_json::Value;

use crate::api::{serve, shipped_plan};
use crate::common::{job_dir, PgDatabase};

const TOKEN: &str = "s3cret-token";
const BASE: &str = "http://ferry.test/openapi.json";

/// The document, and the endpoints the test has seen answer.
struct Described {
    document: Value,
    compiler: boon::Compiler,
    schemas: boon::Schemas,
    seen: BTreeSet<(String, String)>,
    http: reqwest::Client,
    base: String,
}

impl Described {
    async fn new(base: &str) -> Described {
        let http = reqwest::Client::new();
        let response = http.get(format!("{base}/openapi.json")).send().await.unwrap();
        assert_eq!(response.status(), 200, "the description needs no token");
        let document: Value = response.json().await.unwrap();
        let mut strict = document.clone();
        forbid_undescribed_fields(&mut strict["components"]["schemas"]);
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        compiler.add_resource(BASE, strict).unwrap();
        Described { document, compiler, schemas: boon::Schemas::new(), seen: BTreeSet::new(), http, base: base.into() }
    }

    /// Sends a request and checks its answer against the document: the status must be
    /// documented for the endpoint, and the body must match that status's schema.
    async fn call(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<&str>,
        token: bool,
    ) -> (u16, Value) {
        let mut request =
            self.http.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", self.base));
        if token {
            request = request.bearer_auth(TOKEN);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
        let text = response.text().await.unwrap();
        let method = method.to_lowercase();
        let escaped = template.replace('~', "~0").replace('/', "~1");
        let pointer = format!("/paths/{escaped}/{method}/responses/{status}/content");
        let Some(content) = self.document.pointer(&pointer) else {
            panic!("{method} {template} answered {status}, which the description does not list: {text}");
        };
        let media = content_type.split(';').next().unwrap().trim().to_string();
        assert!(content.get(&media).is_some(), "{method} {template} {status}: `{media}` is not described: {content}");
        let value = match media.as_str() {
            "application/json" => serde_json::from_str(&text).unwrap(),
            _ => Value::String(text),
        };
        let location =
            format!("{BASE}#{pointer}/{}/schema", media.replace('/', "~1")).replace('{', "%7B").replace('}', "%7D");
        let index = self.compiler.compile(&location, &mut self.schemas).unwrap_or_else(|e| panic!("{location}: {e}"));
        if let Err(error) = self.schemas.validate(&value, index) {
            panic!("{method} {template} {status} does not match its schema: {error:#}\n{value:#}");
        }
        self.seen.insert((template.to_string(), method));
        (status, value)
    }

    /// The endpoints the document lists that no request reached.
    fn unseen(&self) -> Vec<String> {
        let mut unseen = Vec::new();
        for (path, item) in self.document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if !self.seen.contains(&(path.clone(), method.clone())) {
                    unseen.push(format!("{method} {path}"));
                }
            }
        }
        unseen
    }
}

/// Makes every object schema refuse properties it does not list, so that an answer with a field
/// the description lacks fails (OpenAPI allows them unless told otherwise).
fn forbid_undescribed_fields(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("type") == Some(&Value::String("object".into())) && map.contains_key("properties") {
                map.entry("additionalProperties").or_insert(Value::Bool(false));
            }
            map.values_mut().for_each(forbid_undescribed_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(forbid_undescribed_fields),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_is_valid_openapi_and_lists_every_endpoint() {
    let plan = Plan::from_toml("", "job", std::path::Path::new("."), &Overrides::default()).unwrap();
    let (base, _stop, _task) = serve(plan, Some(TOKEN)).await;
    let text = reqwest::get(format!("{base}/openapi.json")).await.unwrap().text().await.unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{}", document["openapi"]);
    let file = tempfile::NamedTempFile::with_suffix(".json").unwrap();
    std::fs::write(file.path(), &text).unwrap();
    // An independent validator (Python's openapi-spec-validator, which .ci/run installs).
    let output = std::process::Command::new("openapi-spec-validator").arg(file.path()).output().unwrap_or_else(|e| {
        panic!("cannot run openapi-spec-validator ({e}); install it: pip install openapi-spec-validator")
    });
    let said = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    let mut listed: Vec<String> = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        listed.extend(item.as_object().unwrap().keys().map(|method| format!("{method} {path}")));
    }
    listed.sort();
    assert_eq!(
        listed,
        [
            "get /",
            "get /health",
            "get /metrics",
            "get /migrations",
            "get /migrations/{name}/rejects",
            "get /migrations/{name}/rejects/rows",
            "get /openapi.json",
            "get /runs",
            "get /runs/{id}",
            "post /migrate-cleaned-data",
            "post /migrate-orders",
            "post /migrate-users",
            "post /migrations/{name}/runs",
        ]
    );
    // The guarded endpoints name the bearer scheme; /health and the page need nothing.
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(document["paths"]["/health"]["get"]["security"], serde_json::json!([{}]));
    assert_eq!(document["security"], serde_json::json!([{ "bearer": [] }]));
}

/// Holds an exclusive lock on a source table until dropped, so that a run stays running.
async fn lock_table(url: &str, table: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(&format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")).await.unwrap();
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_matches_the_description() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    let (_dir, plan) = shipped_plan(&source, &target).await;
    let (base, _stop, _task) = serve(plan, Some(TOKEN)).await;
    let mut api = Described::new(&base).await;

    assert_eq!(api.call("GET", "/health", "/health", None, false).await.0, 200);
    assert_eq!(api.call("GET", "/openapi.json", "/openapi.json", None, false).await.0, 200);
    assert_eq!(api.call("GET", "/", "/", None, false).await.0, 200);
    assert_eq!(api.call("GET", "/migrations", "/migrations", None, false).await.0, 401);
    assert_eq!(api.call("GET", "/migrations", "/migrations", None, true).await.0, 200);

    let (status, users) = api.call("POST", "/migrate-users", "/migrate-users", None, true).await;
    assert_eq!(status, 200, "{users}");
    assert_eq!(api.call("POST", "/migrate-cleaned-data", "/migrate-cleaned-data", None, true).await.0, 200);
    // A run held by a lock on its source: running, then a second start is refused.
    let lock = lock_table(&source.url, "source_orders").await;
    let runs = "/migrations/{name}/runs";
    let (status, started) = api.call("POST", runs, "/migrations/orders/runs?wait=false", None, true).await;
    assert_eq!(status, 202, "{started}");
    let id = started["run_id"].as_str().unwrap().to_string();
    let (status, running) = api.call("GET", "/runs/{id}", &format!("/runs/{id}"), None, true).await;
    assert_eq!((status, running["status"].as_str()), (200, Some("running")), "{running}");
    let (status, busy) = api.call("POST", "/migrate-orders", "/migrate-orders", None, true).await;
    assert_eq!(status, 409, "{busy}");
    assert_eq!(busy["running_run_id"], id.as_str());
    drop(lock);
    let (status, run) = api.call("POST", runs, "/migrations/users/runs", Some("{\"full_refresh\": true}"), true).await;
    assert_eq!((status, run["status"].as_str()), (200, Some("succeeded")), "{run}");
    for _ in 0..200 {
        let (_, run) = api.call("GET", "/runs/{id}", &format!("/runs/{id}"), None, true).await;
        if run["status"] != "running" {
            assert_eq!(run["status"], "succeeded", "{run}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for (path, body, status) in [
        ("/migrations/users/runs?wait=maybe", None, 400),
        ("/migrations/users/runs", Some("{\"fullrefresh\": true}"), 400),
        ("/migrations/nope/runs", None, 404),
        ("/migrations/users/runs", Some("{\"from\": \"2024-01-01\"}"), 422),
    ] {
        assert_eq!(api.call("POST", runs, path, body, true).await.0, status, "{path}");
    }

    let (_, all) = api.call("GET", "/runs", "/runs", None, true).await;
    assert_eq!(all.as_array().unwrap().len(), 4, "{all}");
    let (_, some) = api.call("GET", "/runs", "/runs?migration=users&status=succeeded&limit=1", None, true).await;
    assert_eq!(some.as_array().unwrap().len(), 1, "{some}");
    assert_eq!((some[0]["migration"].as_str(), some[0]["id"].as_str()), (Some("users"), run["id"].as_str()));
    for bad in ["/runs?limit=1001", "/runs?limit=x", "/runs?migraton=users", "/runs?status=a&status=b"] {
        assert_eq!(api.call("GET", "/runs", bad, None, true).await.0, 400, "{bad}");
    }
    assert_eq!(api.call("GET", "/runs/{id}", "/runs/nope", None, true).await.0, 404);

    // Rejects, counted by the database itself for the expected figures.
    let expected = target.rows(
        "SELECT reason, count(*) FROM _ferry_rejects WHERE migration = 'cleaned_data' GROUP BY reason ORDER BY reason",
    );
    let summary_path = "/migrations/{name}/rejects";
    let (_, summary) = api.call("GET", summary_path, "/migrations/cleaned_data/rejects", None, true).await;
    let found: Vec<Vec<Option<String>>> = summary["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| vec![r["reason"].as_str().map(str::to_string), Some(r["rows"].to_string())])
        .collect();
    assert_eq!(found, expected);
    assert!(!expected.is_empty());
    assert_eq!(api.call("GET", summary_path, "/migrations/nope/rejects", None, true).await.0, 404);
    let rows_path = "/migrations/{name}/rejects/rows";
    let reason = expected[0][0].clone().unwrap();
    let total: u64 = expected[0][1].as_deref().unwrap().parse().unwrap();
    let mut keys = BTreeSet::new();
    for offset in (0..total + 2).step_by(2) {
        let path = format!("/migrations/cleaned_data/rejects/rows?reason={reason}&limit=2&offset={offset}");
        let (_, page) = api.call("GET", rows_path, &path, None, true).await;
        assert_eq!(page["total"], total);
        for row in page["rows"].as_array().unwrap() {
            assert_eq!(row["reason"], reason.as_str());
            assert!(row["source_row"].is_object(), "{row}");
            assert!(keys.insert(row["source_key"].to_string()), "a row on two pages: {row}");
        }
    }
    assert_eq!(keys.len() as u64, total, "the pages hold every row once");
    for (bad, status) in [
        ("/migrations/cleaned_data/rejects/rows?limit=501", 400),
        ("/migrations/cleaned_data/rejects/rows?page=2", 400),
        ("/migrations/nope/rejects/rows", 404),
    ] {
        assert_eq!(api.call("GET", rows_path, bad, None, true).await.0, status, "{bad}");
    }
    assert_eq!(api.call("GET", "/metrics", "/metrics", None, true).await.0, 200);

    // A server whose databases do not answer: 503s, in the described shape.
    let dir = job_dir(&[]);
    let overrides = Overrides {
        source: Some("postgres://postgres:pa55word@127.0.0.1:1/old_db".into()),
        target: Some(target.url.clone()),
    };
    let down = Plan::load(&dir.path().join("ferry.toml"), &overrides).unwrap();
    let (down_base, _down_stop, _down_task) = serve(down, Some(TOKEN)).await;
    let saved = std::mem::replace(&mut api.base, down_base);
    assert_eq!(api.call("GET", "/health", "/health", None, false).await.0, 503);
    assert_eq!(api.call("POST", runs, "/migrations/users/runs", None, true).await.0, 503);
    api.base = saved;

    assert_eq!(api.unseen(), Vec::<String>::new(), "endpoints no request reached");
}
