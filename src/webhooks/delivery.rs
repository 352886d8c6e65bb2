//! The delivery worker: one thread running its own actix runtime, so deliveries share nothing
//! with request handling. It reads due outbox rows, posts each to its subscriber (awc), and
//! removes the row on a 2xx or moves it to its next attempt with exponential back-off.
//! Delivery is at least once: a crash after a post but before the row's removal reaches disk
//! sends it again after the restart (receivers de-duplicate by the event `id`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use futures_util::StreamExt;
use uuid::Uuid;

use super::{retry_delay_ms, RETRY_WINDOW_MS};
use crate::store::webhooks::OutboxKey;
use crate::store::{DeliveryLog, OutboxRow, Store, StoreError, Subscription};
use crate::timestamp;

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// First retry delay; doubles per failed attempt (see [`retry_delay_ms`]).
    pub retry_base_ms: i64,
    /// Whole-request timeout of one delivery.
    pub timeout: Duration,
    pub allow_private: bool,
}

/// Rows read per round.
const ROUND: usize = 500;
/// Subscriptions delivered to at once.
const CONCURRENT_SUBSCRIBERS: usize = 8;
/// Delivery log entries kept per subscription.
const LOG_KEEP: usize = 1_000;
/// How often an idle worker looks for due rows (also bounds how late a new event starts).
const IDLE_POLL: Duration = Duration::from_millis(200);
/// At most this much of a subscriber's response body is read (and then dropped).
const RESPONSE_LIMIT: usize = 64 * 1024;

/// The HTTP client deliveries use: no redirects (a subscriber's URL is where events go), one
/// timeout for the whole exchange.
pub fn client(timeout: Duration) -> awc::Client {
    // rustls needs one process-wide crypto provider; a second install is a harmless no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    awc::Client::builder()
        .timeout(timeout)
        .disable_redirects()
        .connector(awc::Connector::new().timeout(timeout.min(Duration::from_secs(5))))
        .add_default_header((
            "User-Agent",
            concat!("qanatix-webhooks/", env!("CARGO_PKG_VERSION")),
        ))
        .finish()
}

/// What became of one post.
pub struct Attempt {
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

impl Attempt {
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// Posts an event body to the subscription, signed. A non-2xx answer is a failure.
pub async fn post(
    client: &awc::Client,
    sub: &Subscription,
    event_id: Uuid,
    event: &str,
    body: &[u8],
    allow_private: bool,
) -> Attempt {
    // The configuration may have changed since the subscription was made.
    if let Err(e) = super::check_url(&sub.url, allow_private) {
        return Attempt {
            status_code: None,
            error: Some(e),
        };
    }
    let sent = client
        .post(&sub.url)
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("X-Qanatix-Signature", super::sign(&sub.secret, body)))
        .insert_header(("X-Qanatix-Event", event))
        .insert_header(("X-Qanatix-Delivery", event_id.to_string()))
        .send_body(Bytes::copy_from_slice(body))
        .await;
    match sent {
        Ok(mut res) => {
            let status = res.status();
            // Read (a bounded part of) the answer so the connection can be reused.
            let _ = res.body().limit(RESPONSE_LIMIT).await;
            Attempt {
                status_code: Some(status.as_u16()),
                error: (!status.is_success())
                    .then(|| format!("subscriber answered {}", status.as_u16())),
            }
        }
        Err(e) => Attempt {
            status_code: None,
            error: Some(format!("request failed: {e}")),
        },
    }
}

pub struct Worker(crate::runtime_thread::RuntimeThread);

impl Worker {
    pub fn spawn(store: Arc<Store>, config: DeliveryConfig) -> Worker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        Worker(crate::runtime_thread::RuntimeThread::spawn(
            "webhook-delivery",
            stop,
            move || run(store, config, flag),
        ))
    }

    /// Asks the worker to stop and waits briefly. A delivery still in flight is abandoned: its
    /// row stays in the outbox and is sent again after the restart.
    pub fn stop(self) {
        if !self.0.stop(Duration::from_secs(2)) {
            log::warn!("webhook delivery still busy at shutdown; undelivered events stay queued");
        }
    }
}

