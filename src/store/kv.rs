//! The key-value engine under every store: fjall, an LSM tree (a journal of writes, memory
//! tables flushed to sorted files, merged in the background). sled 0.34 held the data before;
//! it kept 2.6–4.3x the bytes it stored and wrote 5–9x slower (BENCHMARKS.md, "An LSM store
//! instead of sled"). The stores were written against sled's API, so this module offers the
//! small part of it they use, over fjall:
//!
//! - a [`Tree`] per sled tree (one fjall keyspace each, same keys and values);
//! - writes are visible to reads at once and reach the operating system before they return (a
//!   `kill -9` right after keeps them); [`Db::flush`] / [`Tree::flush`] fsync the journal, which
//!   every write path does before it answers 2xx, as with sled;
//! - [`Tree::compare_and_swap`] and [`Tree::fetch_and_update`], which fjall's plain keyspaces do
//!   not have: every write to a tree takes the tree's write lock, so a read-compare-write under
//!   it is atomic against all other writes of this process (the only one: the data dir is
//!   locked);
//! - [`Tree::apply_writes`]: ordered writes, conditional removals among them, as one atomic
//!   batch (one journal write for all of them);
//! - [`Db::generate_id`]: unique, increasing across restarts, handed out from blocks whose end is
//!   made durable before the first id of the block is used.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

pub use fjall::Error;
/// A stored key or value (cheap to clone; dereferences to bytes).
pub type Value = fjall::Slice;
pub type Result<T> = std::result::Result<T, Error>;

/// fjall's internal bookkeeping of this module, hidden from [`Db::tree_names`].
const META: &str = "__qanatix_kv";
const NEXT_ID: &[u8] = b"next_id";
/// Ids handed out per durable reservation.
const ID_BLOCK: u64 = 1 << 20;
/// Block cache for reads (sled's page cache was bounded to the same).
const CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// A tree's memory table is flushed to a sorted file at this size (fjall's default is 64 MiB;
/// the entities and vectors trees each fill one during a bulk load, sealed ones wait beside
/// them for the flush, and the peak memory of a load counts them all).
const MEMTABLE_BYTES: u64 = 32 * 1024 * 1024;
/// Journal files kept before the memory tables holding their writes are flushed to sorted
/// files. fjall's default of 512 MiB left ~500 MB of journals beside 680 MB of tables after
/// loading 1M records, and a start replays whatever journal is left.
const JOURNAL_BYTES: u64 = 128 * 1024 * 1024;

/// Background threads for flushes and compactions. With more than one, fjall's first worker
/// hands every compaction request back to the queue and takes the next message at once: while
/// the others compact, it spins on the request it keeps returning (5 % of the server's CPU
/// during a bulk load, BENCHMARKS.md). One worker flushes and compacts in turn.
const WORKERS: usize = 1;

#[derive(Clone)]
pub struct Db(Arc<Inner>);

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

struct Inner {
    db: fjall::Database,
    trees: Mutex<HashMap<String, Tree>>,
    ids: Mutex<Ids>,
    meta: fjall::Keyspace,
}

struct Ids {
    next: u64,
    reserved: u64,
}

/// Takes a lock of this module or of [`super::mirror`]. A panic while holding one leaves
/// nothing half-done that a later caller could observe (the guarded state is written last), so
/// poisoning is not an error.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn corrupt(what: String) -> Error {
    Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, what))
}

/// The longest key the engine takes (lsm-tree asserts it, after journaling the write: a longer
/// or an empty key would be replayed into the same panic at every start).
const MAX_KEY: usize = u16::MAX as usize;

/// Refuses keys the engine cannot hold, before they reach it. The stores' own keys are far
/// shorter; a damaged snapshot or an old sled tree may hold anything.
fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "a key of {} bytes (1 to {MAX_KEY} can be stored)",
                key.len()
            ),
        )));
    }
    Ok(())
}

impl Db {
    pub fn open(path: &Path) -> Result<Db> {
        let db = fjall::Database::builder(path)
            .worker_threads(WORKERS)
            .cache_size(CACHE_BYTES)
            .max_journaling_size(JOURNAL_BYTES)
            .open()?;
        let meta = db.keyspace(META, fjall::KeyspaceCreateOptions::default)?;
        let next = match meta.get(NEXT_ID)? {
            Some(v) => u64::from_be_bytes(
                <[u8; 8]>::try_from(&v[..])
                    .map_err(|_| corrupt(format!("{META}/next_id holds {} bytes", v.len())))?,
            ),
            None => 0,
        };
        Ok(Db(Arc::new(Inner {
            db,
            trees: Mutex::new(HashMap::new()),
            ids: Mutex::new(Ids {
                next,
                reserved: next,
            }),
            meta,
        })))
    }

