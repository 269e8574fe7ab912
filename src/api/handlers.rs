//! The endpoints. Path parameters only select among the job's migrations and the runs; nothing
//! a request carries is ever put into SQL.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::runs::{RunView, Start};
use super::{error_body, health, AppState};
use crate::error::ErrorKind;
use crate::incremental::RunOptions;

/// The old system's endpoints: the migration and the message it answered with.
async fn legacy(state: Arc<AppState>, migration: &str, message: &str) -> Response {
    if !state.plan.migrations.iter().any(|m| m.name == migration) {
        return error_body(StatusCode::NOT_FOUND, format!("the job defines no migration `{migration}`"));
    }
    match state.registry.start(&state, migration, RunOptions::default()) {
        Start::Running(id) => busy(migration, &id),
        Start::Started(_, task) => match succeeded(task).await {
            Ok(run) => {
                let body = serde_json::json!({
                    "message": message,
                    "run_id": run.id,
                    "status": run.status,
                    "report": run.report,
                });
                (StatusCode::OK, Json(body)).into_response()
            }
            Err(response) => response,
        },
    }
}

pub async fn migrate_users(State(state): State<Arc<AppState>>) -> Response {
    legacy(state, "users", "Users migrated successfully.").await
}

pub async fn migrate_orders(State(state): State<Arc<AppState>>) -> Response {
    legacy(state, "orders", "Orders migrated successfully.").await
}

pub async fn migrate_cleaned_data(State(state): State<Arc<AppState>>) -> Response {
    legacy(state, "cleaned_data", "Cleaned data migrated successfully.").await
}

fn busy(migration: &str, id: &str) -> Response {
    let body = serde_json::json!({
        "error": format!("migration `{migration}` is already running (run {id}); wait for it to finish"),
        "running_run_id": id,
    });
    (StatusCode::CONFLICT, Json(body)).into_response()
}

/// Waits for a run: the run if it succeeded, else the error answer.
async fn succeeded(task: tokio::task::JoinHandle<RunView>) -> Result<RunView, Response> {
    match task.await {
        Ok(run) if run.status == "succeeded" => Ok(run),
        Ok(run) => Err(failed(&run)),
        Err(error) => Err(error_body(StatusCode::INTERNAL_SERVER_ERROR, format!("the run stopped: {error}"))),
    }
}

