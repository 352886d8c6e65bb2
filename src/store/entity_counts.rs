//! How many entities each tenant has, per vertical, entity type, status and visibility: what
//! stats, vertical and collection listings, Open and plan caps need, without a scan of the
//! entities (O(groups) instead of O(entities)).
//!
//! The counts change with every entity write, in memory, under the tenant's write lock. They go
//! to disk only at a clean shutdown, into the `entity_counts` tree with a marker. A start that
//! finds the marker loads them and removes the marker before anything else is written; a start
//! that does not (after a crash, on a restored snapshot, on a data dir from an older build)
//! counts the stored entities once. So the counts are exact after any kind of stop, and a write
//! costs no extra disk I/O.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::entities::{EntityHead, EntityStatus, Visibility};
use super::StoreError;

/// Present only while the stored counts match the stored entities (between a clean shutdown
/// and the next start).
const CLEAN: &[u8] = b"\0clean";

/// The attributes entities are counted by.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Group {
    pub vertical: String,
    pub entity_type: String,
    pub status: EntityStatus,
    pub visibility: Visibility,
}

impl Group {
    pub fn of(e: &super::Entity) -> Group {
        Group {
            vertical: e.vertical.clone(),
            entity_type: e.entity_type.clone(),
            status: e.status,
            visibility: e.visibility,
        }
    }

    /// Whether two entities are counted in the same group.
    pub fn same(a: &super::Entity, b: &super::Entity) -> bool {
        a.status == b.status
            && a.visibility == b.visibility
            && a.vertical == b.vertical
            && a.entity_type == b.entity_type
    }

    fn of_head(h: EntityHead) -> (String, Group) {
        (
            h.tenant_id,
            Group {
                vertical: h.vertical,
                entity_type: h.entity_type,
                status: h.status,
                visibility: h.visibility,
            },
        )
    }
}

/// A tenant's counts, by group.
pub type TenantCounts = BTreeMap<Group, u64>;

pub struct EntityCounts {
    db: crate::store::kv::Db,
    tree: crate::store::kv::Tree,
    by_tenant: Mutex<HashMap<String, TenantCounts>>,
    /// Set once [`Self::save`] has written the counts and their marker.
    saved: AtomicBool,
}

/// The counts a clean shutdown saved.
fn load(tree: &crate::store::kv::Tree) -> Result<HashMap<String, TenantCounts>, StoreError> {
    let mut by_tenant: HashMap<String, TenantCounts> = HashMap::new();
    for item in tree.iter() {
        let (k, v) = item?;
        if k.as_ref() == CLEAN {
            continue;
        }
        let (tenant, group): (String, Group) = super::decode(&k)?;
        let n: u64 = super::decode(&v)?;
        by_tenant.entry(tenant).or_default().insert(group, n);
    }
    Ok(by_tenant)
}

