//! Where pulls run: one thread with its own actix runtime (request handling shares nothing with
//! it), taking pulls asked for over the API and starting scheduled ones when they are due.
//!
//! A connector never has two pulls at once, whatever started them: [`Pulls`] keeps the set of
//! running connectors, and a pull that finds its connector running is refused (API) or skipped
//! (schedule). The schedule lives in the store (`connector_due`), so it survives restarts: a
//! run missed while the server was down happens once, right after the start.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::web;
use tokio::sync::{mpsc, oneshot, Semaphore};
use uuid::Uuid;

use super::schedule::Schedule;
use super::sealing::Sealer;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Connector, Ingestion, IngestionStatus, PullRecord, Tenant, TenantStatus};
use crate::timestamp;

/// How often the schedule is read.
const TICK: Duration = Duration::from_millis(250);
/// Pulls running at once (each holds a database connection and a blocking thread).
const CONCURRENT_PULLS: usize = 4;

/// A pull asked for over the API.
struct Job {
    tenant: Arc<Tenant>,
    id: Uuid,
    reply: oneshot::Sender<Result<Ingestion, ApiError>>,
}

/// Shared between the API and the worker: the sealing key, the running set, and the way in.
pub struct Pulls {
    sealer: Sealer,
    running: Mutex<HashSet<(String, Uuid)>>,
    slots: Semaphore,
    jobs: mpsc::UnboundedSender<Job>,
    stop: Arc<AtomicBool>,
}

/// The worker's end of [`Pulls`], handed to [`Worker::spawn`].
pub struct JobQueue(mpsc::UnboundedReceiver<Job>);

/// Marks a connector running until dropped.
struct Running<'a> {
    pulls: &'a Pulls,
    key: (String, Uuid),
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.pulls
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

impl Pulls {
    pub fn new(key: &[u8; 32]) -> (Pulls, JobQueue) {
        let (jobs, queue) = mpsc::unbounded_channel();
        (
            Pulls {
                sealer: Sealer::new(key),
                running: Mutex::new(HashSet::new()),
                slots: Semaphore::new(CONCURRENT_PULLS),
                jobs,
                stop: Arc::new(AtomicBool::new(false)),
            },
            JobQueue(queue),
        )
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    fn try_start(&self, tenant: &str, id: Uuid) -> Option<Running<'_>> {
        let key = (tenant.to_owned(), id);
        let fresh = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone());
        fresh.then_some(Running { pulls: self, key })
    }

    pub fn is_running(&self, tenant: &str, id: Uuid) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&(tenant.to_owned(), id))
    }

    /// Runs a pull of the tenant's connector now and waits for its ingestion. It runs on the
    /// worker, so it finishes even if the caller goes away.
    pub async fn pull(&self, tenant: Arc<Tenant>, id: Uuid) -> Result<Ingestion, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { tenant, id, reply })
            .map_err(|_| ApiError::Internal("the connector worker is not running".into()))?;
        answer.await.map_err(|_| {
            ApiError::Internal("the pull was abandoned: the server is shutting down".into())
        })?
    }
}

/// When the connector runs next after a pull that started at `started`.
pub fn next_run(schedule: Option<&str>, started: i64, now: i64) -> Option<i64> {
    // The minimum interval was checked when the schedule was accepted.
    let schedule = Schedule::parse(schedule?, 0).ok()?;
    match schedule {
        Schedule::Every(_) => schedule.next_after(started).map(|t| t.max(now)),
        Schedule::Cron(_) => schedule.next_after(now),
    }
}

/// Why a pull did not run.
enum Refused {
    Running,
    Gone,
    Suspended,
}

/// One pull of a connector, start to finish: the tenant's gate held shared (its deletion waits
/// for the pull), the connector marked running, the result noted on the connector.
async fn pull_once(
    state: &AppState,
    tenant_id: &str,
    created_at: Option<i64>,
    id: Uuid,
) -> Result<Result<Ingestion, Refused>, ApiError> {
    let pulls = &state.pulls;
    let Some(_running) = pulls.try_start(tenant_id, id) else {
        return Ok(Err(Refused::Running));
    };
    let _slot = pulls
        .slots
        .acquire()
        .await
        .map_err(|_| ApiError::Internal("pull slots closed".into()))?;
    let _gate = state.store.tenants.gate(tenant_id).read_owned().await;
    let tenant = match state.store.tenants.get(tenant_id) {
        Some(t) if created_at.is_none_or(|c| c == t.created_at) => t,
        _ => return Ok(Err(Refused::Gone)),
    };
    if tenant.status == TenantStatus::Suspended {
        return Ok(Err(Refused::Suspended));
    }
    let Some(connector) = state.store.connectors.get(tenant_id, id)? else {
        return Ok(Err(Refused::Gone));
    };
    let started = timestamp::now_ms();
    let ingestion =
        super::pull::run(state, &tenant, &connector, started, Arc::clone(&pulls.stop)).await?;
    note_result(state, &connector, started, &ingestion).await?;
    Ok(Ok(ingestion))
}

