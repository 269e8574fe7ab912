//! The HTTP API (`ferry serve`): the old system's three endpoints, runs of any migration,
//! their history, health and metrics. Every endpoint but `/health` needs the bearer token.
//!
//! | endpoint | answers |
//! |---|---|
//! | `POST /migrate-users`, `/migrate-orders`, `/migrate-cleaned-data` | the old message and the run's report |
//! | `POST /migrations/{name}/runs[?wait=false]` | the run (200), or its id at once (202) |
//! | `GET /migrations`, `GET /runs`, `GET /runs/{id}` | the job's migrations, runs (with progress) |
//! | `GET /migrations/{name}/rejects[/rows]` | rejected rows per reason; a page of them |
//! | `GET /health`, `GET /metrics` | 200 or 503 per connection; Prometheus text |
//! | `GET /`, `GET /openapi.json` | the console (a web page over these endpoints); the API's description |
//!
//! The answers' types are in `views`; `openapi` describes every endpoint from them.

mod auth;
mod console;
mod handlers;
mod health;
mod history;
mod metrics;
mod openapi;
mod query;
mod reading;
mod rejects;
mod runs;
mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio_util::task::TaskTracker;

use crate::error::{FerryError, Result};
use crate::job::Plan;

pub use auth::same_secret;
pub use history::RUNS_TABLE;

/// What every request handler shares.
pub struct AppState {
    pub plan: Arc<Plan>,
    token: Option<String>,
    registry: runs::Registry,
    metrics: metrics::Metrics,
    /// The runs going on, so a shutdown can let them finish.
    tasks: TaskTracker,
    /// The last health answer and when it was made.
    health: tokio::sync::Mutex<Option<(std::time::Instant, (StatusCode, views::HealthAnswer))>>,
}

/// A bound server, ready to run.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
}

impl Server {
    /// Binds `address`. Refuses a non-loopback address without a token: anyone who can reach
    /// it could run migrations.
    pub async fn bind(plan: Plan, address: &str, token: Option<String>) -> Result<Server> {
        let token = token.filter(|t| !t.trim().is_empty());
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| FerryError::Job(format!("cannot listen on `{address}`: {e}")))?;
        let local = listener.local_addr().map_err(FerryError::internal)?;
        if !local.ip().is_loopback() && token.is_none() {
            return Err(FerryError::Job(format!(
                "refusing to serve on {local} without a token: anyone who can reach it could run migrations; \
                 set FERRY_API_TOKEN (or --token), or bind a loopback address such as 127.0.0.1:8080"
            )));
        }
        let state = Arc::new(AppState {
            plan: Arc::new(plan),
            token,
            registry: runs::Registry::default(),
            metrics: metrics::Metrics::default(),
            tasks: TaskTracker::new(),
            health: tokio::sync::Mutex::new(None),
        });
        Ok(Server { listener, state })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().map_err(FerryError::internal)
    }

    /// Serves until `shutdown` completes; then stops accepting requests, lets the runs going on
    /// finish (each publishes all or nothing), and returns.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<()> {
        let state = self.state.clone();
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| FerryError::internal(format!("the server stopped: {e}")))?;
        state.tasks.close();
        if !state.tasks.is_empty() {
            tracing::info!(runs = state.tasks.len(), "waiting for the runs going on to finish");
        }
        state.tasks.wait().await;
        Ok(())
    }
}

fn router(state: Arc<AppState>) -> Router {
    let guarded = Router::new()
        .route("/migrate-users", post(handlers::migrate_users))
        .route("/migrate-orders", post(handlers::migrate_orders))
        .route("/migrate-cleaned-data", post(handlers::migrate_cleaned_data))
        .route("/migrations", get(handlers::migrations))
        .route("/migrations/{name}/runs", post(handlers::start_run))
        .route("/migrations/{name}/rejects", get(reading::rejects_summary))
        .route("/migrations/{name}/rejects/rows", get(reading::rejected_rows))
        .route("/runs", get(reading::list_runs))
        .route("/runs/{id}", get(reading::get_run))
        .route("/metrics", get(handlers::metrics))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    // The console's page and the API's description hold no data: anyone may read them.
    Router::new()
        .route("/health", get(handlers::health))
        .route("/openapi.json", get(openapi::document))
        .merge(console::routes())
        .merge(guarded)
        .fallback(|| async { error_body(StatusCode::NOT_FOUND, "no such endpoint; see GET /openapi.json") })
        .layer(axum::middleware::from_fn(console::security_headers))
        .with_state(state)
}

/// `{"error": message}` with a status; passwords in the message masked.
pub fn error_body(status: StatusCode, message: impl Into<String>) -> Response {
    let error = crate::connection::mask_text(&message.into());
    (status, Json(views::ErrorAnswer { error, ..Default::default() })).into_response()
}
