//! Batch ingestion: validate each record, then upsert and skip content duplicates (within the
//! batch and against stored entities). A record updates the entity of the same tenant, vertical
//! and type that has its `source_id`, else the one whose `id` it carries as an exported entity
//! (so an export uploaded back updates what it came from). The caller flushes before
//! answering, so every acknowledged record is on disk; a batch cut short by a crash was not
//! acknowledged, and sending it again is idempotent (upsert and dedup).

use std::collections::HashMap;

use serde_json::Value;
use uuid::Uuid;

use super::record;
use crate::quota::{WriteError, WriteQuota};
use crate::store::{
    Entity, EntityStatus, Ingestion, IngestionStatus, RecordError, SourceKey, Store,
};
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

impl BatchSource {
    /// An ingestion of this source started at `started` (unix ms) that has read nothing yet.
    fn ingestion(&self, started: i64) -> Ingestion {
        Ingestion {
            id: Uuid::now_v7(),
            tenant_id: self.tenant.clone(),
            vertical: self.vertical.clone(),
            entity_type: self.entity_type.clone(),
            source_type: self.source_type.clone(),
            file_name: self.file_name.clone(),
            file_size: self.file_size,
            content_hash: self.content_hash.clone(),
            record_count: 0,
            accepted: 0,
            rejected: 0,
            duplicate_count: 0,
            created: Some(0),
            updated: Some(0),
            status: IngestionStatus::Completed,
            entity_ids: Vec::new(),
            created_at: started,
            completed_at: Some(timestamp::now_ms()),
            error: None,
        }
    }
}

pub struct BatchResult {
    pub ingestion: Ingestion,
    pub errors: Vec<RecordError>,
}

/// What became of one record.
enum Outcome {
    Created(Uuid),
    Updated(Uuid),
    Duplicate(Uuid),
}

/// What the batch has written so far, as far as the store cannot tell yet. Dedup answers
/// must hold for what is stored when the batch ends: a record is never counted a duplicate
/// of content that another record of the same batch replaces.
#[derive(Default)]
struct Written {
    /// Entities written but not yet applied to the store (the store still has their old
    /// state), by id; and their source ids.
    unapplied: HashMap<Uuid, Entity>,
    unapplied_sources: HashMap<String, Uuid>,
    /// The current content hash of entities this batch wrote (32 bytes each: kept for the
    /// whole batch).
    by_hash: HashMap<[u8; 32], Uuid>,
    /// Positions in `entity_ids` of records counted as duplicates of an entity, by entity: if
    /// a later record changes that entity, their content is stored again as a new entity.
    duplicates_of: HashMap<Uuid, Vec<usize>>,
}

impl Written {
    /// The entity as this batch leaves it (`e` read from the store may be stale).
    fn current(&self, e: Entity) -> Entity {
        match self.unapplied.get(&e.id) {
            Some(newer) => newer.clone(),
            None => e,
        }
    }

    /// Notes a write of `entity` (content hash `hash`), replacing `previous` (its hash).
    fn write(&mut self, entity: &Entity, previous: Option<(&Entity, [u8; 32])>, hash: [u8; 32]) {
        if let Some((prev, prev_hash)) = previous {
            if self.by_hash.get(&prev_hash) == Some(&prev.id) {
                self.by_hash.remove(&prev_hash);
            }
            if let Some(old) = &prev.source_id {
                if self.unapplied_sources.get(old) == Some(&prev.id) {
                    self.unapplied_sources.remove(old);
                }
            }
        }
        self.by_hash.entry(hash).or_insert(entity.id);
        if let Some(sid) = &entity.source_id {
            self.unapplied_sources.insert(sid.clone(), entity.id);
        }
        self.unapplied.insert(entity.id, entity.clone());
    }

