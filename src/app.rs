//! Building the server as a value: open storage and secrets, bind, and return the bound port and
//! the server future. `main` and the tests go through the same [`Application::build`].

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};

use crate::api::body::{limit_body_reads, BodyReads};
use crate::auth::secrets::{self, MasterKeySource};
use crate::auth::Authenticator;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::plans::Plans;
use crate::ratelimit::{AuthFailureLimiter, RateLimiter};
use crate::search::indexer::Indexer;
use crate::search::SearchIndex;
use crate::state::AppState;
use crate::store::Store;
use crate::telemetry::request_context;
use crate::usage::Meter;

/// Scheduled snapshots may not come closer together than this.
const SNAPSHOT_MIN_INTERVAL_MS: i64 = 60_000;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    stop_signals: StopSignals,
    body_reads: web::Data<BodyReads>,
    usage_persister: std::thread::JoinHandle<()>,
    webhook_worker: crate::webhooks::delivery::Worker,
    connector_worker: crate::connectors::worker::Worker,
    snapshot_schedule: Option<crate::snapshot::jobs::ScheduleThread>,
    _data_lock: crate::data_lock::DataDirLock,
}

/// SIGTERM and SIGINT handlers, installed before the address is announced so that a signal
/// arriving right after start-up still shuts down gracefully instead of killing the process.
#[cfg(unix)]
struct StopSignals {
    term: actix_web::rt::signal::unix::Signal,
    int: actix_web::rt::signal::unix::Signal,
}

#[cfg(unix)]
impl StopSignals {
    fn install() -> Result<Self, String> {
        use actix_web::rt::signal::unix::{signal, SignalKind};
        let install =
            |kind| signal(kind).map_err(|e| format!("cannot install signal handler: {e}"));
        Ok(StopSignals {
            term: install(SignalKind::terminate())?,
            int: install(SignalKind::interrupt())?,
        })
    }

    async fn recv(mut self) -> &'static str {
        first_signal(&mut self.term, &mut self.int).await
    }
}

#[cfg(unix)]
async fn first_signal(
    term: &mut actix_web::rt::signal::unix::Signal,
    int: &mut actix_web::rt::signal::unix::Signal,
) -> &'static str {
    use std::future::poll_fn;
    use std::task::Poll;
    poll_fn(|cx| {
        if term.poll_recv(cx).is_ready() {
            return Poll::Ready("SIGTERM");
        }
        if int.poll_recv(cx).is_ready() {
            return Poll::Ready("SIGINT");
        }
        Poll::Pending
    })
    .await
}

#[cfg(not(unix))]
struct StopSignals;

#[cfg(not(unix))]
impl StopSignals {
    fn install() -> Result<Self, String> {
        Ok(StopSignals)
    }

