//! Routes. Each resource has its own module; every route under `/api/v1` is guarded by
//! [`crate::auth::middleware::guard`], which takes its rule from [`crate::auth::access`].

pub mod health;
pub mod keys;
pub mod tenants;

use actix_web::{web, HttpResponse, Resource};

use crate::error::{self, ApiError};

/// Body limit outside ingestion routes (API.md §2).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A resource whose unmatched methods answer 405 in the API's error shape.
pub(crate) fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(|| async {
        HttpResponse::MethodNotAllowed().json(serde_json::json!({
            "detail": "Method not allowed on this route.",
            "code": "method_not_allowed"
        }))
    }))
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("Not found.".into()))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(BODY_LIMIT)
            .error_handler(|e, _| error::json_error(e).into()),
    )
    .app_data(web::PayloadConfig::default().limit(BODY_LIMIT))
    .app_data(web::QueryConfig::default().error_handler(|e, _| error::query_error(e).into()))
    .app_data(web::PathConfig::default().error_handler(|e, _| error::path_error(e).into()))
    .configure(health::routes)
    .service(
        web::scope("/api/v1")
            .configure(keys::routes)
            .configure(tenants::routes),
    )
    .default_service(web::to(not_found));
}