/// A finished run that failed: the CLI's text, with a status saying who must act.
fn failed(run: &RunView) -> Response {
    let status = match run.error_kind {
        Some(ErrorKind::Busy) => StatusCode::CONFLICT,
        Some(ErrorKind::Input | ErrorKind::Checks) => StatusCode::UNPROCESSABLE_ENTITY,
        Some(ErrorKind::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
        Some(ErrorKind::Failure) | None => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut body = serde_json::json!({
        "error": run.error.clone().unwrap_or_else(|| "the run failed".into()),
        "run_id": run.id,
        "status": run.status,
        "report": run.report,
    });
    if run.error_kind == Some(ErrorKind::Busy) {
        body["running_run_id"] = serde_json::json!(run.running_run_id);
    }
    (status, Json(body)).into_response()
}

/// The optional body of `POST /migrations/{name}/runs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    #[serde(default)]
    full_refresh: bool,
    from: Option<String>,
    to: Option<String>,
}

pub async fn start_run(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if state.plan.target_of(&name).is_none() {
        let known = state.plan.names();
        return error_body(
            StatusCode::NOT_FOUND,
            format!("the job defines no migration `{}`; it defines: {}", clip(&name), known.join(", ")),
        );
    };
    let wait = match query.as_deref().unwrap_or_default() {
        "" | "wait=true" => true,
        "wait=false" => false,
        other => {
            return error_body(
                StatusCode::BAD_REQUEST,
                format!("unknown query `{}`; the only parameter is `wait=true|false`", clip(other)),
            )
        }
    };
    let body: RunBody = if body.iter().all(u8::is_ascii_whitespace) {
        RunBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(error) => {
                return error_body(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the body is not a valid run request: {error}; send {{\"full_refresh\": true}}, \
                         {{\"from\": \"...\", \"to\": \"...\"}} or nothing"
                    ),
                )
            }
        }
    };
    let options =
        RunOptions { full_refresh: body.full_refresh, from: body.from, to: body.to, retries: 3, ..Default::default() };
    let migration = state.plan.migrations.iter().find(|m| m.name == name);
    if let Err(error) = options.check(&migration.into_iter().collect::<Vec<_>>()) {
        return error_body(StatusCode::UNPROCESSABLE_ENTITY, error.to_string());
    }
    match state.registry.start(&state, &name, options) {
        Start::Running(id) => busy(&name, &id),
        Start::Started(id, _running) if !wait => {
            let body = serde_json::json!({ "run_id": id, "status": "running", "href": format!("/runs/{id}") });
            (StatusCode::ACCEPTED, [(header::LOCATION, format!("/runs/{id}"))], Json(body)).into_response()
        }
        Start::Started(_, task) => match succeeded(task).await {
            Ok(run) => (StatusCode::OK, Json(run)).into_response(),
            Err(response) => response,
        },
    }
}

/// Echoes user input in messages only up to a sane length.
fn clip(text: &str) -> String {
    text.chars().take(100).collect()
}

pub async fn migrations(State(state): State<Arc<AppState>>) -> Response {
    let list: Vec<serde_json::Value> = state
        .plan
        .migrations
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m.name,
                "source": m.source.endpoint.masked(),
                "target": m.target.endpoint.masked(),
                "table": m.table,
                "mode": m.mode,
                "key": m.key,
                "cursor": m.cursor,
                "depends_on": m.depends_on,
                "running_run_id": state.registry.running(&m.name),
            })
        })
        .collect();
    let copies = state.plan.copies.iter().map(|c| {
        serde_json::json!({
            "name": c.name,
            "source": c.source.endpoint.masked(),
            "target": c.target.endpoint.masked(),
            "mode": "copy",
            "tables": c.options.tables,
            "exclude": c.options.exclude,
            "running_run_id": state.registry.running(&c.name),
        })
    });
    Json(copies.chain(list).collect::<Vec<_>>()).into_response()
}

pub async fn list_runs(State(state): State<Arc<AppState>>) -> Response {
    Json(state.runs(100).await).into_response()
}

pub async fn get_run(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let valid = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    match valid {
        true => match state.run(&id).await {
            Some(run) => Json(run).into_response(),
            None => error_body(StatusCode::NOT_FOUND, format!("no run `{id}`; GET /runs lists them")),
        },
        false => error_body(StatusCode::NOT_FOUND, format!("no run `{}`; GET /runs lists them", clip(&id))),
    }
}

pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    // One check at a time, its answer reused for a second: a burst of probes must not open a
    // burst of database connections.
    let mut cached = state.health.lock().await;
    let fresh = cached.as_ref().filter(|(at, _)| at.elapsed() < HEALTH_TTL).map(|(_, answer)| answer.clone());
    let (status, body) = match fresh {
        Some(answer) => answer,
        None => {
            let answer = check_connections(&state).await;
            *cached = Some((std::time::Instant::now(), answer.clone()));
            answer
        }
    };
    (status, Json(body)).into_response()
}

/// How long a health answer is reused.
const HEALTH_TTL: std::time::Duration = std::time::Duration::from_secs(1);

async fn check_connections(state: &AppState) -> (StatusCode, serde_json::Value) {
    let checks = state
        .plan
        .connections
        .values()
        .map(|connection| async move { (connection.name.clone(), health::check(&connection.endpoint).await) });
    let results = futures::future::join_all(checks).await;
    let mut connections = serde_json::Map::new();
    let mut down = Vec::new();
    for (name, outcome) in results {
        let value = match outcome {
            Ok(()) => serde_json::json!({ "ok": true }),
            Err(error) => {
                down.push(name.clone());
                serde_json::json!({ "ok": false, "error": error.to_string() })
            }
        };
        connections.insert(name, value);
    }
    let (status, text) = if down.is_empty() {
        (StatusCode::OK, "ok".to_string())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("unavailable: {}", down.join(", ")))
    };
    (status, serde_json::json!({ "status": text, "connections": connections }))
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}
