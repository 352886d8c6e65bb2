//! The indexer: a thread that drains the store's durable index queue into tantivy.
//!
//! Each round takes up to [`BATCH`] queued entities, re-reads them from the store (the source of
//! truth), replaces their documents (active entities only; others are just deleted), commits,
//! and only then removes the queue entries whose version did not change meanwhile. A crash at
//! any point leaves entries queued, and replaying them is idempotent.
//!
//! Read-your-writes: every write the API applies is counted ([`Indexer::applied`]); a round
//! notes the count before it reads the queue, and once it has committed every entry it found
//! (it took fewer than [`BATCH`]), the writes up to that count are searchable. That count is
//! published on a `watch` channel, so a request can wait for its own write to become
//! searchable without holding a thread ([`Indexer::searchable`]).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tantivy::schema::Term;
use tokio::sync::watch;

use super::{document, SearchIndex};
use crate::store::{EntityStatus, Store, StoreError};

const BATCH: usize = 50_000;
/// How often a round looks at the stop flag: a few milliseconds of indexing apart.
const STOP_CHECK_EVERY: usize = 256;
const INDEXER_NICE: libc::c_int = 5;
/// Idle wake-up, in case a notification was missed.
const IDLE: Duration = Duration::from_millis(250);

/// The longest a request waits in [`Indexer::searchable`]: past it the write (already durable)
/// is answered anyway and becomes searchable when the indexer catches up.
pub const SEARCHABLE_WAIT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Signal {
    pending: bool,
    stop: bool,
    /// Writes applied to the store so far (see [`Indexer::applied`]).
    applied: u64,
}

/// Where a rebuild of the whole index stands, for `/ready` and search metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebuildStatus {
    /// The index holds every stored entity, up to the queue's usual ~1 s lag.
    Complete,
    /// Stored entities are being queued (`total` not known yet) or indexed.
    Rebuilding { indexed: u64, total: Option<u64> },
    /// Queueing the rebuild failed: the index stays incomplete until a restart retries it.
    Failed,
}

/// What a search could see of the tenant's acknowledged writes (`metadata.freshness`).
/// Records-dialect writes answer only once searchable, so a search after one always sees it;
/// this says whether anything else was still on its way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Nothing of the tenant's was waiting to be indexed: every write acknowledged before the
    /// search, in either dialect, is in its results.
    Current,
    /// Some of the tenant's writes were still queued: entities-dialect writes of the last
    /// moments (API.md: searchable within a second) may be missing.
    Indexing,
    /// The index is being rebuilt from storage (`/ready` answers 503 until it is done):
    /// results may miss records that are stored.
    Rebuilding,
}

impl Freshness {
    pub fn as_str(self) -> &'static str {
        match self {
            Freshness::Current => "current",
            Freshness::Indexing => "indexing",
            Freshness::Rebuilding => "rebuilding",
        }
    }
}

const COMPLETE: u8 = 0;
const QUEUEING: u8 = 1;
const INDEXING: u8 = 2;
const FAILED: u8 = 3;

/// Shared between the indexer thread (writer) and request handlers (readers).
#[derive(Default)]
struct Rebuild {
    phase: AtomicU8,
    indexed: AtomicU64,
    total: AtomicU64,
}

impl Rebuild {
    fn status(&self) -> RebuildStatus {
        match self.phase.load(Ordering::Acquire) {
            COMPLETE => RebuildStatus::Complete,
            FAILED => RebuildStatus::Failed,
            phase => {
                let total = (phase == INDEXING).then(|| self.total.load(Ordering::Acquire));
                let indexed = self.indexed.load(Ordering::Acquire);
                RebuildStatus::Rebuilding {
                    // Writes during the rebuild are queued too and counted as they are indexed.
                    indexed: total.map_or(indexed, |t| indexed.min(t)),
                    total,
                }
            }
        }
    }
}

