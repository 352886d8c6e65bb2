//! `GET /verticals` (API.md §8): the caller's verticals with entity counts, types and whether
//! any of their types has a schema.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{web, HttpResponse};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/verticals").route(web::get().to(list)));
}

/// A scan of the tenant's entities (every status): O(entities).
async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let store = std::sync::Arc::clone(&state.store);
    let (verticals, with_schema) = web::block(move || -> Result<_, ApiError> {
        let mut by_vertical: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
        for e in store.entities.scan_heads(Some(&tenant)) {
            let e = e?;
            let slot = by_vertical.entry(e.vertical).or_default();
            slot.0 += 1;
            slot.1.insert(e.entity_type);
        }
        let with_schema: BTreeSet<String> = store
            .schemas
            .list_latest(&tenant, None)?
            .into_iter()
            .map(|r| r.vertical)
            .collect();
        Ok((by_vertical, with_schema))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let mut verticals = verticals;
    // A vertical that so far has only a schema is listed too, with no entities.
    for v in &with_schema {
        verticals.entry(v.clone()).or_default();
    }
    let body: Vec<_> = verticals
        .into_iter()
        .map(|(vertical, (entity_count, types))| {
            let has_schema = with_schema.contains(&vertical);
            serde_json::json!({
                "vertical": vertical,
                "entity_count": entity_count,
                "entity_types": types,
                "has_schema": has_schema,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
