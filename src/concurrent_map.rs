//! The concurrent map used on the request path: DashMap (per-shard locks) with foldhash, which is
//! several times cheaper than SipHash for short keys and still seeded randomly per map, so
//! attacker-chosen keys (tenant ids in development mode) cannot be aimed at one bucket.

pub type ConcurrentMap<K, V> = dashmap::DashMap<K, V, foldhash::fast::RandomState>;
