//! `/health`, `/ready`, `/metrics` (API.md §10): no authentication.

use crate::auth::access;
use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::search::indexer::RebuildStatus;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/health", access::PUBLIC).get(health))
        .service(super::resource("/ready", access::PUBLIC).get(ready))
        .service(super::resource("/metrics", access::PUBLIC).get(metrics));
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    summary = "Liveness: the process answers.",
    responses((status = 200, description = "Up.", body = crate::openapi::schemas::Health)),
)]
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// The server binds only after storage and index are open; it is ready once the index also
/// holds every stored entity. While a lost index is rebuilt, searches miss entities, so a load
/// balancer should keep traffic away: 503 with the rebuild's progress.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    summary = "Readiness: storage open and the search index complete.",
    responses((status = 200, description = "Ready.", body = crate::openapi::schemas::Ready), (status = 503, description = "The index is being rebuilt (or its rebuild failed).", body = crate::openapi::schemas::Ready, example = json!({"status": "rebuilding", "indexed": 5000, "total": 20000}))),
)]
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match state.indexer.rebuild_status() {
        RebuildStatus::Complete => HttpResponse::Ok().json(json!({"status": "ready"})),
        RebuildStatus::Rebuilding { indexed, total } => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "rebuilding", "indexed": indexed, "total": total})),
        RebuildStatus::Failed => HttpResponse::ServiceUnavailable().json(json!({
            "status": "rebuild_failed",
            "detail": "The search index could not be rebuilt; see the server log. A restart retries.",
        })),
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics: requests and latencies by route and status.",
    responses((status = 200, description = "Prometheus text format 0.0.4; no tenant ids, no secrets.", content_type = "text/plain", body = String)),
)]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let lookups = state.auth.lookups.load(Ordering::Relaxed);
    let body = state.metrics.render(&[(
        "qanatix_auth_key_lookups_total",
        "API key lookups by hash (malformed keys are refused before any lookup).",
        lookups,
    )]);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}
