//! `/admin/reindex/*` (API.md §9): rebuild search documents from stored entities; and
//! `/admin/stats`.

use crate::auth::access;
use actix_web::{web, HttpResponse};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/admin/reindex/entity/{id}", access::ADMIN).post(reindex_entity))
        .service(super::resource("/admin/reindex/{vertical}", access::ADMIN).post(reindex_vertical))
        .service(super::resource("/admin/stats", access::ADMIN).get(stats));
}

/// `GET /admin/stats`: entity counts by status and by indexing state, and the index queue, for
/// the caller's tenant; for the master key without `X-Tenant-Id`, over all tenants. From the
/// entity counts and the indexing backlog, not a scan of the entities.
#[utoipa::path(
    get,
    path = "/api/v1/admin/stats",
    tag = "admin",
    summary = "Entity counts by status and indexing state, and the index queue.",
    responses((status = 200, description = "For the caller's tenant (the master key without a tenant: all).", body = crate::openapi::schemas::Stats)),
    security(("api_key" = ["admin"])),
)]
async fn stats(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    use crate::store::EntityStatus;

    let tenant = if caller.is_master() && caller.tenant.is_none() {
        None
    } else {
        Some(caller.tenant()?.id.clone())
    };
    let store = std::sync::Arc::clone(&state.store);
    let semantic = state.search.semantic.clone();
    let body = web::block(move || -> Result<serde_json::Value, ApiError> {
        let counts = match &tenant {
            Some(t) => store.entities.counts.tenant(t),
            None => store.entities.counts.all(),
        };
        let mut by_status = [0u64; 3];
        for (group, n) in counts {
            by_status[match group.status {
                EntityStatus::Active => 0,
                EntityStatus::Archived => 1,
                EntityStatus::Draft => 2,
            }] += n;
        }
        let total = by_status.iter().sum::<u64>();
        let (pending, failed) = store.entities.indexing_backlog(tenant.as_deref())?;
        let queue_depth = match &tenant {
            Some(t) => store.entities.queue_depth_for(t),
            None => store.entities.queue_depth(),
        };
        Ok(serde_json::json!({
            "total_entities": total,
            "entities_by_status": {
                "active": by_status[0], "archived": by_status[1], "draft": by_status[2],
            },
            "embedding_status": {
                "completed": total.saturating_sub(pending + failed),
                "pending": pending,
                "failed": failed,
            },
            "queue_depth": queue_depth,
            "embeddings": match &semantic {
                Some(s) => serde_json::json!({
                    "enabled": true,
                    "model": crate::search::semantic::MODEL_ID,
                    "loaded": s.ready(),
                    "vectors": match &tenant {
                        Some(t) => s.partitions.tenant_len(t),
                        None => s.partitions.len(),
                    },
                }),
                None => serde_json::json!({"enabled": false}),
            },
        }))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/reindex/{vertical}",
    tag = "admin",
    summary = "Rebuild the search documents of a vertical.",
    params(crate::openapi::schemas::VerticalPath),
    responses((status = 200, description = "Queued.", body = crate::openapi::schemas::ReindexVertical)),
    security(("api_key" = ["admin"])),
)]
async fn reindex_vertical(
    state: web::Data<AppState>,
    caller: Caller,
    vertical: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let vertical = super::path::vertical(&vertical)?;
    let v = vertical.clone();
    let n = state
        .write(move |store| {
            let mut changes = store.entities.changes();
            let mut n = 0usize;
            for e in store.entities.scan(&tenant, None) {
                let e = e?;
                if e.vertical == v {
                    changes.enqueue(&tenant, e.id)?;
                    n += 1;
                }
            }
            store.entities.apply(changes)?;
            Ok(n)
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "vertical": vertical,
        "entities_reset": n,
        "message": format!("{n} entities queued for reindexing."),
    })))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/reindex/entity/{id}",
    tag = "admin",
    summary = "Rebuild one entity's search document.",
    params(("id" = uuid::Uuid, Path, description = "The entity's id (a UUID).")),
    responses((status = 200, description = "Queued.", body = crate::openapi::schemas::ReindexEntity), (status = 404, description = "No such entity in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn reindex_entity(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = queue_entity(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "entity_id": id,
        "status": "pending",
        "message": "Entity queued for reindexing.",
    })))
}

/// Queues the caller's entity for reindexing (both dialects' reindex of one entity).
pub(super) async fn queue_entity(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Uuid, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let id = Uuid::parse_str(id).map_err(|_| ApiError::not_found("Entity"))?;
    state
        .write(move |store| {
            store
                .entities
                .get(&tenant, id)?
                .ok_or_else(|| ApiError::not_found("Entity"))?;
            let mut changes = store.entities.changes();
            changes.enqueue(&tenant, id)?;
            store.entities.apply(changes)?;
            Ok(())
        })
        .await?;
    Ok(id)
}
