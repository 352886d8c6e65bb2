//! Usage metering (API.md §9): per tenant per calendar month (UTC) — requests, searches,
//! ingested records, entities created — and per day of the month, for charts.
//!
//! Counting is an atomic add on the request path. A background thread writes changed counts to
//! the store and flushes once a second, so `kill -9` loses at most about a second of counts; a
//! graceful stop writes everything. The month comes from an injectable clock, so month
//! rollover can be tested.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::concurrent_map::ConcurrentMap;

use crate::store::{Store, StoreError, UsageCounts};

/// Unix seconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    })
}

/// A clock that starts at `start` (unix seconds) and runs at real speed from now on.
pub fn clock_starting_at(start: i64) -> Clock {
    let offset = start - crate::timestamp::now();
    Arc::new(move || crate::timestamp::now() + offset)
}

/// The month of a unix time, UTC, as `year * 100 + month`.
fn month_number(secs: i64) -> u32 {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.year().max(0) as u32 * 100 + u8::from(t.month()) as u32
}

/// The unix seconds `[start, end)` of a month number: what the request path compares against
/// (no calendar arithmetic per request).
fn month_bounds(month: u32) -> (i64, i64) {
    let first = |year: i32, m: u32| {
        time::Month::try_from(m as u8)
            .ok()
            .and_then(|m| time::Date::from_calendar_date(year, m, 1).ok())
            .map_or(0, |d| d.midnight().assume_utc().unix_timestamp())
    };
    let (year, m) = ((month / 100) as i32, month % 100);
    let next = if m == 12 {
        first(year + 1, 1)
    } else {
        first(year, m + 1)
    };
    (first(year, m), next)
}

fn period_name(month: u32) -> String {
    format!("{:04}-{:02}", month / 100, month % 100)
}

/// `YYYY-MM` of a unix time, UTC.
pub fn period_of(secs: i64) -> String {
    period_name(month_number(secs))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    Requests = 0,
    Searches = 1,
    IngestedRecords = 2,
    EntitiesCreated = 3,
}

const DAY_SECS: i64 = 86_400;

fn atomics(c: UsageCounts) -> [AtomicU64; 4] {
    [
        AtomicU64::new(c.requests),
        AtomicU64::new(c.searches),
        AtomicU64::new(c.ingested_records),
        AtomicU64::new(c.entities_created),
    ]
}

fn counts(values: &[AtomicU64; 4]) -> UsageCounts {
    let get = |c: Counter| values[c as usize].load(Ordering::Relaxed);
    UsageCounts {
        requests: get(Counter::Requests),
        searches: get(Counter::Searches),
        ingested_records: get(Counter::IngestedRecords),
        entities_created: get(Counter::EntitiesCreated),
    }
}

/// One tenant's counts for one month, and for each of its days.
pub struct MonthCounts {
    starts: i64,
    ends: i64,
    /// `YYYY-MM`.
    pub period: String,
    values: [AtomicU64; 4],
    dirty: AtomicBool,
    days: Vec<[AtomicU64; 4]>,
    /// Bit `d` set: day `d + 1` changed since it was last written.
    dirty_days: AtomicU32,
    clock: Clock,
}

impl MonthCounts {
    fn new(month: u32, c: UsageCounts, days: &[(u32, UsageCounts)], clock: Clock) -> Self {
        let (starts, ends) = month_bounds(month);
        let n = ((ends - starts) / DAY_SECS).clamp(1, 31) as usize;
        let mut per_day: Vec<[AtomicU64; 4]> =
            (0..n).map(|_| atomics(UsageCounts::default())).collect();
        for (day, counts) in days {
            if let Some(slot) = (*day as usize)
                .checked_sub(1)
                .and_then(|i| per_day.get_mut(i))
            {
                *slot = atomics(*counts);
            }
        }
        MonthCounts {
            starts,
            ends,
            period: period_name(month),
            values: atomics(c),
            dirty: AtomicBool::new(false),
            days: per_day,
            dirty_days: AtomicU32::new(0),
            clock,
        }
    }

    /// Today's index among the month's days (the first or last day outside the month).
    fn today(&self) -> usize {
        (((self.clock)() - self.starts) / DAY_SECS).clamp(0, self.days.len() as i64 - 1) as usize
    }

    fn add_today(&self, c: Counter, n: u64) {
        let d = self.today();
        self.days[d][c as usize].fetch_add(n, Ordering::Relaxed);
        self.dirty_days.fetch_or(1 << d, Ordering::Relaxed);
    }

    pub fn get(&self, c: Counter) -> u64 {
        self.values[c as usize].load(Ordering::Relaxed)
    }

