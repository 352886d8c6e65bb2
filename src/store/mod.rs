//! Durable storage ([`kv`], an LSM tree): the source of truth. Every write method returns only after the data
//! is flushed to disk, so a caller that answers 2xx afterwards keeps the durability promise.

pub mod collections;
pub mod connectors;
mod dictionaries;
pub mod entities;
pub mod entity_counts;
pub mod ingestions;
pub mod keys;
pub mod kv;
mod mirror;
pub mod repair;
pub mod schemas;
mod sled_import;
pub mod tenants;
pub mod usage;
pub mod vectors;
pub mod webhooks;

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use collections::{CollectionMeta, CollectionStore};
pub use connectors::{Connector, ConnectorStore, PullRecord};
pub use entities::{EmbeddingStatus, Entity, EntityStatus, EntityStore, SourceKey, Visibility};
pub use ingestions::{Ingestion, IngestionStatus, IngestionStore, RecordError};
pub use keys::{KeyEntry, KeyRecord, KeyStore};
pub use schemas::{SchemaRecord, SchemaStore};
pub use tenants::{Tenant, TenantId, TenantStatus, TenantStore};
pub use usage::{UsageCounts, UsageStore};
pub use webhooks::{DeliveryLog, OutboxRow, Subscription, WebhookStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Storage(#[from] kv::Error),
    #[error("stored record cannot be decoded: {0}")]
    Codec(String),
    #[error(
        "the database {0} is in use by another process (is another qanatix server running on this data dir?)"
    )]
    InUse(std::path::PathBuf),
    #[error("copying the data of an earlier version: {0}")]
    Import(String),
}

/// One leading byte versions every stored record, so formats can evolve without guessing.
const FORMAT_V1: u8 = 1;

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![FORMAT_V1];
    bincode::serde::encode_into_std_write(value, &mut out, bincode::config::standard())
        .map_err(|e| StoreError::Codec(e.to_string()))?;
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_V1, rest)) => {
            bincode::serde::decode_from_slice(rest, bincode::config::standard())
                .map(|(v, _)| v)
                .map_err(|e| StoreError::Codec(e.to_string()))
        }
        _ => Err(StoreError::Codec("unknown record format".into())),
    }
}

/// Version byte of records stored as JSON (entities, schemas, collections, ingestions and their
/// dead letters), in the same place as [`FORMAT_V1`] for bincode ones.
const FORMAT_JSON_V1: u8 = 1;

/// Encodes a record as versioned JSON.
pub(crate) fn to_versioned_json<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![FORMAT_JSON_V1];
    serde_json::to_writer(&mut out, value).map_err(|e| StoreError::Codec(e.to_string()))?;
    Ok(out)
}

/// Decodes a record written by [`to_versioned_json`]. Schemas, collections and ingestions were
/// stored as bare JSON objects before they had a version byte; those start with `{` and still
/// decode, so data written by those builds keeps working without a migration pass.
pub(crate) fn from_versioned_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.first() {
        Some(&FORMAT_JSON_V1) => from_json(&bytes[1..]),
        Some(b'{') => from_json(bytes),
        Some(v) => Err(StoreError::Codec(format!("unknown record format {v}"))),
        None => Err(StoreError::Codec("empty record".into())),
    }
}

/// Decodes a stored JSON record. Input is capped well below serde_json's default recursion
/// limit (128 levels), but an older version stored records nested deeper, and one such record
/// must stay readable rather than break every scan that meets it. So a record that hits the
/// limit is decoded again without it, on a stack that grows on the heap as needed
/// (serde_stacker). Depth past [`MAX_STORED_NESTING`] was never written by any version and is
/// refused as damage: values that deep would overflow the stack when dropped or serialized.
pub(crate) fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    let codec = |e: serde_json::Error| StoreError::Codec(e.to_string());
    match serde_json::from_slice(bytes) {
        Err(e) if crate::entity_input::is_too_deep(&e) => {
            if nesting_exceeds(bytes, MAX_STORED_NESTING) {
                return Err(StoreError::Codec(format!(
                    "nested more than {MAX_STORED_NESTING} levels deep"
                )));
            }
            let mut de = serde_json::Deserializer::from_slice(bytes);
            de.disable_recursion_limit();
            let value = T::deserialize(serde_stacker::Deserializer::new(&mut de)).map_err(codec)?;
            de.end().map_err(codec)?;
            Ok(value)
        }
        other => other.map_err(codec),
    }
}

