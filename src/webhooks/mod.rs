//! Outgoing webhooks (API-RECORDS.md §5): events from the write paths go into a durable outbox
//! in the same step as the write (flushed by the same flush, before the 2xx); a delivery worker
//! ([`delivery`]) posts them to subscribers, signed, with retries. A write never waits for a
//! subscriber.

pub mod delivery;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use uuid::Uuid;

use crate::store::{
    Entity, Ingestion, IngestionStatus, OutboxRow, Store, StoreError, Subscription,
};
use crate::timestamp;

pub const RECORD_CREATED: &str = "record.created";
pub const RECORD_UPDATED: &str = "record.updated";
pub const RECORD_DELETED: &str = "record.deleted";
pub const UPLOAD_COMPLETE: &str = "upload.complete";
pub const PING: &str = "ping";

/// Every event a subscription may ask for.
pub const EVENTS: [&str; 5] = [
    RECORD_CREATED,
    RECORD_UPDATED,
    RECORD_DELETED,
    UPLOAD_COMPLETE,
    PING,
];

/// Deliveries are retried for this long after the event (then dropped, logged as given up),
/// and a subscription failing this long without a success is deactivated.
pub const RETRY_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// Longest wait between two attempts of one delivery.
pub const MAX_RETRY_DELAY_MS: i64 = 3600 * 1000;

/// The wait before the next attempt after `attempts` failed ones: `base` doubled per failure,
/// capped at an hour (with a 10 s base: 10 s, 20 s, 40 s … 1 h, about 30 attempts in 24 h).
pub fn retry_delay_ms(base_ms: i64, attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(30);
    base_ms
        .max(1)
        .saturating_mul(1i64 << doublings)
        .min(MAX_RETRY_DELAY_MS)
}

/// What happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordEvent {
    Created,
    Updated,
    /// Archived, or removed for good when `permanent`.
    Deleted {
        permanent: bool,
    },
}

impl RecordEvent {
    pub fn name(self) -> &'static str {
        match self {
            RecordEvent::Created => RECORD_CREATED,
            RecordEvent::Updated => RECORD_UPDATED,
            RecordEvent::Deleted { .. } => RECORD_DELETED,
        }
    }
}