    /// The tree named `name`, created empty if it does not exist.
    pub fn open_tree<N: AsRef<[u8]>>(&self, name: N) -> Result<Tree> {
        let name = String::from_utf8_lossy(name.as_ref()).into_owned();
        if name.is_empty() || name.len() > 255 || name == META {
            return Err(corrupt(format!("'{name}' cannot name a tree")));
        }
        let mut trees = lock(&self.0.trees);
        if let Some(t) = trees.get(&name) {
            return Ok(t.clone());
        }
        let ks = self.0.db.keyspace(&name, || {
            fjall::KeyspaceCreateOptions::default().max_memtable_size(MEMTABLE_BYTES)
        })?;
        let tree = Tree {
            db: self.0.db.clone(),
            ks,
            writes: Arc::new(Mutex::new(())),
        };
        trees.insert(name, tree.clone());
        Ok(tree)
    }

    /// Names of the trees that exist, in no particular order.
    pub fn tree_names(&self) -> Vec<Value> {
        self.0
            .db
            .list_keyspace_names()
            .into_iter()
            .filter(|n| &**n != META)
            .map(|n| Value::from(n.as_bytes()))
            .collect()
    }

    /// Makes every write so far durable (fsync of the journal).
    pub fn flush(&self) -> Result<()> {
        self.0.db.persist(fjall::PersistMode::SyncAll)
    }

    /// A number never handed out before by this database, larger than all earlier ones.
    pub fn generate_id(&self) -> Result<u64> {
        let mut ids = lock(&self.0.ids);
        if ids.next == ids.reserved {
            let reserved = ids.next + ID_BLOCK;
            self.0.meta.insert(NEXT_ID, reserved.to_be_bytes())?;
            self.flush()?;
            ids.reserved = reserved;
        }
        let id = ids.next;
        ids.next += 1;
        Ok(id)
    }

    /// Makes every later [`Self::generate_id`] at least `floor` (ids handed out by an earlier
    /// engine stay unique).
    pub fn raise_ids(&self, floor: u64) -> Result<()> {
        let mut ids = lock(&self.0.ids);
        if floor > ids.next {
            self.0.meta.insert(NEXT_ID, floor.to_be_bytes())?;
            self.flush()?;
            ids.next = floor;
            ids.reserved = floor;
        }
        Ok(())
    }

    /// A read-only view of every tree as it is now, unchanged by later writes.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.0.db.snapshot())
    }

    /// Bytes of the database's files on disk (tables and journals).
    pub fn size_on_disk(&self) -> Result<u64> {
        self.0.db.disk_space()
    }
}

/// One ordered map of byte keys to byte values.
#[derive(Clone)]
pub struct Tree {
    db: fjall::Database,
    ks: fjall::Keyspace,
    writes: Arc<Mutex<()>>,
}

/// What [`Tree::compare_and_swap`] found instead of the expected value.
#[derive(Debug)]
pub struct CompareAndSwapError {
    pub current: Option<Value>,
}

impl Tree {
    pub fn get<K: AsRef<[u8]>>(&self, key: K) -> Result<Option<Value>> {
        self.ks.get(key)
    }

    pub fn contains_key<K: AsRef<[u8]>>(&self, key: K) -> Result<bool> {
        self.ks.contains_key(key)
    }

