//! Entities and their secondary indexes, in the one `entities` tree:
//!
//! | prefix | key                         | value                         |
//! |--------|-----------------------------|-------------------------------|
//! | `e`    | tenant `\0` uuid            | entity (JSON; see [`super::dictionaries`]) |
//! | `u`    | tenant `\0` vertical `\0` entity_type `\0` source_id | uuid |
//! | `h`    | tenant `\0` content hash    | uuid (non-archived only)      |
//! | `q`    | tenant `\0` uuid            | queue version (u64 BE)        |
//! | `f`    | tenant `\0` uuid            | indexing failed marker        |
//! | `z`    | tenant `\0`                 | compression dictionary        |
//! | —      | `mformat`                   | index format (one byte)       |
//!
//! A `source_id` names an entity only within its vertical and entity type: source systems
//! reuse ids such as `1`, so an upsert into one vertical must never match another's entity.
//! Stores written before that (index format 1, `s` tenant `\0` source_id) are migrated once
//! when opened; see [`EntityStore::open`].
//!
//! An entity is searchable-pending exactly while its `q` entry exists, so `embedding_status`
//! needs no rewrite of the entity after indexing.
//!
//! A change ([`Changes`]: the entity, its index entries, its queue entry, for any number of
//! entities) is applied as one batch of the store's engine, so a crash keeps all of it or none,
//! and the indexer never sees an entity without its queue entry. Index lookups still check the
//! entity an entry points to: a store restored from a snapshot taken while writes went on, or
//! written before batches were used (sled's made large ingestions 4x slower; see BENCHMARKS.md),
//! may hold entries that are stale.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::dictionaries::{self, Dictionaries, DICTIONARY};
use super::entity_counts::{EntityCounts, Group};
use super::StoreError;

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EntityStatus {
    Active,
    Draft,
    Archived,
}

impl EntityStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "draft" => Some(Self::Draft),
            "archived" => Some(Self::Archived),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Draft => "draft",
            Self::Archived => "archived",
        }
    }
}

/// Who may read an entity: `public` entities are what an open (unauthenticated) listing may
/// publish; everything else is `private` (API-RECORDS.md §1).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    #[default]
    Private,
}

impl Visibility {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Self::Public),
            "private" => Some(Self::Private),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingStatus {
    Pending,
    Completed,
    Failed,
}

/// An entity as stored. Times are unix milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub id: Uuid,
    pub tenant_id: String,
    pub vertical: String,
    pub entity_type: String,
    pub name: String,
    pub description: Option<String>,
    pub source_id: Option<String>,
    pub source_type: Option<String>,
    pub source_name: Option<String>,
    pub source_url: Option<String>,
    pub status: EntityStatus,
    pub vertical_data: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Entities stored before visibility existed read as private. Not part of the content
    /// hash: it says who may read the content, not what it is.
    #[serde(default)]
    pub visibility: Visibility,
}

impl Entity {
    /// Hash of the content that makes two records "the same" for dedup (API.md §7).
    /// serde_json maps are ordered by key, so equal content serializes identically.
    pub fn content_hash(&self) -> [u8; 32] {
        let data = serde_json::to_vec(&self.vertical_data).unwrap_or_default();
        self.content_hash_with(&data)
    }

    /// [`Self::content_hash`] given `vertical_data` already serialized (by serde_json, whose
    /// maps are ordered by key, so equal content gives equal bytes).
    pub fn content_hash_with(&self, vertical_data_json: &[u8]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        for part in [
            self.name.as_bytes(),
            self.vertical.as_bytes(),
            self.entity_type.as_bytes(),
        ] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.update(&(vertical_data_json.len() as u64).to_le_bytes());
        h.update(vertical_data_json);
        match &self.description {
            Some(d) => {
                h.update(&[1]);
                h.update(d.as_bytes());
            }
            None => {
                h.update(&[0]);
            }
        }
        *h.finalize().as_bytes()
    }
}

const ENTITY: u8 = b'e';
const SOURCE: u8 = b'u';
/// The tenant-wide source-id index of format 1, removed by the migration.
const LEGACY_SOURCE: u8 = b's';
/// Where the index format is kept, and the current one. A store without it has format 1.
const FORMAT_KEY: &[u8] = b"mformat";
const INDEX_FORMAT: u8 = 2;
const HASH: u8 = b'h';
const QUEUE: u8 = b'q';
const FAILED: u8 = b'f';

fn key(kind: u8, tenant: &str, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + tenant.len() + rest.len());
    k.push(kind);
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k.extend_from_slice(rest);
    k
}

pub fn entity_key(tenant: &str, id: Uuid) -> Vec<u8> {
    key(ENTITY, tenant, id.as_bytes())
}

/// What an upsert matches on: a `source_id` within one tenant, vertical and entity type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceKey<'a> {
    pub tenant: &'a str,
    pub vertical: &'a str,
    pub entity_type: &'a str,
    pub source_id: &'a str,
}

impl<'a> SourceKey<'a> {
    /// The entity's key, if it has a source id.
    pub fn of(e: &'a Entity) -> Option<Self> {
        Some(SourceKey {
            tenant: &e.tenant_id,
            vertical: &e.vertical,
            entity_type: &e.entity_type,
            source_id: e.source_id.as_deref()?,
        })
    }

    /// Whether `e` is the entity this key names (an index entry is verified with it).
    fn names(&self, e: &Entity) -> bool {
        SourceKey::of(e).as_ref() == Some(self)
    }

    fn index_key(&self) -> Vec<u8> {
        // Vertical and type are slugs (`[a-z0-9_-]`), so the NUL separators are unambiguous;
        // the source id, which may hold anything, comes last.
        let mut rest = Vec::with_capacity(
            self.vertical.len() + self.entity_type.len() + self.source_id.len() + 2,
        );
        for part in [self.vertical, self.entity_type] {
            rest.extend_from_slice(part.as_bytes());
            rest.push(0);
        }
        rest.extend_from_slice(self.source_id.as_bytes());
        key(SOURCE, self.tenant, &rest)
    }
}

