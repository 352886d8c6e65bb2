//! Outgoing webhooks: subscriptions, the outbox of events still to deliver, and the delivery log.
//!
//! - `webhook_subscriptions`: tenant `\0` uuid → [`Subscription`] (a prefix scan lists a
//!   tenant's subscriptions in creation order).
//! - `webhook_outbox`: due time (unix ms, u64 BE) ++ sequence (u64 BE) → [`OutboxRow`], one row
//!   per event and subscription. Keyed by due time so the delivery worker reads only what is due
//!   with a range scan; a retry moves the row to its new due time. Rows are written in the same
//!   step as the change that caused them and flushed with it, so an acknowledged write's events
//!   survive a crash.
//! - `webhook_deliveries`: tenant `\0` subscription uuid, event uuid (v7, so key order is time
//!   order) → [`DeliveryLog`], updated on each attempt.
//!
//! The signing secret is kept as it was issued: it must be recoverable to sign every delivery
//! (unlike API keys, which are only compared). It never appears in a listing or a log line.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode, encode, StoreError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: Uuid,
    pub tenant_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub active: bool,
    pub description: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    pub updated_at: i64,
    /// When deliveries to it started failing without a success since (unix ms).
    pub failing_since: Option<i64>,
}

impl Subscription {
    pub fn wants(&self, event: &str) -> bool {
        self.active && self.events.iter().any(|e| e == event)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRow {
    pub tenant_id: String,
    pub subscription_id: Uuid,
    pub event_id: Uuid,
    pub event: String,
    /// The exact body to send (and sign): fixed when the event happened, so every retry sends
    /// the same bytes.
    pub body: Vec<u8>,
    pub attempts: u32,
    /// Unix ms.
    pub created_at: i64,
}

/// One event's delivery to one subscription, as the delivery log shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryLog {
    pub event_id: Uuid,
    pub event: String,
    pub status_code: Option<u16>,
    pub attempts: u32,
    pub delivered_at: Option<i64>,
    pub error: Option<String>,
    /// Unix ms of the last attempt.
    pub last_attempt_at: i64,
}

fn tenant_prefix(tenant: &str) -> Vec<u8> {
    let mut k = tenant.as_bytes().to_vec();
    k.push(0);
    k
}

fn sub_key(tenant: &str, id: Uuid) -> Vec<u8> {
    let mut k = tenant_prefix(tenant);
    k.extend_from_slice(id.as_bytes());
    k
}

fn log_key(tenant: &str, sub: Uuid, event: Uuid) -> Vec<u8> {
    let mut k = sub_key(tenant, sub);
    k.extend_from_slice(event.as_bytes());
    k
}

/// An outbox row's key: when it is due, then a sequence number that keeps keys unique.
pub type OutboxKey = [u8; 16];

fn outbox_key(due_ms: i64, seq: u64) -> OutboxKey {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&(due_ms.max(0) as u64).to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub struct WebhookStore {
    db: crate::store::kv::Db,
    subscriptions: crate::store::kv::Tree,
    outbox: crate::store::kv::Tree,
    /// The outbox's keys: delivered rows are removed from its front (see [`super::mirror`]).
    due_rows: super::mirror::Mirrored<()>,
    deliveries: crate::store::kv::Tree,
}

impl WebhookStore {
    pub(super) fn open(db: &crate::store::kv::Db) -> Result<Self, StoreError> {
        let outbox = db.open_tree("webhook_outbox")?;
        Ok(WebhookStore {
            db: db.clone(),
            subscriptions: db.open_tree("webhook_subscriptions")?,
            due_rows: super::mirror::Mirrored::load(&outbox, &[], |_| ())?,
            outbox,
            deliveries: db.open_tree("webhook_deliveries")?,
        })
    }

    pub fn put_subscription(&self, s: &Subscription) -> Result<(), StoreError> {
        self.subscriptions
            .insert(sub_key(&s.tenant_id, s.id), encode(s)?)?;
        Ok(())
    }

    pub fn subscription(&self, tenant: &str, id: Uuid) -> Result<Option<Subscription>, StoreError> {
        self.subscriptions
            .get(sub_key(tenant, id))?
            .map(|b| decode(&b))
            .transpose()
    }

    /// Changes a stored subscription atomically (the API and the delivery worker both change
    /// subscriptions; neither may undo the other's change). `None` if it does not exist.
    pub fn update_subscription(
        &self,
        tenant: &str,
        id: Uuid,
        f: impl Fn(&mut Subscription),
    ) -> Result<Option<Subscription>, StoreError> {
        let key = sub_key(tenant, id);
        loop {
            let Some(old) = self.subscriptions.get(&key)? else {
                return Ok(None);
            };
            let mut s: Subscription = decode(&old)?;
            f(&mut s);
            let swapped =
                self.subscriptions
                    .compare_and_swap(&key, Some(old), Some(encode(&s)?))?;
            if swapped.is_ok() {
                return Ok(Some(s));
            }
        }
    }

    pub fn subscriptions(&self, tenant: &str) -> Result<Vec<Subscription>, StoreError> {
        self.subscriptions
            .scan_prefix(tenant_prefix(tenant))
            .map(|item| decode(&item?.1))
            .collect()
    }

    /// Removes the subscription and its delivery log. Its outbox rows are dropped by the
    /// delivery worker when it meets them (the outbox is not indexed by subscription).
    pub fn delete_subscription(&self, tenant: &str, id: Uuid) -> Result<bool, StoreError> {
        let existed = self.subscriptions.take(sub_key(tenant, id))?.is_some();
        let mut batch = crate::store::kv::Batch::default();
        for item in self.deliveries.scan_prefix(sub_key(tenant, id)) {
            batch.remove(item?.0);
        }
        self.deliveries.apply_batch(batch)?;
        Ok(existed)
    }

    /// Gives every outbox row a sequence number from this database's id generator. A restored
    /// store's generator starts again from zero, so rows copied from the old one could collide
    /// with new rows due in the same millisecond.
    pub(super) fn renumber_outbox(&self) -> Result<usize, StoreError> {
        let rows = self.outbox.iter().collect::<Result<Vec<_>, _>>()?;
        for (k, _) in &rows {
            self.due_rows.remove(&self.outbox, k)?;
        }
        for (k, v) in &rows {
            let mut key: OutboxKey = [0; 16];
            let due = k.get(..8).unwrap_or(&[0; 8]);
            key[..8].copy_from_slice(due);
            key[8..].copy_from_slice(&self.db.generate_id()?.to_be_bytes());
            self.due_rows.insert(&self.outbox, key.to_vec(), v)?;
        }
        Ok(rows.len())
    }

    /// Queues `row`, due now.
    pub fn enqueue(&self, row: &OutboxRow) -> Result<(), StoreError> {
        let seq = self.db.generate_id()?;
        let key = outbox_key(row.created_at, seq);
        self.due_rows
            .insert(&self.outbox, key.to_vec(), &encode(row)?)?;
        Ok(())
    }

    /// Up to `max` rows due at `now_ms`, oldest due first.
    pub fn due(&self, now_ms: i64, max: usize) -> Result<Vec<(OutboxKey, OutboxRow)>, StoreError> {
        let end = outbox_key(now_ms, u64::MAX);
        let mut out = Vec::new();
        for (k, ()) in self.due_rows.up_to(&end, max) {
            let Some(v) = self.outbox.get(&k)? else {
                // Removed meanwhile (delivered, or its tenant deleted).
                continue;
            };
            let row = OutboxKey::try_from(k.as_slice())
                .map_err(|_| format!("key of {} bytes", k.len()))
                .and_then(|key| decode(&v).map(|row| (key, row)).map_err(|e| e.to_string()));
            match row {
                Ok(row) => out.push(row),
                Err(e) => {
                    // A row that cannot be read would block nothing but would be retried
                    // forever: drop it, loudly.
                    log::error!("dropping unreadable webhook outbox row: {e}");
                    self.due_rows.remove(&self.outbox, &k)?;
                }
            }
        }
        Ok(out)
    }

    /// When the next row is due (unix ms), if any.
    pub fn next_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.due_rows.first_key().and_then(|k| {
            let due: [u8; 8] = k.get(..8)?.try_into().ok()?;
            Some(u64::from_be_bytes(due) as i64)
        }))
    }