/// Handle to the running indexer thread.
pub struct Indexer {
    signal: Arc<(Mutex<Signal>, Condvar)>,
    /// Read by a round between documents, so a shutdown does not wait for a whole round.
    stopping: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
    rebuild: Arc<Rebuild>,
    /// The count of applied writes that are all searchable (committed and visible to new
    /// searchers).
    searchable: Arc<watch::Sender<u64>>,
}

impl Indexer {
    /// Starts the indexer. `rebuild` (the index is new or was dropped) first queues every stored
    /// entity; either way the thread then replays whatever the queue holds. This runs in the
    /// background so the server answers while a large index is rebuilt.
    pub fn spawn(store: Arc<Store>, index: Arc<SearchIndex>, rebuild: bool) -> Indexer {
        let signal: Arc<(Mutex<Signal>, Condvar)> = Arc::default();
        let sig = Arc::clone(&signal);
        let progress: Arc<Rebuild> = Arc::default();
        // A new data dir has nothing to rebuild: say so at once, so it is ready when it binds.
        let rebuild = rebuild && !nothing_stored(&store, &index);
        if rebuild {
            // Set before the server binds, so no request sees a half-built index as complete.
            progress.phase.store(QUEUEING, Ordering::Release);
        }
        let shared = Arc::clone(&progress);
        let searchable = Arc::new(watch::Sender::new(0));
        let published = Arc::clone(&searchable);
        let stopping: Arc<AtomicBool> = Arc::default();
        let stop_seen = Arc::clone(&stopping);
        let thread = std::thread::Builder::new()
            .name("qanatix-indexer".into())
            .spawn(move || {
                let started = Instant::now();
                lower_priority();
                if rebuild {
                    queue_rebuild(&store, &index, &shared);
                }
                let queued = store.entities.queue_depth();
                if queued > 0 {
                    log::info!("index queue holds {queued} entities: replaying");
                }
                run(
                    &store, &index, &sig, &shared, &published, &stop_seen, started,
                )
            })
            .expect("spawn indexer thread");
        Indexer {
            signal,
            stopping,
            thread: Mutex::new(Some(thread)),
            rebuild: progress,
            searchable,
        }
    }

    /// Whether searches currently see every stored entity (see [`RebuildStatus`]).
    pub fn rebuild_status(&self) -> RebuildStatus {
        self.rebuild.status()
    }

    /// Counts a write that has been applied to the store (called before it is flushed, so a
    /// round that starts during the flush already counts it as seen).
    pub fn applied(&self) {
        if let Ok(mut s) = self.signal.0.lock() {
            s.applied += 1;
        }
    }

    /// What a search starting now can see of the tenant's writes. Call it before the search
    /// takes its searcher: entries leave the queue only after their commit is visible.
    pub fn freshness(&self, store: &Store, tenant: &str) -> Result<Freshness, StoreError> {
        Ok(if self.rebuild_status() != RebuildStatus::Complete {
            Freshness::Rebuilding
        } else if store.entities.has_queued(tenant)? {
            Freshness::Indexing
        } else {
            Freshness::Current
        })
    }

    /// Wakes the indexer after a write.
    pub fn notify(&self) {
        let (lock, cvar) = &*self.signal;
        if let Ok(mut s) = lock.lock() {
            s.pending = true;
            cvar.notify_one();
        }
    }

    /// Waits, without holding a thread, until every write applied before the call is
    /// searchable; at most [`SEARCHABLE_WAIT`]. Returns whether it is. A rebuilding index is
    /// not waited for (its searches say so in their metadata): a round there takes up to
    /// [`BATCH`] entities and may be seconds long.
    pub async fn searchable(&self) -> bool {
        if self.rebuild_status() != RebuildStatus::Complete {
            return false;
        }
        let Some(target) = self.signal.0.lock().ok().map(|s| s.applied) else {
            return false;
        };
        let mut visible = self.searchable.subscribe();
        if *visible.borrow_and_update() >= target {
            return true;
        }
        // The write's own notification has usually started a round already; this one makes
        // sure a round follows it if that round began before the write was counted.
        self.notify();
        let caught_up = tokio::time::timeout(SEARCHABLE_WAIT, visible.wait_for(|v| *v >= target))
            .await
            .map(|seen| seen.is_ok());
        if caught_up.is_err() {
            log::warn!(
                "a write was answered before it became searchable: the index trails by more \
                 than {} s",
                SEARCHABLE_WAIT.as_secs()
            );
        }
        caught_up.unwrap_or(false)
    }