/// The hex HMAC-SHA256 of `body` under `secret` (the `X-Qanatix-Signature` value).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A new signing secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// The body of an event: `{id, event, created_at, tenant_id, data}`.
pub fn event_body(id: Uuid, event: &str, at_ms: i64, tenant: &str, data: Value) -> Vec<u8> {
    let body = json!({
        "id": id,
        "event": event,
        "created_at": timestamp::ms_to_rfc3339(at_ms),
        "tenant_id": tenant,
        "data": data,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A record as events carry it, in both vocabularies (API-RECORDS.md §1), like search results.
fn record_data(e: &Entity, kind: RecordEvent) -> Value {
    let mut data = json!({
        "id": e.id,
        "record_id": e.id,
        "entity_id": e.id,
        "name": e.name,
        "collection": e.vertical,
        "vertical": e.vertical,
        "record_type": e.entity_type,
        "entity_type": e.entity_type,
        "data": e.vertical_data,
        "description": e.description,
        "source_type": e.source_type,
        "source_id": e.source_id,
        "source_url": e.source_url,
        "source_name": e.source_name,
        "status": e.status,
        "created_at": timestamp::ms_to_rfc3339(e.created_at),
        "updated_at": timestamp::ms_to_rfc3339(e.updated_at),
    });
    if let RecordEvent::Deleted { permanent } = kind {
        data["permanent"] = Value::Bool(permanent);
    }
    data
}

/// Writes one outbox row per subscription in `subs` that wants `event`.
fn enqueue(
    store: &Store,
    subs: &[Subscription],
    tenant: &str,
    event: &str,
    data: impl FnOnce() -> Value,
) -> Result<(), StoreError> {
    let mut wanting = subs.iter().filter(|s| s.wants(event)).peekable();
    if wanting.peek().is_none() {
        return Ok(());
    }
    let (id, now) = (Uuid::now_v7(), timestamp::now_ms());
    let body = event_body(id, event, now, tenant, data());
    for sub in wanting {
        store.webhooks.enqueue(&OutboxRow {
            tenant_id: tenant.to_owned(),
            subscription_id: sub.id,
            event_id: id,
            event: event.to_owned(),
            body: body.clone(),
            attempts: 0,
            created_at: now,
        })?;
    }
    Ok(())
}

/// The tenant's active subscriptions (none in the common case: then emitting costs one empty
/// prefix scan).
fn active_subscriptions(store: &Store, tenant: &str) -> Result<Vec<Subscription>, StoreError> {
    let mut subs = store.webhooks.subscriptions(tenant)?;
    subs.retain(|s| s.active);
    Ok(subs)
}

/// Queues `kind` events for `entities`. Call inside the write, after the entities are applied
/// and before the flush, so the events are as durable as the change.
pub fn emit_records(
    store: &Store,
    tenant: &str,
    kind: RecordEvent,
    entities: &[Entity],
) -> Result<(), StoreError> {
    let subs = active_subscriptions(store, tenant)?;
    if subs.is_empty() {
        return Ok(());
    }
    for e in entities {
        enqueue(store, &subs, tenant, kind.name(), || record_data(e, kind))?;
    }
    Ok(())
}

/// Queues an ingestion's events: `record.created` / `record.updated` for each entity it wrote
/// (`changed`: id and whether it was created), then `upload.complete`. Entities are read back
/// from the store (applied by now), so the batch need not keep them in memory.
pub fn emit_ingestion(
    store: &Store,
    ingestion: &Ingestion,
    changed: &[(Uuid, bool)],
) -> Result<(), StoreError> {
    let tenant = &ingestion.tenant_id;
    let subs = active_subscriptions(store, tenant)?;
    if subs.is_empty() {
        return Ok(());
    }
    let wants = |event: &str| subs.iter().any(|s| s.wants(event));
    if wants(RECORD_CREATED) || wants(RECORD_UPDATED) {
        for &(id, created) in changed {
            let kind = if created {
                RecordEvent::Created
            } else {
                RecordEvent::Updated
            };
            if !wants(kind.name()) {
                continue;
            }
            if let Some(e) = store.entities.get(tenant, id)? {
                enqueue(store, &subs, tenant, kind.name(), || record_data(&e, kind))?;
            }
        }
    }
    enqueue(store, &subs, tenant, UPLOAD_COMPLETE, || {
        upload_data(ingestion)
    })
}

fn upload_data(i: &Ingestion) -> Value {
    let status = match i.status {
        IngestionStatus::Completed => "complete",
        IngestionStatus::Partial => "partial",
        IngestionStatus::Failed => "failed",
    };
    json!({
        "upload_id": i.id,
        "ingestion_id": i.id,
        "status": status,
        "collection": i.vertical,
        "vertical": i.vertical,
        "record_type": i.entity_type,
        "entity_type": i.entity_type,
        "source_type": i.source_type,
        "file_name": i.file_name,
        "summary": {
            "submitted": i.record_count,
            "accepted": i.accepted,
            "rejected": i.rejected,
            "dedup_skipped": i.duplicate_count,
        },
        "created": i.created,
        "updated": i.updated,
        "created_at": timestamp::ms_to_rfc3339(i.created_at),
        "completed_at": i.completed_at.map(timestamp::ms_to_rfc3339),
    })
}

/// Longest subscriber URL taken.
pub const MAX_URL_CHARS: usize = 2048;

/// Checks a subscriber URL: absolute http(s) with a host, no credentials. Unless
/// `allow_private`, a host that is an IP literal in a loopback, private, link-local or
/// otherwise non-public range, or `localhost`, is refused. Host names are not resolved here:
/// an operator who must keep internal targets out should also filter egress.
pub fn check_url(raw: &str, allow_private: bool) -> Result<url::Url, String> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(format!("url must be at most {MAX_URL_CHARS} characters"));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("url is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "url must use http or https, not '{}'",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not carry credentials".into());
    }
    let host = url.host().ok_or("url must name a host")?;
    if !allow_private && is_private_host(&host) {
        return Err(format!(
            "url points at a loopback, private or link-local address ({host}); set \
             WEBHOOK_ALLOW_PRIVATE=true to allow internal targets"
        ));
    }
    Ok(url)
}

fn is_private_host(host: &url::Host<&str>) -> bool {
    use std::net::{IpAddr, Ipv4Addr};
    let v4 = |ip: Ipv4Addr| {
        ip.is_loopback()
            || ip.is_private()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast()
            // 100.64.0.0/10, carrier-grade NAT.
            || (ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
    };
    let ip = match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            return d == "localhost" || d.ends_with(".localhost");
        }
        url::Host::Ipv4(ip) => IpAddr::V4(*ip),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip),
    };
    match ip {
        IpAddr::V4(ip) => v4(ip),
        IpAddr::V6(ip) => {
            if let Some(mapped) = ip.to_ipv4_mapped() {
                return v4(mapped);
            }
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                // fc00::/7 unique local, fe80::/10 link-local.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://hooks.example.com/x?y=1", false).is_ok());
        for bad in [
            "ftp://example.com/",
            "not a url",
            "/relative",
            "https://user:pw@example.com/",
            "file:///etc/passwd",
        ] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
        for private in [
            "http://127.0.0.1:9/",
            "http://localhost/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
        ] {
            let e = check_url(private, false).unwrap_err();
            assert!(e.contains("WEBHOOK_ALLOW_PRIVATE"), "{private}: {e}");
            assert!(check_url(private, true).is_ok(), "{private}");
        }
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(3000)), true).is_err());
    }

    #[test]
    fn back_off_doubles_up_to_an_hour() {
        assert_eq!(retry_delay_ms(10_000, 1), 10_000);
        assert_eq!(retry_delay_ms(10_000, 2), 20_000);
        assert_eq!(retry_delay_ms(10_000, 4), 80_000);
        assert_eq!(retry_delay_ms(10_000, 20), MAX_RETRY_DELAY_MS);
        assert_eq!(retry_delay_ms(10_000, u32::MAX), MAX_RETRY_DELAY_MS);
    }

    #[test]
    fn signatures_are_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let s = new_secret();
        assert!(s.starts_with("whsec_") && s.len() == 6 + 64);
    }
}
