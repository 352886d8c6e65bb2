//! The keys of a tree used as a queue (under a prefix), kept in memory beside it.
//!
//! A queue is written at the back and removed from the front. In the LSM tree under the store
//! ([`super::kv`]) a removed key stays behind as a tombstone until compaction reaches it, so
//! reading "the first few entries" by scanning from the front walks every entry removed since:
//! draining 1M index-queue entries that way took 2 minutes (BENCHMARKS.md, "An LSM store
//! instead of sled"). A [`Mirrored`] queue is read from the tree once, when the store opens;
//! after that the front, counts and membership come from memory.
//!
//! Every write of a mirrored key must go through it. A write holds the mirror's writer lock
//! across the tree write and the map update, so the two agree; readers take only the map's
//! lock, which no one holds across a tree write (a write may wait for a journal fsync or a
//! write stall, and searches read the index queue).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;

use super::kv::{self, lock};
use super::StoreError;

pub(crate) struct Mirrored<V> {
    prefix: Vec<u8>,
    /// What the map keeps of a stored value.
    summary: fn(&[u8]) -> V,
    writer: Mutex<()>,
    map: Mutex<BTreeMap<Vec<u8>, V>>,
}

/// The entries of `map` whose keys start with `prefix`, in key order.
fn prefixed<'a, V>(
    map: &'a BTreeMap<Vec<u8>, V>,
    prefix: &'a [u8],
) -> impl Iterator<Item = (&'a Vec<u8>, &'a V)> + 'a {
    map.range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(move |(k, _)| k.starts_with(prefix))
}
impl<V: Clone> Mirrored<V> {
    /// Reads the keys under `prefix` from the tree.
    pub fn load(
        tree: &kv::Tree,
        prefix: &[u8],
        summary: fn(&[u8]) -> V,
    ) -> Result<Self, StoreError> {
        let mut map = BTreeMap::new();
        for item in tree.scan_prefix(prefix) {
            let (k, v) = item?;
            map.insert(k.to_vec(), summary(&v));
        }
        Ok(Mirrored {
            prefix: prefix.to_vec(),
            summary,
            writer: Mutex::new(()),
            map: Mutex::new(map),
        })
    }

    pub fn insert(&self, tree: &kv::Tree, k: Vec<u8>, v: &[u8]) -> Result<(), StoreError> {
        debug_assert!(k.starts_with(&self.prefix));
        let _w = lock(&self.writer);
        tree.insert(&k, v)?;
        lock(&self.map).insert(k, (self.summary)(v));
        Ok(())
    }

    pub fn remove(&self, tree: &kv::Tree, k: &[u8]) -> Result<(), StoreError> {
        let _w = lock(&self.writer);
        tree.remove(k)?;
        lock(&self.map).remove(k);
        Ok(())
    }