    /// The entity of this tenant, vertical and type that a record with this source id or
    /// export id updates.
    fn upsert_target(
        &self,
        store: &Store,
        src: &BatchSource,
        source_id: Option<&str>,
        exported_id: Option<Uuid>,
    ) -> Result<Option<Entity>, crate::store::StoreError> {
        if let Some(sid) = source_id {
            if let Some(id) = self.unapplied_sources.get(sid) {
                return Ok(self.unapplied.get(id).cloned());
            }
            let key = SourceKey {
                tenant: &src.tenant,
                vertical: &src.vertical,
                entity_type: &src.entity_type,
                source_id: sid,
            };
            let found = store.entities.by_source_id(&key)?.map(|e| self.current(e));
            if let Some(e) = found.filter(|e| e.source_id.as_deref() == Some(sid)) {
                return Ok(Some(e));
            }
        }
        let Some(id) = exported_id else {
            return Ok(None);
        };
        let found = match self.unapplied.get(&id) {
            Some(e) => Some(e.clone()),
            None => store.entities.get(&src.tenant, id)?,
        };
        Ok(found.filter(|e| e.vertical == src.vertical && e.entity_type == src.entity_type))
    }

    /// An active entity whose content, when the batch ends, has this hash.
    fn duplicate_of(
        &self,
        store: &Store,
        tenant: &str,
        hash: &[u8; 32],
    ) -> Result<Option<Uuid>, crate::store::StoreError> {
        if let Some(&id) = self.by_hash.get(hash) {
            return Ok(Some(id));
        }
        // A stored entity this batch has rewritten no longer has the content the store's
        // index says (had it kept it, `by_hash` would have answered).
        Ok(store
            .entities
            .by_content_hash(tenant, hash)?
            .filter(|e| !self.unapplied.contains_key(&e.id))
            .map(|e| e.id))
    }
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

/// Rows written to the store per step. Parsed rows are consumed lazily and pending writes are
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
    let visibility = store
        .collections
        .default_visibility(&src.tenant, &src.vertical)?;
    let mut changes = store.entities.changes();
    let mut pending = 0usize;
    let mut errors = Vec::new();
    let mut entity_ids = Vec::new();
    let (mut updated, mut duplicates) = (0u64, 0usize);
    let mut written = Written::default();
    let mut record_count = 0usize;
    // Entities written, and whether each was created: their webhook events.
    let mut changed: Vec<(Uuid, bool)> = Vec::new();

