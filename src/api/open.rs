//! Open (API-RECORDS.md §7): the `visibility: public` records of the tenant `OPEN_TENANT_ID`
//! names, read-only and without a key, limited per client IP. The guard (`Access::Open`) answers
//! 404 for every route while no tenant is published, and hands handlers an [`OpenReader`]
//! rather than a `Caller`, so nothing here can reach a private record or another tenant.

use actix_web::{web, HttpResponse};
use serde_json::json;
use uuid::Uuid;

use std::collections::HashMap;

use super::search::{self, Reader, SearchBody};
use super::verticals;
use crate::auth::access;
use crate::auth::middleware::OpenReader;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::entity_counts::Group;
use crate::store::{EntityStatus, Visibility};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/collections", access::OPEN_LIST).get(collections))
        .service(super::resource("/records/{id}", access::OPEN_LIST).get(record))
        .service(
            super::resource("/search/{collection}", access::OPEN_SEARCH)
                .post(search_post)
                .get(search_get),
        );
}

fn reader(r: &OpenReader) -> Reader<'_> {
    Reader {
        tenant: &r.tenant,
        public_only: true,
    }
}

/// `POST /open/v1/search/{collection}`: `/api/v1/search` over the published records.
#[utoipa::path(
    post,
    path = "/open/v1/search/{collection}",
    tag = "open",
    summary = "Search a collection's public records.",
    description = "As `POST /api/v1/search/{vertical}`; 60 per minute per client IP.",
    params(crate::openapi::schemas::CollectionPath),
    request_body = SearchBody,
    responses((status = 200, description = "Results. `format=compact` (a markdown table) and `format=yaml` answer `text/plain`.", content(
        (crate::api::search::SearchResponse = "application/json"),
        (String = "text/plain", example = json!("# | Name | Score | Key Data\n1 | Hex bolt M8x40 A2 | 0.93 | part_number: DIN933-M8x40-A2\n")),
    ))),
)]
async fn search_post(
    state: web::Data<AppState>,
    open: OpenReader,
    collection: web::Path<String>,
    body: web::Json<SearchBody>,
) -> Result<HttpResponse, ApiError> {
    search::search(state, reader(&open), &collection, body.into_inner()).await
}

/// `GET /open/v1/search/{collection}?q=...`, parameters as `GET /api/v1/search`.
#[utoipa::path(
    get,
    path = "/open/v1/search/{collection}",
    tag = "open",
    summary = "Search a collection's public records (query string).",
    description = "As `GET /api/v1/search/{vertical}`.",
    params(crate::openapi::schemas::CollectionPath, crate::openapi::schemas::SearchQuery),
    responses((status = 200, description = "Results. `format=compact` (a markdown table) and `format=yaml` answer `text/plain`.", content(
        (crate::api::search::SearchResponse = "application/json"),
        (String = "text/plain", example = json!("# | Name | Score | Key Data\n1 | Hex bolt M8x40 A2 | 0.93 | part_number: DIN933-M8x40-A2\n")),
    ))),
)]
async fn search_get(
    state: web::Data<AppState>,
    open: OpenReader,
    collection: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let body = SearchBody::from_query(query.into_inner())?;
    search::search(state, reader(&open), &collection, body).await
}

/// What Open shows: active, public records.
fn published(e: &Group) -> bool {
    e.status == EntityStatus::Active && e.visibility == Visibility::Public
}

/// `GET /open/v1/collections`: a plain array of the collections holding public records.
#[utoipa::path(
    get,
    path = "/open/v1/collections",
    tag = "open",
    summary = "The published collections holding public records.",
    responses((status = 200, description = "A plain array.", body = Vec<crate::openapi::schemas::OpenCollection>)),
)]
async fn collections(
    state: web::Data<AppState>,
    reader: OpenReader,
) -> Result<HttpResponse, ApiError> {
    let tenant = reader.tenant.id.clone();
    let store = std::sync::Arc::clone(&state.store);
    let body = web::block(move || -> Result<_, ApiError> {
        let summaries = verticals::summaries(&store, &tenant, published)?;
        let mut out = Vec::with_capacity(summaries.len());
        for (name, s) in summaries.iter().filter(|(_, s)| s.entity_count > 0) {
            let meta = store.collections.get(&tenant, name)?;
            out.push(json!({
                "collection": name,
                "record_types": s.entity_types,
                "record_count": s.entity_count,
                "description": meta.and_then(|m| m.description),
            }));
        }
        Ok(out)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /open/v1/records/{id}`: one public record; any other id is simply not found.
#[utoipa::path(
    get,
    path = "/open/v1/records/{id}",
    tag = "open",
    summary = "One public record.",
    params(("id" = uuid::Uuid, Path, description = "The record's id (a UUID).")),
    responses((status = 200, description = "The record.", body = crate::openapi::schemas::Record)),
)]
async fn record(
    state: web::Data<AppState>,
    reader: OpenReader,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let missing = || ApiError::not_found("Record");
    let id = Uuid::parse_str(&id).map_err(|_| missing())?;
    let entity = state
        .store
        .entities
        .get_readable(&reader.tenant.id, id)?
        .filter(|e| e.status == EntityStatus::Active && e.visibility == Visibility::Public)
        .ok_or_else(missing)?;
    Ok(HttpResponse::Ok().json(super::dialect::record_view(&state.store, entity)?))
}
