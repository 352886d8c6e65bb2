//! `/health`, `/ready`, `/metrics` (API.md §10): no authentication.

use crate::auth::access;
use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::search::indexer::RebuildStatus;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/health", access::PUBLIC).route(web::get().to(health)))
        .service(super::resource("/ready", access::PUBLIC).route(web::get().to(ready)))
        .service(super::resource("/metrics", access::PUBLIC).route(web::get().to(metrics)));
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// The server binds only after storage and index are open; it is ready once the index also
/// holds every stored entity. While a lost index is rebuilt, searches miss entities, so a load
/// balancer should keep traffic away: 503 with the rebuild's progress.
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
