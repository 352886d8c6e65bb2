//! Black-box tests: each starts the real server binary and talks HTTP to it.

mod common;

mod auth;
mod keys;
mod ops;
mod persistence;
mod ratelimit;
mod scopes;
mod secrets;
mod tenants;
