//! qanatix-server: a self-hosted, single-binary QANATIX API server.
//!
//! Request path: [`telemetry`] (request id, access log, metrics) → [`auth::middleware`]
//! (authenticate, rate limit, scope check) → [`api`] handlers → [`store`] (an LSM tree, durable before
//! any 2xx).

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod client_ip;
pub mod concurrent_map;
pub mod config;
pub mod connectors;
pub mod data_lock;
pub mod entity_input;
pub mod error;
pub mod export;
pub mod inferred_schema;
pub mod ingest;
pub mod metrics;
pub mod openapi;
pub mod plans;
pub mod quota;
pub mod ratelimit;
pub mod runtime_thread;
pub mod sample_catalog;
pub mod schemas;
pub mod search;
pub mod snapshot;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod timestamp;
pub mod usage;
pub mod web;
pub mod webhooks;

pub use app::Application;
pub use config::Config;