async fn run(store: Arc<Store>, config: DeliveryConfig, stop: Arc<AtomicBool>) {
    let client = client(config.timeout);
    let pending = store.webhooks.outbox_len();
    if pending > 0 {
        log::info!("webhook outbox: {pending} deliveries pending");
    }
    while !stop.load(Ordering::Relaxed) {
        match round(&store, &client, &config).await {
            Ok(0) => actix_web::rt::time::sleep(IDLE_POLL).await,
            Ok(_) => {}
            Err(e) => {
                log::error!("webhook delivery: {e}");
                actix_web::rt::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// An outbox row read for delivery, with its key.
type DueRow = (OutboxKey, OutboxRow);

/// Delivers what is due; returns how many rows it handled.
async fn round(
    store: &Store,
    client: &awc::Client,
    config: &DeliveryConfig,
) -> Result<usize, StoreError> {
    let due = store.webhooks.due(timestamp::now_ms(), ROUND)?;
    if due.is_empty() {
        return Ok(0);
    }
    let n = due.len();
    // One group per subscription, in due order: a subscription's events go out in order, and
    // one that is down costs one attempt per round, not one per event.
    let mut groups: Vec<((String, Uuid), Vec<DueRow>)> = Vec::new();
    for (key, row) in due {
        let id = (row.tenant_id.clone(), row.subscription_id);
        match groups.iter_mut().find(|(g, _)| *g == id) {
            Some((_, rows)) => rows.push((key, row)),
            None => groups.push((id, vec![(key, row)])),
        }
    }
    let results: Vec<Result<(), StoreError>> = futures_util::stream::iter(groups)
        .map(|((tenant, sub), rows)| deliver_group(store, client, config, tenant, sub, rows))
        .buffer_unordered(CONCURRENT_SUBSCRIBERS)
        .collect()
        .await;
    store.flush_blocking()?;
    results.into_iter().collect::<Result<(), _>>()?;
    Ok(n)
}

async fn deliver_group(
    store: &Store,
    client: &awc::Client,
    config: &DeliveryConfig,
    tenant: String,
    sub_id: Uuid,
    rows: Vec<DueRow>,
) -> Result<(), StoreError> {
    let sub = match store.webhooks.subscription(&tenant, sub_id)? {
        Some(s) if s.active => s,
        // Deleted or deactivated since: its events have nowhere to go.
        _ => {
            for (key, _) in &rows {
                store.webhooks.remove_row(key)?;
            }
            return Ok(());
        }
    };
    let mut postponed = None;
    for (at, (key, row)) in rows.iter().enumerate() {
        let mut row = row.clone();
        let attempt = post(
            client,
            &sub,
            row.event_id,
            &row.event,
            &row.body,
            config.allow_private,
        )
        .await;
        let now = timestamp::now_ms();
        row.attempts += 1;
        let mut entry = DeliveryLog {
            event_id: row.event_id,
            event: row.event.clone(),
            status_code: attempt.status_code,
            attempts: row.attempts,
            delivered_at: attempt.delivered().then_some(now),
            error: attempt.error.clone(),
            last_attempt_at: now,
        };
        if attempt.delivered() {
            store.webhooks.remove_row(key)?;
            store.webhooks.put_log(&sub, &entry)?;
            if sub.failing_since.is_some() {
                store
                    .webhooks
                    .update_subscription(&tenant, sub_id, |s| s.failing_since = None)?;
            }
            continue;
        }
        let next = now + retry_delay_ms(config.retry_base_ms, row.attempts);
        if next - row.created_at > RETRY_WINDOW_MS {
            store.webhooks.remove_row(key)?;
            entry.error = Some(format!(
                "gave up after {} attempts over 24 h; last error: {}",
                row.attempts,
                attempt.error.unwrap_or_default()
            ));
        } else {
            store.webhooks.reschedule(key, &row, next)?;
        }
        store.webhooks.put_log(&sub, &entry)?;
        note_failure(store, &tenant, sub_id, now)?;
        postponed = Some((at + 1, next));
        break;
    }
    // The subscriber is failing: the rest of its due events wait for the same retry time
    // rather than being tried one by one now.
    if let Some((from, next)) = postponed {
        for (key, row) in &rows[from..] {
            store.webhooks.reschedule(key, row, next)?;
        }
    }
    store.webhooks.trim_log(&tenant, sub_id, LOG_KEEP)?;
    Ok(())
}

/// Records that the subscription is failing, and deactivates it once it has failed for 24 h
/// without a success.
fn note_failure(store: &Store, tenant: &str, sub_id: Uuid, now: i64) -> Result<(), StoreError> {
    let updated = store.webhooks.update_subscription(tenant, sub_id, |s| {
        let since = *s.failing_since.get_or_insert(now);
        if now - since >= RETRY_WINDOW_MS {
            s.active = false;
        }
    })?;
    if let Some(s) = updated.filter(|s| !s.active) {
        log::warn!(
            "webhook {} of tenant {} deactivated: deliveries failed for 24 h",
            s.id,
            s.tenant_id
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(failing_since: Option<i64>) -> Subscription {
        Subscription {
            id: Uuid::now_v7(),
            tenant_id: "t".into(),
            url: "http://127.0.0.1:9/".into(),
            events: vec!["ping".into()],
            secret: "whsec_x".into(),
            active: true,
            description: None,
            created_at: 0,
            updated_at: 0,
            failing_since,
        }
    }

    #[test]
    fn a_subscription_failing_for_24_hours_is_deactivated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = 100 * RETRY_WINDOW_MS;
        let fresh = subscription(None);
        let almost = subscription(Some(now - RETRY_WINDOW_MS + 1));
        let long = subscription(Some(now - RETRY_WINDOW_MS));
        for s in [&fresh, &almost, &long] {
            store.webhooks.put_subscription(s).unwrap();
            note_failure(&store, "t", s.id, now).unwrap();
        }
        let get = |s: &Subscription| store.webhooks.subscription("t", s.id).unwrap().unwrap();
        assert_eq!(get(&fresh).failing_since, Some(now));
        assert!(get(&fresh).active && get(&almost).active);
        assert!(!get(&long).active);
    }
}
