//! `/auth/keys` and `/auth/me` (API.md §4).

use crate::auth::access;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::key::ApiKey;
use crate::auth::scope::Scopes;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ratelimit::{BucketKind, Decision};
use crate::state::AppState;
use crate::store::KeyRecord;
use crate::timestamp::{self, serde_rfc3339};

const CREATED_MESSAGE: &str = "Store this key securely — it cannot be retrieved again.";
const ROTATED_MESSAGE: &str = "Old key is now invalid. Update your applications immediately.";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/auth/keys", access::ADMIN)
            .post(create)
            .get(list),
    )
    .service(super::resource("/auth/keys/{id}/rotate", access::ADMIN).post(rotate))
    .service(super::resource("/auth/keys/{id}", access::ADMIN).delete(revoke))
    .service(super::resource("/auth/me", access::ANY_CALLER).get(me));
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "erp-import", "scopes": ["ingest", "search"], "expires_at": "2027-06-30T00:00:00Z"}))]
struct CreateKey {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    expires_at: Option<String>,
}

/// A key as listed: never the value, never the hash.
#[derive(Serialize, utoipa::ToSchema)]
struct KeyView {
    id: Uuid,
    name: String,
    scopes: Vec<&'static str>,
    #[serde(with = "serde_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: i64,
    #[serde(with = "serde_rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<i64>,
    #[serde(with = "serde_rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used_at: Option<i64>,
    prefix: String,
}

