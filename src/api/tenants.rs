//! `/admin/tenants` (API.md §9): tenant keys see their own tenant; only the master key lists all
//! and creates, updates or deletes tenants.

use crate::auth::access;
use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Tenant, TenantId, TenantStatus};
use crate::timestamp::{self, serde_rfc3339};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/admin/tenants", access::TENANT_ADMIN)
            .get(list)
            .post(create),
    )
    .service(
        super::resource("/admin/tenants/{id}", access::TENANT_ADMIN)
            .get(get)
            .patch(update)
            .delete(delete),
    );
}

#[derive(Serialize, utoipa::ToSchema)]
struct TenantView<'a> {
    tenant_id: &'a str,
    name: &'a str,
    plan: &'a str,
    status: TenantStatus,
    entity_count: u64,
    verticals: Vec<String>,
    #[serde(with = "serde_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: i64,
}

fn view<'a>(state: &AppState, t: &'a Tenant) -> Result<TenantView<'a>, ApiError> {
    let (entity_count, verticals) = state.store.entities.summary(&t.id);
    Ok(TenantView {
        tenant_id: &t.id,
        name: &t.name,
        plan: &t.plan,
        status: t.status,
        entity_count,
        verticals,
        created_at: t.created_at,
    })
}

/// The tenants this caller may see with this id: any for the master key, its own otherwise.
fn visible(state: &AppState, caller: &Caller, id: &str) -> Result<Arc<Tenant>, ApiError> {
    let own = caller.tenant.as_ref().is_some_and(|t| t.id == id);
    state
        .store
        .tenants
        .get(id)
        .filter(|_| caller.is_master() || own)
        .ok_or_else(|| ApiError::not_found("Tenant"))
}

fn check_plan(state: &AppState, plan: &str) -> Result<(), ApiError> {
    if state.plans.get(plan).is_some() {
        return Ok(());
    }
    let mut names: Vec<_> = state.plans.names().collect();
    names.sort_unstable();
    Err(ApiError::validation(format!(
        "unknown plan '{plan}'; known plans: {}",
        names.join(", ")
    )))
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let n = name.chars().count();
    if (1..=200).contains(&n) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ApiError::validation(
            "name must be 1-200 characters without control characters",
        ))
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/tenants",
    tag = "tenants",
    summary = "List tenants (a tenant key sees only its own).",
    responses((status = 200, description = "Tenants.", body = Vec<TenantView>)),
    security(("api_key" = ["admin"])),
)]
async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let tenants = if caller.is_master() {
        state.store.tenants.list()
    } else {
        vec![Arc::clone(caller.tenant()?)]
    };
    let views = tenants
        .iter()
        .map(|t| view(&state, t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(views))
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/tenants/{id}",
    tag = "tenants",
    summary = "One tenant.",
    params(("id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "Tenant id: 1–64 characters of `A-Za-z0-9_-`.")),
    responses((status = 200, description = "The tenant.", body = TenantView), (status = 404, description = "No such tenant in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = visible(&state, &caller, &id)?;
    Ok(HttpResponse::Ok().json(view(&state, &tenant)?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tenant_id": "acme", "name": "ACME Industrial", "plan": "pro"}))]
struct CreateTenant {
    tenant_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    plan: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/tenants",
    tag = "tenants",
    summary = "Create a tenant.",
    description = "Master key only (an `admin` key gets 403).",
    request_body = CreateTenant,
    responses((status = 201, description = "Created.", body = TenantView), (status = 409, description = "A tenant with this id exists.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateTenant>,
) -> Result<HttpResponse, ApiError> {
    caller.require_master()?;
    let body = body.into_inner();
    let id = TenantId::parse(&body.tenant_id).ok_or_else(|| {
        ApiError::validation("tenant_id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    })?;
    let plan = body
        .plan
        .unwrap_or_else(|| state.config.default_plan.clone());
    check_plan(&state, &plan)?;
    let name = body.name.unwrap_or_else(|| id.as_str().to_owned());
    check_name(&name)?;
    let tenant = Tenant {
        id: id.as_str().to_owned(),
        name,
        plan,
        status: TenantStatus::Active,
        created_at: timestamp::now(),
    };
    // Not while a deletion of the same id is still removing the old tenant's data. Shared:
    // creating an id that exists answers 409 without waiting for its requests to finish.
    let _not_deleting = state.store.tenants.gate(&tenant.id).read_owned().await;
    let created =
        state.store.tenants.insert_new(tenant)?.ok_or_else(|| {
            ApiError::Conflict(format!("Tenant '{}' already exists.", id.as_str()))
        })?;
    state.store.flush().await?;
    log::info!("tenant '{}' created on plan '{}'", created.id, created.plan);
    Ok(HttpResponse::Created().json(view(&state, &created)?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"plan": "enterprise", "status": "active"}))]
struct UpdateTenant {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    status: Option<TenantStatus>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/admin/tenants/{id}",
    tag = "tenants",
    summary = "Change a tenant's name, plan or status.",
    description = "Master key only (an `admin` key gets 403). A suspended tenant's keys get 403 `tenant_suspended`.",
    params(("id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "Tenant id.")),
    request_body = UpdateTenant,
    responses((status = 200, description = "The tenant.", body = TenantView), (status = 404, description = "No such tenant in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<UpdateTenant>,
) -> Result<HttpResponse, ApiError> {
    caller.require_master()?;
    let body = body.into_inner();
    if let Some(plan) = &body.plan {
        check_plan(&state, plan)?;
    }
    if let Some(name) = &body.name {
        check_name(name)?;
    }
    let updated = state
        .store
        .tenants
        .update(&id, |t| {
            if let Some(name) = body.name {
                t.name = name;
            }
            if let Some(plan) = body.plan {
                t.plan = plan;
            }
            if let Some(status) = body.status {
                t.status = status;
            }
        })?
        .ok_or_else(|| ApiError::not_found("Tenant"))?;
    state.store.flush().await?;
    Ok(HttpResponse::Ok().json(view(&state, &updated)?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/admin/tenants/{id}",
    tag = "tenants",
    summary = "Delete a tenant and all its data.",
    description = "Master key only (an `admin` key gets 403).",
    params(("id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "Tenant id.")),
    responses((status = 204, description = "Deleted."), (status = 404, description = "No such tenant in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_master()?;
    // Waits for every request within the tenant to finish and holds off new ones until the
    // tenant and all its data are gone (they then find no tenant).
    let _exclusive = state.store.tenants.gate(&id).write_owned().await;
    // Usage counts leave memory first, so none is written back after the stored ones go.
    state.meter.forget_tenant(&id);
    if !state.store.delete_tenant(&id).await? {
        return Err(ApiError::not_found("Tenant"));
    }
    let search = std::sync::Arc::clone(&state.search);
    let tenant = id.clone();
    web::block(move || search.delete_tenant(&tenant))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let meter = std::sync::Arc::clone(&state.meter);
    let tenant = id.clone();
    web::block(move || meter.purge_tenant(&tenant))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    state.limiter.forget(&id);
    log::info!("tenant '{}' deleted with all its data", id.as_str());
    Ok(HttpResponse::NoContent().finish())
}
