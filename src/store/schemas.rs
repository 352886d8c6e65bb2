//! Versioned JSON Schemas per (tenant, vertical, entity_type).
//! `schemas`: tenant `\0` vertical `\0` entity_type `\0` version(u32 BE) → record (JSON).
//! Versions of one type sort in order under their prefix, so the latest is the last key.
//!
//! Compiled validators are cached per (tenant, vertical, entity_type). The cache is filled and
//! replaced only under the tenant's write lock, which every write path holds, so a write never
//! validates against a version older than the last acknowledged `POST /schemas`.

use std::sync::Arc;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StoreError;
use crate::schemas::{self, Compiled};

type CacheKey = (String, String, String);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchemaRecord {
    pub vertical: String,
    pub entity_type: String,
    pub version: u32,
    pub schema: Value,
    /// Unix milliseconds.
    pub created_at: i64,
}

fn type_prefix(tenant: &str, vertical: &str, entity_type: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + vertical.len() + entity_type.len() + 3);
    for part in [tenant, vertical, entity_type] {
        k.extend_from_slice(part.as_bytes());
        k.push(0);
    }
    k
}

fn tenant_prefix(tenant: &str) -> Vec<u8> {
    let mut k = tenant.as_bytes().to_vec();
    k.push(0);
    k
}

fn decode(bytes: &[u8]) -> Result<SchemaRecord, StoreError> {
    super::from_versioned_json(bytes)
}

pub struct SchemaStore {
    tree: crate::store::kv::Tree,
    /// `None` caches "no schema for this type".
    cache: DashMap<CacheKey, Option<Arc<Compiled>>>,
}

fn cache_key(tenant: &str, vertical: &str, entity_type: &str) -> CacheKey {
    (
        tenant.to_owned(),
        vertical.to_owned(),
        entity_type.to_owned(),
    )
}

impl SchemaStore {
    pub(super) fn open(db: &crate::store::kv::Db) -> Result<Self, StoreError> {
        Ok(SchemaStore {
            tree: db.open_tree("schemas")?,
            cache: DashMap::new(),
        })
    }

    /// The version [`Self::put`] would give the type's next schema.
    pub fn next_version(
        &self,
        tenant: &str,
        vertical: &str,
        entity_type: &str,
    ) -> Result<u32, StoreError> {
        Ok(self
            .latest(tenant, vertical, entity_type)?
            .map_or(1, |r| r.version.saturating_add(1)))
    }

    /// Stores `schema`, compiled as `compiled`, as the next version of the type (not yet
    /// flushed). Call holding the tenant's write lock.
    pub fn put(
        &self,
        tenant: &str,
        vertical: &str,
        entity_type: &str,
        (schema, compiled): (Value, Compiled),
        created_at: i64,
    ) -> Result<SchemaRecord, StoreError> {
        let version = compiled.version;
        let record = SchemaRecord {
            vertical: vertical.to_owned(),
            entity_type: entity_type.to_owned(),
            version,
            schema,
            created_at,
        };
        let mut key = type_prefix(tenant, vertical, entity_type);
        key.extend_from_slice(&version.to_be_bytes());
        let bytes = super::to_versioned_json(&record)?;
        self.tree.insert(key, bytes)?;
        self.cache.insert(
            cache_key(tenant, vertical, entity_type),
            Some(Arc::new(compiled)),
        );
        Ok(record)
    }

    /// The compiled latest schema of the type, if it has one. Call holding the tenant's write
    /// lock (see the module docs).
    pub fn validator(
        &self,
        tenant: &str,
        vertical: &str,
        entity_type: &str,
    ) -> Result<Option<Arc<Compiled>>, StoreError> {
        let key = cache_key(tenant, vertical, entity_type);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit.clone());
        }
        let compiled = self.latest(tenant, vertical, entity_type)?.map(|r| {
            Arc::new(
                schemas::compile(&r.schema, r.version)
                    .unwrap_or_else(|_| schemas::reject_all(r.version)),
            )
        });
        self.cache.insert(key, compiled.clone());
        Ok(compiled)
    }

    pub fn latest(
        &self,
        tenant: &str,
        vertical: &str,
        entity_type: &str,
    ) -> Result<Option<SchemaRecord>, StoreError> {
        let prefix = type_prefix(tenant, vertical, entity_type);
        match self.tree.scan_prefix(&prefix).next_back() {
            // The prefix ends in `\0` and slugs hold no `\0`, so only this type's keys match.
            Some(item) => Ok(Some(decode(&item?.1)?)),
            None => Ok(None),
        }
    }

    /// The latest version of every type of the tenant, optionally of one vertical only.
    pub fn list_latest(
        &self,
        tenant: &str,
        vertical: Option<&str>,
    ) -> Result<Vec<SchemaRecord>, StoreError> {
        let mut prefix = tenant_prefix(tenant);
        if let Some(v) = vertical {
            prefix.extend_from_slice(v.as_bytes());
            prefix.push(0);
        }
        let mut out: Vec<SchemaRecord> = Vec::new();
        for item in self.tree.scan_prefix(&prefix) {
            let r = decode(&item?.1)?;
            match out.last_mut() {
                Some(last) if last.vertical == r.vertical && last.entity_type == r.entity_type => {
                    *last = r
                }
                _ => out.push(r),
            }
        }
        Ok(out)
    }

    pub(super) fn delete_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        self.cache.retain(|k, _| k.0 != tenant);
        for item in self.tree.scan_prefix(tenant_prefix(tenant)) {
            self.tree.remove(item?.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SchemaStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        (dir, SchemaStore::open(&db).unwrap())
    }

    fn put(s: &SchemaStore, t: &str, v: &str, ty: &str, schema: Value) -> SchemaRecord {
        let version = s.next_version(t, v, ty).unwrap();
        let c = schemas::compile(&schema, version).unwrap();
        s.put(t, v, ty, (schema, c), 1).unwrap()
    }

    #[test]
    fn versions_count_up_per_type_and_tenant() {
        let (_d, s) = store();
        assert!(s.validator("t", "v", "part").unwrap().is_none());
        let a = put(&s, "t", "v", "part", serde_json::json!({"a": 1}));
        assert_eq!(s.validator("t", "v", "part").unwrap().unwrap().version, 1);
        let b = put(&s, "t", "v", "part", serde_json::json!({"b": 2}));
        assert_eq!(s.validator("t", "v", "part").unwrap().unwrap().version, 2);
        let other = put(&s, "t2", "v", "part", serde_json::json!({}));
        assert_eq!((a.version, b.version, other.version), (1, 2, 1));
        assert_eq!(s.latest("t", "v", "part").unwrap().unwrap().schema["b"], 2);
        assert!(s.latest("t", "v", "par").unwrap().is_none());
        put(&s, "t", "v", "partx", serde_json::json!({}));
        put(&s, "t", "w", "part", serde_json::json!({}));
        let all = s.list_latest("t", None).unwrap();
        let names: Vec<_> = all
            .iter()
            .map(|r| (r.vertical.as_str(), r.entity_type.as_str(), r.version))
            .collect();
        assert_eq!(
            names,
            [("v", "part", 2), ("v", "partx", 1), ("w", "part", 1)]
        );
        assert_eq!(s.list_latest("t", Some("w")).unwrap().len(), 1);
        s.delete_tenant("t").unwrap();
        assert!(s.list_latest("t", None).unwrap().is_empty());
        assert!(s.validator("t", "v", "part").unwrap().is_none());
        assert_eq!(s.list_latest("t2", None).unwrap().len(), 1);
    }
}