impl From<KeyRecord> for KeyView {
    fn from(r: KeyRecord) -> Self {
        KeyView {
            id: r.id,
            name: r.name,
            scopes: Scopes::from_bits(r.scopes).names(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            prefix: r.prefix,
        }
    }
}

/// The one response that carries a key's value (create and rotate).
#[derive(Serialize, utoipa::ToSchema)]
struct IssuedKey {
    id: Uuid,
    name: String,
    key: String,
    scopes: Vec<&'static str>,
    #[serde(with = "serde_rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<i64>,
    #[serde(with = "serde_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: i64,
    message: &'static str,
}

impl IssuedKey {
    fn new(r: KeyRecord, key: ApiKey<'_>, message: &'static str) -> Self {
        IssuedKey {
            id: r.id,
            name: r.name,
            key: key.into_string(),
            scopes: Scopes::from_bits(r.scopes).names(),
            expires_at: r.expires_at,
            created_at: r.created_at,
            message,
        }
    }
}

fn parse_name(name: &str) -> Result<String, ApiError> {
    let n = name.chars().count();
    if !(1..=100).contains(&n) || name.trim().is_empty() {
        return Err(ApiError::validation(
            "name must be 1-100 characters and not blank",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "name must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

fn parse_expiry(value: Option<&str>, now: i64) -> Result<Option<i64>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    let at = timestamp::parse_rfc3339(v).ok_or_else(|| {
        ApiError::validation("expires_at must be an RFC 3339 time, e.g. 2027-01-01T00:00:00Z")
    })?;
    if at <= now {
        return Err(ApiError::validation("expires_at must be in the future"));
    }
    Ok(Some(at))
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/keys",
    tag = "keys",
    summary = "Create an API key; its value is shown only in this answer.",
    request_body = CreateKey,
    responses((status = 201, description = "The new key.", body = IssuedKey)),
    security(("api_key" = ["admin"])),
)]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateKey>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?;
    let now = timestamp::now();
    let name = parse_name(&body.name)?;
    let scopes = Scopes::parse_list(&body.scopes).map_err(ApiError::Validation)?;
    let expires_at = parse_expiry(body.expires_at.as_deref(), now)?;
    let key = ApiKey::generate();
    let record = KeyRecord {
        id: Uuid::now_v7(),
        tenant_id: tenant.id.clone(),
        name,
        scopes: scopes.bits(),
        prefix: key.display_prefix(),
        hash: state.auth.hasher().hash(&key),
        created_at: now,
        expires_at,
        last_used_at: None,
    };
    state.store.keys.insert(record.clone())?;
    state.store.flush().await?;
    Ok(HttpResponse::Created().json(IssuedKey::new(record, key, CREATED_MESSAGE)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[serde(default)]
    include_expired: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/auth/keys",
    tag = "keys",
    summary = "List the tenant's active keys (never their values).",
    params(ListQuery),
    responses((status = 200, description = "Keys by creation time.", body = Vec<KeyView>)),
    security(("api_key" = ["admin"])),
)]
async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?;
    let now = timestamp::now();
    let keys: Vec<KeyView> = state
        .store
        .keys
        .list(&tenant.id)?
        .into_iter()
        .filter(|r| query.include_expired || r.expires_at.is_none_or(|e| e > now))
        .map(KeyView::from)
        .collect();
    Ok(HttpResponse::Ok().json(keys))
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/keys/{id}/rotate",
    tag = "keys",
    summary = "Rotate a key: same id and scopes, new value; the old value fails at once.",
    params(("id" = uuid::Uuid, Path, description = "The key's id (a UUID).")),
    responses((status = 200, description = "The key with its new value.", body = IssuedKey), (status = 404, description = "No such key in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn rotate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?;
    let id = super::path::id("API key", &id)?;
    let key = ApiKey::generate();
    let hash = state.auth.hasher().hash(&key);
    let record = state
        .store
        .keys
        .rotate(&tenant.id, id, hash, key.display_prefix())?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    state.store.flush().await?;
    Ok(HttpResponse::Ok().json(IssuedKey::new(record, key, ROTATED_MESSAGE)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/auth/keys/{id}",
    tag = "keys",
    summary = "Revoke a key; it fails at once.",
    params(("id" = uuid::Uuid, Path, description = "The key's id (a UUID).")),
    responses((status = 204, description = "Revoked."), (status = 404, description = "No such key in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?;
    let id = super::path::id("API key", &id)?;
    if !state.store.keys.revoke(&tenant.id, id)? {
        return Err(ApiError::not_found("API key"));
    }
    state.store.flush().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, utoipa::ToSchema)]
struct BucketView {
    limit: u32,
    remaining: u32,
    reset: u64,
}

impl From<Decision> for BucketView {
    fn from(d: Decision) -> Self {
        BucketView {
            limit: d.limit,
            remaining: d.remaining,
            reset: d.reset,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct RateLimitsView {
    general: BucketView,
    search: BucketView,
}

#[derive(Serialize, utoipa::ToSchema)]
struct MeView<'a> {
    tenant_id: &'a str,
    key_id: Option<Uuid>,
    name: Option<&'a str>,
    scopes: Vec<&'static str>,
    #[serde(with = "serde_rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<i64>,
    plan: &'a str,
    /// `null` when rate limiting is disabled or for the (never limited) master key.
    rate_limits: Option<RateLimitsView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "keys",
    summary = "Who the caller is: tenant, key, scopes, plan and rate-limit state.",
    responses((status = 200, description = "The caller (`key_id` and `name` are null in development mode and for the master key).", body = MeView)),
    security(("api_key" = [])),
)]
async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?;
    let key = caller.key.as_ref().map(|k| &k.record);
    let rate_limits = caller
        .rate_limited_tenant()
        .filter(|_| state.config.rate_limit_enabled)
        .map(|t| RateLimitsView {
            general: state.peek_bucket(t, BucketKind::General).into(),
            search: state.peek_bucket(t, BucketKind::Search).into(),
        });
    Ok(HttpResponse::Ok().json(MeView {
        tenant_id: &tenant.id,
        key_id: key.map(|k| k.id),
        name: key.map(|k| k.name.as_str()),
        scopes: caller.scopes.names(),
        expires_at: key.and_then(|k| k.expires_at),
        plan: &tenant.plan,
        rate_limits,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_expiry_validation() {
        assert!(parse_name("ci").is_ok());
        assert!(parse_name("").is_err());
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"é".repeat(100)).is_ok());
        assert!(parse_name(&"é".repeat(101)).is_err());
        assert!(parse_name("a\nb").is_err());
        assert_eq!(parse_expiry(None, 100).unwrap(), None);
        assert!(parse_expiry(Some("1970-01-01T00:00:00Z"), 100).is_err());
        assert!(parse_expiry(Some("soon"), 100).is_err());
        assert!(parse_expiry(Some("2999-01-01T00:00:00Z"), 100)
            .unwrap()
            .is_some());
    }
}
