//! Batch ingestion: validate each record, then upsert by `source_id` and skip content duplicates
//! (within the batch and against stored entities). The caller flushes before answering, so every
//! acknowledged record is on disk; a batch cut short by a crash was not acknowledged, and sending
//! it again is idempotent (upsert and dedup).

use std::collections::HashMap;

use serde_json::Value;
use uuid::Uuid;

use super::record;
use crate::quota::{WriteError, WriteQuota};
use crate::store::{Entity, EntityStatus, Ingestion, IngestionStatus, RecordError, Store};
use crate::timestamp;

pub const MAX_RECORDS: usize = 10_000;

/// Where a batch comes from and what it is.
#[derive(Clone, Debug)]
pub struct BatchSource {
    pub tenant: String,
    pub vertical: String,
    pub entity_type: String,
    /// `batch`, `webhook`, `csv`, …
    pub source_type: String,
    pub file_name: Option<String>,
    pub file_size: u64,
    pub content_hash: String,
}

impl BatchSource {
    /// The source of an ingestion whose input is `body`: size and content hash come from it.
    pub fn for_body(
        tenant: String,
        (vertical, entity_type): (String, String),
        source_type: &str,
        file_name: Option<String>,
        body: &[u8],
    ) -> Self {
        BatchSource {
            tenant,
            vertical,
            entity_type,
            source_type: source_type.to_owned(),
            file_name,
            file_size: body.len() as u64,
            content_hash: blake3::hash(body).to_hex().to_string(),
        }
    }
}

pub struct BatchResult {
    pub ingestion: Ingestion,
    pub errors: Vec<RecordError>,
}

enum Outcome {
    Stored(Uuid),
    Duplicate(Uuid),
}

/// Ingests `records` for the source. Holds the tenant's write lock while it looks up and writes.
/// Records are validated against the type's schema, if it has one.
pub fn ingest(
    store: &Store,
    src: &BatchSource,
    records: Vec<Value>,
    quota: &WriteQuota,
) -> Result<BatchResult, WriteError> {
    ingest_rows(store, src, records.into_iter().map(Ok), quota)
}

/// A row of an input file: a record, or what was wrong with it before it became one (a ragged
/// CSV row, a line that is not JSON) with its raw form for the dead-letter entry.
pub type Row = Result<Value, (crate::entity_input::FieldError, Value)>;

/// Rows written to sled per step. Parsed rows are consumed lazily and pending writes are
/// applied every this many rows, so memory does not grow with the size of the input.
const APPLY_EVERY: usize = 1_000;

/// [`ingest`] for rows that may already have failed to parse; `row` numbers in errors are the
/// rows' indexes. `rows` is consumed lazily.
///
/// Under a capped plan the whole input is checked against the caps before anything is
/// applied: a batch that would cross one is refused whole (402) and stores nothing.
pub fn ingest_rows(
    store: &Store,
    src: &BatchSource,
    rows: impl Iterator<Item = Row>,
    quota: &WriteQuota,
) -> Result<BatchResult, WriteError> {
    store
        .entities
        .locked(&src.tenant, || ingest_locked(store, src, rows, quota))
}

