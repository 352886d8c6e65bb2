//! `/connectors` (API-RECORDS.md §6): a tenant's database connectors. Admin scope. The
//! connection settings are sealed before they are stored and never come back
//! (`"***REDACTED***"`); ids of other tenants behave like ids that do not exist.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::dialect::upload_status;
use crate::auth::{access, Caller};
use crate::connectors::schedule::Schedule;
use crate::connectors::settings::{ConnectorType, Settings};
use crate::error::ApiError;
use crate::ingest::batch::MAX_RECORDS;
use crate::state::AppState;
use crate::store::{Connector, Ingestion};
use crate::timestamp::{self, ms_to_rfc3339};

/// Connectors one tenant may have.
pub const MAX_CONNECTORS: usize = 100;
const MAX_NAME_CHARS: usize = 100;
const MAX_QUERY_CHARS: usize = 100_000;
const REDACTED: &str = "***REDACTED***";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/connectors", access::ADMIN)
            .post(create)
            .get(list),
    )
    .service(super::resource("/connectors/{id}/pull", access::CONNECTOR_PULL).post(pull))
    .service(
        super::resource("/connectors/{id}", access::ADMIN)
            .get(get)
            .delete(delete),
    );
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConnectorCreate, example = json!({"name": "erp parts", "connector_type": "postgresql", "collection": "parts", "record_type": "item", "connection_config": {"host": "erp-db.internal", "port": 5432, "database": "erp", "user": "qanatix_reader", "password": "secret", "sslmode": "require"}, "query": "SELECT id AS source_id, title, price, updated_at FROM parts WHERE updated_at > :last_pull", "name_column": "title", "schedule": "every 15m"}))]
struct CreateBody {
    name: String,
    connector_type: String,
    #[serde(default)]
    collection: Option<String>,
    #[serde(default)]
    vertical: Option<String>,
    #[serde(default)]
    record_type: Option<String>,
    #[serde(default)]
    entity_type: Option<String>,
    /// Taken as any JSON so that no parse error can echo a value of it.
    connection_config: Value,
    query: String,
    #[serde(default)]
    name_column: Option<String>,
    #[serde(default)]
    batch_size: Option<i64>,
    #[serde(default)]
    schedule: Option<String>,
}

/// One of two names for the same field (the two dialects'), checked as a path segment under
/// the name the body used; or 422.
fn either(
    (a, a_name): (Option<String>, &str),
    (b, b_name): (Option<String>, &str),
) -> Result<String, ApiError> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(ApiError::validation(format!(
            "{a_name} and {b_name} name the same field; give one"
        ))),
        (Some(x), _) => super::path::slug(a_name, &x),
        (None, Some(x)) => super::path::slug(b_name, &x),
        (None, None) => Err(ApiError::validation(format!("{a_name} is required"))),
    }
}

fn view(state: &AppState, c: &Connector) -> Result<Value, ApiError> {
    let next = state.store.connectors.due_at(&c.tenant_id, c.id)?;
    let running = state.pulls.is_running(&c.tenant_id, c.id);
    Ok(json!({
        "id": c.id,
        "name": c.name,
        "connector_type": c.connector_type,
        "collection": c.vertical,
        "record_type": c.entity_type,
        "vertical": c.vertical,
        "entity_type": c.entity_type,
        "connection_config": REDACTED,
        "query": c.query,
        "name_column": c.name_column,
        "batch_size": c.batch_size,
        "schedule": c.schedule,
        "status": if running { "running" } else { "active" },
        "next_run_at": next.map(ms_to_rfc3339),
        "last_pull": c.last_pull.as_ref().map(|p| json!({
            "upload_id": p.upload_id,
            "status": upload_status(p.status),
            "started_at": ms_to_rfc3339(p.started_at),
            "completed_at": ms_to_rfc3339(p.completed_at),
            "error": p.error,
        })),
        "last_successful_pull_at": c.last_success_started_at.map(ms_to_rfc3339),
        "created_at": ms_to_rfc3339(c.created_at),
        "updated_at": ms_to_rfc3339(c.updated_at),
    }))
}

fn load(state: &AppState, tenant: &str, raw: &str) -> Result<Connector, ApiError> {
    state
        .store
        .connectors
        .get(tenant, super::path::id("Connector", raw)?)?
        .ok_or_else(|| ApiError::not_found("Connector"))
}

fn text(field: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let t = crate::entity_input::text(field, raw.trim(), max)
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    if t.is_empty() {
        return Err(ApiError::validation(format!("{field} must not be empty")));
    }
    Ok(t)
}