    pub fn outbox_len(&self) -> usize {
        self.due_rows.len()
    }

    pub fn remove_row(&self, key: &OutboxKey) -> Result<(), StoreError> {
        self.due_rows.remove(&self.outbox, key)
    }

    /// Moves a row to a new due time with its new state.
    pub fn reschedule(
        &self,
        key: &OutboxKey,
        row: &OutboxRow,
        due_ms: i64,
    ) -> Result<(), StoreError> {
        let seq = u64::from_be_bytes(key[8..].try_into().unwrap_or_default());
        let new = outbox_key(due_ms, seq);
        self.due_rows
            .insert(&self.outbox, new.to_vec(), &encode(row)?)?;
        if new != *key {
            self.due_rows.remove(&self.outbox, key)?;
        }
        Ok(())
    }

    pub fn put_log(&self, sub: &Subscription, entry: &DeliveryLog) -> Result<(), StoreError> {
        self.deliveries.insert(
            log_key(&sub.tenant_id, sub.id, entry.event_id),
            encode(entry)?,
        )?;
        Ok(())
    }

    pub fn log_entry(
        &self,
        tenant: &str,
        sub: Uuid,
        event: Uuid,
    ) -> Result<Option<DeliveryLog>, StoreError> {
        self.deliveries
            .get(log_key(tenant, sub, event))?
            .map(|b| decode(&b))
            .transpose()
    }

