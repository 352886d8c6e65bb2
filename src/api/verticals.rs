//! `GET /verticals` (API.md §8): the caller's verticals with entity counts, types and whether
//! any of their types has a schema.

use crate::auth::access;
use std::collections::{BTreeMap, BTreeSet};

use actix_web::{web, HttpResponse};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::entity_counts::Group;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/verticals", access::ANY_CALLER).get(list));
}

/// What the tenant's entities say about one vertical.
#[derive(Default)]
pub(super) struct VerticalSummary {
    /// Entities of every status.
    pub entity_count: u64,
    pub entity_types: BTreeSet<String>,
    pub has_schema: bool,
}

/// The tenant's verticals, from the entity counts of the groups `counted` keeps and from its
/// schemas: O(groups + schemas), not O(entities). A vertical that so far has only a schema is
/// listed too, with no entities. Blocking (schemas are read from the store): call on the blocking
/// pool.
pub(super) fn summaries(
    store: &crate::store::Store,
    tenant: &str,
    counted: impl Fn(&Group) -> bool,
) -> Result<BTreeMap<String, VerticalSummary>, ApiError> {
    let mut by_vertical: BTreeMap<String, VerticalSummary> = BTreeMap::new();
    for (group, n) in store.entities.counts.tenant(tenant) {
        if !counted(&group) {
            continue;
        }
        let slot = by_vertical.entry(group.vertical).or_default();
        slot.entity_count += n;
        slot.entity_types.insert(group.entity_type);
    }
    for r in store.schemas.list_latest(tenant, None)? {
        by_vertical.entry(r.vertical).or_default().has_schema = true;
    }
    Ok(by_vertical)
}

#[utoipa::path(
    get,
    path = "/api/v1/verticals",
    tag = "collections",
    summary = "List verticals with entity counts and types.",
    responses((status = 200, description = "Verticals.", body = Vec<crate::openapi::schemas::Vertical>)),
    security(("api_key" = [])),
)]
async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let store = std::sync::Arc::clone(&state.store);
    let verticals = web::block(move || summaries(&store, &tenant, |_| true))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let body: Vec<_> = verticals
        .into_iter()
        .map(|(vertical, s)| {
            serde_json::json!({
                "vertical": vertical,
                "entity_count": s.entity_count,
                "entity_types": s.entity_types,
                "has_schema": s.has_schema,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