#[utoipa::path(
    post,
    path = "/api/v1/connectors",
    tag = "connectors",
    summary = "Create a connector pulling a query's rows into a collection.",
    description = "`connection_config` is encrypted at rest and answered as `***REDACTED***`. The query may use `:last_pull` for incremental pulls. `schedule`: cron or `every 15m`.",
    request_body = CreateBody,
    responses((status = 201, description = "The connector.", body = Object)),
    security(("api_key" = ["admin"])),
)]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let b = body.into_inner();
    let name = text("name", &b.name, MAX_NAME_CHARS)?;
    let kind = ConnectorType::parse(&b.connector_type).ok_or_else(|| {
        ApiError::validation(format!(
            "connector_type must be one of: {}",
            ConnectorType::NAMES.join(", ")
        ))
    })?;
    let vertical = either((b.collection, "collection"), (b.vertical, "vertical"))?;
    let entity_type = either(
        (b.record_type, "record_type"),
        (b.entity_type, "entity_type"),
    )?;
    Settings::parse(kind, &b.connection_config)
        .map_err(|e| ApiError::Validation(format!("connection_config: {e}")))?;
    let query = text("query", &b.query, MAX_QUERY_CHARS)?;
    let name_column = text(
        "name_column",
        b.name_column.as_deref().unwrap_or("name"),
        255,
    )?;
    let batch_size = b.batch_size.unwrap_or(1000);
    if !(1..=MAX_RECORDS as i64).contains(&batch_size) {
        return Err(ApiError::validation(format!(
            "batch_size must be between 1 and {MAX_RECORDS}"
        )));
    }
    let min_interval_ms = i64::try_from(
        state
            .config
            .connector_min_interval_secs
            .saturating_mul(1000),
    )
    .unwrap_or(i64::MAX);
    let schedule = b
        .schedule
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .map(|s| {
            Schedule::parse(&s, min_interval_ms)
                .map(|parsed| (s, parsed))
                .map_err(|e| ApiError::Validation(format!("schedule: {e}")))
        })
        .transpose()?;
    let id = Uuid::now_v7();
    let plain =
        serde_json::to_vec(&b.connection_config).map_err(|e| ApiError::Internal(e.to_string()))?;
    let sealed_config = state
        .pulls
        .sealer()
        .seal(&tenant, id, &plain)
        .map_err(ApiError::Internal)?;
    drop(plain);
    let now = timestamp::now_ms();
    let next_run = schedule.as_ref().and_then(|(_, s)| s.next_after(now));
    let connector = Connector {
        id,
        tenant_id: tenant.clone(),
        name,
        connector_type: kind.as_str().to_owned(),
        vertical,
        entity_type,
        sealed_config,
        query,
        name_column,
        batch_size: batch_size as u32,
        schedule: schedule.map(|(s, _)| s),
        created_at: now,
        updated_at: now,
        last_pull: None,
        last_success_started_at: None,
    };
    let stored = connector.clone();
    state
        .write(move |store| {
            // Under the tenant's write lock, so two creates cannot both pass the cap.
            store.entities.locked(&tenant, || {
                if store.connectors.count(&tenant) >= MAX_CONNECTORS {
                    return Err(ApiError::Validation(format!(
                        "A tenant has at most {MAX_CONNECTORS} connectors; delete one first."
                    )));
                }
                store.connectors.put(&stored, next_run)?;
                Ok(())
            })
        })
        .await?;
    log::info!(
        "connector {} ({}) created for tenant {}",
        connector.id,
        connector.connector_type,
        connector.tenant_id
    );
    Ok(HttpResponse::Created().json(view(&state, &connector)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/connectors",
    tag = "connectors",
    summary = "List connectors.",
    responses((status = 200, description = "`{connectors: [...]}`.", body = Object)),
    security(("api_key" = ["admin"])),
)]
async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let connectors = state.store.connectors.list(&caller.tenant()?.id)?;
    let views = connectors
        .iter()
        .map(|c| view(&state, c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(json!({ "connectors": views })))
}

#[utoipa::path(
    get,
    path = "/api/v1/connectors/{id}",
    tag = "connectors",
    summary = "One connector with its last pull and next run.",
    params(("id" = uuid::Uuid, Path, description = "The connector's id (a UUID).")),
    responses((status = 200, description = "The connector.", body = Object), (status = 404, description = "No such connector in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let c = load(&state, &caller.tenant()?.id, &id)?;
    Ok(HttpResponse::Ok().json(view(&state, &c)?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/connectors/{id}",
    tag = "connectors",
    summary = "Delete a connector.",
    params(("id" = uuid::Uuid, Path, description = "The connector's id (a UUID).")),
    responses((status = 204, description = "Deleted."), (status = 404, description = "No such connector in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let id = super::path::id("Connector", &id)?;
    let existed = state
        .write(move |store| Ok(store.connectors.delete(&tenant, id)?))
        .await?;
    if !existed {
        return Err(ApiError::not_found("Connector"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The answer to a pull: the upload it recorded (as `GET /uploads/{id}` shows it), with the
/// connector and the pull's start.
fn pull_view(connector: Uuid, i: &Ingestion) -> Value {
    let mut view = super::records::upload_view(i);
    view["ingestion_id"] = json!(i.id);
    view["connector_id"] = json!(connector);
    view["started_at"] = json!(ms_to_rfc3339(i.created_at));
    view
}

/// `POST /connectors/{id}/pull`: pulls now and answers with the upload. A database that cannot
/// be reached or queried is a failed upload (200, `status: "failed"`, `error`), not an error of
/// this request; a pull already running is 409.
#[utoipa::path(
    post,
    path = "/api/v1/connectors/{id}/pull",
    tag = "connectors",
    summary = "Pull now; answers with the upload it made.",
    description = "A database that cannot be reached is a failed upload (200, `status: failed`), not an error of this request.",
    params(("id" = uuid::Uuid, Path, description = "The connector's id (a UUID).")),
    responses((status = 200, description = "The upload.", body = crate::openapi::schemas::Upload), (status = 404, description = "No such connector in the caller's tenant.", body = crate::openapi::schemas::Error), (status = 409, description = "A pull of this connector is running.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn pull(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?;
    let c = load(&state, &tenant.id, &id)?;
    let ingestion = state
        .pulls
        .pull(std::sync::Arc::clone(tenant), c.id)
        .await?;
    Ok(HttpResponse::Ok().json(pull_view(c.id, &ingestion)))
}