    /// The subscription's delivery log, newest first.
    pub fn log(
        &self,
        tenant: &str,
        sub: Uuid,
        limit: usize,
    ) -> Result<Vec<DeliveryLog>, StoreError> {
        self.deliveries
            .scan_prefix(sub_key(tenant, sub))
            .rev()
            .take(limit)
            .map(|item| decode(&item?.1))
            .collect()
    }

    /// Keeps the newest `keep` log entries of the subscription.
    pub fn trim_log(&self, tenant: &str, sub: Uuid, keep: usize) -> Result<(), StoreError> {
        let mut batch = crate::store::kv::Batch::default();
        for item in self
            .deliveries
            .scan_prefix(sub_key(tenant, sub))
            .rev()
            .skip(keep)
        {
            batch.remove(item?.0);
        }
        self.deliveries.apply_batch(batch)?;
        Ok(())
    }

    pub(super) fn delete_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        let prefix = tenant_prefix(tenant);
        super::remove_prefix(&[&self.subscriptions, &self.deliveries], &prefix)?;
        // The outbox is ordered by due time, not tenant: a full pass, on a rare operation.
        for item in self.outbox.iter() {
            let (k, v) = item?;
            let theirs = decode::<OutboxRow>(&v).is_ok_and(|r| r.tenant_id == tenant);
            if theirs {
                self.due_rows.remove(&self.outbox, &k)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, WebhookStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        (dir, WebhookStore::open(&db).unwrap())
    }

    fn row(tenant: &str, at: i64) -> OutboxRow {
        OutboxRow {
            tenant_id: tenant.into(),
            subscription_id: Uuid::now_v7(),
            event_id: Uuid::now_v7(),
            event: "ping".into(),
            body: b"{}".to_vec(),
            attempts: 0,
            created_at: at,
        }
    }

    #[test]
    fn due_rows_come_in_due_order_and_move_when_rescheduled() {
        let (_d, s) = store();
        s.enqueue(&row("t", 2_000)).unwrap();
        s.enqueue(&row("t", 1_000)).unwrap();
        s.enqueue(&row("u", 5_000)).unwrap();
        let due = s.due(3_000, 10).unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(due[0].1.created_at, 1_000);
        let (k, mut r) = due[0].clone();
        r.attempts = 1;
        s.reschedule(&k, &r, 4_000).unwrap();
        assert_eq!(s.due(3_000, 10).unwrap().len(), 1);
        assert_eq!(s.next_due().unwrap(), Some(2_000));
        s.delete_tenant("t").unwrap();
        assert_eq!(s.outbox_len(), 1);
        assert_eq!(s.next_due().unwrap(), Some(5_000));
    }
}
