//! Black-box tests: each starts the real server binary and talks HTTP to it.

mod common;

mod auth;
mod cli;
mod connectors;
mod databases;
mod entities;
mod export;
mod file_formats;
mod first_run;
mod hardening_depth;
mod hardening_files;
mod hardening_ingest;
mod hardening_search;
mod ingest;
mod ingest_routes;
mod keys;
mod mcp;
mod open;
mod open_mcp;
mod ops;
mod persistence;
mod races;
mod ranking;
mod ratelimit;
mod readme;
mod records;
mod schemas;
mod scopes;
mod search;
mod search_dialects;
mod secrets;
mod tenants;
mod upload;
mod usage;
mod webhooks_out;
