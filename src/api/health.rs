//! `/health`, `/ready`, `/metrics` (API.md §10): no authentication.

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/health").route(web::get().to(health)))
        .service(super::resource("/ready").route(web::get().to(ready)))
        .service(super::resource("/metrics").route(web::get().to(metrics)));
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// The server binds only after storage is open, so answering at all means ready.
async fn ready() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ready"}))
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