    /// Applies `writes` to the tree as one batch ([`kv::Tree::apply_writes`]); the map follows
    /// the keys they name under this mirror's prefix. A conditional removal that finds the tree
    /// holding something else (or nothing) corrects the map to that, so a map that went wrong
    /// heals at the next look at the entry.
    pub fn apply_writes(&self, tree: &kv::Tree, writes: Vec<kv::Write>) -> Result<(), StoreError> {
        let _w = lock(&self.writer);
        let mut followed = Vec::new();
        tree.apply_writes(writes, |k, v| {
            if k.starts_with(&self.prefix) {
                followed.push((k.to_vec(), v.map(self.summary)));
            }
        })?;
        let mut map = lock(&self.map);
        for (k, v) in followed {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }

    /// Up to `max` entries under `prefix` (within this mirror's), in key order.
    pub fn under(&self, prefix: &[u8], max: usize) -> Vec<(Vec<u8>, V)> {
        let map = lock(&self.map);
        let found = prefixed(&map, prefix)
            .take(max)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        found
    }

    /// Whether any entry is under `prefix` (no allocation: every search asks).
    pub fn any_under(&self, prefix: &[u8]) -> bool {
        prefixed(&lock(&self.map), prefix).next().is_some()
    }

    /// Up to `max` entries with keys up to `end` (inclusive), in key order.
    pub fn up_to(&self, end: &[u8], max: usize) -> Vec<(Vec<u8>, V)> {
        let map = lock(&self.map);
        let found = map
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(end)))
            .take(max)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        found
    }

    pub fn count_under(&self, prefix: &[u8]) -> usize {
        prefixed(&lock(&self.map), prefix).count()
    }

    pub fn first_key(&self) -> Option<Vec<u8>> {
        lock(&self.map).keys().next().cloned()
    }

    pub fn contains(&self, k: &[u8]) -> bool {
        lock(&self.map).contains_key(k)
    }

    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, kv::Tree) {
        let dir = tempfile::tempdir().unwrap();
        let tree = kv::Db::open(dir.path()).unwrap().open_tree("t").unwrap();
        (dir, tree)
    }

    fn first(v: &[u8]) -> u8 {
        v.first().copied().unwrap_or(0)
    }

    #[test]
    fn follows_the_tree_and_reads_it_once() {
        let (_dir, tree) = tree();
        tree.insert("qa1", [1]).unwrap();
        tree.insert("xa", [9]).unwrap();
        let m = Mirrored::load(&tree, b"q", first).unwrap();
        assert_eq!(m.under(b"q", 10), vec![(b"qa1".to_vec(), 1)]);
        m.insert(&tree, b"qa2".to_vec(), &[2]).unwrap();
        m.insert(&tree, b"qb1".to_vec(), &[3]).unwrap();
        assert_eq!(m.count_under(b"qa"), 2);
        assert!(m.any_under(b"qb") && !m.any_under(b"qc") && !m.any_under(b"r"));
        assert_eq!(m.len(), 3);
        assert_eq!(m.up_to(b"qa2", 10).len(), 2);
        assert_eq!(m.first_key().as_deref(), Some(&b"qa1"[..]));
        m.remove(&tree, b"qa1").unwrap();
        assert!(!m.contains(b"qa1"));
        assert_eq!(tree.get("qa1").unwrap(), None);
        assert_eq!(tree.get("qa2").unwrap().as_deref(), Some(&[2u8][..]));
    }

    #[test]
    fn a_conditional_removal_removes_only_what_is_expected_and_corrects_the_map() {
        let (_dir, tree) = tree();
        let m = Mirrored::load(&tree, b"q", first).unwrap();
        let remove_if = |k: &str, v: u8| {
            m.apply_writes(&tree, vec![kv::Write::RemoveIf(k.into(), vec![v])])
                .unwrap()
        };
        m.insert(&tree, b"q1".to_vec(), &[1]).unwrap();
        remove_if("q1", 7);
        assert!(m.contains(b"q1"), "a newer value stays");
        // Written behind the mirror's back: the next look corrects the map.
        tree.insert("q1", [5]).unwrap();
        remove_if("q1", 1);
        assert_eq!(m.under(b"q1", 1), vec![(b"q1".to_vec(), 5)]);
        tree.remove("q1").unwrap();
        remove_if("q1", 5);
        assert_eq!(m.len(), 0);
        m.insert(&tree, b"q2".to_vec(), &[2]).unwrap();
        remove_if("q2", 2);
        assert_eq!(m.len(), 0);
        assert!(tree.is_empty());
    }

    #[test]
    fn follows_a_batch_of_writes() {
        use kv::Write::*;
        let (_dir, tree) = tree();
        let m = Mirrored::load(&tree, b"q", first).unwrap();
        m.insert(&tree, b"q1".to_vec(), &[1]).unwrap();
        m.apply_writes(
            &tree,
            vec![
                Insert(b"q2".to_vec(), vec![2]),
                Insert(b"x".to_vec(), vec![9]),
                RemoveIf(b"q1".to_vec(), vec![1]),
                Insert(b"q2".to_vec(), vec![3]),
            ],
        )
        .unwrap();
        assert_eq!(m.under(b"q", 10), vec![(b"q2".to_vec(), 3)]);
        assert_eq!(tree.get("x").unwrap().as_deref(), Some(&[9u8][..]));
        assert_eq!(tree.len(), 2);
    }
}
