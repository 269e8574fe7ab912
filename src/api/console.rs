//! The console: one web page, served by the binary itself (its files are compiled in; no CDN,
//! no build step), that shows the job through the JSON endpoints. It holds no data of its own:
//! without the token it can show only `/health`. Every answer of the server carries headers
//! that forbid anything but this server's own scripts, styles and requests.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use std::sync::Arc;

use super::AppState;

/// The page's files: (path, content type, text).
const FILES: [(&str, &str, &str); 5] = [
    ("/console/app.js", "text/javascript; charset=utf-8", include_str!("console/app.js")),
    ("/console/pages.js", "text/javascript; charset=utf-8", include_str!("console/pages.js")),
    ("/console/run.js", "text/javascript; charset=utf-8", include_str!("console/run.js")),
    ("/console/chart.js", "text/javascript; charset=utf-8", include_str!("console/chart.js")),
    ("/console/style.css", "text/css; charset=utf-8", include_str!("console/style.css")),
];

pub fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new().route("/", get(page));
    for (path, content_type, text) in FILES {
        router = router.route(path, get(move || async move { ([(header::CONTENT_TYPE, content_type)], text) }));
    }
    router
}

/// The console's page.
#[utoipa::path(get, path = "/", tag = "service", security(()),
    responses((status = 200, description = "the console, a web page over this API", body = String, content_type = "text/html")))]
pub async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], include_str!("console/index.html")).into_response()
}

/// Scripts, styles and requests only from this server, no inline script or style, no frames,
/// no forms posted elsewhere; nothing cached, no referrer sent.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                      connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
