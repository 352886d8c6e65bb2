//! The indexer: a thread that drains the store's durable index queue into tantivy.
//!
//! Each round takes up to [`BATCH`] queued entities, re-reads them from sled (the source of
//! truth), replaces their documents (active entities only; others are just deleted), commits,
//! and only then removes the queue entries whose version did not change meanwhile. A crash at
//! any point leaves entries queued, and replaying them is idempotent.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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

/// Handle to the running indexer thread.
pub struct Indexer {
    signal: Arc<(Mutex<Signal>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Indexer {
    /// Starts the indexer. `rebuild` (the index is new or was dropped) first queues every stored
    /// entity; either way the thread then replays whatever the queue holds. This runs in the
    /// background so the server answers while a large index is rebuilt.
    pub fn spawn(store: Arc<Store>, index: Arc<SearchIndex>, rebuild: bool) -> Indexer {
        let signal: Arc<(Mutex<Signal>, Condvar)> = Arc::default();
        let sig = Arc::clone(&signal);
        let thread = std::thread::Builder::new()
            .name("qanatix-indexer".into())
            .spawn(move || {
                lower_priority();
                if rebuild {
                    match store.queue_all_entities() {
                        Ok(n) => {
                            if n > 0 {
                                log::warn!("search index was missing: rebuilding it from {n} stored entities");
                            }
                            if let Err(e) = index.mark_complete() {
                                log::error!("cannot mark the search index complete: {e}");
                            }
                        }
                        Err(e) => log::error!("cannot queue entities for the index rebuild: {e}"),
                    }
                }
                let queued = store.entities.queue_depth();
                if queued > 0 {
                    log::info!("index queue holds {queued} entities: replaying");
                }
                run(&store, &index, &sig)
            })
            .expect("spawn indexer thread");
        Indexer {
            signal,
            thread: Mutex::new(Some(thread)),
        }
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

fn run(store: &Store, index: &SearchIndex, signal: &(Mutex<Signal>, Condvar)) {
    loop {
        let drained = match round(store, index) {
            Ok(n) => n,
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