    pub fn insert<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, key: K, value: V) -> Result<()> {
        check_key(key.as_ref())?;
        let _w = lock(&self.writes);
        self.ks.insert(key.as_ref(), value.as_ref())
    }

    pub fn remove<K: AsRef<[u8]>>(&self, key: K) -> Result<()> {
        check_key(key.as_ref())?;
        let _w = lock(&self.writes);
        self.ks.remove(key.as_ref())
    }

    /// [`Self::insert`] that returns the value replaced.
    pub fn swap<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, key: K, value: V) -> Result<Option<Value>> {
        check_key(key.as_ref())?;
        let _w = lock(&self.writes);
        let old = self.ks.get(key.as_ref())?;
        self.ks.insert(key.as_ref(), value.as_ref())?;
        Ok(old)
    }

    /// [`Self::remove`] that returns the value removed.
    pub fn take<K: AsRef<[u8]>>(&self, key: K) -> Result<Option<Value>> {
        check_key(key.as_ref())?;
        let _w = lock(&self.writes);
        let old = self.ks.get(key.as_ref())?;
        if old.is_some() {
            self.ks.remove(key.as_ref())?;
        }
        Ok(old)
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<()> {
        let _w = lock(&self.writes);
        self.ks.clear()
    }

    /// Applies every write of `batch` at once: after a crash, all or none of them are there.
    pub fn apply_batch(&self, batch: Batch) -> Result<()> {
        self.apply_writes(batch.ops, |_, _| {})
    }

    /// Applies `writes` in order as one batch: after a crash all or none of them are there, and
    /// readers see none of them until they see all. A conditional removal sees the writes
    /// before it. Then calls `follow` with what each key named by a write holds now (`None`:
    /// nothing), in key order, before another write to the tree can begin.
    pub fn apply_writes(
        &self,
        writes: Vec<Write>,
        mut follow: impl FnMut(&[u8], Option<&[u8]>),
    ) -> Result<()> {
        let _w = lock(&self.writes);
        // What each key holds after the writes, and whether they change it. Only the last write
        // to a key is made: a batch gives all its writes one sequence number, so two writes to
        // one key in it would not be ordered.
        let mut after: BTreeMap<Vec<u8>, (Option<Vec<u8>>, bool)> = BTreeMap::new();
        for w in writes {
            match w {
                Write::Insert(k, v) => {
                    check_key(&k)?;
                    after.insert(k, (Some(v), true));
                }
                Write::Remove(k) => {
                    check_key(&k)?;
                    after.insert(k, (None, true));
                }
                Write::RemoveIf(k, expected) => {
                    check_key(&k)?;
                    let now = match after.get(&k) {
                        Some((now, _)) => now.clone(),
                        None => self.ks.get(&k)?.map(|v| v.to_vec()),
                    };
                    if now.as_deref() == Some(&expected[..]) {
                        after.insert(k, (None, true));
                    } else {
                        after.entry(k).or_insert((now, false));
                    }
                }
            }
        }
        if after.values().any(|(_, written)| *written) {
            // Reaches the operating system before returning, like single writes.
            let mut b = self.db.batch().durability(Some(fjall::PersistMode::Buffer));
            for (k, (v, _)) in after.iter().filter(|(_, (_, written))| *written) {
                match v {
                    Some(v) => b.insert(&self.ks, k.as_slice(), v.as_slice()),
                    None => b.remove(&self.ks, k.as_slice()),
                }
            }
            b.commit()?;
        }
        for (k, (v, _)) in &after {
            follow(k, v.as_deref());
        }
        Ok(())
    }

    /// Sets `key` to `new` (or removes it for `None`) only if it holds `old` (`None`: absent).
    pub fn compare_and_swap<K, OV, NV>(
        &self,
        key: K,
        old: Option<OV>,
        new: Option<NV>,
    ) -> Result<std::result::Result<(), CompareAndSwapError>>
    where
        K: AsRef<[u8]>,
        OV: AsRef<[u8]>,
        NV: AsRef<[u8]>,
    {
        check_key(key.as_ref())?;
        let _w = lock(&self.writes);
        let current = self.ks.get(key.as_ref())?;
        if current.as_deref() != old.as_ref().map(|o| o.as_ref()) {
            return Ok(Err(CompareAndSwapError { current }));
        }
        match new {
            Some(v) => self.ks.insert(key.as_ref(), v.as_ref())?,
            None => self.ks.remove(key.as_ref())?,
        }
        Ok(Ok(()))
    }

    /// Replaces the value of `key` by `f(current)` (`None` removes it), atomically against other
    /// writes; returns the value it had.
    pub fn fetch_and_update<K, V, F>(&self, key: K, mut f: F) -> Result<Option<Value>>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
        F: FnMut(Option<&[u8]>) -> Option<V>,
    {
        check_key(key.as_ref())?;
        let _w = lock(&self.writes);
        let current = self.ks.get(key.as_ref())?;
        match f(current.as_deref()) {
            Some(v) => self.ks.insert(key.as_ref(), v.as_ref())?,
            None if current.is_some() => self.ks.remove(key.as_ref())?,
            None => {}
        }
        Ok(current)
    }

    pub fn iter(&self) -> Iter {
        Iter(self.ks.iter())
    }

    pub fn scan_prefix<P: AsRef<[u8]>>(&self, prefix: P) -> Iter {
        Iter(self.ks.prefix(prefix))
    }

    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        Iter(self.ks.range(range))
    }

    pub fn first(&self) -> Result<Option<(Value, Value)>> {
        self.iter().next().transpose()
    }

    pub fn last(&self) -> Result<Option<(Value, Value)>> {
        self.iter().next_back().transpose()
    }

    /// Number of entries (a full scan).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Makes every write so far durable (the journal is shared by all trees).
    pub fn flush(&self) -> Result<()> {
        self.db.persist(fjall::PersistMode::SyncAll)
    }
}