fn tenant_prefix(kind: u8, tenant: &str) -> Vec<u8> {
    key(kind, tenant, &[])
}

/// Splits a `kind tenant \0 uuid` key.
pub fn parse_id_key(k: &[u8]) -> Option<(String, Uuid)> {
    let tenant = tenant_of(k)?;
    // The kind byte, the tenant, its `\0`, then the id.
    let id = Uuid::from_slice(k.get(tenant.len() + 2..)?).ok()?;
    Some((tenant.to_owned(), id))
}

fn uuid_value(v: &[u8]) -> Option<Uuid> {
    Uuid::from_slice(v).ok()
}

/// An entity's uncompressed stored form (what a tenant's first records are stored as).
#[cfg(test)]
fn encode(e: &Entity) -> Result<Vec<u8>, StoreError> {
    super::to_versioned_json(e)
}

/// The fields of a stored entity that counting needs; serde skips the rest unbuilt.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct EntityHead {
    pub id: Uuid,
    pub tenant_id: String,
    pub vertical: String,
    pub entity_type: String,
    pub status: EntityStatus,
    /// Entities stored before visibility existed read as private.
    #[serde(default)]
    pub visibility: Visibility,
}

/// The fields of a stored entity its source-id index entry is made of.
#[derive(Deserialize)]
struct SourceHead {
    id: Uuid,
    tenant_id: String,
    vertical: String,
    entity_type: String,
    source_id: Option<String>,
}

/// Decodes a stored entity of `tenant` (whose dictionary a compressed one needs).
fn decode_as<T: serde::de::DeserializeOwned>(
    dicts: &Dictionaries,
    tenant: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    // Entities always had the version byte; a bare JSON object is not one of their forms.
    match bytes.first() {
        Some(&dictionaries::COMPRESSED) => super::from_json(&dicts.decompress(tenant, bytes)?),
        Some(b'{') | None => Err(StoreError::Codec("unknown entity format".into())),
        Some(_) => super::from_versioned_json(bytes),
    }
}

/// The tenant of a `kind tenant \0 …` key.
fn tenant_of(k: &[u8]) -> Option<&str> {
    let body = k.get(1..)?;
    let zero = body.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&body[..zero]).ok()
}

/// Decodes one entry of a scan. An entity that cannot be decoded is logged and skipped, so
/// one damaged record never hides its tenant's others from listings, exports and reindexing;
/// it can still be removed by id (see [`Changes::remove_undecodable`]). Storage errors pass.
fn decode_scanned<T: serde::de::DeserializeOwned>(
    dicts: &Dictionaries,
    item: crate::store::kv::Result<(crate::store::kv::Value, crate::store::kv::Value)>,
) -> Option<Result<T, StoreError>> {
    let (k, v) = match item {
        Ok(kv) => kv,
        Err(e) => return Some(Err(e.into())),
    };
    match decode_as(dicts, tenant_of(&k).unwrap_or_default(), &v) {
        Err(StoreError::Codec(e)) => {
            let (tenant, id) = parse_id_key(&k).unwrap_or_default();
            log::warn!("skipping entity {id} of tenant '{tenant}': it cannot be decoded: {e}");
            None
        }
        other => Some(other),
    }
}

use super::kv::Write as Op;

/// Writes applied by [`EntityStore::apply`] as one batch, in order (a `RemoveIf` drops an index
/// entry only while it still points to this entity).
pub struct Changes<'a> {
    store: &'a EntityStore,
    ops: Vec<Op>,
    /// What the ops do to [`EntityStore::counts`], applied with them.
    deltas: Vec<(String, Group, i64)>,
    /// Tenants whose counts must be taken again after the ops (what they removed was unreadable).
    recount: Vec<String>,
}

