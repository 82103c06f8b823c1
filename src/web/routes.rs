//! The HTTP surface, on axum: the metrics endpoint (format and gzip as
//! [`crate::exposition::negotiate`] decides), `/healthz` (a scrape can still be made),
//! `/readyz` (the pod index has synced) and a small landing page. How these are served (TLS, auth, limits) is [`super::server`]'s.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::exposition::negotiate::Wanted;
use crate::exposition::scraper::Scraper;

#[derive(Clone)]
struct AppState {
    scraper: Arc<Scraper>,
    telemetry_path: Arc<str>,
}

pub fn router(scraper: Arc<Scraper>, telemetry_path: &str) -> Router {
    let state = AppState {
        scraper,
        telemetry_path: telemetry_path.into(),
    };
    Router::new()
        .route(telemetry_path, get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/", get(landing_page))
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

async fn landing_page(State(state): State<AppState>) -> Html<String> {
    let path = &state.telemetry_path;
    Html(format!(
        "<!DOCTYPE html>\n<html><head><title>metrics-server-prom</title></head><body>\n\
         <h1>metrics-server-prom</h1>\n\
         <p>Kubernetes resource metrics (metrics.k8s.io) for Prometheus, {version}.</p>\n\
         <ul>\n<li><a href=\"{path}\">{path}</a>: metrics</li>\n\
         <li><a href=\"/healthz\">/healthz</a>: liveness</li>\n\
         <li><a href=\"/readyz\">/readyz</a>: readiness (pod index synced)</li>\n</ul>\n\
         </body></html>\n",
        version = env!("CARGO_PKG_VERSION"),
    ))
}
