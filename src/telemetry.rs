//! Request context: `X-Request-Id`, one access-log line per request and the metrics observation.
//! The log line holds method, path, status, latency, request id and a sent `X-Agent-Id`, never
//! other headers or the query.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use rand::RngCore;

use crate::state::AppState;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

static AGENT_ID: HeaderName = HeaderName::from_static("x-agent-id");

/// A client-chosen id that is safe to echo and log: short, and only plain characters.
fn sane(v: &&HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:/+=".contains(c))
}

/// The client's id when it is short and plain, else a fresh `req_<hex>`.
fn request_id(sent: Option<&HeaderValue>) -> HeaderValue {
    if let Some(v) = sent.filter(sane) {
        return v.clone();
    }
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    HeaderValue::from_str(&format!("req_{}", hex::encode(bytes)))
        .unwrap_or_else(|_| HeaderValue::from_static("req_unknown"))
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(req.headers().get(&REQUEST_ID));
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().clone();
    let path = req.path().to_owned();
    // What an Open client says it is (API-RECORDS.md §7): logged as told, never trusted.
    let agent = req
        .headers()
        .get(&AGENT_ID)
        .filter(sane)
        .and_then(|v| v.to_str().ok())
        .map(|v| format!(" agent={v}"))
        .unwrap_or_default();

    let mut res = next.call(req).await?;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    let route = res.request().match_pattern();
    if let Some(state) = state {
        state.metrics.observe(
            route.as_deref().unwrap_or("unmatched"),
            method.as_str(),
            status,
            elapsed.as_secs_f64(),
        );
    }
    log::info!(
        target: "qanatix::access",
        "{method} {path} {status} {:.3}ms {}{agent}",
        elapsed.as_secs_f64() * 1e3,
        id.to_str().unwrap_or("-")
    );
    res.headers_mut().insert(REQUEST_ID.clone(), id);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sane_ids_and_replaces_others() {
        let v = HeaderValue::from_static("abc-123");
        assert_eq!(request_id(Some(&v)), "abc-123");
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert!(request_id(Some(&long))
            .to_str()
            .unwrap()
            .starts_with("req_"));
        let odd = HeaderValue::from_static("a b");
        assert!(request_id(Some(&odd)).to_str().unwrap().starts_with("req_"));
        let fresh = request_id(None);
        assert_eq!(fresh.len(), 4 + 16);
    }
}
