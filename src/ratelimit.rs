//! Token buckets: two per tenant (general, search) sized by the tenant's plan, and one per client IP
//! for failed authentication (API.md §3).
//!
//! A bucket holds `capacity` tokens (the plan's requests per minute) and refills `capacity / 60` per
//! second; a new bucket starts full. Buckets idle for a minute are full again, so they are evicted:
//! a fresh bucket is indistinguishable from them.

use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::concurrent_map::ConcurrentMap;

/// Which of a tenant's two buckets a route draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketKind {
    General,
    Search,
}

/// The outcome of one request against a bucket: enough to write the `X-RateLimit-*` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Whole tokens left after this request.
    pub remaining: u32,
    /// Unix seconds when the bucket is full again.
    pub reset: u64,
    /// Whole seconds until one token is available (≥ 1); meaningful when not allowed.
    pub retry_after: u64,
}

/// Time as the limiter sees it: monotonic seconds for refill, wall-clock seconds for `Reset`.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub mono: f64,
    pub epoch: f64,
}

/// Real time anchored once, so that `epoch` moves with the monotonic clock.
#[derive(Debug)]
pub struct Clock {
    start: Instant,
    start_epoch: f64,
}

impl Default for Clock {
    fn default() -> Self {
        let start_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Clock {
            start: Instant::now(),
            start_epoch,
        }
    }
}

impl Clock {
    pub fn now(&self) -> Now {
        let mono = self.start.elapsed().as_secs_f64();
        Now {
            mono,
            epoch: self.start_epoch + mono,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    capacity: f64,
    updated: f64,
}

impl Bucket {
    fn full(capacity: f64, now: f64) -> Self {
        Bucket {
            tokens: capacity,
            capacity,
            updated: now,
        }
    }

    /// Brings the bucket to `now`, applying a plan change: the difference in capacity is added to
    /// (or taken from) the tokens, so a full bucket stays full and an empty one stays empty.
    fn refill(&mut self, capacity: f64, now: f64) {
        if capacity != self.capacity {
            self.tokens = (self.tokens + capacity - self.capacity).max(0.0);
            self.capacity = capacity;
        }
        let elapsed = (now - self.updated).max(0.0);
        self.tokens = (self.tokens + elapsed * capacity / 60.0).min(capacity);
        self.updated = now;
    }

    fn decision(&self, allowed: bool, now: Now) -> Decision {
        let rate = self.capacity / 60.0;
        let to_full = ((self.capacity - self.tokens) / rate).max(0.0);
        let to_one = ((1.0 - self.tokens) / rate).ceil().max(1.0);
        Decision {
            allowed,
            limit: self.capacity as u32,
            remaining: self.tokens.floor().max(0.0) as u32,
            reset: (now.epoch + to_full).ceil() as u64,
            retry_after: to_one as u64,
        }
    }

    fn take(&mut self, capacity: f64, now: Now) -> Decision {
        self.refill(capacity, now.mono);
        let allowed = self.tokens >= 1.0;
        if allowed {
            self.tokens -= 1.0;
        }
        self.decision(allowed, now)
    }

    fn peek(&mut self, capacity: f64, now: Now) -> Decision {
        self.refill(capacity, now.mono);
        self.decision(self.tokens >= 1.0, now)
    }
}

/// A map of buckets with per-entry locking (DashMap shards), keyed by anything hashable.
#[derive(Debug)]
struct BucketMap<K: Eq + Hash> {
    buckets: ConcurrentMap<K, Bucket>,
}

impl<K: Eq + Hash> BucketMap<K> {
    fn new() -> Self {
        BucketMap {
            buckets: ConcurrentMap::default(),
        }
    }

    fn with<Q, R>(&self, key: &Q, capacity: u32, now: Now, f: impl FnOnce(&mut Bucket) -> R) -> R
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let capacity = f64::from(capacity.max(1));
        if let Some(mut b) = self.buckets.get_mut(key) {
            return f(&mut b);
        }
        let mut entry = self
            .buckets
            .entry(key.to_owned())
            .or_insert_with(|| Bucket::full(capacity, now.mono));
        f(&mut entry)
    }

    fn evict_idle(&self, now: f64) {
        self.buckets.retain(|_, b| now - b.updated < 60.0);
    }
}

/// Per-tenant request limits.
#[derive(Debug)]
pub struct RateLimiter {
    general: BucketMap<String>,
    search: BucketMap<String>,
    clock: Clock,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            general: BucketMap::new(),
            search: BucketMap::new(),
            clock: Clock::default(),
        }
    }
}

impl RateLimiter {
    fn map(&self, kind: BucketKind) -> &BucketMap<String> {
        match kind {
            BucketKind::General => &self.general,
            BucketKind::Search => &self.search,
        }
    }

    /// Spends one token of the tenant's bucket, if there is one.
    pub fn take(&self, tenant: &str, kind: BucketKind, capacity: u32) -> Decision {
        self.take_at(tenant, kind, capacity, self.clock.now())
    }

