//! Per-tenant metadata of collections (verticals) that the records dialect lets an admin set:
//! description, category and the visibility new records get (API-RECORDS.md §2).
//! `collections`: tenant `\0` collection → metadata (JSON).
//!
//! A collection itself is not stored anywhere: it exists while it has entities (or a schema).
//! This tree only holds what cannot be derived from them.

use serde::{Deserialize, Serialize};

use super::{StoreError, Visibility};

/// What an admin has said about a collection. Every field is optional: an unset default
/// visibility means "private".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectionMeta {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub default_visibility: Option<Visibility>,
    /// Unix milliseconds of the last change.
    #[serde(default)]
    pub updated_at: i64,
}

fn key(tenant: &str, collection: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + collection.len() + 1);
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k.extend_from_slice(collection.as_bytes());
    k
}

fn tenant_prefix(tenant: &str) -> Vec<u8> {
    key(tenant, "")
}

fn decode(bytes: &[u8]) -> Result<CollectionMeta, StoreError> {
    super::from_versioned_json(bytes)
}

pub struct CollectionStore {
    tree: crate::store::kv::Tree,
}

impl CollectionStore {
    pub(super) fn open(db: &crate::store::kv::Db) -> Result<Self, StoreError> {
        Ok(CollectionStore {
            tree: db.open_tree("collections")?,
        })
    }

    pub fn get(
        &self,
        tenant: &str,
        collection: &str,
    ) -> Result<Option<CollectionMeta>, StoreError> {
        self.tree
            .get(key(tenant, collection))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Stores the metadata (not yet flushed: the caller's write path flushes).
    pub fn put(
        &self,
        tenant: &str,
        collection: &str,
        meta: &CollectionMeta,
    ) -> Result<(), StoreError> {
        let bytes = super::to_versioned_json(meta)?;
        self.tree.insert(key(tenant, collection), bytes)?;
        Ok(())
    }

    /// The visibility a new entity of the collection gets when its write does not name one.
    pub fn default_visibility(
        &self,
        tenant: &str,
        collection: &str,
    ) -> Result<Visibility, StoreError> {
        Ok(self
            .get(tenant, collection)?
            .and_then(|m| m.default_visibility)
            .unwrap_or_default())
    }

    /// Every collection of the tenant that has metadata, by name.
    pub fn list(&self, tenant: &str) -> Result<Vec<(String, CollectionMeta)>, StoreError> {
        let prefix = tenant_prefix(tenant);
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(&prefix) {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.push((name, decode(&v)?));
        }
        Ok(out)
    }

    pub(super) fn delete_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        for item in self.tree.scan_prefix(tenant_prefix(tenant)) {
            self.tree.remove(item?.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_per_tenant_and_defaults_to_private() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        let s = CollectionStore::open(&db).unwrap();
        assert_eq!(s.default_visibility("t", "c").unwrap(), Visibility::Private);
        let meta = CollectionMeta {
            description: Some("d".into()),
            default_visibility: Some(Visibility::Public),
            ..Default::default()
        };
        s.put("t", "c", &meta).unwrap();
        s.put("t2", "c", &CollectionMeta::default()).unwrap();
        assert_eq!(s.default_visibility("t", "c").unwrap(), Visibility::Public);
        assert_eq!(
            s.default_visibility("t2", "c").unwrap(),
            Visibility::Private
        );
        // A tenant whose id is a prefix of another's sees only its own.
        s.put("t22", "x", &meta).unwrap();
        assert_eq!(s.list("t2").unwrap().len(), 1);
        assert_eq!(s.list("t").unwrap(), vec![("c".to_owned(), meta)]);
        s.delete_tenant("t").unwrap();
        assert!(s.list("t").unwrap().is_empty());
        assert_eq!(s.list("t2").unwrap().len(), 1);
    }
}
