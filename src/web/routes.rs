//! The HTTP surface, on axum: the metrics endpoint (format and gzip as
//! [`crate::exposition::negotiate`] decides), `/healthz` (a scrape can still be made),
//! `/readyz` (the pod index has synced), the usage API ([`super::usage_api`]) and the
//! page at `/` that shows it ([`super::page`]). How these are served (TLS, auth,
//! limits) is [`super::server`]'s.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::exposition::negotiate::Wanted;
use crate::exposition::scraper::Scraper;
use crate::web::page;
use crate::web::usage_api::{self, UsageQuery};

#[derive(Clone)]
struct AppState {
    scraper: Arc<Scraper>,
    telemetry_path: Arc<str>,
}

const PAGE_PATH: &str = "/";
const LIVENESS_PATH: &str = "/healthz";
const READINESS_PATH: &str = "/readyz";
const USAGE_API_PATH: &str = "/api/v1/usage";

/// The paths served whatever the flags say; `--web.telemetry-path` must be another.
const FIXED_PATHS: [&str; 6] = [
    PAGE_PATH,
    LIVENESS_PATH,
    READINESS_PATH,
    USAGE_API_PATH,
    page::SCRIPT_PATH,
    page::STYLE_PATH,
];

/// Refuses a `--web.telemetry-path` that another route already has.
pub fn check_telemetry_path(path: &str) -> anyhow::Result<()> {
    if FIXED_PATHS.contains(&path) {
        anyhow::bail!(
            "--web.telemetry-path {path} is taken by another endpoint; choose a path other than {}",
            FIXED_PATHS.join(", ")
        );
    }
    Ok(())
}

/// The routes; `telemetry_path` has passed [`check_telemetry_path`].
pub fn router(scraper: Arc<Scraper>, telemetry_path: &str) -> Router {
    let state = AppState {
        scraper,
        telemetry_path: telemetry_path.into(),
    };
    Router::new()
        .route(telemetry_path, get(metrics))
        .route(LIVENESS_PATH, get(healthz))
        .route(READINESS_PATH, get(readyz))
        .route(USAGE_API_PATH, get(usage))
        .route(PAGE_PATH, get(landing_page))
        .route(page::SCRIPT_PATH, get(page::script))
        .route(page::STYLE_PATH, get(page::style))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let wanted = Wanted::from_headers(&headers);
    match state.scraper.exposition(wanted).await {
        Ok(exposition) => exposition.into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering metrics failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "rendering metrics failed\n",
            )
                .into_response()
        }
    }
}

/// Liveness: fails only when this process can no longer produce a scrape (a wedged
/// read, a watch that stopped), so that Kubernetes restarts it; never because the API
/// server is down.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.scraper.liveness() {
        Ok(()) => "ok\n".into_response(),
        Err(why) => {
            tracing::error!(reason = %why, "liveness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response()
        }
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.scraper.is_ready() {
        "ok\n".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "pod index not synced yet\n",
        )
            .into_response()
    }
}

/// The usage API: the query is checked before the reading is asked for, so a bad
/// request costs no read; rendering a large cluster's rows is kept off the reactor.
async fn usage(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let query = match UsageQuery::parse(query.as_deref().unwrap_or_default()) {
        Ok(query) => query,
        Err(error) => return error.into_response(),
    };
    let reads_nodes = state.scraper.reads_nodes();
    let reading = state.scraper.reading().await;
    match tokio::task::spawn_blocking(move || query.answer(&reading, reads_nodes)).await {
        Ok(answer) => usage_api::respond(answer),
        Err(error) => {
            tracing::error!(%error, "answering a usage request failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "answering failed\n").into_response()
        }
    }
}

async fn landing_page(State(state): State<AppState>) -> Response {
    page::html(&state.telemetry_path)
}
