//! `/portal/webhooks` (API-RECORDS.md §5): a tenant's outgoing-webhook subscriptions, a test
//! ping, and the delivery log. Admin scope. Ids of other tenants behave like ids that do not
//! exist. The signing secret is shown once, in the answer to the create.

use crate::auth::access;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{DeliveryLog, Subscription};
use crate::timestamp::{self, serde_rfc3339};
use crate::webhooks::{self, delivery};

/// Subscriptions one tenant may have.
pub const MAX_SUBSCRIPTIONS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// Timeout of the synchronous test ping (the worker uses the same).
pub const DELIVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/portal/webhooks", access::ADMIN)
            .post(create)
            .get(list),
    )
    .service(super::resource("/portal/webhooks/{id}/test", access::ADMIN).post(test))
    .service(super::resource("/portal/webhooks/{id}/deliveries", access::ADMIN).get(deliveries))
    .service(
        super::resource("/portal/webhooks/{id}", access::ADMIN)
            .get(get)
            .patch(update)
            .delete(delete),
    );
}

#[derive(Serialize, utoipa::ToSchema)]
struct SubscriptionView {
    id: Uuid,
    url: String,
    events: Vec<String>,
    active: bool,
    description: Option<String>,
    #[serde(with = "serde_rfc3339::millis")]
    #[schema(value_type = String, format = DateTime)]
    created_at: i64,
    #[serde(with = "serde_rfc3339::millis")]
    #[schema(value_type = String, format = DateTime)]
    updated_at: i64,
}

impl From<Subscription> for SubscriptionView {
    fn from(s: Subscription) -> Self {
        SubscriptionView {
            id: s.id,
            url: s.url,
            events: s.events,
            active: s.active,
            description: s.description,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookCreate, example = json!({"url": "https://erp.example.com/hooks/qanatix", "events": ["record.created", "record.updated", "record.deleted"], "description": "ERP sync"}))]
struct CreateBody {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookUpdate, example = json!({"events": ["record.created"], "active": false}))]
struct UpdateBody {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    events: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "some_value")]
    description: Option<Value>,
    #[serde(default)]
    active: Option<bool>,
}

/// Keeps an explicit `null` apart from an absent field.
fn some_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn check_url(state: &AppState, raw: &str) -> Result<String, ApiError> {
    webhooks::check_url(raw.trim(), state.config.webhook_private_targets())
        .map(|u| u.to_string())
        .map_err(ApiError::Validation)
}

fn check_events(events: Vec<String>) -> Result<Vec<String>, ApiError> {
    if events.is_empty() {
        return Err(ApiError::validation(format!(
            "events must name at least one of: {}",
            webhooks::EVENTS.join(", ")
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for e in events {
        if !webhooks::EVENTS.contains(&e.as_str()) {
            return Err(ApiError::validation(format!(
                "events: unknown event '{}'; known: {}",
                e.chars().take(64).collect::<String>(),
                webhooks::EVENTS.join(", ")
            )));
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

fn check_description(raw: &str) -> Result<String, ApiError> {
    crate::entity_input::text("description", raw, MAX_DESCRIPTION_CHARS)
        .map_err(|e| ApiError::Validation(e.to_string()))
}

fn load(state: &AppState, tenant: &str, raw: &str) -> Result<Subscription, ApiError> {
    state
        .store
        .webhooks
        .subscription(tenant, super::path::id("Webhook", raw)?)?
        .ok_or_else(|| ApiError::not_found("Webhook"))
}

#[utoipa::path(
    post,
    path = "/api/v1/portal/webhooks",
    tag = "webhooks",
    summary = "Subscribe a URL to events.",
    description = "Events: `record.created`, `record.updated`, `record.deleted`, `upload.complete`, `ping`. Each delivery carries `X-Qanatix-Signature` (hex HMAC-SHA256 of the body with `secret`).",
    request_body = CreateBody,
    responses((status = 201, description = "The subscription and its `secret` (shown only here).", body = SubscriptionView)),
    security(("api_key" = ["admin"])),
)]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let b = body.into_inner();
    let url = check_url(&state, &b.url)?;
    let events = check_events(b.events)?;
    let description = b
        .description
        .as_deref()
        .map(check_description)
        .transpose()?;
    let now = timestamp::now_ms();
    let sub = Subscription {
        id: Uuid::now_v7(),
        tenant_id: tenant.clone(),
        url,
        events,
        secret: webhooks::new_secret(),
        active: true,
        description,
        created_at: now,
        updated_at: now,
        failing_since: None,
    };
    let stored = sub.clone();
    state
        .write(move |store| {
            // Under the tenant's write lock, so two creates cannot both pass the cap.
            store.entities.locked(&tenant, || {
                if store.webhooks.subscriptions(&tenant)?.len() >= MAX_SUBSCRIPTIONS {
                    return Err(ApiError::Validation(format!(
                        "A tenant has at most {MAX_SUBSCRIPTIONS} webhooks; delete one first."
                    )));
                }
                store.webhooks.put_subscription(&stored)?;
                Ok(())
            })
        })
        .await?;
    let secret = sub.secret.clone();
    let mut view = serde_json::to_value(SubscriptionView::from(sub))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    view["secret"] = Value::String(secret);
    view["message"] =
        Value::String("Store this secret securely — it cannot be retrieved again.".into());
    Ok(HttpResponse::Created().json(view))
}

#[utoipa::path(
    get,
    path = "/api/v1/portal/webhooks",
    tag = "webhooks",
    summary = "List subscriptions (no secrets).",
    responses((status = 200, description = "`{webhooks: [...]}`.", body = Object)),
    security(("api_key" = ["admin"])),
)]
async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let subs = state.store.webhooks.subscriptions(&caller.tenant()?.id)?;
    let webhooks: Vec<SubscriptionView> = subs.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "webhooks": webhooks })))
}