fn ingest_locked(
    store: &Store,
    src: &BatchSource,
    records: impl Iterator<Item = Row>,
    quota: &WriteQuota,
) -> Result<BatchResult, WriteError> {
    let started = timestamp::now_ms();
    let stored_before = quota.check_vertical_and_count(store, &src.tenant, &src.vertical)?;
    let capped = quota.caps_writes();
    let mut created = 0u64;
    let schema = store
        .schemas
        .validator(&src.tenant, &src.vertical, &src.entity_type)?;
    let mut changes = store.entities.changes();
    let mut pending = 0usize;
    let mut errors = Vec::new();
    let mut entity_ids = Vec::new();
    let (mut accepted, mut duplicates) = (0usize, 0usize);
    // Entities of this batch not yet applied, by source id; content hashes of every entity this
    // batch stored (32 bytes each: kept for the whole batch).
    let mut by_source: HashMap<String, Entity> = HashMap::new();
    let mut by_hash: HashMap<[u8; 32], Uuid> = HashMap::new();
    let mut record_count = 0usize;

    for (row, raw) in records.enumerate() {
        record_count += 1;
        if pending >= APPLY_EVERY && !capped {
            // Applied (not flushed) writes are visible to the store lookups below, so the
            // unapplied-entity map can start over.
            store
                .entities
                .apply(std::mem::replace(&mut changes, store.entities.changes()))?;
            by_source.clear();
            pending = 0;
        }
        let raw = match raw {
            Ok(v) => v,
            Err((e, raw)) => {
                errors.push(RecordError::new(row, e, raw));
                continue;
            }
        };
        let input = match record::parse(raw) {
            Ok(i) => i,
            Err((e, raw)) => {
                errors.push(RecordError::new(row, e, raw));
                continue;
            }
        };
        // Serialized once: for the size limit and for the content hash.
        let data_json = serde_json::to_vec(&input.vertical_data).unwrap_or_default();
        if data_json.len() > crate::entity_input::MAX_VERTICAL_DATA_BYTES {
            let e = crate::entity_input::vertical_data_too_large(data_json.len());
            errors.push(RecordError::new(row, e, record::reassemble(input)));
            continue;
        }
        let mut entity = Entity {
            id: Uuid::now_v7(),
            tenant_id: src.tenant.clone(),
            vertical: src.vertical.clone(),
            entity_type: src.entity_type.clone(),
            name: input.name,
            description: input.description,
            source_id: input.source_id,
            source_type: Some(src.source_type.clone()),
            source_name: src.file_name.clone(),
            source_url: None,
            status: EntityStatus::Active,
            vertical_data: input.vertical_data,
            created_at: started,
            updated_at: started,
        };
        if let Some(schema) = &schema {
            if let Err(e) = schema.check(&entity) {
                errors.push(RecordError::new(
                    row,
                    e,
                    serde_json::to_value(&entity).unwrap_or_default(),
                ));
                continue;
            }
        }
        let hash = entity.content_hash_with(&data_json);
        let existing = match &entity.source_id {
            Some(sid) => match by_source.get(sid) {
                Some(e) => Some(e.clone()),
                None => store.entities.by_source_id(&src.tenant, sid)?,
            },
            None => None,
        };
        let outcome = if let Some(&id) = by_hash.get(&hash) {
            Outcome::Duplicate(id)
        } else if let Some(prev) = existing {
            if prev.content_hash() == hash && prev.status == EntityStatus::Active {
                Outcome::Duplicate(prev.id)
            } else {
                // Re-ingesting a record brings it back: an archived entity becomes active again.
                entity.id = prev.id;
                entity.created_at = prev.created_at;
                entity.source_url = prev.source_url.clone();
                changes.put_hashed(&entity, hash, Some(&prev))?;
                Outcome::Stored(entity.id)
            }
        } else if let Some(dup) = store.entities.by_content_hash(&src.tenant, &hash)? {
            Outcome::Duplicate(dup.id)
        } else {
            changes.put_hashed(&entity, hash, None)?;
            created += 1;
            Outcome::Stored(entity.id)
        };
        let id = match outcome {
            Outcome::Stored(id) => {
                accepted += 1;
                pending += 1;
                if capped {
                    // Refused whole anyway: stop reading as soon as a cap is crossed.
                    quota.check_totals(stored_before, created, accepted as u64)?;
                }
                by_hash.insert(hash, id);
                if let Some(sid) = &entity.source_id {
                    by_source.insert(sid.clone(), entity);
                }
                id
            }
            Outcome::Duplicate(id) => {
                duplicates += 1;
                id
            }
        };
        entity_ids.push(id);
    }
    quota.check_totals(stored_before, created, accepted as u64)?;
    store.entities.apply(changes)?;
    quota.record(created, accepted as u64);
    let ingestion = Ingestion {
        id: Uuid::now_v7(),
        tenant_id: src.tenant.clone(),
        vertical: src.vertical.clone(),
        entity_type: src.entity_type.clone(),
        source_type: src.source_type.clone(),
        file_name: src.file_name.clone(),
        file_size: src.file_size,
        content_hash: src.content_hash.clone(),
        record_count,
        accepted,
        rejected: errors.len(),
        duplicate_count: duplicates,
        status: IngestionStatus::from_counts(accepted, errors.len(), duplicates),
        entity_ids,
        created_at: started,
        completed_at: Some(timestamp::now_ms()),
    };
    store.ingestions.put(&ingestion, &errors)?;
    Ok(BatchResult { ingestion, errors })
}