/// Counts every stored entity.
fn count(
    heads: impl Iterator<Item = Result<EntityHead, StoreError>>,
) -> Result<HashMap<String, TenantCounts>, StoreError> {
    let started = Instant::now();
    let mut by_tenant: HashMap<String, TenantCounts> = HashMap::new();
    let mut n = 0u64;
    for head in heads {
        let (tenant, group) = Group::of_head(head?);
        *by_tenant
            .entry(tenant)
            .or_default()
            .entry(group)
            .or_default() += 1;
        n += 1;
    }
    if n > 0 {
        log::info!(
            "counted {n} stored entities in {:.1} s (no counts from a clean shutdown)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(by_tenant)
}

impl EntityCounts {
    /// Loads the counts a clean shutdown saved, or counts `heads` (every stored entity's head)
    /// when there are none to trust.
    pub(super) fn open(
        db: &crate::store::kv::Db,
        heads: impl Iterator<Item = Result<EntityHead, StoreError>>,
    ) -> Result<EntityCounts, StoreError> {
        let tree = db.open_tree("entity_counts")?;
        let saved = match tree.get(CLEAN)? {
            Some(_) => match load(&tree) {
                Ok(saved) => Some(saved),
                // Derived data: a damaged row (or one from a newer build) costs a count, never
                // the start.
                Err(e) => {
                    log::warn!("saved entity counts cannot be read ({e}): counting instead");
                    None
                }
            },
            None => None,
        };
        let by_tenant = match saved {
            Some(saved) => {
                // From here on the saved counts go stale with the first write.
                tree.remove(CLEAN)?;
                db.flush()?;
                saved
            }
            None => count(heads)?,
        };
        Ok(EntityCounts {
            db: db.clone(),
            tree,
            by_tenant: Mutex::new(by_tenant),
            saved: AtomicBool::new(false),
        })
    }

    /// Called before an entity write: a write after [`Self::save`] (a request or pull that
    /// outlived the shutdown's drain) makes the saved counts stale, so the marker that vouches
    /// for them goes first, and the next start counts.
    pub(super) fn before_write(&self) {
        if self.saved.load(Ordering::Acquire) {
            self.forget_saved();
        }
    }

    fn forget_saved(&self) {
        match self.tree.take(CLEAN) {
            Ok(Some(_)) => {
                log::warn!("an entity write after shutdown began: the next start counts")
            }
            Ok(None) => {}
            Err(e) => log::error!("cannot remove the entity counts' clean-stop marker: {e}"),
        }
    }

    /// Applies the count changes of writes that are stored.
    pub(super) fn apply(&self, deltas: &[(String, Group, i64)]) {
        if deltas.is_empty() {
            return;
        }
        let mut all = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
        for (tenant, group, delta) in deltas {
            let counts = match all.get_mut(tenant) {
                Some(c) => c,
                None => all.entry(tenant.clone()).or_default(),
            };
            let n = match counts.get_mut(group) {
                Some(n) => n,
                None => counts.entry(group.clone()).or_default(),
            };
            *n = n.saturating_add_signed(*delta);
            if *n == 0 {
                counts.remove(group);
            }
        }
        // A write whose ops landed before `save` but whose deltas come after it.
        if self.saved.load(Ordering::Acquire) {
            self.forget_saved();
        }
    }

    /// The tenant's counts.
    pub fn tenant(&self, tenant: &str) -> TenantCounts {
        let all = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
        all.get(tenant).cloned().unwrap_or_default()
    }

    /// Every tenant's counts, merged.
    pub fn all(&self) -> TenantCounts {
        let all = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = TenantCounts::new();
        for counts in all.values() {
            for (group, n) in counts {
                *out.entry(group.clone()).or_default() += n;
            }
        }
        out
    }

    /// Replaces the tenant's counts by a count of `heads` (its stored entities' heads).
    pub(super) fn recount(
        &self,
        tenant: &str,
        heads: impl Iterator<Item = Result<EntityHead, StoreError>>,
    ) -> Result<(), StoreError> {
        let mut counts = TenantCounts::new();
        for head in heads {
            *counts.entry(Group::of_head(head?).1).or_default() += 1;
        }
        let mut all = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
        all.insert(tenant.to_owned(), counts);
        Ok(())
    }

    pub(super) fn delete_tenant(&self, tenant: &str) {
        let mut all = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
        all.remove(tenant);
    }

    /// Saves the counts for the next start. Call at shutdown, after the last entity write.
    pub fn save(&self) -> Result<(), StoreError> {
        // Held to the end: deltas applied meanwhile wait, and then see `saved` (see `apply`).
        let all = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
        self.tree.clear()?;
        for (tenant, counts) in all.iter() {
            for (group, n) in counts {
                self.tree
                    .insert(super::encode(&(tenant, group))?, super::encode(n)?)?;
            }
        }
        // The marker goes to disk only after everything it vouches for.
        self.db.flush()?;
        self.tree.insert(CLEAN, [1])?;
        self.db.flush()?;
        self.saved.store(true, Ordering::Release);
        Ok(())
    }
}

/// The tenant's total and its verticals, sorted.
pub fn total_and_verticals(counts: &TenantCounts) -> (u64, Vec<String>) {
    let mut verticals: Vec<String> = Vec::new();
    let mut total = 0;
    for (group, n) in counts {
        total += n;
        // Groups are ordered by vertical first.
        if verticals.last() != Some(&group.vertical) {
            verticals.push(group.vertical.clone());
        }
    }
    (total, verticals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::entities::sample_entity;
    use crate::store::Store;

    fn total(store: &Store, tenant: &str) -> u64 {
        store.entities.summary(tenant).0
    }

    /// What a scan of the stored entities says, to hold the counts against.
    fn scanned(store: &Store, tenant: &str) -> TenantCounts {
        let mut out = TenantCounts::new();
        for h in store.entities.scan_heads(Some(tenant)) {
            *out.entry(Group::of_head(h.unwrap()).1).or_default() += 1;
        }
        out
    }

    #[test]
    fn writes_move_the_counts_and_a_clean_stop_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = sample_entity("t", "a");
        let b = sample_entity("t", "b");
        let mut c = store.entities.changes();
        c.put(&a, None).unwrap();
        c.put(&b, None).unwrap();
        c.put(&sample_entity("u", "other tenant"), None).unwrap();
        store.entities.apply(c).unwrap();
        assert_eq!(total(&store, "t"), 2);

        // Archiving and publishing move an entity between groups; a new vertical adds one.
        let mut archived = a.clone();
        archived.status = EntityStatus::Archived;
        let mut moved = b.clone();
        moved.vertical = "seals".into();
        moved.visibility = Visibility::Public;
        let mut c = store.entities.changes();
        c.put(&archived, Some(&a)).unwrap();
        c.put(&moved, Some(&b)).unwrap();
        store.entities.apply(c).unwrap();
        assert_eq!(store.entities.counts.tenant("t"), scanned(&store, "t"));
        assert_eq!(
            store.entities.summary("t"),
            (2, vec!["parts".into(), "seals".into()])
        );

        let mut c = store.entities.changes();
        c.remove(&archived).unwrap();
        store.entities.apply(c).unwrap();
        assert_eq!(store.entities.summary("t"), (1, vec!["seals".into()]));
        assert_eq!(store.entities.counts.all().values().sum::<u64>(), 2);

        store.entities.counts.save().unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.entities.counts.tenant("t"), scanned(&store, "t"));
        assert_eq!(total(&store, "u"), 1);
        // Loading took the marker away: the next start, if unclean, counts.
        assert!(store.entities.counts.tree.get(CLEAN).unwrap().is_none());
    }

    #[test]
    fn without_a_clean_stop_the_stored_entities_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.entities.counts.save().unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        // Written after the saved counts were loaded, then a crash (no save).
        let mut c = store.entities.changes();
        for i in 0..5 {
            c.put(&sample_entity("t", &format!("p{i}")), None).unwrap();
        }
        store.entities.apply(c).unwrap();
        store.flush_blocking().unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(total(&store, "t"), 5);
        assert_eq!(store.entities.counts.tenant("t"), scanned(&store, "t"));
    }

    /// A write that outlives the shutdown's drain lands after the save: the next start must
    /// not trust the saved counts.
    #[test]
    fn a_write_after_the_save_makes_the_next_start_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut c = store.entities.changes();
        c.put(&sample_entity("t", "before"), None).unwrap();
        store.entities.apply(c).unwrap();
        store.entities.counts.save().unwrap();
        let mut c = store.entities.changes();
        c.put(&sample_entity("t", "late"), None).unwrap();
        store.entities.apply(c).unwrap();
        store.flush_blocking().unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(total(&store, "t"), 2);
    }

    #[test]
    fn unreadable_saved_counts_are_counted_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut c = store.entities.changes();
        c.put(&sample_entity("t", "a"), None).unwrap();
        store.entities.apply(c).unwrap();
        store.entities.counts.save().unwrap();
        store
            .entities
            .counts
            .tree
            .insert([9u8, 9], &[7u8][..])
            .unwrap();
        store.flush_blocking().unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(total(&store, "t"), 1);
    }

    #[test]
    fn deleting_a_tenant_drops_its_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut c = store.entities.changes();
        c.put(&sample_entity("t", "a"), None).unwrap();
        c.put(&sample_entity("u", "b"), None).unwrap();
        store.entities.apply(c).unwrap();
        store.entities.delete_tenant("t").unwrap();
        assert_eq!(total(&store, "t"), 0);
        assert_eq!(total(&store, "u"), 1);
    }
}
