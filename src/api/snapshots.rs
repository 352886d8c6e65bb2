//! `/admin/snapshots`: take a snapshot of the whole store while serving, and list snapshots.
//! Master key only: a snapshot holds every tenant's data and the server's secrets.

use actix_web::{web, HttpResponse};

use crate::auth::access;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::snapshot::jobs::Busy;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/admin/snapshots", access::TENANT_ADMIN)
            .get(list)
            .post(start),
    );
}

fn require_master(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_master() {
        Ok(())
    } else {
        Err(ApiError::InsufficientScope(
            "Only the master key may take or list snapshots.".into(),
        ))
    }
}

/// `POST /admin/snapshots`: 202 with the running snapshot; 409 while another runs.
#[utoipa::path(
    post,
    path = "/api/v1/admin/snapshots",
    tag = "admin",
    summary = "Take a snapshot of the whole store while serving.",
    description = "Master key only (an `admin` key gets 403).",
    responses((status = 202, description = "The running snapshot job.", body = Object), (status = 409, description = "A snapshot is running; one runs at a time.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn start(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    require_master(&caller)?;
    match state.snapshots.start(state.store.db().clone()) {
        Ok(job) => Ok(HttpResponse::Accepted().json(job)),
        Err(Busy(id)) => Err(ApiError::Conflict(format!(
            "Snapshot {id} is still running; one snapshot runs at a time."
        ))),
    }
}

/// `GET /admin/snapshots`: this server's snapshots and the files in the snapshot dir.
#[utoipa::path(
    get,
    path = "/api/v1/admin/snapshots",
    tag = "admin",
    summary = "List snapshots.",
    description = "Master key only (an `admin` key gets 403).",
    responses((status = 200, description = "The snapshot dir and its snapshots.", body = crate::openapi::schemas::Snapshots)),
    security(("api_key" = ["admin"])),
)]
async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    require_master(&caller)?;
    let snapshots = std::sync::Arc::clone(&state.snapshots);
    let jobs = web::block(move || snapshots.list())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "snapshot_dir": state.snapshots.dir().display().to_string(),
        "snapshots": jobs,
    })))
}