    /// Commits what the current round has indexed so far and stops; the rest of the queue stays
    /// queued in the store and is indexed at the next start.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        {
            let (lock, cvar) = &*self.signal;
            if let Ok(mut s) = lock.lock() {
                s.stop = true;
                cvar.notify_one();
            }
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

/// Runs the calling thread (and threads it spawns later) at a lower CPU priority: indexing
/// may trail writes under load, but must not slow acknowledged writes or searches when the
/// cores are busy. Nice 5 still leaves indexing about a quarter of a contended core, so another
/// busy process cannot starve it (nice 10 could, under a parallel compile). Best effort: without
/// permission the thread simply keeps its priority.
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread's own id; no memory is shared.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, INDEXER_NICE);
        }
    }
}

/// True (and the index marked complete) when the store holds no entity at all.
fn nothing_stored(store: &Store, index: &SearchIndex) -> bool {
    if store.entities.scan_all().next().is_some() {
        return false;
    }
    if let Err(e) = index.mark_complete() {
        log::error!("cannot mark the search index complete: {e}");
    }
    true
}

/// Queues every stored entity for a rebuild and marks the index complete once that is durable
/// (the queue then guarantees the rest); progress is reported until the queue is drained.
fn queue_rebuild(store: &Store, index: &SearchIndex, progress: &Rebuild) {
    match store.queue_all_entities() {
        Ok(n) => {
            log::warn!("search index was missing: rebuilding it from {n} stored entities");
            progress.total.store(n as u64, Ordering::Release);
            progress.phase.store(INDEXING, Ordering::Release);
            if let Err(e) = index.mark_complete() {
                log::error!("cannot mark the search index complete: {e}");
            }
        }
        Err(e) => {
            log::error!("cannot queue entities for the index rebuild: {e}");
            progress.phase.store(FAILED, Ordering::Release);
        }
    }
}

fn run(
    store: &Store,
    index: &SearchIndex,
    signal: &(Mutex<Signal>, Condvar),
    progress: &Rebuild,
    searchable: &watch::Sender<u64>,
    stopping: &AtomicBool,
    started: Instant,
) {
    let mut drained = None;
    loop {
        // Taken under the lock the writers count under: every write counted here was applied
        // before this round reads the queue.
        let seen = {
            let (lock, cvar) = signal;
            let Ok(mut s) = lock.lock() else { return };
            if s.stop {
                return;
            }
            // The first round replays the queue; later ones wait for work.
            if drained == Some(0) && !s.pending {
                s = match cvar.wait_timeout(s, IDLE) {
                    Ok((s, _)) => s,
                    Err(_) => return,
                };
                if s.stop {
                    return;
                }
            }
            s.pending = false;
            s.applied
        };
        drained = Some(match round(store, index, stopping) {
            // A cut-short round proves nothing about the queue: neither rebuild progress nor
            // searchability may be reported from it.
            Ok(_) if stopping.load(Ordering::Acquire) => return,
            Ok(n) => {
                if progress.phase.load(Ordering::Acquire) == INDEXING {
                    report_rebuild(progress, n, started);
                }
                if n < BATCH {
                    publish(searchable, seen);
                }
                n
            }
            Err(e) => {
                log::error!("indexer round failed: {e}");
                0
            }
        });
    }
}

