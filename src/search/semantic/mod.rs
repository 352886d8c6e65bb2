//! Meaning-based retrieval: every searchable entity has a vector (see [`model`]), computed by
//! the indexer in the round that indexes the entity and stored in the `vectors` tree; vectors
//! are held in memory per tenant and vertical ([`partitions`]) and compared with the query's.
//! How vector candidates join keyword ones is [`super::hybrid`]'s business.

pub mod model;
pub mod partitions;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::store::entities::Entity;
use crate::store::vectors::Quantized;
use crate::store::{Store, StoreError};

pub use model::{Embedder, MODEL_ID};
pub use partitions::Partitions;

/// Query vectors remembered (by their embedded words); the map is emptied when full.
const QUERY_CACHE: usize = 4096;

/// Gives the index its embedding model (unless turned off) and starts reading the stored
/// vectors into memory in the background. Answers the index and whether every entity must be
/// indexed again (`rebuilding`, or vectors of another model on disk). A damaged model file is
/// an error: the server does not start.
pub fn attach(
    mut index: super::SearchIndex,
    store: &Arc<Store>,
    rebuilding: bool,
    enabled: bool,
) -> Result<(super::SearchIndex, bool), String> {
    if !enabled {
        return Ok((index, rebuilding));
    }
    let semantic = Arc::new(Semantic::new(Embedder::builtin()?));
    let rebuild = Semantic::prepare(store, rebuilding).map_err(|e| e.to_string())?;
    let (s, st) = (Arc::clone(&semantic), Arc::clone(store));
    std::thread::Builder::new()
        .name("vector-load".into())
        .spawn(move || {
            super::indexer::lower_priority();
            let started = std::time::Instant::now();
            match s.load(&st) {
                Ok(n) => log::info!(
                    "{n} entity vectors loaded in {:.1} s ({MODEL_ID})",
                    started.elapsed().as_secs_f64()
                ),
                Err(e) => {
                    log::error!("cannot load entity vectors (searches stay keyword-only): {e}")
                }
            }
        })
        .map_err(|e| e.to_string())?;
    index.semantic = Some(semantic);
    Ok((index, rebuild))
}

pub type QueryVector = Option<Arc<[f32]>>;

pub struct Semantic {
    embedder: Embedder,
    pub partitions: Partitions,
    /// The stored vectors are in memory (loading runs after start-up; until then searches
    /// are keyword-only).
    loaded: AtomicBool,
    cache: Mutex<HashMap<String, QueryVector>>,
}

impl Semantic {
    pub fn new(embedder: Embedder) -> Semantic {
        let dim = embedder.dim();
        Semantic {
            embedder,
            partitions: Partitions::new(dim),
            loaded: AtomicBool::new(false),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Checks the stored vectors were made by this model. If not (or when the index is
    /// rebuilt anyway), drops them and answers true: every entity must be indexed again.
    pub fn prepare(store: &Store, rebuilding: bool) -> Result<bool, StoreError> {
        let current = store.vectors.model()?;
        if rebuilding || current.as_deref() != Some(MODEL_ID) {
            if current.is_some() && current.as_deref() != Some(MODEL_ID) {
                log::info!(
                    "embedding model changed ({} -> {MODEL_ID}): every entity is embedded again",
                    current.as_deref().unwrap_or("none")
                );
            }
            store.vectors.reset(MODEL_ID)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Reads every stored vector into memory.
    pub fn load(&self, store: &Store) -> Result<usize, StoreError> {
        let mut n = 0;
        self.partitions.begin_bulk();
        let read = store.vectors.for_each(|sv| {
            self.partitions
                .upsert(sv.tenant, sv.vertical, None, sv.id, &sv.vector);
            n += 1;
        });
        self.partitions.end_bulk();
        read?;
        self.loaded.store(true, Ordering::Release);
        Ok(n)
    }

    pub fn ready(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The vector of a query, and whether it came from the cache.
    pub fn query_vector(&self, query: &str) -> (QueryVector, bool) {
        let words = model::semantic_words(query).to_lowercase();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.get(&words) {
            return (v.clone(), true);
        }
        drop(cache);
        let v: QueryVector = self.embedder.embed(&words).map(Arc::from);
        cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= QUERY_CACHE {
            cache.clear();
        }
        cache.insert(words, v.clone());
        (v, false)
    }

    /// Computes and stores the vector of a searchable entity (or drops its old one when it
    /// has no words to embed).
    pub fn index(&self, store: &Store, e: &Entity) -> Result<(), StoreError> {
        match self.embedder.embed(&model::entity_text(e)) {
            Some(v) => {
                let q = Quantized::from_f32(&v);
                let old = store.vectors.put(&e.tenant_id, e.id, &e.vertical, &q)?;
                self.partitions
                    .upsert(&e.tenant_id, &e.vertical, old.as_deref(), e.id, &q);
            }
            None => self.unindex(store, &e.tenant_id, e.id)?,
        }
        Ok(())
    }

    /// Drops the vector of an entity that is no longer searchable.
    pub fn unindex(&self, store: &Store, tenant: &str, id: Uuid) -> Result<(), StoreError> {
        if let Some(vertical) = store.vectors.remove(tenant, id)? {
            self.partitions.remove(tenant, &vertical, id);
        }
        Ok(())
    }
}
