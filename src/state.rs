//! Everything a handler may reach, shared by all workers.

use std::sync::Arc;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::plans::{Plan, Plans};
use crate::ratelimit::{BucketKind, Decision, RateLimiter};
use crate::store::{Store, Tenant};

pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub auth: Authenticator,
    pub limiter: RateLimiter,
    pub plans: Plans,
    pub metrics: Metrics,
}

impl AppState {
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