/// A round that took fewer than [`BATCH`] entries took every entry queued before it began, so
/// every write counted by then is searchable.
fn publish(searchable: &watch::Sender<u64>, seen: u64) {
    searchable.send_if_modified(|v| {
        let newer = seen > *v;
        if newer {
            *v = seen;
        }
        newer
    });
}

/// Counts a round of a rebuild. Every rebuild entry was queued before the first round, so a
/// round that took the whole queue (fewer than [`BATCH`] entries) has indexed them all, however
/// many writes keep arriving meanwhile; waiting for an empty queue could wait forever under load.
fn report_rebuild(progress: &Rebuild, drained: usize, started: Instant) {
    let total = progress.total.load(Ordering::Acquire);
    let indexed = progress.indexed.fetch_add(drained as u64, Ordering::AcqRel) + drained as u64;
    if drained >= BATCH {
        log::info!(
            "search index rebuild: {} of {total} entities indexed",
            indexed.min(total)
        );
    } else {
        // Logged before `/ready` can say so, so the log never lags behind the endpoint.
        log::info!(
            "search index rebuild complete: {total} entities in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        progress.phase.store(COMPLETE, Ordering::Release);
    }
}

/// One drain-index-commit-dequeue round; returns how many queue entries it handled. Once
/// `stopping` is set it stops taking entries, commits the ones it took and dequeues only those.
pub fn round(store: &Store, index: &SearchIndex, stopping: &AtomicBool) -> Result<usize, String> {
    let queued = store.entities.queued(BATCH).map_err(|e| e.to_string())?;
    if queued.is_empty() {
        return Ok(0);
    }
    let started = std::time::Instant::now();
    let taken = index
        .write(|writer, fields| {
            for (n, (tenant, id, _)) in queued.iter().enumerate() {
                if n % STOP_CHECK_EVERY == 0 && stopping.load(Ordering::Acquire) {
                    return n;
                }
                writer.delete_term(Term::from_field_text(fields.id, &id.to_string()));
                match store.entities.get(tenant, *id) {
                    Ok(Some(e)) if e.status == EntityStatus::Active => {
                        let embedded = match &index.semantic {
                            Some(s) => s.index(store, &e).map_err(|err| err.to_string()),
                            None => Ok(()),
                        };
                        let added = writer
                            .add_document(document::build(fields, &e))
                            .map_err(|err| err.to_string());
                        if let Err(err) = added.and(embedded) {
                            log::error!("cannot index entity {id}: {err}");
                            let _ = store.entities.mark_failed(tenant, *id, true);
                        } else {
                            let _ = store.entities.mark_failed(tenant, *id, false);
                        }
                    }
                    Ok(_) => {
                        if let Some(s) = &index.semantic {
                            if let Err(err) = s.unindex(store, tenant, *id) {
                                log::error!("cannot drop the vector of entity {id}: {err}");
                            }
                        }
                    }
                    Err(err) => {
                        log::error!("cannot read entity {id} for indexing: {err}");
                        let _ = store.entities.mark_failed(tenant, *id, true);
                    }
                }
            }
            queued.len()
        })
        .map_err(|e| e.to_string())?;
    store
        .entities
        .dequeue_all(&queued[..taken])
        .map_err(|e| e.to_string())?;
    log::debug!(
        "indexed {taken} entities in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_searchable_count_only_moves_forward() {
        let tx = watch::Sender::new(0);
        publish(&tx, 3);
        assert_eq!(*tx.borrow(), 3);
        // A round that noted fewer writes (it began earlier) never takes the count back.
        publish(&tx, 2);
        assert_eq!(*tx.borrow(), 3);
        publish(&tx, 5);
        assert_eq!(*tx.borrow(), 5);
    }

    fn opened() -> (tempfile::TempDir, Arc<Store>, Arc<SearchIndex>, Indexer) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let (index, created) = SearchIndex::open(&dir.path().join("index")).unwrap();
        let index = Arc::new(index);
        let indexer = Indexer::spawn(Arc::clone(&store), Arc::clone(&index), created);
        (dir, store, index, indexer)
    }

    /// A stop cuts a round short: what it did not take stays queued for the next start.
    #[test]
    fn a_stopped_round_leaves_the_rest_queued() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (index, _) = SearchIndex::open(&dir.path().join("index")).unwrap();
        let mut c = store.entities.changes();
        for i in 0..3 {
            let e = crate::store::entities::sample_entity("t", &format!("part {i}"));
            c.put(&e, None).unwrap();
        }
        store.entities.apply(c).unwrap();
        assert_eq!(round(&store, &index, &AtomicBool::new(true)), Ok(0));
        assert_eq!(store.entities.queue_depth(), 3);
        assert_eq!(index.num_docs(), 0);
        assert_eq!(round(&store, &index, &AtomicBool::new(false)), Ok(3));
        assert_eq!(store.entities.queue_depth(), 0);
        assert_eq!(index.num_docs(), 3);
    }

    fn write(store: &Store, indexer: &Indexer, name: &str) {
        let e = crate::store::entities::sample_entity("t", name);
        let mut c = store.entities.changes();
        c.put(&e, None).unwrap();
        store.entities.apply(c).unwrap();
        indexer.applied();
    }

    /// A waiter returns once its write is committed and visible, whether or not anything woke
    /// the indexer for it (the wait itself does), and later waits for nothing new return at
    /// once.
    #[test]
    fn a_wait_ends_when_the_write_is_searchable() {
        let (_dir, store, index, indexer) = opened();
        let rt = actix_web::rt::System::new();
        for n in 1..=3u64 {
            write(&store, &indexer, &format!("widget {n}"));
            assert!(rt.block_on(indexer.searchable()));
            assert_eq!(index.num_docs(), n);
            assert_eq!(indexer.freshness(&store, "t").unwrap(), Freshness::Current);
        }
        let started = Instant::now();
        assert!(rt.block_on(indexer.searchable()));
        assert!(started.elapsed() < Duration::from_millis(50));
        indexer.stop();
    }

    #[test]
    fn a_rebuilding_index_is_not_waited_for() {
        let (_dir, store, _index, indexer) = opened();
        // Queueing, not indexing: an indexer round that finds the queue short during the
        // indexing phase reports the rebuild complete, and one may run at any moment.
        indexer.rebuild.phase.store(QUEUEING, Ordering::Release);
        assert_eq!(
            indexer.freshness(&store, "t").unwrap(),
            Freshness::Rebuilding
        );
        assert!(!actix_web::rt::System::new().block_on(indexer.searchable()));
        indexer.rebuild.phase.store(COMPLETE, Ordering::Release);
        indexer.stop();
    }

    #[test]
    fn rebuild_status_follows_the_phases() {
        let r = Rebuild::default();
        assert_eq!(r.status(), RebuildStatus::Complete);
        r.phase.store(QUEUEING, Ordering::Release);
        assert_eq!(
            r.status(),
            RebuildStatus::Rebuilding {
                indexed: 0,
                total: None
            }
        );
        r.phase.store(INDEXING, Ordering::Release);
        r.total.store(3 * BATCH as u64, Ordering::Release);
        report_rebuild(&r, BATCH, Instant::now());
        assert_eq!(
            r.status(),
            RebuildStatus::Rebuilding {
                indexed: BATCH as u64,
                total: Some(3 * BATCH as u64)
            }
        );
        // Writes made during the rebuild are indexed too; progress never passes the total.
        for _ in 0..3 {
            report_rebuild(&r, BATCH, Instant::now());
        }
        assert_eq!(
            r.status(),
            RebuildStatus::Rebuilding {
                indexed: 3 * BATCH as u64,
                total: Some(3 * BATCH as u64)
            }
        );
        // A round that took the whole queue took every entry the rebuild queued.
        report_rebuild(&r, 12, Instant::now());
        assert_eq!(r.status(), RebuildStatus::Complete);
    }
}