/// See [`Db::snapshot`].
pub struct Snapshot(fjall::Snapshot);

impl Snapshot {
    pub fn iter(&self, tree: &Tree) -> Iter {
        use fjall::Readable;
        Iter(self.0.iter(&tree.ks))
    }
}

/// Entries in key order (either end); each item is `(key, value)`.
pub struct Iter(fjall::Iter);

impl Iterator for Iter {
    type Item = Result<(Value, Value)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|g| g.into_inner())
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|g| g.into_inner())
    }
}

impl Iter {
    pub fn keys(self) -> impl DoubleEndedIterator<Item = Result<Value>> {
        self.map(|r| r.map(|(k, _)| k))
    }

    pub fn values(self) -> impl DoubleEndedIterator<Item = Result<Value>> {
        self.map(|r| r.map(|(_, v)| v))
    }
}

/// One write of [`Tree::apply_writes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    Insert(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    /// Removes the key only while it holds this value.
    RemoveIf(Vec<u8>, Vec<u8>),
}

/// Writes to apply to one tree at once ([`Tree::apply_batch`]).
#[derive(Default)]
pub struct Batch {
    ops: Vec<Write>,
}

impl Batch {
    pub fn insert<K: AsRef<[u8]>, V: AsRef<[u8]>>(&mut self, key: K, value: V) {
        self.ops.push(Write::Insert(
            key.as_ref().to_vec(),
            value.as_ref().to_vec(),
        ));
    }

    pub fn remove<K: AsRef<[u8]>>(&mut self, key: K) {
        self.ops.push(Write::Remove(key.as_ref().to_vec()));
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let a = db.generate_id().unwrap();
        let b = db.generate_id().unwrap();
        assert!(b > a);
        drop(db);
        let db = Db::open(dir.path()).unwrap();
        let c = db.generate_id().unwrap();
        assert!(c > b, "{c} after {b}");
    }

    #[test]
    fn compare_and_swap_and_fetch_and_update() {
        let dir = tempfile::tempdir().unwrap();
        let t = Db::open(dir.path()).unwrap().open_tree("t").unwrap();
        assert!(t
            .compare_and_swap("k", None::<&[u8]>, Some("a"))
            .unwrap()
            .is_ok());
        let e = t
            .compare_and_swap("k", None::<&[u8]>, Some("b"))
            .unwrap()
            .unwrap_err();
        assert_eq!(e.current.as_deref(), Some(&b"a"[..]));
        assert!(t
            .compare_and_swap("k", Some("x"), Some("b"))
            .unwrap()
            .is_err());
        assert!(t
            .compare_and_swap("k", Some("a"), None::<&[u8]>)
            .unwrap()
            .is_ok());
        assert_eq!(t.get("k").unwrap(), None);
        let old = t
            .fetch_and_update("n", |v| Some(vec![v.map_or(0, |v| v[0]) + 1]))
            .unwrap();
        assert_eq!(old, None);
        t.fetch_and_update("n", |v| Some(vec![v.map_or(0, |v| v[0]) + 1]))
            .unwrap();
        assert_eq!(t.get("n").unwrap().as_deref(), Some(&[2u8][..]));
        t.fetch_and_update("n", |_| None::<Vec<u8>>).unwrap();
        assert!(!t.contains_key("n").unwrap());
    }

