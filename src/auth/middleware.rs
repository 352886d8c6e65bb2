//! The gate every routed request passes: authenticate → rate limit → scope check (DESIGN.md),
//! under the [`Policy`] its resource declared (see [`crate::api::resource`]). It puts the
//! [`super::Caller`] into the request for handlers and writes the `X-RateLimit-*` headers on every
//! response that identified a tenant.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use std::sync::Arc;

use super::access::{open_rpm, Access, Policy};
use super::{Caller, CallerKind};
use crate::client_ip::client_ip;
use crate::error::ApiError;
use crate::ratelimit::Decision;
use crate::state::AppState;
use crate::store::{Tenant, TenantStatus};

static LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
static AUTH_MODE: HeaderName = HeaderName::from_static("x-auth-mode");

fn put_limit_headers(headers: &mut HeaderMap, d: &Decision) {
    headers.insert(LIMIT.clone(), HeaderValue::from(d.limit));
    headers.insert(REMAINING.clone(), HeaderValue::from(d.remaining));
    headers.insert(RESET.clone(), HeaderValue::from(d.reset));
}

/// Who a guarded request acts as: an authenticated caller, or Open's anonymous reader of the
/// published tenant.
enum Principal {
    Caller(Caller),
    Open(OpenReader),
}

impl Principal {
    fn tenant(&self) -> Option<&Arc<Tenant>> {
        match self {
            Principal::Caller(c) => c.tenant.as_ref(),
            Principal::Open(r) => Some(&r.tenant),
        }
    }
}

/// Open's reader, as handlers under `/open` extract it: the published tenant, and nothing an
/// `/api/v1` handler would take for an authenticated caller.
#[derive(Clone)]
pub struct OpenReader {
    pub tenant: Arc<Tenant>,
    /// The client address Open's per-IP limits count against ("unknown" without one), for a
    /// handler that takes further tokens itself.
    pub client: String,
}

impl actix_web::FromRequest for OpenReader {
    type Error = ApiError;
    type Future = std::future::Ready<Result<OpenReader, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<OpenReader>()
                .cloned()
                .ok_or_else(|| ApiError::NotFound("Not found.".into())),
        )
    }
}

/// The published tenant, when `OPEN_TENANT_ID` names an active one.
fn open_tenant(state: &AppState) -> Option<Arc<Tenant>> {
    let id = state.config.open_tenant_id.as_deref()?;
    state
        .store
        .tenants
        .get(id)
        .filter(|t| t.status == TenantStatus::Active)
}

pub async fn guard(
    policy: Policy,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let rule = policy.rule(req.method());
    if rule.access == Access::Public {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        let err = ApiError::Internal("application state missing".into());
        return Ok(req.error_response(err).map_into_right_body());
    };
    let ip = client_ip(&req, state.config.trust_proxy);

    let (principal, decision) = if rule.access == Access::Open {
        let Some(tenant) = open_tenant(&state) else {
            let err = ApiError::NotFound("Not found.".into());
            return Ok(req.error_response(err).map_into_right_body());
        };
        let client = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let decision = state.config.rate_limit_enabled.then(|| {
            state
                .open_limiter
                .take(&client, rule.bucket, open_rpm(rule.bucket))
        });
        (Principal::Open(OpenReader { tenant, client }), decision)
    } else {
        let caller = match state
            .auth
            .authenticate(&state.store, req.headers(), ip)
            .await
        {
            Ok(c) => c,
            Err(e) => return Ok(req.error_response(e).map_into_right_body()),
        };
        let decision = match caller.rate_limited_tenant() {
            Some(tenant) if state.config.rate_limit_enabled => {
                Some(state.take_token(tenant, rule.bucket))
            }
            _ => None,
        };
        (Principal::Caller(caller), decision)
    };

    let refusal = match (decision, rule.access, &principal) {
        (Some(d), _, _) if !d.allowed => Some(ApiError::RateLimited {
            retry_after: d.retry_after,
        }),
        (_, Access::Scope(scope), Principal::Caller(caller)) if !caller.scopes.allows(scope) => {
            Some(ApiError::InsufficientScope(format!(
                "This route requires the '{}' scope.",
                scope.as_str()
            )))
        }
        _ => None,
    };
    let development =
        matches!(&principal, Principal::Caller(c) if c.kind == CallerKind::Development);

    // Held until the handler has answered: the tenant cannot be deleted mid-request, and a
    // request that waited for a deletion finds its tenant gone instead of writing into it.
    let mut _within_tenant = None;
    let refusal = match (refusal, principal.tenant()) {
        (None, Some(tenant)) if rule.within_tenant => {
            let gate = state.store.tenants.gate(&tenant.id).read_owned().await;
            let same = state
                .store
                .tenants
                .get(&tenant.id)
                .is_some_and(|now| now.created_at == tenant.created_at);
            _within_tenant = Some(gate);
            (!same).then(|| match &principal {
                Principal::Caller(c) if c.kind == CallerKind::ApiKey => {
                    ApiError::InvalidApiKey(super::INVALID_KEY)
                }
                Principal::Open(_) => ApiError::NotFound("Not found.".into()),
                _ => ApiError::not_found(&format!("Tenant '{}'", tenant.id)),
            })
        }
        (refusal, _) => refusal,
    };

    let mut res = match refusal {
        Some(err) => req.error_response(err).map_into_right_body(),
        None => {
            if let Some(tenant) = principal.tenant() {
                state
                    .meter
                    .add(&tenant.id, crate::usage::Counter::Requests, 1);
            }
            match principal {
                Principal::Caller(caller) => {
                    req.extensions_mut().insert(caller);
                }
                Principal::Open(reader) => {
                    req.extensions_mut().insert(reader);
                }
            }
            next.call(req).await?.map_into_left_body()
        }
    };
    let headers = res.headers_mut();
    if let Some(d) = decision {
        put_limit_headers(headers, &d);
    }
    if development {
        headers.insert(AUTH_MODE.clone(), HeaderValue::from_static("development"));
    }
    Ok(res)
}