    async fn recv(self) -> &'static str {
        let _ = actix_web::rt::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

impl Application {
    pub fn build(config: Config) -> Result<Application, String> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| format!("cannot create data dir {}: {e}", config.data_dir.display()))?;
        let data_lock = crate::data_lock::acquire(&config.data_dir)?;
        crate::snapshot::restore::check_complete(&config.data_dir)?;
        log::info!(
            "qanatix {} starting: data dir {}, mode {:?}",
            env!("CARGO_PKG_VERSION"),
            config.data_dir.display(),
            config.mode
        );
        if config.is_development() {
            log::warn!(
                "DEVELOPMENT MODE: any request with X-Tenant-Id and no Authorization acts as that \
                 tenant with every scope. Never expose this server."
            );
        }
        let plans = Plans::load(config.plans_file.as_deref())?;
        for (var, plan) in [
            ("DEFAULT_PLAN", &config.default_plan),
            ("DEV_PLAN", &config.dev_plan),
        ] {
            if plans.get(plan).is_none() {
                return Err(format!("{var} '{plan}' is not a known plan (known: {})", {
                    let mut n: Vec<_> = plans.names().collect();
                    n.sort_unstable();
                    n.join(", ")
                }));
            }
        }
        let hasher = secrets::load_key_hasher(config.api_key_salt.as_deref(), &config.data_dir)?;
        let (master_key, master_source) =
            secrets::load_master_key(config.master_key.as_deref(), &config.data_dir)?;
        let connector_key = secrets::load_connector_key(&config.data_dir)?;
        let snapshot_schedule = config
            .snapshot_schedule
            .as_deref()
            .map(|s| {
                crate::connectors::schedule::Schedule::parse(s, SNAPSHOT_MIN_INTERVAL_MS)
                    .map_err(|e| format!("SNAPSHOT_SCHEDULE: {e}"))
            })
            .transpose()?;
        let snapshots = Arc::new(crate::snapshot::jobs::Snapshots::new(
            config.snapshot_dir(),
            config.data_dir.clone(),
            config.snapshot_retain.map(|n| n as usize),
        ));
        let (pulls, pull_queue) = crate::connectors::worker::Pulls::new(&connector_key);
        let store = Arc::new(Store::open(&config.data_dir).map_err(|e| e.to_string())?);
        // Opened from a lower-priority thread: tantivy's indexing and merge threads are spawned
        // here and inherit it (see `indexer::lower_priority`).
        let index_dir = config.data_dir.join("index");
        let (search, created) = std::thread::spawn(move || {
            crate::search::indexer::lower_priority();
            SearchIndex::open(&index_dir)
        })
        .join()
        .map_err(|_| "search index thread panicked".to_string())?
        .map_err(|e| e.to_string())?;
        let (search, rebuild) =
            crate::search::semantic::attach(search, &store, created, config.embeddings_enabled)?;
        let search = Arc::new(search);
        let indexer = Indexer::spawn(Arc::clone(&store), Arc::clone(&search), rebuild);
        let clock = match config.usage_clock_start.as_deref() {
            Some(start) => {
                let t = time::OffsetDateTime::parse(
                    start,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|e| format!("QANATIX_USAGE_CLOCK_START: {e}"))?;
                crate::usage::clock_starting_at(t.unix_timestamp())
            }
            None => crate::usage::system_clock(),
        };
        let meter = Arc::new(Meter::new(
            Arc::clone(&store),
            clock,
            config.metering_enabled,
        ));
        let usage_persister = meter.spawn_persister(Duration::from_secs(1));

        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .map_err(|e| format!("cannot bind {}:{}: {e}", config.host, config.port))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;

