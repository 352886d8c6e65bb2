//! Micro-benchmark of the per-request auth + rate-limit path: header parsing, keyed hash, key and
//! tenant lookup, expiry check, `last_used_at` touch, token bucket and scope check — everything
//! the guard middleware does before a handler runs, without HTTP.
//!
//! Run: `cargo bench --bench auth_path` (plain timing harness; prints ns per request).

use qanatix::usage::{system_clock, Counter, Meter};
use std::hint::black_box;
use std::time::Instant;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use qanatix::auth::key::ApiKey;
use qanatix::auth::scope::{Scope, Scopes};
use qanatix::auth::Authenticator;
use qanatix::ratelimit::{AuthFailureLimiter, BucketKind, RateLimiter};
use qanatix::store::{KeyRecord, Store, Tenant, TenantStatus};

fn setup(store: &Store, auth: &Authenticator, tenants: usize) -> Vec<String> {
    (0..tenants)
        .map(|i| {
            let id = format!("tenant-{i}");
            store
                .tenants
                .insert_new(Tenant {
                    id: id.clone(),
                    name: id.clone(),
                    plan: "enterprise".into(),
                    status: TenantStatus::Active,
                    created_at: 0,
                })
                .unwrap();
            let key = ApiKey::generate();
            store
                .keys
                .insert(KeyRecord {
                    id: uuid::Uuid::now_v7(),
                    tenant_id: id,
                    name: "bench".into(),
                    scopes: Scopes::parse_list(&["search".into()]).unwrap().bits(),
                    prefix: key.display_prefix(),
                    hash: auth.hasher().hash(&key),
                    created_at: 0,
                    expires_at: Some(i64::MAX / 2),
                    last_used_at: None,
                })
                .unwrap();
            format!("Bearer {}", key.as_str())
        })
        .collect()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
    let auth = Authenticator::new(
        qanatix::auth::key::KeyHasher::new([7; 32]),
        &"m".repeat(40),
        false,
        "free".into(),
        AuthFailureLimiter::new(30),
    );
    let limiter = RateLimiter::default();
    let ip = Some("127.0.0.1".parse().unwrap());
    let system = actix_web::rt::System::new();

    for (tenants, metering) in [(1usize, false), (1, true), (10_000, false), (10_000, true)] {
        let meter = Meter::new(std::sync::Arc::clone(&store), system_clock(), metering);
        let authorizations = setup(&store, &auth, tenants);
        // One header map reused, its Authorization set per request from the key bytes: like a
        // freshly parsed request, and unlike 10,000 pre-built maps that would measure cache misses
        // of the benchmark's own data.
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("user-agent"),
            HeaderValue::from_static("bench"),
        );
        let iterations = 500_000;
        let mut runs = Vec::new();
        for _ in 0..7 {
            let started = Instant::now();
            system.block_on(async {
                for i in 0..iterations {
                    let value = &authorizations[i % authorizations.len()];
                    headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
                    let caller = auth.authenticate(&store, &headers, ip).await.unwrap();
                    let tenant = caller.rate_limited_tenant().unwrap();
                    let d = limiter.take(&tenant.id, BucketKind::Search, u32::MAX);
                    meter.add(&tenant.id, Counter::Requests, 1);
                    assert!(d.allowed && caller.scopes.allows(Scope::Search));
                    black_box(d);
                }
            });
            runs.push(started.elapsed().as_nanos() as f64 / iterations as f64);
        }
        runs.sort_by(f64::total_cmp);
        println!(
            "auth+ratelimit path, {tenants:>6} tenant key(s), metering {:>3}: median {:.0} ns/request, best {:.0} ns ({} runs x {iterations})",
            if metering { "on" } else { "off" },
            runs[runs.len() / 2],
            runs[0],
            runs.len()
        );
        // Fresh tenants for the next size.
        for i in 0..tenants {
            let id = format!("tenant-{i}");
            let _ = system.block_on(store.delete_tenant(&id));
        }
    }
}
