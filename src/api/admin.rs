//! `/admin/reindex/*` (API.md §9): rebuild search documents from stored entities.

use actix_web::{web, HttpResponse};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/admin/reindex/entity/{id}").route(web::post().to(reindex_entity)),
    )
    .service(super::resource("/admin/reindex/{vertical}").route(web::post().to(reindex_vertical)));
}

async fn reindex_vertical(
    state: web::Data<AppState>,
    caller: Caller,
    vertical: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let vertical = vertical.to_ascii_lowercase();
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

async fn reindex_entity(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("Entity"))?;
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
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "entity_id": id,
        "status": "pending",
        "message": "Entity queued for reindexing.",
    })))
}
