//! The endpoints. Path parameters only select among the job's migrations and the runs; nothing
//! a request carries is ever put into SQL.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::query::clip;
use super::runs::{RunView, Start};
use super::views::{Accepted, ConnectionHealth, ErrorAnswer, HealthAnswer, LegacyAnswer, MigrationView};
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
                let body = LegacyAnswer {
                    message: message.to_string(),
                    run_id: run.id,
                    status: run.status,
                    report: run.report,
                };
                (StatusCode::OK, Json(body)).into_response()
            }
            Err(response) => response,
        },
    }
}

/// One of the old system's endpoints: runs its migration, answers with the old message.
macro_rules! legacy_endpoint {
    ($name:ident, $path:literal, $migration:literal, $message:literal) => {
        #[utoipa::path(post, path = $path, tag = "old system",
            responses(
                (status = 200, description = "the migration ran and published", body = LegacyAnswer),
                (status = 401, description = "no or a wrong token", body = ErrorAnswer),
                (status = 404, description = "the job defines no such migration", body = ErrorAnswer),
                (status = 409, description = "the migration is running already", body = ErrorAnswer),
                (status = 422, description = "the run failed on its input or its checks; nothing was published", body = ErrorAnswer),
                (status = 500, description = "the run failed; nothing was published", body = ErrorAnswer),
                (status = 503, description = "a database did not answer; nothing was published", body = ErrorAnswer),
            ))]
        pub async fn $name(State(state): State<Arc<AppState>>) -> Response {
            legacy(state, $migration, $message).await
        }
    };
}

legacy_endpoint!(migrate_users, "/migrate-users", "users", "Users migrated successfully.");
legacy_endpoint!(migrate_orders, "/migrate-orders", "orders", "Orders migrated successfully.");
legacy_endpoint!(migrate_cleaned_data, "/migrate-cleaned-data", "cleaned_data", "Cleaned data migrated successfully.");

fn busy(migration: &str, id: &str) -> Response {
    let body = ErrorAnswer {
        error: format!("migration `{migration}` is already running (run {id}); wait for it to finish"),
        running_run_id: Some(Some(id.to_string())),
        ..Default::default()
    };
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
    let body = ErrorAnswer {
        error: crate::connection::mask_text(run.error.as_deref().unwrap_or("the run failed")),
        run_id: Some(run.id.clone()),
        status: Some(run.status.clone()),
        report: run.report.clone(),
        running_run_id: (run.error_kind == Some(ErrorKind::Busy)).then(|| run.running_run_id.clone()),
    };
    (status, Json(body)).into_response()
}

/// The optional body of `POST /migrations/{name}/runs`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Reload an incremental migration from scratch.
    #[serde(default)]
    full_refresh: bool,
    /// An incremental migration's window of cursor values.
    from: Option<String>,
    to: Option<String>,
}

/// Runs a migration (or copy): waits for it and answers with the run, or with `wait=false`
/// answers at once with the run's id; follow it with `GET /runs/{id}`.
#[utoipa::path(post, path = "/migrations/{name}/runs", tag = "runs",
    params(
        ("name" = String, Path, description = "the migration"),
        ("wait" = Option<bool>, Query, description = "wait for the run to end (default true)"),
    ),
    request_body(content = Option<RunRequest>, description = "optional: a full refresh, or an incremental window", content_type = "application/json"),
    responses(
        (status = 200, description = "the run, finished and published", body = RunView),
        (status = 202, description = "the run started (wait=false)", body = Accepted,
            headers(("Location" = String, description = "the run's address"))),
        (status = 400, description = "an unknown parameter or a malformed body", body = ErrorAnswer),
        (status = 401, description = "no or a wrong token", body = ErrorAnswer),
        (status = 404, description = "no such migration", body = ErrorAnswer),
        (status = 409, description = "the migration is running already", body = ErrorAnswer),
        (status = 422, description = "the request or the run's input or checks failed; nothing was published", body = ErrorAnswer),
        (status = 500, description = "the run failed; nothing was published", body = ErrorAnswer),
        (status = 503, description = "a database did not answer; nothing was published", body = ErrorAnswer),
    ))]
pub async fn start_run(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(refusal) = super::reading::target_of(&state, &name) {
        return refusal.into_response();
    }
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
    let body: RunRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RunRequest::default()
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
            let body = Accepted { run_id: id.clone(), status: "running".into(), href: format!("/runs/{id}") };
            (StatusCode::ACCEPTED, [(header::LOCATION, format!("/runs/{id}"))], Json(body)).into_response()
        }
        Start::Started(_, task) => match succeeded(task).await {
            Ok(run) => (StatusCode::OK, Json(run)).into_response(),
            Err(response) => response,
        },
    }
}

/// The job's copies and migrations, in the job's order.
#[utoipa::path(get, path = "/migrations", tag = "migrations",
    responses(
        (status = 200, description = "the job's copies and migrations", body = Vec<MigrationView>),
        (status = 401, description = "no or a wrong token", body = ErrorAnswer),
    ))]
pub async fn migrations(State(state): State<Arc<AppState>>) -> Response {
    let mode = |mode: crate::job::Mode| serde_json::to_value(mode).ok().and_then(|v| v.as_str().map(str::to_string));
    let list = state.plan.migrations.iter().map(|m| MigrationView {
        name: m.name.clone(),
        source: m.source.endpoint.masked(),
        target: m.target.endpoint.masked(),
        mode: mode(m.mode).unwrap_or_default(),
        table: Some(m.table.clone()),
        key: m.key.clone(),
        cursor: m.cursor.clone(),
        depends_on: m.depends_on.clone(),
        tables: None,
        exclude: None,
        running_run_id: state.registry.running(&m.name),
    });
    let copies = state.plan.copies.iter().map(|c| MigrationView {
        name: c.name.clone(),
        source: c.source.endpoint.masked(),
        target: c.target.endpoint.masked(),
        mode: "copy".into(),
        table: None,
        key: Vec::new(),
        cursor: None,
        depends_on: Vec::new(),
        tables: Some(c.options.tables.clone()),
        exclude: Some(c.options.exclude.clone()),
        running_run_id: state.registry.running(&c.name),
    });
    Json(copies.chain(list).collect::<Vec<_>>()).into_response()
}

/// Whether every connection of the job answers. Needs no token.
#[utoipa::path(get, path = "/health", tag = "service", security(()),
    responses(
        (status = 200, description = "every connection answers", body = HealthAnswer),
        (status = 503, description = "some do not; each is named with why", body = HealthAnswer),
    ))]
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

async fn check_connections(state: &AppState) -> (StatusCode, HealthAnswer) {
    let checks = state
        .plan
        .connections
        .values()
        .map(|connection| async move { (connection.name.clone(), health::check(&connection.endpoint).await) });
    let results = futures::future::join_all(checks).await;
    let mut connections = std::collections::BTreeMap::new();
    let mut down = Vec::new();
    for (name, outcome) in results {
        let value = match outcome {
            Ok(()) => ConnectionHealth { ok: true, error: None },
            Err(error) => {
                down.push(name.clone());
                ConnectionHealth { ok: false, error: Some(error.to_string()) }
            }
        };
        connections.insert(name, value);
    }
    let (status, text) = if down.is_empty() {
        (StatusCode::OK, "ok".to_string())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("unavailable: {}", down.join(", ")))
    };
    (status, HealthAnswer { status: text, connections })
}

/// Prometheus text: runs by migration and outcome, rows loaded and rejected, durations.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses(
        (status = 200, description = "the metrics", body = String, content_type = "text/plain"),
        (status = 401, description = "no or a wrong token", body = ErrorAnswer),
    ))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}
