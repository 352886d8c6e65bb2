//! Everything a handler may reach, shared by all workers.

use std::sync::Arc;

use actix_web::web;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::plans::{Plan, Plans};
use crate::ratelimit::{BucketKind, Decision, RateLimiter};
use crate::search::indexer::Indexer;
use crate::search::SearchIndex;
use crate::store::{Store, Tenant};
use crate::usage::Meter;

pub struct AppState {
    pub config: Config,
    pub store: Arc<Store>,
    pub search: Arc<SearchIndex>,
    pub indexer: Indexer,
    pub auth: Authenticator,
    pub limiter: RateLimiter,
    /// Open's per-client-IP buckets (API-RECORDS.md §7), apart from the tenants' own.
    pub open_limiter: RateLimiter,
    pub plans: Plans,
    pub metrics: Metrics,
    pub meter: Arc<Meter>,
    /// Searches running at once, at most one per core: more would only time-slice the cores
    /// and stretch every search's latency; the rest wait their turn without holding a thread.
    pub search_slots: tokio::sync::Semaphore,
    /// Database connectors' pulls: the sealing key, what is running, the way to the worker.
    pub pulls: crate::connectors::worker::Pulls,
    /// Sessions of the MCP endpoint (`/mcp/`).
    pub mcp_sessions: crate::api::mcp::session::Sessions,
    /// Snapshots taken while serving (`/admin/snapshots`).
    pub snapshots: Arc<crate::snapshot::jobs::Snapshots>,
}

impl AppState {
    /// The write path of every mutating route: runs `f` on the blocking pool (store work is
    /// synchronous), flushes to disk, then wakes the indexer. A caller that answers 2xx after
    /// this has kept the durability promise; one that also awaits
    /// [`Indexer::searchable`] has made the write searchable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        let out = web::block(move || f(&store))
            .await
            .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?;
        // Counted even when `f` failed part-way: whatever it applied is then waited for too.
        self.indexer.applied();
        let out = out?;
        self.store.flush().await?;
        self.indexer.notify();
        Ok(out)
    }

    /// The tenant's plan; a plan removed from `PLANS_FILE` since the tenant got it falls back to
    /// the default plan rather than locking the tenant out.
    pub fn plan_of(&self, tenant: &Tenant) -> &Arc<Plan> {
        self.plans
            .get(&tenant.plan)
            .or_else(|| self.plans.get(&self.config.default_plan))
            .expect("the default plan is checked at start-up")
    }

    fn capacity(&self, tenant: &Tenant, kind: BucketKind) -> u32 {
        let plan = self.plan_of(tenant);
        match kind {
            BucketKind::General => plan.general_rpm,
            BucketKind::Search => plan.search_rpm,
        }
    }

    pub fn take_token(&self, tenant: &Tenant, kind: BucketKind) -> Decision {
        self.limiter
            .take(&tenant.id, kind, self.capacity(tenant, kind))
    }

    pub fn peek_bucket(&self, tenant: &Tenant, kind: BucketKind) -> Decision {
        self.limiter
            .peek(&tenant.id, kind, self.capacity(tenant, kind))
    }
}