    let mut records = records.enumerate();
    while let Some((row, raw)) = records.next() {
        record_count += 1;
        if pending >= APPLY_EVERY && !capped {
            // Applied (not flushed) writes are visible to the store lookups below, so the
            // unapplied entities can be forgotten.
            store
                .entities
                .apply(std::mem::replace(&mut changes, store.entities.changes()))?;
            written.unapplied.clear();
            written.unapplied_sources.clear();
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
        let exported_id = input.exported_id;
        let mut entity = Entity {
            id: Uuid::now_v7(),
            tenant_id: src.tenant.clone(),
            vertical: src.vertical.clone(),
            entity_type: src.entity_type.clone(),
            name: input.name,
            description: input.description,
            source_id: input.source_id,
            source_type: Some(src.source_type.clone()),
            source_name: input.source_name.or_else(|| src.file_name.clone()),
            source_url: input.source_url.clone(),
            status: input.status.unwrap_or(EntityStatus::Active),
            vertical_data: input.vertical_data,
            created_at: started,
            updated_at: started,
            visibility: input.visibility.unwrap_or(visibility),
        };
        let visibility_given = input.visibility;
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
        let target = written.upsert_target(store, src, entity.source_id.as_deref(), exported_id)?;
        let outcome = if let Some(prev) = target {
            let prev_hash = prev.content_hash();
            // Visibility is not content: a record that only publishes or hides is an update.
            let same_visibility = visibility_given.is_none_or(|v| v == prev.visibility);
            // Re-ingesting a record without a status brings it back: an archived entity becomes
            // active again.
            let same_source_url =
                input.source_url.is_none() || entity.source_url == prev.source_url;
            if prev_hash == hash
                && prev.status == entity.status
                && same_visibility
                && same_source_url
            {
                Outcome::Duplicate(prev.id)
            } else {
                entity.id = prev.id;
                entity.created_at = prev.created_at;
                if input.source_url.is_none() {
                    entity.source_url = prev.source_url.clone();
                }
                entity.visibility = visibility_given.unwrap_or(prev.visibility);
                // Matched by its exported id: a record without a source id keeps the entity's.
                if entity.source_id.is_none() {
                    entity.source_id = prev.source_id.clone();
                }
                changes.put_hashed(&entity, hash, Some(&prev))?;
                written.write(&entity, Some((&prev, prev_hash)), hash);
                if let Some(rows) = written.duplicates_of.remove(&prev.id) {
                    // Earlier records of this batch were counted as duplicates of the content
                    // this record replaces: it lives on as a new entity.
                    let mut kept = prev.clone();
                    kept.id = Uuid::now_v7();
                    kept.source_id = None;
                    kept.source_type = Some(src.source_type.clone());
                    kept.source_name = src.file_name.clone();
                    kept.source_url = None;
                    kept.status = EntityStatus::Active;
                    kept.created_at = started;
                    kept.updated_at = started;
                    changes.put_hashed(&kept, prev_hash, None)?;
                    written.write(&kept, None, prev_hash);
                    for &at in &rows {
                        entity_ids[at] = kept.id;
                    }
                    written.duplicates_of.insert(kept.id, rows);
                    changed.push((kept.id, true));
                    created += 1;
                    duplicates -= 1;
                    pending += 1;
                }
                Outcome::Updated(entity.id)
            }
        } else if let Some(dup) = written.duplicate_of(store, &src.tenant, &hash)? {
            Outcome::Duplicate(dup)
        } else {
            changes.put_hashed(&entity, hash, None)?;
            written.write(&entity, None, hash);
            Outcome::Created(entity.id)
        };
        let id = match outcome {
            Outcome::Created(id) => {
                created += 1;
                changed.push((id, true));
                id
            }
            Outcome::Updated(id) => {
                updated += 1;
                changed.push((id, false));
                id
            }
            Outcome::Duplicate(id) => {
                duplicates += 1;
                written
                    .duplicates_of
                    .entry(id)
                    .or_default()
                    .push(entity_ids.len());
                entity_ids.push(id);
                continue;
            }
        };
        pending += 1;
        if capped {
            // Refused whole anyway: stop examining records as soon as a cap is crossed, but
            // count the rest so the refusal names what the whole request would add.
            if quota
                .check_totals(stored_before, created, created + updated)
                .is_err()
            {
                let unexamined = records.by_ref().count() as u64;
                quota.check_request(stored_before, created, created + updated, unexamined)?;
            }
        }
        entity_ids.push(id);
    }
    let accepted = (created + updated) as usize;
    quota.check_totals(stored_before, created, accepted as u64)?;
    store.entities.apply(changes)?;
    quota.record(created, accepted as u64);
    let ingestion = Ingestion {
        record_count,
        accepted,
        rejected: errors.len(),
        duplicate_count: duplicates,
        created: Some(created as usize),
        updated: Some(updated as usize),
        status: IngestionStatus::from_counts(accepted, errors.len(), duplicates),
        entity_ids,
        ..src.ingestion(started)
    };
    store.ingestions.put(&ingestion, &errors)?;
    crate::webhooks::emit_ingestion(store, &ingestion, &changed)?;
    Ok(BatchResult { ingestion, errors })
}

/// Records an ingestion whose input could not be read at all (a database a connector could not
/// reach or query), with why; nothing was stored.
pub fn record_failure(
    store: &Store,
    src: &BatchSource,
    started: i64,
    error: String,
) -> Result<Ingestion, crate::store::StoreError> {
    let ingestion = Ingestion {
        status: IngestionStatus::Failed,
        error: Some(error),
        ..src.ingestion(started)
    };
    store.ingestions.put(&ingestion, &[])?;
    Ok(ingestion)
}

/// Marks a stored ingestion failed as a whole (its input broke off part-way: what was read
/// before stays stored and counted).
pub fn mark_failed(
    store: &Store,
    ingestion: &mut Ingestion,
    error: String,
) -> Result<(), crate::store::StoreError> {
    ingestion.status = IngestionStatus::Failed;
    ingestion.error = Some(error);
    store.ingestions.put(ingestion, &[])
}