    #[test]
    fn compare_and_swap_is_atomic_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let t = Db::open(dir.path()).unwrap().open_tree("t").unwrap();
        t.insert("n", 0u64.to_be_bytes()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || {
                    let mut done = 0;
                    while done < 500 {
                        let cur = t.get("n").unwrap().unwrap();
                        let n = u64::from_be_bytes(<[u8; 8]>::try_from(&cur[..]).unwrap());
                        if t.compare_and_swap("n", Some(cur), Some((n + 1).to_be_bytes()))
                            .unwrap()
                            .is_ok()
                        {
                            done += 1;
                        }
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(
            t.get("n").unwrap().as_deref(),
            Some(&2000u64.to_be_bytes()[..])
        );
    }

    #[test]
    fn trees_batches_prefixes_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let t = db.open_tree("things").unwrap();
        let mut b = Batch::default();
        for i in 0..10u8 {
            b.insert([b'a', i], [i]);
        }
        b.insert("b1", "x");
        b.remove([b'a', 3]);
        t.apply_batch(b).unwrap();
        assert_eq!(t.scan_prefix("a").count(), 9);
        let last = t.scan_prefix("a").next_back().unwrap().unwrap();
        assert_eq!(&*last.0, &[b'a', 9]);
        assert_eq!(t.range(&b"a\x05"[..]..&b"a\x08"[..]).count(), 3);
        assert_eq!(t.len(), 10);
        let view = db.snapshot();
        t.insert("b2", "later").unwrap();
        t.remove("b1").unwrap();
        assert_eq!(view.iter(&t).count(), 10, "the view keeps what was there");
        assert!(view.iter(&t).any(|kv| &*kv.unwrap().0 == b"b1"));
        t.remove("b2").unwrap();
        t.insert("b1", "x").unwrap();
        db.flush().unwrap();
        let names: Vec<String> = db
            .tree_names()
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        assert_eq!(names, vec!["things".to_string()]);
        assert!(db.open_tree("").is_err());
        let e = t.insert("", "x").unwrap_err();
        assert!(e.to_string().contains("a key of 0 bytes"), "{e}");
        assert!(t.insert(vec![b'k'; MAX_KEY + 1], "x").is_err());
        let mut b = Batch::default();
        b.insert("fine", "x");
        b.insert(vec![b'k'; MAX_KEY + 1], "x");
        assert!(t.apply_batch(b).is_err());
        assert_eq!(
            t.get("fine").unwrap(),
            None,
            "nothing of a refused batch is written"
        );
        t.insert(vec![b'k'; MAX_KEY], "x").unwrap();
        t.remove(vec![b'k'; MAX_KEY]).unwrap();
        assert!(db.open_tree(META).is_err());
        drop((t, db));
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.open_tree("things").unwrap().len(), 10);
    }

    #[test]
    fn writes_apply_in_order_as_one_batch() {
        use Write::*;
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let t = db.open_tree("t").unwrap();
        t.insert("old", "1").unwrap();
        t.insert("kept", "2").unwrap();
        let mut followed = Vec::new();
        t.apply_writes(
            vec![
                Insert(b"new".to_vec(), b"a".to_vec()),
                Insert(b"new".to_vec(), b"b".to_vec()),
                RemoveIf(b"old".to_vec(), b"1".to_vec()),
                RemoveIf(b"kept".to_vec(), b"other".to_vec()),
                // Sees the insert before it, not the tree.
                Insert(b"late".to_vec(), b"x".to_vec()),
                RemoveIf(b"late".to_vec(), b"x".to_vec()),
                Remove(b"absent".to_vec()),
            ],
            |k, v| followed.push((k.to_vec(), v.map(<[u8]>::to_vec))),
        )
        .unwrap();
        assert_eq!(
            t.get("new").unwrap().as_deref(),
            Some(&b"b"[..]),
            "last wins"
        );
        assert_eq!(t.get("old").unwrap(), None);
        assert_eq!(t.get("kept").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(t.get("late").unwrap(), None);
        let keys: Vec<&[u8]> = followed.iter().map(|(k, _)| &k[..]).collect();
        assert_eq!(keys, [&b"absent"[..], b"kept", b"late", b"new", b"old"]);
        assert_eq!(followed[1].1.as_deref(), Some(&b"2"[..]), "what it holds");
        assert_eq!(followed[3].1.as_deref(), Some(&b"b"[..]));

        // A key the engine cannot hold refuses the whole batch, before anything is written.
        let refused = t.apply_writes(
            vec![Insert(b"first".to_vec(), b"x".to_vec()), Remove(Vec::new())],
            |_, _| panic!("nothing was written"),
        );
        assert!(refused.is_err());
        assert_eq!(t.get("first").unwrap(), None);
        drop((t, db));
        let t = Db::open(dir.path()).unwrap().open_tree("t").unwrap();
        assert_eq!(t.get("new").unwrap().as_deref(), Some(&b"b"[..]));
        assert_eq!(t.len(), 2);
    }
}
