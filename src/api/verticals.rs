//! `GET /verticals` (API.md §8): the caller's verticals with entity counts and types.

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
    let verticals = web::block(move || -> Result<_, ApiError> {
        let mut by_vertical: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
        for e in store.entities.scan(&tenant, None) {
            let e = e?;
            let slot = by_vertical.entry(e.vertical).or_default();
            slot.0 += 1;
            slot.1.insert(e.entity_type);
        }
        Ok(by_vertical)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let body: Vec<_> = verticals
        .into_iter()
        .map(|(vertical, (entity_count, types))| {
            serde_json::json!({
                "vertical": vertical,
                "entity_count": entity_count,
                "entity_types": types,
                // Schemas are not implemented yet.
                "has_schema": false,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