/// Deeper than any stored record can legitimately be (input parsing stops at 128 levels).
const MAX_STORED_NESTING: usize = 1024;

/// Whether JSON text opens more than `max` arrays and objects inside each other. Only brackets
/// outside strings count; the text is otherwise not validated (the decoder does that).
fn nesting_exceeds(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Removes every key starting with `prefix` from each tree (a tenant's records, on deletion).
pub(crate) fn remove_prefix(trees: &[&kv::Tree], prefix: &[u8]) -> Result<(), StoreError> {
    for tree in trees {
        let mut batch = kv::Batch::default();
        for item in tree.scan_prefix(prefix) {
            batch.remove(item?.0);
        }
        tree.apply_batch(batch)?;
    }
    Ok(())
}

pub struct Store {
    db: kv::Db,
    pub tenants: TenantStore,
    pub keys: KeyStore,
    pub entities: EntityStore,
    pub ingestions: IngestionStore,
    pub schemas: SchemaStore,
    pub usage: UsageStore,
    pub collections: CollectionStore,
    pub webhooks: WebhookStore,
    pub connectors: ConnectorStore,
    pub vectors: vectors::VectorStore,
}

/// Where the store lives inside a data dir.
pub fn db_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("store")
}

/// Whether a data dir holds a store, of this version or of one that stored on sled.
pub fn holds_store(data_dir: &Path) -> bool {
    db_path(data_dir).is_dir() || sled_import::holds_sled(data_dir)
}

/// Opens the database of a data dir as the server does, without opening the stores on top
/// (snapshots copy and restore it tree by tree). A data dir written by a version that stored
/// on sled is copied over first ([`sled_import`]).
pub fn open_db(data_dir: &Path) -> Result<kv::Db, StoreError> {
    sled_import::import_if_needed(data_dir)?;
    open_kv(&db_path(data_dir))
}

/// Opens a database directory, waiting a moment for a lock this process is still letting go
/// of: a restore or a test that reopens the directory right after closing it gets it once the
/// engine's background threads have stopped. Another process holding the directory still
/// fails, after a wait.
fn open_kv(path: &Path) -> Result<kv::Db, StoreError> {
    let give_up = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match kv::Db::open(path) {
            Err(kv::Error::Locked) => {
                if std::time::Instant::now() >= give_up {
                    return Err(StoreError::InUse(path.to_owned()));
                }
                std::thread::sleep(LOCK_POLL);
            }
            opened => return Ok(opened?),
        }
    }
}

