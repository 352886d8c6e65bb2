//! Bringing a restored store back to agreement with itself.
//!
//! A snapshot copies the trees one after another while the server keeps writing, so a record
//! that depends on another may be in the copy without it (see docs/operations.md, "Backup and
//! restore"). What can be derived is derived again here instead of trusted:
//!
//! - records of a tenant that is not in `tenants` (it was deleted, or created, while the copy
//!   ran) are removed, as a tenant deletion would;
//! - `key_hashes` is rebuilt from `keys`;
//! - the entities' source-id and content-hash indexes are rebuilt from the entities, and the
//!   index queue and failure marks are emptied (the search index is rebuilt at first start);
//! - scheduled connectors without a next run get one now;
//! - webhook outbox rows are renumbered from the new database's id generator.

use std::collections::BTreeSet;

use super::{Store, StoreError};

/// Trees whose keys start with `tenant \0`.
const TENANT_KEYED: &[&str] = &[
    "keys",
    "ingestions",
    "ingestion_errors",
    "schemas",
    "usage",
    "collections",
    "webhook_subscriptions",
    "webhook_deliveries",
    "connectors",
    "connector_due",
    "vectors",
];
/// The entities tree: keys are a kind byte, then `tenant \0` (see `entities.rs`).
const ENTITIES: &str = "entities";
const ENTITY_KINDS: &[u8] = b"euhqfz";
/// Trees not keyed by tenant: the tenants themselves, key hashes (their records are in
/// `keys`), the outbox (keyed by due time; rows of a removed subscription are dropped by the
/// delivery worker), entity counts (opening the restored store takes their clean-stop marker
/// away, so the first start counts the restored entities), and the default tree of stores
/// written on sled.
#[cfg(test)]
const NOT_TENANT_KEYED: &[&str] = &[
    "tenants",
    "key_hashes",
    "webhook_outbox",
    "entity_counts",
    "__sled__default",
];

/// What [`Store::repair_restored`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    /// Tenants whose records were removed because the tenant itself is not in the store.
    pub orphan_tenants: Vec<String>,
    pub entities: usize,
    pub connectors_rescheduled: usize,
    pub outbox_rows: usize,
}

impl Store {
    /// Repairs what a snapshot taken under writes can leave inconsistent (module docs), then
    /// flushes. `now_ms` is when rescheduled connectors run.
    pub fn repair_restored(&self, now_ms: i64) -> Result<Repaired, StoreError> {
        let known: BTreeSet<String> = self.tenants.list().iter().map(|t| t.id.clone()).collect();
        let mut orphan_tenants: Vec<String> = self
            .tenants_with_records()?
            .difference(&known)
            .cloned()
            .collect();
        orphan_tenants.sort();
        for t in &orphan_tenants {
            self.remove_tenant_records(t)?;
        }
        self.keys.rebuild_hash_index()?;
        let entities = self.entities.rebuild_derived()?;
        let connectors_rescheduled = self.connectors.schedule_missing(now_ms)?;
        let outbox_rows = self.webhooks.renumber_outbox()?;
        self.flush_blocking()?;
        Ok(Repaired {
            orphan_tenants,
            entities,
            connectors_rescheduled,
            outbox_rows,
        })
    }

    /// Every tenant id that some tenant-keyed record names.
    fn tenants_with_records(&self) -> Result<BTreeSet<String>, StoreError> {
        let mut out = BTreeSet::new();
        for name in TENANT_KEYED {
            distinct_tenants(&self.db.open_tree(name)?, None, &mut out)?;
        }
        let entities = self.db.open_tree(ENTITIES)?;
        for &kind in ENTITY_KINDS {
            distinct_tenants(&entities, Some(kind), &mut out)?;
        }
        Ok(out)
    }
}