    pub fn take_at(&self, tenant: &str, kind: BucketKind, capacity: u32, now: Now) -> Decision {
        let cap = f64::from(capacity.max(1));
        self.map(kind)
            .with(tenant, capacity, now, |b| b.take(cap, now))
    }

    /// The bucket's state without spending a token.
    pub fn peek(&self, tenant: &str, kind: BucketKind, capacity: u32) -> Decision {
        let now = self.clock.now();
        let cap = f64::from(capacity.max(1));
        self.map(kind)
            .with(tenant, capacity, now, |b| b.peek(cap, now))
    }

    /// Forgets a tenant's buckets (tenant deleted).
    pub fn forget(&self, tenant: &str) {
        self.general.buckets.remove(tenant);
        self.search.buckets.remove(tenant);
    }

    pub fn evict_idle(&self) {
        let now = self.clock.now().mono;
        self.general.evict_idle(now);
        self.search.evict_idle(now);
    }
}

/// Failed authentications per client IP: a bucket of `per_minute` failures.
#[derive(Debug)]
pub struct AuthFailureLimiter {
    per_minute: u32,
    buckets: BucketMap<IpAddr>,
    clock: Clock,
}

impl AuthFailureLimiter {
    pub fn new(per_minute: u32) -> Self {
        AuthFailureLimiter {
            per_minute,
            buckets: BucketMap::new(),
            clock: Clock::default(),
        }
    }

    /// `Some(retry_after)` when this IP has used up its failures and must wait.
    pub fn blocked(&self, ip: IpAddr) -> Option<u64> {
        if self.per_minute == 0 || !self.buckets.buckets.contains_key(&ip) {
            return None;
        }
        let now = self.clock.now();
        let cap = f64::from(self.per_minute);
        let d = self
            .buckets
            .with(&ip, self.per_minute, now, |b| b.peek(cap, now));
        (!d.allowed).then_some(d.retry_after)
    }

    pub fn record_failure(&self, ip: IpAddr) {
        if self.per_minute == 0 {
            return;
        }
        let now = self.clock.now();
        let cap = f64::from(self.per_minute);
        self.buckets
            .with(&ip, self.per_minute, now, |b| b.take(cap, now));
    }

    pub fn evict_idle(&self) {
        self.buckets.evict_idle(self.clock.now().mono);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(mono: f64) -> Now {
        Now {
            mono,
            epoch: 1_000_000.0 + mono,
        }
    }

    #[test]
    fn new_bucket_is_full_and_counts_down() {
        let rl = RateLimiter::default();
        let d = rl.take_at("t", BucketKind::General, 60, at(0.0));
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining), (60, 59));
        assert_eq!(
            d.reset, 1_000_001,
            "one token refills in one second at 60 rpm"
        );
        let d = rl.take_at("t", BucketKind::General, 60, at(0.0));
        assert_eq!(d.remaining, 58);
    }

    #[test]
    fn empties_then_refuses_then_recovers() {
        let rl = RateLimiter::default();
        for i in 0..30 {
            assert!(
                rl.take_at("t", BucketKind::Search, 30, at(0.0)).allowed,
                "{i}"
            );
        }
        let d = rl.take_at("t", BucketKind::Search, 30, at(0.0));
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.retry_after, 2, "30 rpm refills one token every 2 s");
        assert_eq!(d.reset, 1_000_060);
        assert!(!rl.take_at("t", BucketKind::Search, 30, at(1.9)).allowed);
        assert!(rl.take_at("t", BucketKind::Search, 30, at(2.0)).allowed);
    }

    #[test]
    fn buckets_are_per_tenant_and_per_kind() {
        let rl = RateLimiter::default();
        for _ in 0..2 {
            rl.take_at("a", BucketKind::General, 2, at(0.0));
        }
        assert!(!rl.take_at("a", BucketKind::General, 2, at(0.0)).allowed);
        assert!(rl.take_at("a", BucketKind::Search, 2, at(0.0)).allowed);
        assert!(rl.take_at("b", BucketKind::General, 2, at(0.0)).allowed);
    }

    #[test]
    fn plan_change_applies_to_existing_bucket() {
        let rl = RateLimiter::default();
        rl.take_at("t", BucketKind::General, 60, at(0.0));
        let d = rl.take_at("t", BucketKind::General, 1000, at(0.0));
        assert_eq!((d.limit, d.remaining), (1000, 998));
        let d = rl.take_at("t", BucketKind::General, 10, at(0.0));
        assert_eq!((d.limit, d.remaining), (10, 7));
    }

    #[test]
    fn refill_never_exceeds_capacity() {
        let rl = RateLimiter::default();
        rl.take_at("t", BucketKind::General, 60, at(0.0));
        let d = rl.take_at("t", BucketKind::General, 60, at(3600.0));
        assert_eq!(d.remaining, 59);
    }

    #[test]
    fn auth_failures_block_after_the_limit() {
        let l = AuthFailureLimiter::new(3);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(l.blocked(ip), None);
        for _ in 0..3 {
            l.record_failure(ip);
        }
        assert_eq!(l.blocked(ip), Some(20));
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(l.blocked(other), None);
        assert_eq!(AuthFailureLimiter::new(0).blocked(ip), None);
    }
}