impl Changes<'_> {
    /// Writes `entity`, replacing `previous` (same id) if given, and queues it for indexing.
    pub fn put(&mut self, entity: &Entity, previous: Option<&Entity>) -> Result<(), StoreError> {
        self.put_hashed(entity, entity.content_hash(), previous)
    }

    /// [`Self::put`] with the entity's content hash already computed.
    pub fn put_hashed(
        &mut self,
        entity: &Entity,
        hash: [u8; 32],
        previous: Option<&Entity>,
    ) -> Result<(), StoreError> {
        let t = &entity.tenant_id;
        let id = entity.id.as_bytes().to_vec();
        let source = SourceKey::of(entity);
        if let Some(k) = &source {
            self.ops.push(Op::Insert(k.index_key(), id.clone()));
        }
        if entity.status != EntityStatus::Archived {
            self.ops.push(Op::Insert(key(HASH, t, &hash), id.clone()));
        }
        let json = serde_json::to_vec(entity).map_err(|e| StoreError::Codec(e.to_string()))?;
        let stored = self
            .store
            .dicts
            .encode(t, &json, &tenant_prefix(ENTITY, t))?;
        self.ops.push(Op::Insert(entity_key(t, entity.id), stored));
        // Most writes update an entity within its group: nothing to count, nothing to copy.
        if !previous.is_some_and(|p| Group::same(p, entity)) {
            if let Some(prev) = previous {
                self.deltas.push((t.clone(), Group::of(prev), -1));
            }
            self.deltas.push((t.clone(), Group::of(entity), 1));
        }
        if let Some(prev) = previous {
            // A changed source id, vertical or type moves the entry.
            if let Some(old) = SourceKey::of(prev).filter(|old| source.as_ref() != Some(old)) {
                self.ops.push(Op::RemoveIf(old.index_key(), id.clone()));
            }
            let old_hash = prev.content_hash();
            if old_hash != hash || entity.status == EntityStatus::Archived {
                self.ops.push(Op::RemoveIf(key(HASH, t, &old_hash), id));
            }
        }
        self.enqueue(t, entity.id)
    }

    /// Removes the entity and its index entries for good, and queues its removal from search.
    pub fn remove(&mut self, entity: &Entity) -> Result<(), StoreError> {
        let t = &entity.tenant_id;
        let id = entity.id.as_bytes().to_vec();
        self.enqueue(t, entity.id)?;
        self.ops.push(Op::Remove(entity_key(t, entity.id)));
        if let Some(k) = SourceKey::of(entity) {
            self.ops.push(Op::RemoveIf(k.index_key(), id.clone()));
        }
        self.ops
            .push(Op::RemoveIf(key(HASH, t, &entity.content_hash()), id));
        self.ops
            .push(Op::Remove(key(FAILED, t, entity.id.as_bytes())));
        self.deltas.push((t.clone(), Group::of(entity), -1));
        Ok(())
    }

    /// Removes an entity whose stored record cannot be decoded (it was never counted). Its source-id and content-hash
    /// entries cannot be found without it; they are left behind, and lookups do not believe
    /// them (they verify the entity they point to).
    pub fn remove_undecodable(&mut self, tenant: &str, id: Uuid) -> Result<(), StoreError> {
        self.recount.push(tenant.to_owned());
        self.enqueue(tenant, id)?;
        self.ops.push(Op::Remove(entity_key(tenant, id)));
        self.ops
            .push(Op::Remove(key(FAILED, tenant, id.as_bytes())));
        Ok(())
    }

    /// Queues an entity for (re)indexing.
    pub fn enqueue(&mut self, tenant: &str, id: Uuid) -> Result<(), StoreError> {
        let version = self.store.db.generate_id()?;
        self.ops.push(Op::Insert(
            key(QUEUE, tenant, id.as_bytes()),
            version.to_be_bytes().to_vec(),
        ));
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Rewrites a format-1 store's tenant-wide source-id index into the scoped one. It runs
/// before the store serves anything, and every step can be repeated: a crash part-way
/// leaves no format marker, so the next start runs it again from the top (the new entries
/// are rebuilt from the entities themselves, never from the old entries).
fn migrate(
    db: &crate::store::kv::Db,
    tree: &crate::store::kv::Tree,
    dicts: &Dictionaries,
) -> Result<(), StoreError> {
    if tree.get(FORMAT_KEY)?.as_deref() == Some(&[INDEX_FORMAT][..]) {
        return Ok(());
    }
    let mut entries = 0usize;
    for item in tree.scan_prefix([ENTITY]) {
        // A damaged entity is skipped (and logged) here as in every scan; it keeps no
        // source-id entry, so a later write of its source id creates a fresh entity.
        let Some(h) = decode_scanned::<SourceHead>(dicts, item) else {
            continue;
        };
        let h = h?;
        if let Some(source_id) = &h.source_id {
            let k = SourceKey {
                tenant: &h.tenant_id,
                vertical: &h.vertical,
                entity_type: &h.entity_type,
                source_id,
            };
            tree.insert(k.index_key(), h.id.as_bytes())?;
            entries += 1;
        }
    }
    let mut legacy = 0usize;
    for item in tree.scan_prefix([LEGACY_SOURCE]) {
        tree.remove(item?.0)?;
        legacy += 1;
    }
    // The marker goes to disk only after everything it vouches for.
    db.flush()?;
    tree.insert(FORMAT_KEY, [INDEX_FORMAT])?;
    db.flush()?;
    if entries + legacy > 0 {
        log::info!(
            "source ids are now scoped to vertical and entity type: \
             {entries} index entries written, {legacy} tenant-wide entries removed"
        );
    }
    Ok(())
}

pub struct EntityStore {
    db: crate::store::kv::Db,
    tree: crate::store::kv::Tree,
    /// Writers of one tenant take turns: lookups of source ids and content hashes followed by
    /// the batch that updates them must not interleave with another writer's.
    locks: crate::concurrent_map::ConcurrentMap<String, Arc<Mutex<()>>>,
    /// Live entity counts (see [`super::entity_counts`]).
    pub counts: EntityCounts,
    dicts: Dictionaries,
    queue: Queue,
}

/// The `q` entries (see [`super::mirror`]: the indexer takes entries from the front while
/// writers add them, and every search asks whether its tenant has any).
type Queue = super::mirror::Mirrored<u64>;

/// A queue entry's version (an undecodable one reads as 0: it is replaced by the next write and
/// removed by the indexer's next look at it).
fn version_of(v: &[u8]) -> u64 {
    <[u8; 8]>::try_from(v).map_or(0, u64::from_be_bytes)
}

impl EntityStore {
    /// Opens the tree, migrating an older index format first.
    pub(super) fn open(db: &crate::store::kv::Db) -> Result<Self, StoreError> {
        let tree = db.open_tree("entities")?;
        let dicts = Dictionaries::new(db, &tree);
        migrate(db, &tree, &dicts)?;
        let heads = tree
            .scan_prefix([ENTITY])
            .filter_map(|item| decode_scanned(&dicts, item));
        let counts = EntityCounts::open(db, heads)?;
        let queue = Queue::load(&tree, &[QUEUE], version_of)?;
        Ok(EntityStore {
            db: db.clone(),
            tree,
            locks: Default::default(),
            counts,
            dicts,
            queue,
        })
    }

    /// Runs `f` holding the tenant's write lock (see the field's comment).
    pub fn locked<R>(&self, tenant: &str, f: impl FnOnce() -> R) -> R {
        let lock = match self.locks.get(tenant) {
            Some(l) => Arc::clone(&l),
            None => Arc::clone(&self.locks.entry(tenant.to_owned()).or_default()),
        };
        // A panic under the lock cannot leave store state half-applied in a way the lock guards
        // (writes are verified on read), so a poisoned lock is simply taken over.
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        f()
    }

    pub fn changes(&self) -> Changes<'_> {
        Changes {
            store: self,
            ops: Vec::new(),
            deltas: Vec::new(),
            recount: Vec::new(),
        }
    }

    /// Applies the changes in order (not yet flushed: see [`super::Store::flush`]).
    pub fn apply(&self, changes: Changes<'_>) -> Result<(), StoreError> {
        let (deltas, mut recount) = (changes.deltas, changes.recount);
        if !deltas.is_empty() || !recount.is_empty() {
            self.counts.before_write();
        }
        let applied = self.apply_ops(changes.ops);
        if applied.is_ok() {
            self.counts.apply(&deltas);
        } else {
            // Some of the ops may have reached the tree: count what is there.
            recount.extend(deltas.into_iter().map(|(t, _, _)| t));
        }
        if !recount.is_empty() {
            recount.sort();
            recount.dedup();
            for tenant in &recount {
                if let Err(e) = self.counts.recount(tenant, self.scan_heads(Some(tenant))) {
                    log::error!("cannot recount the entities of tenant '{tenant}': {e}");
                }
            }
        }
        applied
    }

    fn apply_ops(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        // Through the queue's mirror: the batch holds queue entries.
        self.queue.apply_writes(&self.tree, ops)
    }

    pub fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Entity>, StoreError> {
        self.tree
            .get(entity_key(tenant, id))?
            .map(|v| decode_as(&self.dicts, tenant, &v))
            .transpose()
    }

    /// [`Self::get`] for readers that show what they find: an entity that cannot be decoded is
    /// logged and treated as absent.
    pub fn get_readable(&self, tenant: &str, id: Uuid) -> Result<Option<Entity>, StoreError> {
        match self.get(tenant, id) {
            Err(StoreError::Codec(e)) => {
                log::warn!("skipping entity {id} of tenant '{tenant}': it cannot be decoded: {e}");
                Ok(None)
            }
            other => other,
        }
    }

    /// The entity this source key names (verified: a stale index entry is not believed).
    pub fn by_source_id(&self, k: &SourceKey<'_>) -> Result<Option<Entity>, StoreError> {
        let Some(id) = self.tree.get(k.index_key())?.and_then(|v| uuid_value(&v)) else {
            return Ok(None);
        };
        // An entity that cannot be decoded is not matched: the write creates a fresh one in its
        // place rather than failing on data it cannot read.
        Ok(self.get_readable(k.tenant, id)?.filter(|e| k.names(e)))
    }

    /// A non-archived entity with this content hash (verified like [`Self::by_source_id`]).
    pub fn by_content_hash(
        &self,
        tenant: &str,
        hash: &[u8; 32],
    ) -> Result<Option<Entity>, StoreError> {
        let Some(id) = self
            .tree
            .get(key(HASH, tenant, hash))?
            .and_then(|v| uuid_value(&v))
        else {
            return Ok(None);
        };
        Ok(self
            .get_readable(tenant, id)?
            .filter(|e| e.status != EntityStatus::Archived && e.content_hash() == *hash))
    }

    pub fn embedding_status(&self, tenant: &str, id: Uuid) -> Result<EmbeddingStatus, StoreError> {
        if self.queue.contains(&key(QUEUE, tenant, id.as_bytes())) {
            Ok(EmbeddingStatus::Pending)
        } else if self.tree.contains_key(key(FAILED, tenant, id.as_bytes()))? {
            Ok(EmbeddingStatus::Failed)
        } else {
            Ok(EmbeddingStatus::Completed)
        }
    }

    /// The tenant's entities in creation order, starting after `after`.
    pub fn scan(
        &self,
        tenant: &str,
        after: Option<Uuid>,
    ) -> impl Iterator<Item = Result<Entity, StoreError>> + '_ {
        let prefix = tenant_prefix(ENTITY, tenant);
        let start = match after {
            Some(id) => {
                let mut k = entity_key(tenant, id);
                k.push(0); // just past `after`
                k
            }
            None => prefix.clone(),
        };
        self.tree
            .range(start..)
            .take_while(move |item| match item {
                Ok((k, _)) => k.starts_with(&prefix),
                Err(_) => true,
            })
            .filter_map(|item| decode_scanned(&self.dicts, item))
    }

    /// The heads of the tenant's entities (every tenant's with `None`), in key order: a scan
    /// that skips over names, descriptions and `vertical_data` without building them.
    pub fn scan_heads(
        &self,
        tenant: Option<&str>,
    ) -> impl Iterator<Item = Result<EntityHead, StoreError>> + '_ {
        let prefix = match tenant {
            Some(t) => tenant_prefix(ENTITY, t),
            None => vec![ENTITY],
        };
        self.tree
            .scan_prefix(prefix)
            .filter_map(|item| decode_scanned(&self.dicts, item))
    }

    /// How many of the tenant's (or every tenant's) stored entities are queued for indexing, and
    /// how many others failed to index: `(pending, failed)`. Reads only those entries (and
    /// whether their entity still exists), not the entities: O(backlog).
    pub fn indexing_backlog(&self, tenant: Option<&str>) -> Result<(u64, u64), StoreError> {
        let prefix = |kind: u8| match tenant {
            Some(t) => tenant_prefix(kind, t),
            None => vec![kind],
        };
        let stored = |t: &str, id: Uuid| self.tree.contains_key(entity_key(t, id));
        let mut queued = HashSet::new();
        let mut pending = 0;
        for (k, _) in self.queue.under(&prefix(QUEUE), usize::MAX) {
            if let Some((t, id)) = parse_id_key(&k) {
                // A removal stays queued until the index drops it; it is not an entity.
                if stored(&t, id)? {
                    pending += 1;
                    queued.insert(id);
                }
            }
        }
        let mut failed = 0;
        for item in self.tree.scan_prefix(prefix(FAILED)) {
            if let Some((t, id)) = parse_id_key(&item?.0) {
                // As `embedding_status` says: queued wins over failed.
                if !queued.contains(&id) && stored(&t, id)? {
                    failed += 1;
                }
            }
        }
        Ok((pending, failed))
    }

    /// How many entities the tenant stores (every status) and in which verticals, sorted.
    /// From the counts: O(groups).
    pub fn summary(&self, tenant: &str) -> (u64, Vec<String>) {
        super::entity_counts::total_and_verticals(&self.counts.tenant(tenant))
    }

    /// Every entity of every tenant (used to rebuild a lost search index).
    pub fn scan_all(&self) -> impl Iterator<Item = Result<Entity, StoreError>> + '_ {
        self.tree
            .scan_prefix([ENTITY])
            .filter_map(|item| decode_scanned(&self.dicts, item))
    }

    /// Up to `max` queued entries: (tenant, id, version), in key order.
    pub fn queued(&self, max: usize) -> Result<Vec<(String, Uuid, u64)>, StoreError> {
        let mut out = Vec::new();
        for (k, version) in self.queue.under(&[QUEUE], max) {
            match parse_id_key(&k) {
                Some((t, id)) => out.push((t, id, version)),
                // Not a key this store writes: it would hold the front of the queue forever.
                None => self.queue.remove(&self.tree, &k)?,
            }
        }
        Ok(out)
    }

    /// Drops the queue entries that still have the given versions (a newer write keeps its
    /// entity queued), as one batch.
    pub fn dequeue_all(&self, entries: &[(String, Uuid, u64)]) -> Result<(), StoreError> {
        let writes = entries
            .iter()
            .map(|(tenant, id, version)| {
                Op::RemoveIf(
                    key(QUEUE, tenant, id.as_bytes()),
                    version.to_be_bytes().to_vec(),
                )
            })
            .collect();
        self.queue.apply_writes(&self.tree, writes)
    }

    pub fn queue_depth(&self) -> usize {
        self.queue.len()
    }

    /// Whether any of the tenant's entities waits to be indexed (stops at the first).
    pub fn has_queued(&self, tenant: &str) -> Result<bool, StoreError> {
        Ok(self.queue.any_under(&tenant_prefix(QUEUE, tenant)))
    }

    pub fn queue_depth_for(&self, tenant: &str) -> usize {
        self.queue.count_under(&tenant_prefix(QUEUE, tenant))
    }

    pub fn mark_failed(&self, tenant: &str, id: Uuid, failed: bool) -> Result<(), StoreError> {
        let k = key(FAILED, tenant, id.as_bytes());
        if failed {
            self.tree.insert(k, [])?;
        } else if self.tree.contains_key(&k)? {
            // Only if there: a removal leaves a tombstone that scans of the marks walk over.
            self.tree.remove(k)?;
        }
        Ok(())
    }

    /// Rebuilds the source-id and content-hash indexes from the entities, and empties the index
    /// queue and the failure marks. For a restored store: its entries were copied while writes
    /// went on, so an entity may lack its index entries, and the search index is rebuilt from
    /// every entity at first start anyway (which queues and marks afresh). Returns the number of
    /// entities.
    pub(super) fn rebuild_derived(&self) -> Result<usize, StoreError> {
        const CHUNK: usize = 10_000;
        for (k, _) in self.queue.under(&[QUEUE], usize::MAX) {
            self.queue.remove(&self.tree, &k)?;
        }
        // The queue went through its mirror above, which holds every `q` key.
        for kind in [SOURCE, HASH, FAILED] {
            let mut batch = crate::store::kv::Batch::default();
            for (n, item) in self.tree.scan_prefix([kind]).enumerate() {
                batch.remove(item?.0);
                if (n + 1) % CHUNK == 0 {
                    self.tree.apply_batch(std::mem::take(&mut batch))?;
                }
            }
            self.tree.apply_batch(batch)?;
        }
        let mut batch = crate::store::kv::Batch::default();
        let mut entities = 0;
        for item in self.tree.scan_prefix([ENTITY]) {
            let Some(e) = decode_scanned::<Entity>(&self.dicts, item) else {
                continue;
            };
            let e = e?;
            let id = e.id.as_bytes().to_vec();
            if let Some(k) = SourceKey::of(&e) {
                self.index_source_of_newer(&k, &e)?;
            }
            if e.status != EntityStatus::Archived {
                batch.insert(key(HASH, &e.tenant_id, &e.content_hash()), id);
            }
            entities += 1;
            if entities % CHUNK == 0 {
                self.tree.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        self.tree.apply_batch(batch)?;
        Ok(entities)
    }

    /// Points `k` at `e`, unless another entity already holds it and is newer. Two entities
    /// claim one source id in a copy taken while one was deleted for good and another created
    /// under the same id; upserts then reach the newer one, as they did when it was written.
    fn index_source_of_newer(&self, k: &SourceKey<'_>, e: &Entity) -> Result<(), StoreError> {
        let index_key = k.index_key();
        if let Some(other) = self.tree.get(&index_key)?.and_then(|v| uuid_value(&v)) {
            let theirs = self.get(&e.tenant_id, other).ok().flatten();
            log::warn!(
                "entities {other} and {} of tenant '{}' share source id '{}': upserts reach the newer",
                e.id,
                e.tenant_id,
                k.source_id
            );
            if theirs.is_some_and(|o| (o.updated_at, o.id) > (e.updated_at, e.id)) {
                return Ok(());
            }
        }
        self.tree.insert(index_key, e.id.as_bytes())?;
        Ok(())
    }

    /// Removes every record of the tenant and queues nothing: the caller drops its index documents.
    pub(super) fn delete_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        // Entities last but for their dictionary: until they go, a crash leaves the tenant whole
        // enough to delete again.
        for (k, _) in self.queue.under(&tenant_prefix(QUEUE, tenant), usize::MAX) {
            self.queue.remove(&self.tree, &k)?;
        }
        for kind in [FAILED, SOURCE, HASH, ENTITY, DICTIONARY] {
            for item in self.tree.scan_prefix(tenant_prefix(kind, tenant)) {
                self.tree.remove(item?.0)?;
            }
        }
        self.dicts.forget(tenant);
        self.counts.delete_tenant(tenant);
        Ok(())
    }
}

