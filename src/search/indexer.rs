//! The indexer: a thread that drains the store's durable index queue into tantivy.
//!
//! Each round takes up to [`BATCH`] queued entities, re-reads them from sled (the source of
//! truth), replaces their documents (active entities only; others are just deleted), commits,
//! and only then removes the queue entries whose version did not change meanwhile. A crash at
//! any point leaves entries queued, and replaying them is idempotent.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tantivy::schema::Term;

use super::{document, SearchIndex};
use crate::store::{EntityStatus, Store};

const BATCH: usize = 50_000;
const INDEXER_NICE: libc::c_int = 5;
/// Idle wake-up, in case a notification was missed.
const IDLE: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Signal {
    pending: bool,
    stop: bool,
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
    thread: Mutex<Option<JoinHandle<()>>>,
    rebuild: Arc<Rebuild>,
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
                run(&store, &index, &sig, &shared, started)
            })
            .expect("spawn indexer thread");
        Indexer {
            signal,
            thread: Mutex::new(Some(thread)),
            rebuild: progress,
        }
    }

    /// Whether searches currently see every stored entity (see [`RebuildStatus`]).
    pub fn rebuild_status(&self) -> RebuildStatus {
        self.rebuild.status()
    }

    /// Wakes the indexer after a write.
    pub fn notify(&self) {
        let (lock, cvar) = &*self.signal;
        if let Ok(mut s) = lock.lock() {
            s.pending = true;
            cvar.notify_one();
        }
    }

    /// Finishes the current round, commits and stops.
    pub fn stop(&self) {
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
    started: Instant,
) {
    loop {
        let drained = match round(store, index) {
            Ok(n) => {
                if progress.phase.load(Ordering::Acquire) == INDEXING {
                    report_rebuild(progress, n, started);
                }
                n
            }
            Err(e) => {
                log::error!("indexer round failed: {e}");
                0
            }
        };
        let (lock, cvar) = signal;
        let Ok(mut s) = lock.lock() else { return };
        if s.stop {
            return;
        }
        if drained == 0 && !s.pending {
            s = match cvar.wait_timeout(s, IDLE) {
                Ok((s, _)) => s,
                Err(_) => return,
            };
            if s.stop {
                return;
            }
        }
        s.pending = false;
    }
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
        progress.phase.store(COMPLETE, Ordering::Release);
        log::info!(
            "search index rebuild complete: {total} entities in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}

/// One drain-index-commit-dequeue round; returns how many queue entries it handled.
pub fn round(store: &Store, index: &SearchIndex) -> Result<usize, String> {
    let queued = store.entities.queued(BATCH).map_err(|e| e.to_string())?;
    if queued.is_empty() {
        return Ok(0);
    }
    let started = std::time::Instant::now();
    index
        .write(|writer, fields| {
            for (tenant, id, _) in &queued {
                writer.delete_term(Term::from_field_text(fields.id, &id.to_string()));
                match store.entities.get(tenant, *id) {
                    Ok(Some(e)) if e.status == EntityStatus::Active => {
                        if let Err(err) = writer.add_document(document::build(fields, &e)) {
                            log::error!("cannot index entity {id}: {err}");
                            let _ = store.entities.mark_failed(tenant, *id, true);
                        } else {
                            let _ = store.entities.mark_failed(tenant, *id, false);
                        }
                    }
                    Ok(_) => {}
                    Err(err) => {
                        log::error!("cannot read entity {id} for indexing: {err}");
                        let _ = store.entities.mark_failed(tenant, *id, true);
                    }
                }
            }
        })
        .map_err(|e| e.to_string())?;
    for (tenant, id, version) in &queued {
        store
            .entities
            .dequeue(tenant, *id, *version)
            .map_err(|e| e.to_string())?;
    }
    log::debug!(
        "indexed {} entities in {:.1} ms",
        queued.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(queued.len())
}

#[cfg(test)]
mod tests {
    use super::*;

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
