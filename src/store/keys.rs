//! API key records. Only the keyed hash of a key is stored. Records live in `keys`
//! (`tenant \0 uuid` → record, so a prefix scan lists a tenant's keys in creation order) and
//! `key_hashes` (hash → record key). Every live key is mirrored in memory by hash: authentication
//! never touches disk, and revoke/rotate update the mirror in the same call, so an old value
//! fails on the very next request on any connection.
//!
//! Mutations (insert, rotate, revoke) take one store-wide lock around their store writes and the
//! mirror update. The `keys` record is the source of truth (authentication's mirror is rebuilt
//! from it at start; `key_hashes` is bookkeeping nothing reads), so a crash between the writes
//! of one mutation cannot leave a value that authenticates, and no transaction is needed. Without it two rotations of one key could commit in one order and
//! reach the mirror in the other, leaving a value that authenticates but is stored nowhere (so
//! nobody could revoke it). Key mutations are rare; a single lock costs nothing measurable.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::concurrent_map::ConcurrentMap;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode, encode, StoreError};

/// `last_used_at` is written at most this often per key.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: Uuid,
    pub tenant_id: String,
    pub name: String,
    pub scopes: u8,
    /// First 12 chars of the key, for people to recognise it.
    pub prefix: String,
    pub hash: [u8; 32],
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// A live key as authentication sees it.
#[derive(Debug)]
pub struct KeyEntry {
    pub record: KeyRecord,
    last_used: AtomicI64,
}

impl KeyEntry {
    fn new(record: KeyRecord) -> Self {
        let last_used = AtomicI64::new(record.last_used_at.unwrap_or(i64::MIN));
        KeyEntry { record, last_used }
    }

    pub fn last_used_at(&self) -> Option<i64> {
        Some(self.last_used.load(Ordering::Relaxed)).filter(|&v| v != i64::MIN)
    }

    pub fn is_expired(&self, now: i64) -> bool {
        self.record.expires_at.is_some_and(|e| e <= now)
    }
}

fn record_key(tenant: &str, id: Uuid) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + 17);
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn tenant_prefix(tenant: &str) -> Vec<u8> {
    let mut k = tenant.as_bytes().to_vec();
    k.push(0);
    k
}

pub struct KeyStore {
    records: crate::store::kv::Tree,
    by_hash: crate::store::kv::Tree,
    live: ConcurrentMap<[u8; 32], Arc<KeyEntry>>,
    /// Held by every mutation from its first store write until the mirror matches it.
    mutation: Mutex<()>,
}

impl KeyStore {
    pub(super) fn open(db: &crate::store::kv::Db) -> Result<Self, StoreError> {
        let records = db.open_tree("keys")?;
        let by_hash = db.open_tree("key_hashes")?;
        let live = ConcurrentMap::default();
        for item in records.iter() {
            let (_, v) = item?;
            let r: KeyRecord = decode(&v)?;
            live.insert(r.hash, Arc::new(KeyEntry::new(r)));
        }
        Ok(KeyStore {
            records,
            by_hash,
            live,
            mutation: Mutex::new(()),
        })
    }

    fn mutating(&self) -> MutexGuard<'_, ()> {
        // The guarded state is the store's and the mirror's, each updated by calls that cannot be
        // left half-done by a panic in between, so a poisoned lock is taken over.
        self.mutation.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live key with this hash, if any. Memory only.
    pub fn lookup(&self, hash: &[u8; 32]) -> Option<Arc<KeyEntry>> {
        self.live.get(hash).map(|e| Arc::clone(&e))
    }

