//! Tenants: the isolation boundary. Kept in the `tenants` tree and mirrored in memory, since every
//! authenticated request needs the tenant's plan and status.

use std::sync::Arc;

use crate::concurrent_map::ConcurrentMap;
use serde::{Deserialize, Serialize};

use super::{decode, encode, StoreError};

/// A tenant id: 1–64 chars of `[A-Za-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(s: &str) -> Option<TenantId> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then(|| TenantId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub plan: String,
    pub status: TenantStatus,
    pub created_at: i64,
}

/// Excludes a tenant's deletion from every request acting within the tenant and from its
/// re-creation.
pub type TenantGate = Arc<tokio::sync::RwLock<()>>;

pub struct TenantStore {
    tree: crate::store::kv::Tree,
    cache: ConcurrentMap<String, Arc<Tenant>>,
    /// One gate per tenant id ever seen; kept after deletion so that a request still holding
    /// the old gate and one taking it anew always exclude each other.
    gates: ConcurrentMap<String, TenantGate>,
}

impl TenantStore {
    pub(super) fn open(db: &crate::store::kv::Db) -> Result<Self, StoreError> {
        let tree = db.open_tree("tenants")?;
        let cache = ConcurrentMap::default();
        for item in tree.iter() {
            let (_, v) = item?;
            let t: Tenant = decode(&v)?;
            cache.insert(t.id.clone(), Arc::new(t));
        }
        Ok(TenantStore {
            tree,
            cache,
            gates: ConcurrentMap::default(),
        })
    }

    /// The tenant's gate: requests within the tenant and creation hold it shared, deletion
    /// exclusively, so a request runs wholly before or wholly after the tenant is deleted.
    pub fn gate(&self, id: &str) -> TenantGate {
        if let Some(g) = self.gates.get(id) {
            return Arc::clone(&g);
        }
        Arc::clone(&self.gates.entry(id.to_owned()).or_default())
    }

    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.cache.get(id).map(|t| Arc::clone(&t))
    }

    /// All tenants, oldest first.
    pub fn list(&self) -> Vec<Arc<Tenant>> {
        let mut all: Vec<_> = self.cache.iter().map(|t| Arc::clone(&t)).collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        all
    }

    /// Inserts a new tenant; `None` if the id is taken. Not yet flushed: see [`super::Store::flush`].
    pub fn insert_new(&self, tenant: Tenant) -> Result<Option<Arc<Tenant>>, StoreError> {
        let bytes = encode(&tenant)?;
        let swapped =
            self.tree
                .compare_and_swap(tenant.id.as_bytes(), None::<&[u8]>, Some(bytes))?;
        if swapped.is_err() {
            return Ok(None);
        }
        let tenant = Arc::new(tenant);
        self.cache.insert(tenant.id.clone(), Arc::clone(&tenant));
        Ok(Some(tenant))
    }

    /// Replaces a tenant record; `None` if it does not exist.
    pub fn update(
        &self,
        id: &str,
        change: impl FnOnce(&mut Tenant),
    ) -> Result<Option<Arc<Tenant>>, StoreError> {
        let Some(current) = self.get(id) else {
            return Ok(None);
        };
        let mut next = (*current).clone();
        change(&mut next);
        self.tree.insert(id.as_bytes(), encode(&next)?)?;
        let next = Arc::new(next);
        self.cache.insert(id.to_owned(), Arc::clone(&next));
        Ok(Some(next))
    }

    pub(super) fn delete(&self, id: &str) -> Result<bool, StoreError> {
        self.cache.remove(id);
        Ok(self.tree.take(id.as_bytes())?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_id_rules() {
        assert!(TenantId::parse("acme").is_some());
        assert!(TenantId::parse("Acme_Corp-2").is_some());
        assert!(TenantId::parse(&"a".repeat(64)).is_some());
        for bad in ["", "a b", "a/b", "ü", "a.b"] {
            assert!(TenantId::parse(bad).is_none(), "{bad}");
        }
        assert!(TenantId::parse(&"a".repeat(65)).is_none());
    }

    #[test]
    fn insert_conflict_update_delete_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        let store = TenantStore::open(&db).unwrap();
        let t = Tenant {
            id: "acme".into(),
            name: "Acme".into(),
            plan: "free".into(),
            status: TenantStatus::Active,
            created_at: 1,
        };
        assert!(store.insert_new(t.clone()).unwrap().is_some());
        assert!(store.insert_new(t.clone()).unwrap().is_none());
        store.update("acme", |t| t.plan = "pro".into()).unwrap();
        assert_eq!(store.get("acme").unwrap().plan, "pro");
        let reopened = TenantStore::open(&db).unwrap();
        assert_eq!(reopened.get("acme").unwrap().plan, "pro");
        assert!(store.delete("acme").unwrap());
        assert!(store.get("acme").is_none());
        assert!(store.update("acme", |_| {}).unwrap().is_none());
    }
}