#[utoipa::path(
    get,
    path = "/api/v1/portal/webhooks/{id}",
    tag = "webhooks",
    summary = "One subscription.",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id (a UUID).")),
    responses((status = 200, description = "The subscription.", body = SubscriptionView), (status = 404, description = "No such subscription in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sub = load(&state, &caller.tenant()?.id, &id)?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from(sub)))
}

#[utoipa::path(
    patch,
    path = "/api/v1/portal/webhooks/{id}",
    tag = "webhooks",
    summary = "Change a subscription's URL, events, description or `active`.",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id (a UUID).")),
    request_body = UpdateBody,
    responses((status = 200, description = "The subscription.", body = SubscriptionView), (status = 404, description = "No such subscription in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<UpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let id = super::path::id("Webhook", &id)?;
    let b = body.into_inner();
    let url = b.url.as_deref().map(|u| check_url(&state, u)).transpose()?;
    let events = b.events.map(check_events).transpose()?;
    let description = match b.description {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(check_description(&s)?)),
        Some(_) => return Err(ApiError::validation("description must be a string or null")),
    };
    let active = b.active;
    let updated = state
        .write(move |store| {
            Ok(store.webhooks.update_subscription(&tenant, id, |s| {
                if let Some(u) = &url {
                    s.url.clone_from(u);
                }
                if let Some(e) = &events {
                    s.events.clone_from(e);
                }
                if let Some(d) = &description {
                    s.description.clone_from(d);
                }
                if let Some(a) = active {
                    if a && !s.active {
                        // Turned back on: its failure history starts again.
                        s.failing_since = None;
                    }
                    s.active = a;
                }
                s.updated_at = timestamp::now_ms().max(s.updated_at + 1);
            })?)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("Webhook"))?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from(updated)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/portal/webhooks/{id}",
    tag = "webhooks",
    summary = "Delete a subscription.",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id (a UUID).")),
    responses((status = 204, description = "Deleted."), (status = 404, description = "No such subscription in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let id = super::path::id("Webhook", &id)?;
    let existed = state
        .write(move |store| Ok(store.webhooks.delete_subscription(&tenant, id)?))
        .await?;
    if !existed {
        return Err(ApiError::not_found("Webhook"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Sends a `ping` now, outside the outbox (the caller waits for the answer), and logs it.
#[utoipa::path(
    post,
    path = "/api/v1/portal/webhooks/{id}/test",
    tag = "webhooks",
    summary = "Send a `ping` event now and report the answer.",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id (a UUID).")),
    responses((status = 200, description = "`{delivered, status_code, error}`.", body = Object, example = json!({"delivered": true, "status_code": 200, "error": null})), (status = 404, description = "No such subscription in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn test(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let sub = load(&state, &tenant, &id)?;
    let (event_id, now) = (Uuid::now_v7(), timestamp::now_ms());
    let data = serde_json::json!({ "webhook_id": sub.id, "message": "This is a test event." });
    let body = webhooks::event_body(event_id, webhooks::PING, now, &tenant, data);
    let client = delivery::client(DELIVERY_TIMEOUT);
    let attempt = delivery::post(
        &client,
        &sub,
        event_id,
        webhooks::PING,
        &body,
        state.config.webhook_private_targets(),
    )
    .await;
    let entry = DeliveryLog {
        event_id,
        event: webhooks::PING.into(),
        status_code: attempt.status_code,
        attempts: 1,
        delivered_at: attempt.delivered().then(timestamp::now_ms),
        error: attempt.error.clone(),
        last_attempt_at: timestamp::now_ms(),
    };
    state
        .write(move |store| Ok(store.webhooks.put_log(&sub, &entry)?))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "delivered": attempt.delivered(),
        "status_code": attempt.status_code,
        "error": attempt.error,
    })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LogQuery {
    limit: Option<i64>,
}

#[derive(Serialize)]
struct DeliveryView {
    id: Uuid,
    event: String,
    status_code: Option<u16>,
    attempts: u32,
    #[serde(with = "serde_rfc3339::millis_option")]
    delivered_at: Option<i64>,
    error: Option<String>,
    #[serde(with = "serde_rfc3339::millis")]
    last_attempt_at: i64,
}

#[utoipa::path(
    get,
    path = "/api/v1/portal/webhooks/{id}/deliveries",
    tag = "webhooks",
    summary = "A subscription's deliveries, newest first.",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id (a UUID)."), LogQuery),
    responses((status = 200, description = "`{deliveries: [...]}`.", body = Object), (status = 404, description = "No such subscription in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let sub = load(&state, &tenant, &id)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::validation("limit must be between 1 and 1000"));
    }
    let entries = state.store.webhooks.log(&tenant, sub.id, limit as usize)?;
    let deliveries: Vec<DeliveryView> = entries
        .into_iter()
        .map(|d| DeliveryView {
            id: d.event_id,
            event: d.event,
            status_code: d.status_code,
            attempts: d.attempts,
            delivered_at: d.delivered_at,
            error: d.error,
            last_attempt_at: d.last_attempt_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "deliveries": deliveries })))
}
