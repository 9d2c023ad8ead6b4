//! The router: API under `/api/v1`, HTML pages at the root, probes and
//! metrics, static assets; every request passes the context layer first.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::context::context_layer;
use crate::problem::Problem;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", crate::api::routes())
        .merge(crate::ui::routes())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/static/{file}", get(static_file))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), context_layer))
        .with_state(state)
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.services.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            state.metrics.storage_failures.inc();
            Problem::unavailable().into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.sync_failures(
        state.services.store.audit_write_failures(),
        state
            .services
            .witness_failures
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Browsers get a page, everyone else a problem document.
async fn not_found(req: axum::extract::Request) -> Response {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && !req.uri().path().starts_with("/api/") {
        crate::ui::not_found_page(req).await
    } else {
        Problem::not_found().into_response()
    }
}

async fn method_not_allowed() -> Problem {
    Problem::method_not_allowed()
}

static HTMX: &[u8] = include_bytes!("../static/htmx.min.js");
static CSS: &[u8] = include_bytes!("../static/precinct.css");

async fn static_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, mime) = match file.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "precinct.css" => (CSS, "text/css; charset=utf-8"),
        _ => return Problem::not_found().into_response(),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
