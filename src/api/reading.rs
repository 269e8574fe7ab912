//! The endpoints that only read: runs (filtered), one run, a migration's rejects.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::history::RunFilter;
use super::query::{clip, Parameters, Refusal};
use super::rejects::{self, PageRequest, MAX_PAGE};
use super::runs::RunView;
use super::views::{ErrorAnswer, RejectPage, RejectSummary};
use super::{error_body, AppState};

/// The most runs one listing holds.
const MAX_RUNS: u64 = 1000;

/// The runs, newest first: this server's and the ones recorded in the targets' `_ferry_runs`.
#[utoipa::path(get, path = "/runs", tag = "runs",
    params(
        ("migration" = Option<String>, Query, description = "only this migration's runs"),
        ("status" = Option<String>, Query, description = "only runs with this status: running, succeeded, failed, interrupted"),
        ("limit" = Option<u64>, Query, description = "at most this many runs (default 100, at most 1000)"),
    ),
    responses(
        (status = 200, description = "the runs", body = Vec<RunView>),
        (status = 400, description = "an unknown or malformed parameter", body = ErrorAnswer),
        (status = 401, description = "no or a wrong token", body = ErrorAnswer),
    ))]
pub async fn list_runs(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Result<Response, Refusal> {
    let parameters = Parameters::parse(query.as_deref(), &["migration", "status", "limit"])?;
    let limit = parameters.number("limit", 100, MAX_RUNS)? as usize;
    let filter = RunFilter { migration: parameters.text("migration"), status: parameters.text("status"), limit };
    Ok(Json(state.runs(&filter).await).into_response())
}

/// One run: while it runs, its progress (`rows_read`); then its report.
#[utoipa::path(get, path = "/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "the run's id")),
    responses(
        (status = 200, description = "the run", body = RunView),
        (status = 401, description = "no or a wrong token", body = ErrorAnswer),
        (status = 404, description = "no such run", body = ErrorAnswer),
    ))]
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

/// The migration's target, or the 404 answer naming the job's migrations.
pub(super) fn target_of(state: &AppState, name: &str) -> Result<crate::connection::Endpoint, Refusal> {
    match state.plan.target_of(name) {
        Some(target) => Ok(target.endpoint.clone()),
        None => Err(Refusal(
            StatusCode::NOT_FOUND,
            format!("the job defines no migration `{}`; it defines: {}", clip(name), state.plan.names().join(", ")),
        )),
    }
}

/// A database error while reading `_ferry_rejects`: who must act, in the API's shape.
fn unavailable(error: crate::error::FerryError) -> Response {
    let status = match error.kind() {
        crate::error::ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error_body(status, error.to_string())
}

/// How many of the migration's rows `_ferry_rejects` holds, per reason.
#[utoipa::path(get, path = "/migrations/{name}/rejects", tag = "rejects",
    params(("name" = String, Path, description = "the migration")),
    responses(
        (status = 200, description = "counts per reason", body = RejectSummary),
        (status = 401, description = "no or a wrong token", body = ErrorAnswer),
        (status = 404, description = "no such migration", body = ErrorAnswer),
        (status = 500, description = "the target failed to answer the query", body = ErrorAnswer),
        (status = 503, description = "the target did not answer", body = ErrorAnswer),
    ))]
pub async fn rejects_summary(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, Refusal> {
    let target = target_of(&state, &name)?;
    Ok(match rejects::summary(&target, &name).await {
        Ok(summary) => Json(summary).into_response(),
        Err(error) => unavailable(error),
    })
}

/// A page of the migration's rejected rows (the stored source rows), newest run first.
#[utoipa::path(get, path = "/migrations/{name}/rejects/rows", tag = "rejects",
    params(
        ("name" = String, Path, description = "the migration"),
        ("reason" = Option<String>, Query, description = "only rows set aside for this reason"),
        ("run_id" = Option<String>, Query, description = "only rows of this run"),
        ("offset" = Option<u64>, Query, description = "rows to skip (default 0)"),
        ("limit" = Option<u64>, Query, description = "rows in the page (default 50, at most 500)"),
    ),
    responses(
        (status = 200, description = "a page of rows", body = RejectPage),
        (status = 400, description = "an unknown or malformed parameter", body = ErrorAnswer),
        (status = 401, description = "no or a wrong token", body = ErrorAnswer),
        (status = 404, description = "no such migration", body = ErrorAnswer),
        (status = 500, description = "the target failed to answer the query", body = ErrorAnswer),
        (status = 503, description = "the target did not answer", body = ErrorAnswer),
    ))]
pub async fn rejected_rows(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Refusal> {
    let target = target_of(&state, &name)?;
    let parameters = Parameters::parse(query.as_deref(), &["reason", "run_id", "offset", "limit"])?;
    let offset = parameters.number("offset", 0, u64::from(u32::MAX))?;
    let limit = parameters.number("limit", 50, MAX_PAGE)?;
    let request = PageRequest { reason: parameters.text("reason"), run_id: parameters.text("run_id"), offset, limit };
    Ok(match rejects::page(&target, &name, request).await {
        Ok(page) => Json(page).into_response(),
        Err(error) => unavailable(error),
    })
}
