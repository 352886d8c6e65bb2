//! Routes. Each resource has its own module. Every route is registered through [`resource`], which
//! takes the route's access [`Policy`] and guards it with [`crate::auth::middleware::guard`]; the
//! crate's clippy configuration forbids registering a route any other way, so no route can exist
//! without a declared access rule. A path no route matches is a 404 for every caller.

pub mod admin;
pub mod body;
pub mod collections;
pub mod connectors;
pub mod dialect;
pub mod entities;
pub mod export;
pub mod health;
pub mod ingest;
pub mod keys;
pub mod mcp;
pub mod open;
pub mod path;
pub mod portal_webhooks;
pub mod records;
pub mod schemas;
pub mod search;
pub mod snapshots;
pub mod tenants;
pub mod upload;
pub mod usage;
pub mod verticals;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse, Resource};

use crate::auth::access::Policy;
use crate::auth::middleware::guard;
use crate::error::{self, ApiError};

/// Body limit outside ingestion routes (API.md §2).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A resource guarded by its access policy, whose unmatched methods answer 405 in the API's
/// error shape (after authentication, so a 405 tells an anonymous caller nothing a 401 hides).
#[allow(clippy::disallowed_methods)] // The one place a resource is made.
pub(crate) fn resource(
    path: &str,
    policy: impl Into<Policy>,
) -> Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let policy = policy.into();
    web::resource(path)
        .wrap(from_fn(move |req, next| guard(policy, req, next)))
        .default_service(web::to(|| async {
            HttpResponse::MethodNotAllowed().json(serde_json::json!({
                "detail": "Method not allowed on this route.",
                "code": "method_not_allowed"
            }))
        }))
}

pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("Request body exceeds the limit of {limit} bytes."))
}

/// The declared Content-Length, or 413 when it is over `limit` (refused before reading).
pub(crate) fn declared_length(
    req: &actix_web::HttpRequest,
    limit: usize,
) -> Result<Option<usize>, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(n) if n > limit => Err(too_large(limit)),
        other => Ok(other),
    }
}

/// Reads a request body up to `limit` bytes, answering 413 in the API's shape beyond it (a
/// declared Content-Length over the limit is refused before reading anything).
pub async fn read_body(
    req: &actix_web::HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt;
    let declared = declared_length(req, limit)?;
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(body::payload_error)?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
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
    .configure(mcp::routes)
    .configure(crate::web::routes)
    .service(
        web::scope("/api/v1")
            .configure(keys::routes)
            .configure(tenants::routes)
            .configure(admin::routes)
            .configure(snapshots::routes)
            .configure(entities::routes)
            .configure(search::routes)
            .configure(ingest::routes)
            // After `ingest`: where both dialects' ingestion paths match, API.md's wins.
            .configure(records::routes)
            .configure(collections::routes)
            .configure(schemas::routes)
            .configure(verticals::routes)
            .configure(usage::routes)
            .configure(export::routes)
            .configure(portal_webhooks::routes)
            .configure(connectors::routes)
            .default_service(web::to(not_found)),
    )
    .service(
        web::scope("/open/v1")
            .configure(open::routes)
            .default_service(web::to(not_found)),
    )
    .default_service(web::to(not_found));
}