async fn note_result(
    state: &AppState,
    connector: &Connector,
    started: i64,
    ingestion: &Ingestion,
) -> Result<(), ApiError> {
    let ok = ingestion.status != IngestionStatus::Failed;
    let record = PullRecord {
        upload_id: ingestion.id,
        status: ingestion.status,
        started_at: started,
        completed_at: ingestion.completed_at.unwrap_or(started),
        error: ingestion.error.clone(),
    };
    let (tenant, id) = (connector.tenant_id.clone(), connector.id);
    match &ingestion.error {
        Some(e) => log::warn!(
            "connector {id} of tenant {tenant}: pull {} failed: {e}",
            ingestion.id
        ),
        None => log::info!(
            "connector {id} of tenant {tenant}: pull {} {:?}: {} rows, {} accepted, {} rejected",
            ingestion.id,
            record.status,
            ingestion.record_count,
            ingestion.accepted,
            ingestion.rejected
        ),
    }
    state
        .write(move |store| {
            let updated = store.connectors.update(&tenant, id, |c| {
                c.last_pull = Some(record.clone());
                if ok {
                    c.last_success_started_at = Some(started);
                }
            })?;
            if let Some(c) = updated {
                let next = next_run(c.schedule.as_deref(), started, timestamp::now_ms());
                store.connectors.set_due(&tenant, id, next)?;
            }
            Ok(())
        })
        .await
}

/// A scheduled run: skipped when the connector is running, dropped from the schedule when it is
/// gone, postponed to its next time while the tenant is suspended.
async fn scheduled(state: web::Data<AppState>, tenant: String, id: Uuid) {
    let outcome = pull_once(&state, &tenant, None, id).await;
    let unschedule = |next: Option<i64>| {
        let state = state.clone();
        let tenant = tenant.clone();
        async move {
            let _ = state
                .write(move |store| Ok(store.connectors.set_due(&tenant, id, next)?))
                .await;
        }
    };
    match outcome {
        Ok(Ok(_)) | Ok(Err(Refused::Running)) => {}
        Ok(Err(Refused::Gone)) => {
            if state
                .store
                .connectors
                .get(&tenant, id)
                .ok()
                .flatten()
                .is_none()
            {
                unschedule(None).await;
            }
        }
        Ok(Err(Refused::Suspended)) => {
            let now = timestamp::now_ms();
            let next = state
                .store
                .connectors
                .get(&tenant, id)
                .ok()
                .flatten()
                .and_then(|c| next_run(c.schedule.as_deref(), now, now));
            unschedule(next).await;
        }
        Err(e) => {
            // Storage trouble: try again at the next tick rather than stop the schedule.
            log::error!("connector {id} of tenant {tenant}: scheduled pull: {e}");
        }
    }
}

async fn manual(state: web::Data<AppState>, job: Job) {
    let created_at = Some(job.tenant.created_at);
    let answer = match pull_once(&state, &job.tenant.id, created_at, job.id).await {
        Ok(Ok(ingestion)) => Ok(ingestion),
        Ok(Err(Refused::Running)) => Err(ApiError::Conflict(
            "A pull of this connector is running; try again when it has finished.".into(),
        )),
        Ok(Err(Refused::Gone | Refused::Suspended)) => Err(ApiError::not_found("Connector")),
        Err(e) => Err(e),
    };
    let _ = job.reply.send(answer);
}

async fn run(state: web::Data<AppState>, mut queue: JobQueue) {
    let stop = Arc::clone(&state.pulls.stop);
    let mut next_tick = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, queue.0.recv()).await {
            Ok(Some(job)) => {
                actix_web::rt::spawn(manual(state.clone(), job));
                continue;
            }
            Ok(None) => break,
            Err(_) => {}
        }
        next_tick = Instant::now() + TICK;
        let due = match state.store.connectors.due(timestamp::now_ms()) {
            Ok(d) => d,
            Err(e) => {
                log::error!("connector schedule cannot be read: {e}");
                continue;
            }
        };
        for (tenant, id, _) in due {
            if !state.pulls.is_running(&tenant, id) {
                actix_web::rt::spawn(scheduled(state.clone(), tenant, id));
            }
        }
    }
}

pub struct Worker(crate::runtime_thread::RuntimeThread);

impl Worker {
    pub fn spawn(state: web::Data<AppState>, queue: JobQueue) -> Worker {
        let stop = Arc::clone(&state.pulls.stop);
        Worker(crate::runtime_thread::RuntimeThread::spawn(
            "connectors",
            stop,
            move || run(state, queue),
        ))
    }

    /// Stops the schedule and ends running pulls where they are (their ingestions are recorded
    /// as failed; the next pull reads the rows again). Waits briefly.
    pub fn stop(self) {
        if !self.0.stop(Duration::from_secs(10)) {
            log::warn!("connector pulls still busy at shutdown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_schedules_count_from_the_start_of_the_pull() {
        assert_eq!(next_run(Some("every 1m"), 1_000, 2_000), Some(61_000));
        // A pull longer than its interval: the next one starts right away.
        assert_eq!(next_run(Some("every 1m"), 1_000, 90_000), Some(90_000));
        assert_eq!(next_run(None, 1_000, 2_000), None);
        let jan1 = 1_767_225_600_000;
        assert_eq!(
            next_run(Some("0 * * * *"), jan1, jan1 + 1),
            Some(jan1 + 3_600_000)
        );
    }
}