/// Adds the tenant ids of `tree`'s keys (after the `kind` byte, if given) to `out`, seeking
/// past each tenant's keys instead of reading them: O(tenants) lookups.
fn distinct_tenants(
    tree: &crate::store::kv::Tree,
    kind: Option<u8>,
    out: &mut BTreeSet<String>,
) -> Result<(), StoreError> {
    let head: Vec<u8> = kind.into_iter().collect();
    let mut from = head.clone();
    while let Some(item) = tree.range(from.clone()..).next() {
        let (k, _) = item?;
        let Some(body) = k.strip_prefix(head.as_slice()) else {
            break;
        };
        match body.iter().position(|&b| b == 0) {
            Some(end) => {
                out.insert(String::from_utf8_lossy(&body[..end]).into_owned());
                // Tenant ids hold no byte below `-`, so `tenant \x01` sorts after all its keys.
                from = [head.as_slice(), &body[..end], &[1]].concat();
            }
            None => {
                from = k.to_vec();
                from.push(0);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::entities::sample_entity;
    use crate::store::{KeyRecord, Tenant, TenantStatus};

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn every_tree_the_store_opens_is_classified() {
        let (_dir, store) = open();
        for name in store.db.tree_names() {
            let name = String::from_utf8(name.to_vec()).unwrap();
            assert!(
                TENANT_KEYED.contains(&name.as_str())
                    || NOT_TENANT_KEYED.contains(&name.as_str())
                    || name == ENTITIES,
                "tree '{name}' is new: say in repair.rs whether its keys start with a tenant"
            );
        }
    }

    #[test]
    fn distinct_tenants_seeks_over_each_tenant() {
        let (_dir, store) = open();
        let tree = store.db.open_tree("usage").unwrap();
        for k in [&b"a\0x"[..], b"a\0y", b"b-c\0z", b"nosep", b"zz\0"] {
            tree.insert(k, []).unwrap();
        }
        let mut out = BTreeSet::new();
        distinct_tenants(&tree, None, &mut out).unwrap();
        assert_eq!(out.into_iter().collect::<Vec<_>>(), ["a", "b-c", "zz"]);
        let mut out = BTreeSet::new();
        distinct_tenants(&store.db.open_tree(ENTITIES).unwrap(), Some(b'e'), &mut out).unwrap();
        assert!(out.is_empty());
    }

    fn tenant(id: &str) -> Tenant {
        Tenant {
            id: id.into(),
            name: id.into(),
            plan: "free".into(),
            status: TenantStatus::Active,
            created_at: 0,
        }
    }

    #[test]
    fn orphans_go_and_derived_entries_come_back() {
        let (_dir, store) = open();
        store.tenants.insert_new(tenant("kept")).unwrap();
        let mut kept = sample_entity("kept", "bolt");
        kept.source_id = Some("s1".into());
        let orphan = sample_entity("gone", "nut");
        let mut changes = store.entities.changes();
        changes.put(&kept, None).unwrap();
        changes.put(&orphan, None).unwrap();
        store.entities.apply(changes).unwrap();
        store
            .keys
            .insert(KeyRecord {
                id: uuid::Uuid::now_v7(),
                tenant_id: "gone".into(),
                name: "k".into(),
                scopes: 1,
                prefix: "sk_live_0000".into(),
                hash: [7; 32],
                created_at: 0,
                expires_at: None,
                last_used_at: None,
            })
            .unwrap();
        // A copy taken mid-write: the entity is there, its index entries are not.
        let entities = store.db.open_tree(ENTITIES).unwrap();
        for kind in [b'u', b'h'] {
            for item in entities.scan_prefix([kind]) {
                entities.remove(item.unwrap().0).unwrap();
            }
        }
        assert!(store
            .entities
            .by_source_id(&crate::store::SourceKey::of(&kept).unwrap())
            .unwrap()
            .is_none());

        let repaired = store.repair_restored(5).unwrap();
        assert_eq!(repaired.orphan_tenants, ["gone"]);
        assert_eq!(repaired.entities, 1);
        assert!(store.entities.get("gone", orphan.id).unwrap().is_none());
        assert!(store.keys.list("gone").unwrap().is_empty());
        let found = store
            .entities
            .by_source_id(&crate::store::SourceKey::of(&kept).unwrap())
            .unwrap();
        assert_eq!(found.map(|e| e.id), Some(kept.id));
        assert_eq!(
            store
                .entities
                .by_content_hash("kept", &kept.content_hash())
                .unwrap()
                .map(|e| e.id),
            Some(kept.id)
        );
        assert_eq!(store.entities.queue_depth(), 0);
    }
}