    /// Stores a new key (not yet flushed).
    pub fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let rk = record_key(&record.tenant_id, record.id);
        let bytes = encode(&record)?;
        let _turn = self.mutating();
        self.records.insert(rk.as_slice(), bytes)?;
        self.by_hash.insert(&record.hash[..], rk.as_slice())?;
        self.live
            .insert(record.hash, Arc::new(KeyEntry::new(record)));
        Ok(())
    }

    /// The tenant's keys in creation order, with the freshest `last_used_at`.
    pub fn list(&self, tenant: &str) -> Result<Vec<KeyRecord>, StoreError> {
        self.records
            .scan_prefix(tenant_prefix(tenant))
            .map(|item| {
                let (_, v) = item?;
                let mut r: KeyRecord = decode(&v)?;
                if let Some(e) = self.live.get(&r.hash) {
                    r.last_used_at = e.last_used_at();
                }
                Ok(r)
            })
            .collect()
    }

    /// Replaces the key's hash and prefix; `None` if the tenant has no such key.
    pub fn rotate(
        &self,
        tenant: &str,
        id: Uuid,
        new_hash: [u8; 32],
        new_prefix: String,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let rk = record_key(tenant, id);
        let _turn = self.mutating();
        let Some(old) = self.records.get(rk.as_slice())? else {
            return Ok(None);
        };
        let old: KeyRecord = decode(&old)?;
        let mut next = old.clone();
        next.hash = new_hash;
        next.prefix = new_prefix;
        next.last_used_at = None;
        // The record is the source of truth (the mirror is rebuilt from it at start): once it
        // holds the new hash, the old value is dead even if the process stops before the
        // lines below.
        self.records.insert(rk.as_slice(), encode(&next)?)?;
        self.by_hash.remove(&old.hash[..])?;
        self.by_hash.insert(&new_hash[..], rk.as_slice())?;
        self.live.remove(&old.hash);
        self.live
            .insert(next.hash, Arc::new(KeyEntry::new(next.clone())));
        Ok(Some(next))
    }

    /// Deletes the key; `false` if the tenant has no such key.
    pub fn revoke(&self, tenant: &str, id: Uuid) -> Result<bool, StoreError> {
        let rk = record_key(tenant, id);
        let _turn = self.mutating();
        let Some(old) = self.records.take(rk.as_slice())? else {
            return Ok(false);
        };
        let old: KeyRecord = decode(&old)?;
        self.by_hash.remove(&old.hash[..])?;
        self.live.remove(&old.hash);
        Ok(true)
    }

    /// Rebuilds `key_hashes` from the key records (a restored store).
    pub(super) fn rebuild_hash_index(&self) -> Result<(), StoreError> {
        let _turn = self.mutating();
        self.by_hash.clear()?;
        for item in self.records.iter() {
            let (k, v) = item?;
            let r: KeyRecord = decode(&v)?;
            self.by_hash.insert(&r.hash[..], k)?;
        }
        Ok(())
    }

    pub(super) fn delete_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        for r in self.list(tenant)? {
            self.revoke(tenant, r.id)?;
        }
        Ok(())
    }

    /// Records use of a key, writing through at most once a minute per key. Not flushed: losing
    /// a minute of `last_used_at` in a crash is acceptable, a disk sync per request is not.
    pub fn touch(&self, entry: &KeyEntry, now: i64) {
        let prev = entry.last_used.load(Ordering::Relaxed);
        if prev != i64::MIN && now - prev < LAST_USED_GRANULARITY_SECS {
            return;
        }
        if entry
            .last_used
            .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let rk = record_key(&entry.record.tenant_id, entry.record.id);
        let hash = entry.record.hash;
        let result = self.records.fetch_and_update(rk, |old| {
            let mut r: KeyRecord = decode(old?).ok()?;
            // A rotation between lookup and now leaves a newer hash: do not resurrect the old one.
            if r.hash != hash {
                return encode(&r).ok();
            }
            r.last_used_at = Some(now);
            encode(&r).ok()
        });
        if let Err(e) = result {
            log::warn!("could not record key use: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tenant: &str, hash: u8) -> KeyRecord {
        KeyRecord {
            id: Uuid::now_v7(),
            tenant_id: tenant.into(),
            name: "k".into(),
            scopes: 1,
            prefix: "sk_live_abcd".into(),
            hash: [hash; 32],
            created_at: 10,
            expires_at: None,
            last_used_at: None,
        }
    }

    fn open() -> (tempfile::TempDir, crate::store::kv::Db, KeyStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        let ks = KeyStore::open(&db).unwrap();
        (dir, db, ks)
    }

    #[test]
    fn insert_lookup_list_is_per_tenant_and_ordered() {
        let (_d, db, ks) = open();
        let a1 = record("a", 1);
        let a2 = record("a", 2);
        ks.insert(a1.clone()).unwrap();
        ks.insert(a2.clone()).unwrap();
        ks.insert(record("ab", 3)).unwrap();
        assert!(ks.lookup(&[1; 32]).is_some());
        let ids: Vec<_> = ks.list("a").unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![a1.id, a2.id], "'ab' must not leak into 'a'");
        let reopened = KeyStore::open(&db).unwrap();
        assert!(reopened.lookup(&[3; 32]).is_some());
    }

    #[test]
    fn rotate_and_revoke_take_effect_immediately() {
        let (_d, db, ks) = open();
        let r = record("a", 1);
        ks.insert(r.clone()).unwrap();
        assert!(ks.rotate("b", r.id, [9; 32], "x".into()).unwrap().is_none());
        let next = ks
            .rotate("a", r.id, [2; 32], "sk_live_ffff".into())
            .unwrap()
            .unwrap();
        assert_eq!((next.id, next.name.as_str()), (r.id, "k"));
        assert!(ks.lookup(&[1; 32]).is_none());
        assert!(ks.lookup(&[2; 32]).is_some());
        assert!(!ks.revoke("b", r.id).unwrap());
        assert!(ks.revoke("a", r.id).unwrap());
        assert!(ks.lookup(&[2; 32]).is_none());
        let reopened = KeyStore::open(&db).unwrap();
        assert!(reopened.lookup(&[1; 32]).is_none() && reopened.lookup(&[2; 32]).is_none());
    }

    /// Twelve rotations and a revoke of one key at once, many times: afterwards the key is gone
    /// and none of the values it ever had authenticates.
    #[test]
    fn racing_rotations_and_revoke_leave_no_ghost_key() {
        let (_d, _db, ks) = open();
        let ks = Arc::new(ks);
        let hash = |trial: u16, i: u8| {
            let mut h = [i; 32];
            h[..2].copy_from_slice(&trial.to_be_bytes());
            h
        };
        for trial in 0..300u16 {
            let mut r = record("a", 0);
            r.hash = hash(trial, 0);
            ks.insert(r.clone()).unwrap();
            let start = Arc::new(std::sync::Barrier::new(13));
            let threads: Vec<_> = (1..=13u8)
                .map(|i| {
                    let (ks, start, id) = (Arc::clone(&ks), Arc::clone(&start), r.id);
                    std::thread::spawn(move || {
                        start.wait();
                        if i == 13 {
                            ks.revoke("a", id).unwrap();
                        } else {
                            ks.rotate("a", id, hash(trial, i), "p".into()).unwrap();
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert!(ks.list("a").unwrap().is_empty(), "trial {trial}");
            for i in 0..=13 {
                assert!(
                    ks.lookup(&hash(trial, i)).is_none(),
                    "trial {trial}: value {i} still authenticates after revoke"
                );
            }
        }
    }

    #[test]
    fn touch_writes_at_most_once_a_minute() {
        let (_d, db, ks) = open();
        ks.insert(record("a", 1)).unwrap();
        let e = ks.lookup(&[1; 32]).unwrap();
        ks.touch(&e, 1000);
        ks.touch(&e, 1030);
        assert_eq!(e.last_used_at(), Some(1000));
        ks.touch(&e, 1061);
        assert_eq!(ks.list("a").unwrap()[0].last_used_at, Some(1061));
        let reopened = KeyStore::open(&db).unwrap();
        assert_eq!(reopened.list("a").unwrap()[0].last_used_at, Some(1061));
    }
}