        let auth = Authenticator::new(
            hasher,
            &master_key,
            config.is_development(),
            config.dev_plan.clone(),
            AuthFailureLimiter::new(if config.rate_limit_enabled {
                config.auth_failures_per_minute
            } else {
                0
            }),
        );
        drop(master_key);
        let workers = config.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        let state = web::Data::new(AppState {
            config,
            store,
            search,
            indexer,
            auth,
            limiter: RateLimiter::default(),
            open_limiter: RateLimiter::default(),
            plans,
            metrics: Metrics::default(),
            meter,
            search_slots: tokio::sync::Semaphore::new(
                2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            pulls,
            mcp_sessions: Default::default(),
            snapshots,
        });
        let no_tenants = state.store.tenants.list().is_empty();
        log_first_steps(&master_source, &addr.to_string(), no_tenants);

        let stop_signals = StopSignals::install()?;
        let app_state = state.clone();
        let body_reads = web::Data::new(BodyReads::default());
        let app_body_reads = body_reads.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(app_body_reads.clone())
                .wrap(middleware::from_fn(limit_body_reads))
                .wrap(middleware::from_fn(request_context))
                .configure(crate::api::configure)
        })
        .workers(workers)
        .shutdown_timeout(30)
        .disable_signals()
        .listen(listener)
        .map_err(|e| e.to_string())?
        .run();
        // Started once nothing can fail any more (a failed build must not leave a thread
        // holding the store), before the server runs: events left in the outbox by an earlier
        // run (a crash, a receiver that was down) go out without waiting for a new write.
        let webhook_worker = crate::webhooks::delivery::Worker::spawn(
            Arc::clone(&state.store),
            crate::webhooks::delivery::DeliveryConfig {
                retry_base_ms: i64::try_from(state.config.webhook_retry_base_ms)
                    .unwrap_or(i64::MAX),
                timeout: crate::api::portal_webhooks::DELIVERY_TIMEOUT,
                allow_private: state.config.webhook_private_targets(),
            },
        );
        // Scheduled pulls missed while the server was down run now, once.
        let connector_worker = crate::connectors::worker::Worker::spawn(state.clone(), pull_queue);
        let snapshot_schedule = snapshot_schedule.and_then(|schedule| {
            state
                .snapshots
                .spawn_schedule(schedule, state.store.db().clone())
        });
        log::info!("listening on http://{addr}");
        Ok(Application {
            port: addr.port(),
            server,
            state,
            stop_signals,
            body_reads,
            usage_persister,
            webhook_worker,
            connector_worker,
            snapshot_schedule,
            _data_lock: data_lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT (actix stops accepting and drains in-flight requests), then
    /// flushes storage.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let janitor_state = self.state.clone();
        let janitor = actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                janitor_state.limiter.evict_idle();
                janitor_state.open_limiter.evict_idle();
                janitor_state.auth.evict_idle();
                janitor_state.mcp_sessions.evict_idle();
            }
        });
        let handle = self.server.handle();
        let body_reads = self.body_reads.clone();
        let stopper = actix_web::rt::spawn(async move {
            let which = self.stop_signals.recv().await;
            log::info!("{which} received: finishing in-flight requests");
            // Requests still waiting for their body would hold the drain until they time out.
            body_reads.stop();
            handle.stop(true).await;
        });
        let result = self.server.await;
        janitor.abort();
        stopper.abort();
        if let Some(schedule) = self.snapshot_schedule {
            let _ = web::block(move || schedule.stop()).await;
        }
        let connectors = self.connector_worker;
        let _ = web::block(move || connectors.stop()).await;
        let state = self.state.clone();
        let _ = web::block(move || state.indexer.stop()).await;
        let state = self.state.clone();
        let persister = self.usage_persister;
        let _ = web::block(move || state.meter.stop(persister)).await;
        let worker = self.webhook_worker;
        let _ = web::block(move || worker.stop()).await;
        // After the last entity write: the next start loads these instead of counting.
        let state = self.state.clone();
        if let Ok(Err(e)) = web::block(move || state.store.entities.counts.save()).await {
            log::error!("cannot save entity counts (the next start counts them): {e}");
        }
        match self.state.store.flush().await {
            Ok(()) => log::info!("storage flushed; stopped"),
            Err(e) => log::error!("flush at shutdown failed: {e}"),
        }
        result
    }
}

/// Where the master key is, always; how to make the first key, only while there is no tenant
/// (a server in use does not need the tutorial on every start).
fn log_first_steps(master: &MasterKeySource, addr: &str, no_tenants: bool) {
    let (file, bearer) = match master {
        MasterKeySource::Env => (
            "from QANATIX_MASTER_KEY".to_owned(),
            "$QANATIX_MASTER_KEY".to_owned(),
        ),
        MasterKeySource::File { path, created } => (
            format!(
                "{} ({}, mode 0600; the value is never logged)",
                path.display(),
                if *created { "created now" } else { "existing" }
            ),
            format!("$(cat {})", path.display()),
        ),
    };
    log::info!("master key: {file}");
    if !no_tenants {
        return;
    }
    log::info!(
        "first key, step 1 (create a tenant): curl -s -X POST http://{addr}/api/v1/admin/tenants \
         -H \"Authorization: Bearer {bearer}\" -H 'Content-Type: application/json' \
         -d '{{\"tenant_id\":\"acme\",\"plan\":\"pro\"}}'"
    );
    log::info!(
        "first key, step 2 (create an admin key for it; shown only once, kept in $KEY): \
         KEY=$(curl -s -X POST http://{addr}/api/v1/auth/keys \
         -H \"Authorization: Bearer {bearer}\" -H 'X-Tenant-Id: acme' -H 'Content-Type: application/json' \
         -d '{{\"name\":\"first key\",\"scopes\":[\"admin\"]}}' | sed -n 's/.*\"key\":\"\\([^\"]*\\)\".*/\\1/p')"
    );
    log::info!(
        "first key, step 3 (use it): curl -s http://{addr}/api/v1/auth/me -H \"Authorization: Bearer $KEY\""
    );
}