    pub fn add(&self, c: Counter, n: u64) {
        if n > 0 {
            self.values[c as usize].fetch_add(n, Ordering::Relaxed);
            self.add_today(c, n);
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// Adds one unless that would go past `cap`; false when the cap is reached. Exact under
    /// concurrency: the add is undone if it overshot.
    pub fn try_add_one(&self, c: Counter, cap: Option<u64>) -> bool {
        let slot = &self.values[c as usize];
        let before = slot.fetch_add(1, Ordering::Relaxed);
        if cap.is_some_and(|cap| before >= cap) {
            slot.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        self.add_today(c, 1);
        self.dirty.store(true, Ordering::Relaxed);
        true
    }

    pub fn snapshot(&self) -> UsageCounts {
        counts(&self.values)
    }

    /// The counts of each day of the month up to today (every day, for a past month), as
    /// (`YYYY-MM-DD`, counts).
    pub fn daily(&self) -> Vec<(String, UsageCounts)> {
        let now = (self.clock)();
        let last = if now >= self.ends {
            self.days.len() - 1
        } else {
            self.today()
        };
        self.days[..=last]
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("{}-{:02}", self.period, i + 1), counts(d)))
            .collect()
    }

    /// The days changed since the last call, as (`YYYY-MM-DD`, counts).
    fn take_dirty_days(&self) -> Vec<(String, UsageCounts)> {
        let bits = self.dirty_days.swap(0, Ordering::Relaxed);
        (0..self.days.len())
            .filter(|d| bits & (1 << d) != 0)
            .map(|d| {
                (
                    format!("{}-{:02}", self.period, d + 1),
                    counts(&self.days[d]),
                )
            })
            .collect()
    }
}

struct TenantMeter {
    current: RwLock<Arc<MonthCounts>>,
    /// Months replaced by a newer one and not yet written for the last time.
    retired: Mutex<Vec<Arc<MonthCounts>>>,
}

pub struct Meter {
    store: Arc<Store>,
    clock: Clock,
    enabled: bool,
    tenants: ConcurrentMap<String, Arc<TenantMeter>>,
    /// Writing counts and deleting a tenant's exclude each other, so a write racing a delete
    /// cannot bring the tenant's usage back.
    persist: Mutex<()>,
    stopping: AtomicBool,
}

impl Meter {
    pub fn new(store: Arc<Store>, clock: Clock, enabled: bool) -> Self {
        Meter {
            store,
            clock,
            enabled,
            tenants: ConcurrentMap::default(),
            persist: Mutex::new(()),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn period_now(&self) -> String {
        period_of((self.clock)())
    }

    /// The tenant's counts for the current month (loaded from storage the first time).
    pub fn month(&self, tenant: &str) -> Result<Arc<MonthCounts>, StoreError> {
        self.with_month(tenant, Arc::clone)
    }

    /// Runs `f` on the tenant's counts for the current month. The usual case is a map read, a
    /// read lock and two integer compares; a new tenant or a new month takes the slow path.
    fn with_month<R>(
        &self,
        tenant: &str,
        f: impl FnOnce(&Arc<MonthCounts>) -> R,
    ) -> Result<R, StoreError> {
        let now = (self.clock)();
        if let Some(meter) = self.tenants.get(tenant) {
            let cur = meter.current.read().unwrap_or_else(|p| p.into_inner());
            if (cur.starts..cur.ends).contains(&now) {
                return Ok(f(&cur));
            }
        }
        let month = month_number(now);
        let meter = match self.tenants.get(tenant) {
            Some(m) => Arc::clone(&m),
            None => {
                let fresh = Arc::new(TenantMeter {
                    current: RwLock::new(Arc::new(self.load(tenant, month)?)),
                    retired: Mutex::new(Vec::new()),
                });
                Arc::clone(&self.tenants.entry(tenant.to_owned()).or_insert(fresh))
            }
        };
        let mut cur = meter.current.write().unwrap_or_else(|p| p.into_inner());
        if !(cur.starts..cur.ends).contains(&now) {
            let old = std::mem::replace(&mut *cur, Arc::new(self.load(tenant, month)?));
            meter
                .retired
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(old);
        }
        Ok(f(&cur))
    }

    /// A month's stored counts and days.
    fn load(&self, tenant: &str, month: u32) -> Result<MonthCounts, StoreError> {
        let period = period_name(month);
        let counts = self.store.usage.get(tenant, &period)?;
        let days = self.store.usage.days(tenant, &period)?;
        Ok(MonthCounts::new(
            month,
            counts,
            &days,
            Arc::clone(&self.clock),
        ))
    }

    /// Counts `n` of `counter` for the tenant this month. Storage errors only lose the count.
    pub fn add(&self, tenant: &str, counter: Counter, n: u64) {
        if !self.enabled {
            return;
        }
        if let Err(e) = self.with_month(tenant, |m| m.add(counter, n)) {
            log::warn!("usage metering: {e}");
        }
    }

    /// Writes every changed count and flushes. Returns how many records were written.
    pub fn persist(&self) -> Result<usize, StoreError> {
        let _guard = self.persist.lock().unwrap_or_else(|p| p.into_inner());
        let mut written = 0;
        // A tenant deleted while one of its requests was in flight may have been metered again;
        // its counts are not written (see `purge_tenant`).
        self.tenants
            .retain(|tenant, _| self.store.tenants.get(tenant).is_some());
        for entry in self.tenants.iter() {
            let tenant = entry.key();
            let retired =
                std::mem::take(&mut *entry.retired.lock().unwrap_or_else(|p| p.into_inner()));
            let current = Arc::clone(&entry.current.read().unwrap_or_else(|p| p.into_inner()));
            for month in retired.iter().chain(std::iter::once(&current)) {
                if month.dirty.swap(false, Ordering::Relaxed) {
                    self.store
                        .usage
                        .put(tenant, &month.period, &month.snapshot())?;
                    written += 1;
                }
                for (day, counts) in month.take_dirty_days() {
                    self.store.usage.put(tenant, &day, &counts)?;
                    written += 1;
                }
            }
        }
        if written > 0 {
            self.store.flush_blocking()?;
        }
        Ok(written)
    }

    /// Drops the tenant's counts from memory; the caller deletes the tenant, then calls
    /// [`Self::purge_tenant`].
    pub fn forget_tenant(&self, tenant: &str) {
        let _guard = self.persist.lock().unwrap_or_else(|p| p.into_inner());
        self.tenants.remove(tenant);
    }

    /// After the tenant's record is gone: drops its counts again and deletes its stored usage,
    /// excluding any write of counts meanwhile. A write after this finds no tenant and skips
    /// it, so nothing of a deleted tenant's usage comes back.
    pub fn purge_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        let _guard = self.persist.lock().unwrap_or_else(|p| p.into_inner());
        self.tenants.remove(tenant);
        self.store.usage.delete_tenant(tenant)?;
        self.store.flush_blocking()
    }

    /// Stops the thread of [`Self::spawn_persister`] after one last write.
    pub fn stop(&self, persister: std::thread::JoinHandle<()>) {
        self.stopping.store(true, Ordering::Relaxed);
        persister.thread().unpark();
        let _ = persister.join();
    }

    /// Writes changed counts every `every` until [`Self::stop`]; a last write on the way out.
    pub fn spawn_persister(self: &Arc<Self>, every: Duration) -> std::thread::JoinHandle<()> {
        let meter = Arc::clone(self);
        std::thread::Builder::new()
            .name("usage-persister".into())
            .spawn(move || loop {
                std::thread::park_timeout(every);
                if let Err(e) = meter.persist() {
                    log::error!("writing usage counts failed: {e}");
                }
                if meter.stopping.load(Ordering::Relaxed) {
                    return;
                }
            })
            .expect("spawning the usage thread")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicI64;

    /// 2026-11-30T23:59:59Z
    const END_OF_NOVEMBER: i64 = 1_796_083_199;

    fn store_with_tenants(dir: &tempfile::TempDir) -> Arc<Store> {
        let store = Arc::new(Store::open(dir.path()).unwrap());
        for id in ["t", "other"] {
            store
                .tenants
                .insert_new(crate::store::Tenant {
                    id: id.into(),
                    name: id.into(),
                    plan: "free".into(),
                    status: crate::store::TenantStatus::Active,
                    created_at: 0,
                })
                .unwrap();
        }
        store
    }

    fn meter(clock: Clock) -> (tempfile::TempDir, Arc<Store>, Meter) {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_tenants(&dir);
        let m = Meter::new(Arc::clone(&store), clock, true);
        (dir, store, m)
    }

    #[test]
    fn periods_are_utc_calendar_months() {
        assert_eq!(period_of(END_OF_NOVEMBER), "2026-11");
        assert_eq!(period_of(END_OF_NOVEMBER + 1), "2026-12");
        assert_eq!(period_of(0), "1970-01");
        assert_eq!(month_bounds(202611), (1_793_491_200, END_OF_NOVEMBER + 1));
        assert_eq!(
            month_bounds(202612).1,
            1_798_761_600,
            "December ends at the new year"
        );
    }

    #[test]
    fn days_are_counted_kept_and_read_back() {
        let now = Arc::new(AtomicI64::new(END_OF_NOVEMBER - 2 * DAY_SECS));
        let clock_now = Arc::clone(&now);
        let clock: Clock = Arc::new(move || clock_now.load(Ordering::Relaxed));
        let (_d, store, m) = meter(Arc::clone(&clock));
        m.add("t", Counter::Requests, 2);
        now.store(END_OF_NOVEMBER, Ordering::Relaxed);
        m.add("t", Counter::Requests, 5);
        assert!(m
            .month("t")
            .unwrap()
            .try_add_one(Counter::Searches, Some(1)));
        assert!(!m
            .month("t")
            .unwrap()
            .try_add_one(Counter::Searches, Some(1)));
        let daily = m.month("t").unwrap().daily();
        assert_eq!(daily.len(), 30);
        assert_eq!(daily[27].0, "2026-11-28");
        assert_eq!(daily[27].1.requests, 2);
        assert_eq!((daily[29].1.requests, daily[29].1.searches), (5, 1));
        assert_eq!(daily.iter().map(|d| d.1.requests).sum::<u64>(), 7);
        m.persist().unwrap();
        let days = store.usage.days("t", "2026-11").unwrap();
        assert_eq!(days.iter().map(|d| d.0).collect::<Vec<_>>(), vec![28, 30]);
        // A new meter reads the days back.
        let again = Meter::new(Arc::clone(&store), clock, true);
        let daily = again.month("t").unwrap().daily();
        assert_eq!((daily[27].1.requests, daily[29].1.requests), (2, 5));
    }

    #[test]
    fn months_roll_over_with_the_clock_and_both_are_kept() {
        let now = Arc::new(AtomicI64::new(END_OF_NOVEMBER));
        let clock_now = Arc::clone(&now);
        let (_d, store, m) = meter(Arc::new(move || clock_now.load(Ordering::Relaxed)));
        m.add("t", Counter::Requests, 3);
        m.add("t", Counter::Searches, 1);
        m.add("other", Counter::Requests, 7);
        now.store(END_OF_NOVEMBER + 1, Ordering::Relaxed);
        m.add("t", Counter::Requests, 1);
        assert_eq!(m.month("t").unwrap().period, "2026-12");
        assert_eq!(m.month("t").unwrap().get(Counter::Requests), 1);
        assert_eq!(
            m.persist().unwrap(),
            6,
            "november of t and its 30th, december of t and its 1st, other and its day"
        );
        let nov = store.usage.get("t", "2026-11").unwrap();
        assert_eq!((nov.requests, nov.searches), (3, 1));
        assert_eq!(store.usage.get("t", "2026-12").unwrap().requests, 1);
        assert_eq!(m.persist().unwrap(), 0, "nothing changed since");
    }

    #[test]
    fn counts_survive_a_new_meter_and_caps_are_exact() {
        let (_d, store, m) = meter(Arc::new(|| END_OF_NOVEMBER));
        let month = m.month("t").unwrap();
        assert!(month.try_add_one(Counter::Searches, Some(2)));
        assert!(month.try_add_one(Counter::Searches, Some(2)));
        assert!(!month.try_add_one(Counter::Searches, Some(2)));
        assert!(month.try_add_one(Counter::Searches, None));
        m.persist().unwrap();
        let again = Meter::new(Arc::clone(&store), Arc::new(|| END_OF_NOVEMBER), true);
        assert_eq!(again.month("t").unwrap().get(Counter::Searches), 3);
        again.forget_tenant("t");
        again.purge_tenant("t").unwrap();
        assert_eq!(again.month("t").unwrap().get(Counter::Searches), 0);
        assert_eq!(
            store.usage.get("t", "2026-11").unwrap(),
            UsageCounts::default()
        );
    }

    #[test]
    fn counts_of_a_tenant_that_no_longer_exists_are_not_written() {
        let (_d, store, m) = meter(Arc::new(|| END_OF_NOVEMBER));
        m.add("ghost", Counter::Requests, 5);
        m.add("t", Counter::Requests, 1);
        assert_eq!(m.persist().unwrap(), 2, "t's month and day");
        assert_eq!(
            store.usage.get("ghost", "2026-11").unwrap(),
            UsageCounts::default()
        );
        assert!(store.usage.days("ghost", "2026-11").unwrap().is_empty());
    }

    #[test]
    fn disabled_meter_counts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let m = Meter::new(store, system_clock(), false);
        m.add("t", Counter::Requests, 1);
        assert_eq!(m.month("t").unwrap().get(Counter::Requests), 0);
    }
}
