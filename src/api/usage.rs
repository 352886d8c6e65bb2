//! `GET /usage` (API.md §9): the caller's tenant's counts for the current month, per day of the
//! month so far, and its plan's limits (`null` = unlimited).

use crate::auth::access;
use actix_web::{web, HttpResponse};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/usage", access::ADMIN).get(usage));
}

#[utoipa::path(
    get,
    path = "/api/v1/usage",
    tag = "usage",
    summary = "This month's usage and the plan's limits.",
    responses((status = 200, description = "Usage.", body = crate::openapi::schemas::Usage)),
    security(("api_key" = ["admin"])),
)]
async fn usage(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?;
    let plan = state.plan_of(tenant);
    let month = state.meter.month(&tenant.id)?;
    let c = month.snapshot();
    let daily: Vec<serde_json::Value> = month
        .daily()
        .into_iter()
        .map(|(date, d)| {
            serde_json::json!({
                "date": date,
                "requests": d.requests,
                "searches": d.searches,
                "ingested_records": d.ingested_records,
                "entities_created": d.entities_created,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "tenant_id": tenant.id,
        "plan": plan.name,
        "period": month.period,
        "metering_enabled": state.meter.enabled(),
        "usage": {
            "requests": c.requests,
            "searches": c.searches,
            "ingested_records": c.ingested_records,
            "entities_created": c.entities_created,
        },
        "daily": daily,
        "limits": {
            "general_rpm": plan.general_rpm,
            "search_rpm": plan.search_rpm,
            "max_verticals": plan.max_verticals,
            "max_entities": plan.max_entities,
            "max_searches_per_month": plan.max_searches_per_month,
            "max_ingested_records_per_month": plan.max_ingested_records_per_month,
        },
    })))
}
