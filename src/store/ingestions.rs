//! Ingestion records and their dead-letter entries (per-record errors with the raw input).
//! `ingestions`: tenant `\0` uuid → record; `ingestion_errors`: tenant `\0` uuid row(u32 BE) → entry.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IngestionStatus {
    Completed,
    Partial,
    Failed,
}

impl IngestionStatus {
    pub fn from_counts(accepted: usize, rejected: usize, duplicates: usize) -> Self {
        match (rejected, accepted + duplicates) {
            (0, _) => IngestionStatus::Completed,
            (_, 0) => IngestionStatus::Failed,
            _ => IngestionStatus::Partial,
        }
    }
}

/// Times are unix milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ingestion {
    pub id: Uuid,
    pub tenant_id: String,
    pub vertical: String,
    pub entity_type: String,
    pub source_type: String,
    pub file_name: Option<String>,
    pub file_size: u64,
    pub content_hash: String,
    pub record_count: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub duplicate_count: usize,
    /// Of `accepted`: new entities, and existing ones changed by an upsert. `None` in
    /// ingestions recorded before these were counted.
    #[serde(default)]
    pub created: Option<usize>,
    #[serde(default)]
    pub updated: Option<usize>,
    pub status: IngestionStatus,
    pub entity_ids: Vec<Uuid>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    /// Why the ingestion failed as a whole (a connector's pull that could not read its
    /// database), beside any per-record errors. `None` in older records.
    #[serde(default)]
    pub error: Option<String>,
}

impl Ingestion {
    /// The entities the ingestion stored or matched, each once (a batch may name one twice).
    pub fn distinct_entity_ids(&self) -> Vec<Uuid> {
        let mut ids = self.entity_ids.clone();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// One rejected record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordError {
    pub row: usize,
    pub field: Option<String>,
    pub error_type: String,
    pub message: String,
    pub raw: Value,
}

impl RecordError {
    pub fn new(row: usize, e: crate::entity_input::FieldError, raw: Value) -> Self {
        RecordError {
            row,
            field: e.field,
            error_type: e.error_type.into(),
            message: e.message,
            raw,
        }
    }
}

fn record_key(tenant: &str, id: Uuid) -> Vec<u8> {
    let mut k = tenant.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn error_key(tenant: &str, id: Uuid, row: usize) -> Vec<u8> {
    let mut k = record_key(tenant, id);
    k.extend_from_slice(&u32::try_from(row).unwrap_or(u32::MAX).to_be_bytes());
    k
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    super::to_versioned_json(v)
}

fn from_json<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    // A dead-letter entry holds the raw record, which may nest as deep as the parser took.
    super::from_versioned_json(b)
}

pub struct IngestionStore {
    records: crate::store::kv::Tree,
    errors: crate::store::kv::Tree,
}

impl IngestionStore {
    pub(super) fn open(db: &crate::store::kv::Db) -> Result<Self, StoreError> {
        Ok(IngestionStore {
            records: db.open_tree("ingestions")?,
            errors: db.open_tree("ingestion_errors")?,
        })
    }

    /// Stores the record and its errors (not yet flushed).
    pub fn put(&self, ingestion: &Ingestion, errors: &[RecordError]) -> Result<(), StoreError> {
        let mut batch = crate::store::kv::Batch::default();
        for e in errors {
            batch.insert(
                error_key(&ingestion.tenant_id, ingestion.id, e.row),
                json(e)?,
            );
        }
        self.errors.apply_batch(batch)?;
        self.records.insert(
            record_key(&ingestion.tenant_id, ingestion.id),
            json(ingestion)?,
        )?;
        Ok(())
    }

    pub fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Ingestion>, StoreError> {
        self.records
            .get(record_key(tenant, id))?
            .map(|v| from_json(&v))
            .transpose()
    }

    pub fn errors(&self, tenant: &str, id: Uuid) -> Result<Vec<RecordError>, StoreError> {
        self.errors
            .scan_prefix(record_key(tenant, id))
            .map(|item| from_json(&item?.1))
            .collect()
    }

    pub(super) fn delete_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        let mut prefix = tenant.as_bytes().to_vec();
        prefix.push(0);
        super::remove_prefix(&[&self.records, &self.errors], &prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_from_before_created_and_updated_still_read() {
        let old = r#"{"id":"01a22845-eccd-732e-a3e7-9b8d9c0b178c","tenant_id":"t","vertical":"v",
            "entity_type":"e","source_type":"batch","file_name":null,"file_size":2,
            "content_hash":"x","record_count":1,"accepted":1,"rejected":0,"duplicate_count":0,
            "status":"completed","entity_ids":[],"created_at":1,"completed_at":2}"#;
        let i: Ingestion = from_json(old.as_bytes()).unwrap();
        assert_eq!((i.created, i.updated), (None, None));
    }

    #[test]
    fn status_from_counts() {
        assert_eq!(
            IngestionStatus::from_counts(3, 0, 0),
            IngestionStatus::Completed
        );
        assert_eq!(
            IngestionStatus::from_counts(0, 0, 3),
            IngestionStatus::Completed
        );
        assert_eq!(
            IngestionStatus::from_counts(2, 1, 0),
            IngestionStatus::Partial
        );
        assert_eq!(
            IngestionStatus::from_counts(0, 2, 1),
            IngestionStatus::Partial
        );
        assert_eq!(
            IngestionStatus::from_counts(0, 2, 0),
            IngestionStatus::Failed
        );
    }
}
