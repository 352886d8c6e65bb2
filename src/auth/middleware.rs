//! The gate every routed request passes: authenticate → rate limit → scope check (DESIGN.md),
//! under the [`Policy`] its resource declared (see [`crate::api::resource`]). It puts the
//! [`super::Caller`] into the request for handlers and writes the `X-RateLimit-*` headers on every
//! response that identified a tenant.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use super::access::{Access, Policy};
use super::{Caller, CallerKind};
use crate::error::ApiError;
use crate::ratelimit::Decision;
use crate::state::AppState;

static LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
static AUTH_MODE: HeaderName = HeaderName::from_static("x-auth-mode");

fn put_limit_headers(headers: &mut HeaderMap, d: &Decision) {
    headers.insert(LIMIT.clone(), HeaderValue::from(d.limit));
    headers.insert(REMAINING.clone(), HeaderValue::from(d.remaining));
    headers.insert(RESET.clone(), HeaderValue::from(d.reset));
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
    let ip = req.peer_addr().map(|a| a.ip());
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
    let refusal = match (decision, rule.access) {
        (Some(d), _) if !d.allowed => Some(ApiError::RateLimited {
            retry_after: d.retry_after,
        }),
        (_, Access::Scope(scope)) if !caller.scopes.allows(scope) => {
            Some(ApiError::InsufficientScope(format!(
                "This route requires the '{}' scope.",
                scope.as_str()
            )))
        }
        _ => None,
    };
    let development = caller.kind == CallerKind::Development;

    // Held until the handler has answered: the tenant cannot be deleted mid-request, and a
    // request that waited for a deletion finds its tenant gone instead of writing into it.
    let mut _within_tenant = None;
    let refusal = match (refusal, &caller.tenant) {
        (None, Some(tenant)) if rule.within_tenant => {
            let gate = state.store.tenants.gate(&tenant.id).read_owned().await;
            let same = state
                .store
                .tenants
                .get(&tenant.id)
                .is_some_and(|now| now.created_at == tenant.created_at);
            _within_tenant = Some(gate);
            (!same).then(|| match caller.kind {
                CallerKind::ApiKey => ApiError::InvalidApiKey(super::INVALID_KEY),
                _ => ApiError::not_found(&format!("Tenant '{}'", tenant.id)),
            })
        }
        (refusal, _) => refusal,
    };

    let mut res = match refusal {
        Some(err) => req.error_response(err).map_into_right_body(),
        None => {
            if let Some(tenant) = &caller.tenant {
                state
                    .meter
                    .add(&tenant.id, crate::usage::Counter::Requests, 1);
            }
            req.extensions_mut().insert::<Caller>(caller);
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
