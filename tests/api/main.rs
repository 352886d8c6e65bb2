//! Black-box tests: each starts the real server binary and talks HTTP to it.

mod common;

mod auth;
mod entities;
mod export;
mod file_formats;
mod hardening_files;
mod ingest;
mod ingest_routes;
mod keys;
mod ops;
mod persistence;
mod ratelimit;
mod schemas;
mod scopes;
mod search;
mod secrets;
mod tenants;
mod upload;
mod usage;