/// An active entity of vertical `parts`, type `bolt`, for unit tests across the crate.
#[cfg(test)]
pub(crate) fn sample_entity(tenant: &str, name: &str) -> Entity {
    Entity {
        id: Uuid::now_v7(),
        tenant_id: tenant.into(),
        vertical: "parts".into(),
        entity_type: "bolt".into(),
        name: name.into(),
        description: None,
        source_id: None,
        source_type: None,
        source_name: None,
        source_url: None,
        status: EntityStatus::Active,
        vertical_data: serde_json::json!({"b": 1, "a": "x"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        created_at: 1,
        updated_at: 1,
        visibility: Visibility::Private,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use super::sample_entity as entity;

    /// A copy can hold an entity deleted during it beside its successor under the same source
    /// id: rebuilt, the source id leads to the newer one, whichever is met first.
    #[test]
    fn rebuilt_source_ids_lead_to_the_newer_of_two_claimants() {
        for newer_first in [false, true] {
            let (_d, s) = open();
            let mut old = entity("t", "old");
            old.source_id = Some("b-1".into());
            let mut new = entity("t", "new");
            new.source_id = Some("b-1".into());
            new.updated_at = old.updated_at + 10;
            if newer_first {
                // Key order is id order: give the newer entity the smaller id.
                std::mem::swap(&mut old.id, &mut new.id);
            }
            let mut c = s.changes();
            c.put(&old, None).unwrap();
            c.put(&new, None).unwrap();
            s.apply(c).unwrap();
            assert_eq!(s.rebuild_derived().unwrap(), 2);
            let found = s.by_source_id(&sk("t", "b-1")).unwrap().unwrap();
            assert_eq!(found.name, "new", "newer first: {newer_first}");
        }
    }

    /// A source key in the vertical and type of [`entity`].
    fn sk<'a>(tenant: &'a str, source_id: &'a str) -> SourceKey<'a> {
        SourceKey {
            tenant,
            vertical: "parts",
            entity_type: "bolt",
            source_id,
        }
    }

    fn open() -> (tempfile::TempDir, EntityStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        (dir, EntityStore::open(&db).unwrap())
    }

    #[test]
    fn entities_stored_before_visibility_read_as_private() {
        let mut stored = serde_json::to_value(entity("t", "old")).unwrap();
        stored.as_object_mut().unwrap().remove("visibility");
        let mut bytes = vec![1u8];
        bytes.extend(serde_json::to_vec(&stored).unwrap());
        let (_d, s) = open();
        let decode = |bytes: &[u8]| decode_as::<Entity>(&s.dicts, "t", bytes);
        assert_eq!(decode(&bytes).unwrap().visibility, Visibility::Private);
        let mut public = entity("t", "new");
        public.visibility = Visibility::Public;
        assert_eq!(decode(&encode(&public).unwrap()).unwrap(), public);
        // Who may read it is not what it is.
        let hash = public.content_hash();
        public.visibility = Visibility::Private;
        assert_eq!(public.content_hash(), hash);
    }

    #[test]
    fn content_hash_ignores_key_order_and_metadata() {
        let a = entity("t", "bolt");
        let mut b = a.clone();
        b.vertical_data = serde_json::from_str(r#"{"a": "x", "b": 1}"#).unwrap();
        b.id = Uuid::now_v7();
        b.source_id = Some("s".into());
        assert_eq!(a.content_hash(), b.content_hash());
        b.name = "nut".into();
        assert_ne!(a.content_hash(), b.content_hash());
    }

    #[test]
    fn put_indexes_and_queues_then_remove_cleans_up() {
        let (_d, s) = open();
        let mut e = entity("t", "bolt");
        e.source_id = Some("erp-1".into());
        let mut c = s.changes();
        c.put(&e, None).unwrap();
        s.apply(c).unwrap();
        assert_eq!(s.get("t", e.id).unwrap().unwrap(), e);
        assert_eq!(
            s.by_source_id(&sk("t", "erp-1")).unwrap().map(|x| x.id),
            Some(e.id)
        );
        assert_eq!(
            s.by_content_hash("t", &e.content_hash())
                .unwrap()
                .map(|x| x.id),
            Some(e.id)
        );
        assert_eq!(
            s.by_source_id(&sk("u", "erp-1")).unwrap().map(|x| x.id),
            None,
            "tenant isolated"
        );
        assert_eq!(
            s.embedding_status("t", e.id).unwrap(),
            EmbeddingStatus::Pending
        );
        let q = s.queued(10).unwrap();
        assert_eq!(q.len(), 1);
        assert!(s.has_queued("t").unwrap());
        assert!(!s.has_queued("u").unwrap(), "tenant isolated");
        assert!(!s.has_queued("").unwrap());
        s.dequeue_all(&[("t".into(), e.id, q[0].2 + 1)]).unwrap();
        assert_eq!(s.queue_depth(), 1, "stale version keeps the entry");
        s.dequeue_all(&[("t".into(), e.id, q[0].2)]).unwrap();
        assert_eq!(
            s.embedding_status("t", e.id).unwrap(),
            EmbeddingStatus::Completed
        );
        assert!(!s.has_queued("t").unwrap());

        let mut c = s.changes();
        c.remove(&e).unwrap();
        s.apply(c).unwrap();
        assert!(s.get("t", e.id).unwrap().is_none());
        assert_eq!(
            s.by_source_id(&sk("t", "erp-1")).unwrap().map(|x| x.id),
            None
        );
        assert_eq!(s.queue_depth(), 1, "removal is queued for the index");
    }

    #[test]
    fn update_moves_source_and_hash_entries() {
        let (_d, s) = open();
        let mut e = entity("t", "bolt");
        e.source_id = Some("a".into());
        let mut c = s.changes();
        c.put(&e, None).unwrap();
        s.apply(c).unwrap();
        let mut next = e.clone();
        next.source_id = Some("b".into());
        next.name = "bolt 2".into();
        let mut c = s.changes();
        c.put(&next, Some(&e)).unwrap();
        s.apply(c).unwrap();
        assert_eq!(s.by_source_id(&sk("t", "a")).unwrap().map(|x| x.id), None);
        assert_eq!(
            s.by_source_id(&sk("t", "b")).unwrap().map(|x| x.id),
            Some(e.id)
        );
        assert_eq!(
            s.by_content_hash("t", &e.content_hash())
                .unwrap()
                .map(|x| x.id),
            None
        );
        assert_eq!(
            s.by_content_hash("t", &next.content_hash())
                .unwrap()
                .map(|x| x.id),
            Some(e.id)
        );
    }

    #[test]
    fn scan_pages_in_creation_order_within_the_tenant() {
        let (_d, s) = open();
        let mut c = s.changes();
        let items: Vec<_> = (0..5).map(|i| entity("t", &format!("e{i}"))).collect();
        for e in &items {
            c.put(e, None).unwrap();
        }
        c.put(&entity("t2", "other"), None).unwrap();
        s.apply(c).unwrap();
        let all: Vec<_> = s.scan("t", None).map(|e| e.unwrap().id).collect();
        assert_eq!(all, items.iter().map(|e| e.id).collect::<Vec<_>>());
        let after: Vec<_> = s
            .scan("t", Some(items[1].id))
            .map(|e| e.unwrap().id)
            .collect();
        assert_eq!(after, items[2..].iter().map(|e| e.id).collect::<Vec<_>>());
        s.delete_tenant("t").unwrap();
        assert_eq!(s.scan("t", None).count(), 0);
        assert_eq!(s.scan("t2", None).count(), 1);
    }

    #[test]
    fn heads_and_indexing_backlog_match_full_records() {
        let (_d, s) = open();
        let mut c = s.changes();
        let mut a = entity("t", "a");
        a.status = EntityStatus::Draft;
        let b = entity("t", "b");
        let other = entity("t2", "c");
        for e in [&a, &b, &other] {
            c.put(e, None).unwrap();
        }
        s.apply(c).unwrap();
        let heads: Vec<EntityHead> = s.scan_heads(Some("t")).map(Result::unwrap).collect();
        let full: Vec<Entity> = s.scan("t", None).map(Result::unwrap).collect();
        assert_eq!(heads.len(), 2);
        for (h, f) in heads.iter().zip(&full) {
            assert_eq!(
                (h.id, &h.vertical, &h.entity_type, h.status),
                (f.id, &f.vertical, &f.entity_type, f.status)
            );
        }
        assert_eq!(s.scan_heads(None).count(), 3);
        assert_eq!(s.indexing_backlog(Some("t")).unwrap(), (2, 0));
        s.mark_failed("t", b.id, true).unwrap();
        let version = s
            .queued(10)
            .unwrap()
            .into_iter()
            .find(|q| q.1 == a.id)
            .unwrap()
            .2;
        s.dequeue_all(&[("t".into(), a.id, version)]).unwrap();
        // b is queued and failed: queued wins, as in `embedding_status`.
        assert_eq!(s.indexing_backlog(None).unwrap(), (2, 0));
        // The same verdicts as the per-entity lookup.
        assert_eq!(
            s.embedding_status("t", a.id).unwrap(),
            EmbeddingStatus::Completed
        );
        assert_eq!(
            s.embedding_status("t", b.id).unwrap(),
            EmbeddingStatus::Pending
        );
    }

    #[test]
    fn stale_index_entries_left_by_a_crash_are_not_believed() {
        let (_d, s) = open();
        let mut e = entity("t", "bolt");
        e.source_id = Some("erp-9".into());
        // A crash after the index entries but before the entity: pointers to nothing.
        s.tree
            .insert(sk("t", "erp-9").index_key(), e.id.as_bytes())
            .unwrap();
        s.tree
            .insert(key(HASH, "t", &e.content_hash()), e.id.as_bytes())
            .unwrap();
        assert!(s.by_source_id(&sk("t", "erp-9")).unwrap().is_none());
        assert!(s.by_content_hash("t", &e.content_hash()).unwrap().is_none());
        // Entries pointing at an entity that no longer has that source id or content.
        let mut c = s.changes();
        c.put(&e, None).unwrap();
        s.apply(c).unwrap();
        let mut moved = e.clone();
        moved.source_id = Some("erp-10".into());
        moved.name = "renamed".into();
        s.tree
            .insert(entity_key("t", e.id), encode(&moved).unwrap())
            .unwrap();
        assert!(s.by_source_id(&sk("t", "erp-9")).unwrap().is_none());
        assert!(s.by_content_hash("t", &e.content_hash()).unwrap().is_none());
    }

    /// An entity nested past serde_json's default limit, as an older version stored it.
    fn deep_entity(tenant: &str) -> Entity {
        let mut e = entity(tenant, "deep");
        let deep = (0..200).fold(json!([]), |inner, _| Value::Array(vec![inner]));
        e.vertical_data.insert("dims".into(), deep);
        e
    }

    #[test]
    fn deep_and_damaged_entities_leave_scans_whole() {
        let (_d, s) = open();
        let (a, deep, damaged, b) = (
            entity("t", "a"),
            deep_entity("t"),
            entity("t", "damaged"),
            entity("t", "b"),
        );
        let mut c = s.changes();
        for e in [&a, &deep, &damaged, &b] {
            c.put(e, None).unwrap();
        }
        s.apply(c).unwrap();
        s.tree
            .insert(entity_key("t", damaged.id), &b"\x01{\"id\": garbage"[..])
            .unwrap();

        let ids: Vec<Uuid> = s.scan("t", None).map(|e| e.unwrap().id).collect();
        assert_eq!(ids, [a.id, deep.id, b.id]);
        assert_eq!(s.scan_all().count(), 3);
        assert_eq!(s.scan_heads(Some("t")).count(), 3);
        // Counted when written; damage on disk after that is not seen until it is removed.
        assert_eq!(s.summary("t").0, 4);
        assert_eq!(s.get("t", deep.id).unwrap().unwrap(), deep);
        assert!(matches!(s.get("t", damaged.id), Err(StoreError::Codec(_))));
        assert!(s.get_readable("t", damaged.id).unwrap().is_none());

        let mut c = s.changes();
        c.remove(&deep).unwrap();
        c.remove_undecodable("t", damaged.id).unwrap();
        s.apply(c).unwrap();
        assert!(s.get("t", deep.id).unwrap().is_none());
        assert!(s.get("t", damaged.id).unwrap().is_none());
        let ids: Vec<Uuid> = s.scan("t", None).map(|e| e.unwrap().id).collect();
        assert_eq!(ids, [a.id, b.id]);
        assert_eq!(s.summary("t").0, 2);
    }

    #[test]
    fn removing_an_entity_keeps_another_entitys_hash_entry() {
        let (_d, s) = open();
        let a = entity("t", "same");
        let mut b = a.clone();
        b.id = Uuid::now_v7();
        let mut c = s.changes();
        c.put(&a, None).unwrap();
        c.put(&b, None).unwrap();
        s.apply(c).unwrap();
        let mut c = s.changes();
        c.remove(&a).unwrap();
        s.apply(c).unwrap();
        let found = s.by_content_hash("t", &b.content_hash()).unwrap();
        assert_eq!(found.map(|x| x.id), Some(b.id));
    }

    #[test]
    fn source_ids_are_scoped_to_vertical_and_type() {
        let (_d, s) = open();
        let mut a = entity("t", "bolt");
        a.source_id = Some("1".into());
        let mut b = a.clone();
        b.id = Uuid::now_v7();
        b.vertical = "tools".into();
        let mut c = s.changes();
        c.put(&a, None).unwrap();
        c.put(&b, None).unwrap();
        s.apply(c).unwrap();
        assert_eq!(
            s.by_source_id(&sk("t", "1")).unwrap().map(|x| x.id),
            Some(a.id)
        );
        let in_tools = SourceKey {
            vertical: "tools",
            ..sk("t", "1")
        };
        assert_eq!(s.by_source_id(&in_tools).unwrap().map(|x| x.id), Some(b.id));
        let in_nuts = SourceKey {
            entity_type: "nut",
            ..sk("t", "1")
        };
        assert!(s.by_source_id(&in_nuts).unwrap().is_none());
        // Moving an entity to another type moves its entry.
        let mut moved = a.clone();
        moved.entity_type = "nut".into();
        let mut c = s.changes();
        c.put(&moved, Some(&a)).unwrap();
        s.apply(c).unwrap();
        assert!(s.by_source_id(&sk("t", "1")).unwrap().is_none());
        assert_eq!(s.by_source_id(&in_nuts).unwrap().map(|x| x.id), Some(a.id));
        assert!(!s.tree.contains_key(sk("t", "1").index_key()).unwrap());
    }

    /// A store of index format 1: entities with tenant-wide `s` entries and no format marker.
    fn write_format_1(s: &EntityStore, entities: &[Entity]) {
        s.tree.remove(FORMAT_KEY).unwrap();
        for e in entities {
            s.tree
                .insert(entity_key(&e.tenant_id, e.id), encode(e).unwrap())
                .unwrap();
            if let Some(sid) = &e.source_id {
                s.tree
                    .insert(
                        key(LEGACY_SOURCE, &e.tenant_id, sid.as_bytes()),
                        e.id.as_bytes(),
                    )
                    .unwrap();
            }
        }
    }

    #[test]
    fn a_format_1_store_is_migrated_once_and_a_crash_part_way_is_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        let mut a = entity("t", "bolt");
        a.source_id = Some("1".into());
        let mut b = entity("t2", "drill");
        b.vertical = "tools".into();
        b.source_id = Some("x\0y".into());
        let plain = entity("t", "washer");
        let s = EntityStore::open(&db).unwrap();
        write_format_1(&s, &[a.clone(), b.clone(), plain.clone()]);
        // A crash part-way through a first run: one new entry written, the old ones still there.
        s.tree
            .insert(SourceKey::of(&a).unwrap().index_key(), a.id.as_bytes())
            .unwrap();
        drop(s);

        for _ in 0..2 {
            let s = EntityStore::open(&db).unwrap();
            assert_eq!(s.tree.get(FORMAT_KEY).unwrap().as_deref(), Some(&[2u8][..]));
            assert_eq!(s.tree.scan_prefix([LEGACY_SOURCE]).count(), 0);
            assert_eq!(s.tree.scan_prefix([SOURCE]).count(), 2);
            for e in [&a, &b] {
                let k = SourceKey::of(e).unwrap();
                assert_eq!(s.by_source_id(&k).unwrap().map(|x| x.id), Some(e.id));
            }
            assert_eq!(s.scan("t", None).count(), 2, "entities are untouched");
        }
        // Once migrated, a stray old-form entry is not read as a new one.
        let s = EntityStore::open(&db).unwrap();
        s.tree
            .insert(key(LEGACY_SOURCE, "t", b"1"), a.id.as_bytes())
            .unwrap();
        let s = EntityStore::open(&db).unwrap();
        assert_eq!(s.tree.scan_prefix([LEGACY_SOURCE]).count(), 1);
    }

    /// A change is applied whole or not at all: one entity the engine cannot take (its
    /// source-id entry is longer than a key can be) leaves no trace of the others in the same change.
    #[test]
    fn a_change_is_applied_whole_or_not_at_all() {
        let (_d, s) = open();
        let good = entity("t", "bolt");
        let mut huge = entity("t", "nut");
        huge.source_id = Some("s".repeat(70_000));
        let mut c = s.changes();
        c.put(&good, None).unwrap();
        c.put(&huge, None).unwrap();
        assert!(s.apply(c).is_err());
        assert_eq!(s.get("t", good.id).unwrap(), None);
        assert_eq!(s.queue_depth(), 0);
        assert!(s
            .by_content_hash("t", &good.content_hash())
            .unwrap()
            .is_none());
        let mut c = s.changes();
        c.put(&good, None).unwrap();
        s.apply(c).unwrap();
        assert_eq!(s.get("t", good.id).unwrap().map(|e| e.id), Some(good.id));
        assert_eq!(s.queued(10).unwrap().len(), 1, "one queue entry per entity");
    }
}
