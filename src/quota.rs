//! Plan hard caps (API.md §3): verticals, stored entities, monthly searches and monthly
//! ingested records. A paid plan has no caps; a capped plan's writes are checked under the
//! tenant's write lock, so concurrent writes cannot together cross a cap.

use std::sync::Arc;

use crate::error::ApiError;
use crate::plans::Plan;
use crate::state::AppState;
use crate::store::{Store, StoreError, Tenant};
use crate::usage::{Counter, MonthCounts};

/// What a write may still do, and where it counts.
#[derive(Clone)]
pub struct WriteQuota {
    pub plan: Arc<Plan>,
    /// This month's counts; `None` when metering is off (then monthly caps are not enforced).
    pub month: Option<Arc<MonthCounts>>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Quota(String),
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Store(s) => s.into(),
            WriteError::Quota(m) => ApiError::QuotaExceeded(m),
        }
    }
}

impl WriteQuota {
    pub fn for_tenant(state: &AppState, tenant: &Tenant) -> Result<Self, ApiError> {
        let month = if state.meter.enabled() {
            Some(state.meter.month(&tenant.id)?)
        } else {
            None
        };
        Ok(WriteQuota {
            plan: Arc::clone(state.plan_of(tenant)),
            month,
        })
    }

    /// Whether a write must be checked against entity or monthly-record caps before it is
    /// applied.
    pub fn caps_writes(&self) -> bool {
        self.plan.max_entities.is_some()
            || (self.month.is_some() && self.plan.max_ingested_records_per_month.is_some())
    }

    /// Checks the vertical cap for a write into `vertical` and returns the tenant's stored
    /// entity count when the plan caps it (for [`Self::check_totals`]), from the entity counts.
    /// Call under the write lock.
    pub fn check_vertical_and_count(
        &self,
        store: &Store,
        tenant: &str,
        vertical: &str,
    ) -> Result<Option<u64>, WriteError> {
        if self.plan.max_verticals.is_none() && self.plan.max_entities.is_none() {
            return Ok(None);
        }
        let (stored, verticals) = store.entities.summary(tenant);
        if let Some(max) = self.plan.max_verticals {
            if !verticals.iter().any(|v| v == vertical) && verticals.len() as u64 >= max {
                return Err(WriteError::Quota(format!(
                    "The {} plan allows {max} vertical(s); this tenant already uses {}. Upgrade the plan to add '{vertical}'.",
                    self.plan.name,
                    verticals.join(", ")
                )));
            }
        }
        Ok(self.plan.max_entities.map(|_| stored))
    }

    /// 402 if `created` new entities on top of `stored`, or `ingested` records this month,
    /// would cross a cap.
    pub fn check_totals(
        &self,
        stored: Option<u64>,
        created: u64,
        ingested: u64,
    ) -> Result<(), WriteError> {
        self.check_request(stored, created, ingested, 0)
    }

    /// [`Self::check_totals`] for a request of which `unexamined` records were not read yet
    /// (reading stopped where a cap was crossed): each may still add an entity and counts as an
    /// ingested record, so the message names what the whole request holds, not where the
    /// check happened to stop.
    pub fn check_request(
        &self,
        stored: Option<u64>,
        created: u64,
        ingested: u64,
        unexamined: u64,
    ) -> Result<(), WriteError> {
        let more = |n: u64| {
            if unexamined == 0 {
                n.to_string()
            } else {
                format!(
                    "up to {} (of {} records it holds)",
                    n + unexamined,
                    ingested + unexamined
                )
            }
        };
        if let (Some(max), Some(stored)) = (self.plan.max_entities, stored) {
            if stored + created > max {
                return Err(WriteError::Quota(format!(
                    "The {} plan allows {max} stored entities; this tenant has {stored} and the request would add {}, {} over the cap. Nothing was stored.",
                    self.plan.name,
                    more(created),
                    stored + created + unexamined - max
                )));
            }
        }
        if let (Some(max), Some(month)) = (self.plan.max_ingested_records_per_month, &self.month) {
            let used = month.get(Counter::IngestedRecords);
            if ingested > 0 && used + ingested > max {
                return Err(WriteError::Quota(format!(
                    "The {} plan allows {max} ingested records per month; {used} were ingested in {} and the request would add {}, {} over the cap. Nothing was stored.",
                    self.plan.name,
                    month.period,
                    more(ingested),
                    used + ingested + unexamined - max
                )));
            }
        }
        Ok(())
    }

    /// Counts a write that was applied.
    pub fn record(&self, created: u64, ingested: u64) {
        if let Some(m) = &self.month {
            m.add(Counter::EntitiesCreated, created);
            m.add(Counter::IngestedRecords, ingested);
        }
    }
}

/// Counts a search for the tenant, or 402 when the plan's monthly search cap is reached.
pub fn count_search(state: &AppState, tenant: &Tenant) -> Result<(), ApiError> {
    if !state.meter.enabled() {
        return Ok(());
    }
    let plan = state.plan_of(tenant);
    let month = state.meter.month(&tenant.id)?;
    if month.try_add_one(Counter::Searches, plan.max_searches_per_month) {
        Ok(())
    } else {
        Err(ApiError::QuotaExceeded(format!(
            "The {} plan allows {} searches per month; they are used up for {}.",
            plan.name,
            plan.max_searches_per_month.unwrap_or_default(),
            month.period
        )))
    }
}