/// How often opening looks again at a held file lock.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// How long opening waits for a database's file lock to be released.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Store {
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let db = open_db(dir)?;
        Ok(Store {
            tenants: TenantStore::open(&db)?,
            keys: KeyStore::open(&db)?,
            entities: EntityStore::open(&db)?,
            ingestions: IngestionStore::open(&db)?,
            schemas: SchemaStore::open(&db)?,
            usage: UsageStore::open(&db)?,
            collections: CollectionStore::open(&db)?,
            webhooks: WebhookStore::open(&db)?,
            connectors: ConnectorStore::open(&db)?,
            vectors: vectors::VectorStore::open(&db)?,
            db,
        })
    }

    /// The database under the stores, for taking a snapshot of every tree while serving.
    pub fn db(&self) -> &kv::Db {
        &self.db
    }

    /// Writes everything buffered to disk.
    pub async fn flush(&self) -> Result<(), StoreError> {
        // An fsync blocks its thread: it runs on the runtime's blocking pool.
        let db = self.db.clone();
        actix_web::rt::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Codec(format!("flush did not complete: {e}")))??;
        Ok(())
    }

    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Queues every stored entity for indexing (the search index was lost or is new).
    pub fn queue_all_entities(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        let mut changes = self.entities.changes();
        for e in self.entities.scan_all() {
            let e = e?;
            changes.enqueue(&e.tenant_id, e.id)?;
            n += 1;
            if n % 10_000 == 0 {
                self.entities
                    .apply(std::mem::replace(&mut changes, self.entities.changes()))?;
            }
        }
        self.entities.apply(changes)?;
        self.flush_blocking()?;
        Ok(n)
    }

    /// Removes every record of the tenant held in this store (its search documents are the
    /// index's to drop).
    pub async fn delete_tenant(&self, tenant: &str) -> Result<bool, StoreError> {
        let existed = self.remove_tenant_records(tenant)?;
        self.flush().await?;
        Ok(existed)
    }

    /// [`Self::delete_tenant`] without the flush.
    fn remove_tenant_records(&self, tenant: &str) -> Result<bool, StoreError> {
        self.keys.delete_tenant(tenant)?;
        self.entities.delete_tenant(tenant)?;
        self.ingestions.delete_tenant(tenant)?;
        self.schemas.delete_tenant(tenant)?;
        self.usage.delete_tenant(tenant)?;
        self.collections.delete_tenant(tenant)?;
        self.webhooks.delete_tenant(tenant)?;
        self.connectors.delete_tenant(tenant)?;
        self.vectors.delete_tenant(tenant)?;
        self.tenants.delete(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_waits_for_a_released_lock_and_names_a_held_one() {
        let dir = tempfile::tempdir().unwrap();
        let held = open_db(dir.path()).unwrap();
        let started = std::time::Instant::now();
        let e = open_db(dir.path()).unwrap_err();
        assert!(started.elapsed() >= LOCK_WAIT, "{:?}", started.elapsed());
        assert!(matches!(e, StoreError::InUse(_)), "{e}");
        assert!(e.to_string().contains("in use by another process"), "{e}");

        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(held);
        });
        let db = open_db(dir.path()).unwrap();
        db.open_tree("t").unwrap().insert("k", "v").unwrap();
        release.join().unwrap();
    }

    #[test]
    fn codec_round_trip_and_version_check() {
        let bytes = encode(&("a".to_string(), 7u32)).unwrap();
        assert_eq!(bytes[0], FORMAT_V1);
        let back: (String, u32) = decode(&bytes).unwrap();
        assert_eq!(back, ("a".to_string(), 7));
        assert!(decode::<(String, u32)>(&[9, 1, 2]).is_err());
        assert!(decode::<(String, u32)>(&[]).is_err());
    }

    #[test]
    fn versioned_json_reads_both_forms_and_refuses_others() {
        let v = serde_json::json!({"a": [1, 2]});
        let bytes = to_versioned_json(&v).unwrap();
        assert_eq!(bytes[0], FORMAT_JSON_V1);
        assert_eq!(from_versioned_json::<serde_json::Value>(&bytes).unwrap(), v);
        let legacy = serde_json::to_vec(&v).unwrap();
        assert_eq!(
            from_versioned_json::<serde_json::Value>(&legacy).unwrap(),
            v
        );
        let e = from_versioned_json::<serde_json::Value>(b"\x07{}").unwrap_err();
        assert!(e.to_string().contains("unknown record format 7"), "{e}");
        assert!(from_versioned_json::<serde_json::Value>(b"").is_err());
    }

    #[test]
    fn json_records_past_the_parser_limit_still_decode() {
        let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        let text = format!("{{\"a\": \"[[[\\\"\", \"b\": {}}}", nested(300));
        let v: serde_json::Value = from_json(text.as_bytes()).unwrap();
        assert_eq!(v["a"], "[[[\"");
        assert!(v["b"].is_array());
        assert!(from_json::<serde_json::Value>(format!("{} x", nested(300)).as_bytes()).is_err());
        let e = from_json::<serde_json::Value>(nested(100_000).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("1024 levels"), "{e}");
        assert!(from_json::<serde_json::Value>(b"{\"id\": garbage").is_err());
        assert!(!nesting_exceeds(b"[\"[[[[\"]", 1));
        assert!(nesting_exceeds(b"[{\"a\\\"\": []}]", 2));
    }
}
