//! Subcommands that talk HTTP to a running server.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct ImportArgs {}
#[derive(Debug, Args)]
pub struct SearchArgs {}
#[derive(Debug, Args)]
pub struct KeysArgs {}
#[derive(Debug, Args)]
pub struct TenantsArgs {}
#[derive(Debug, Args)]
pub struct StatusArgs {}

fn not_yet(name: &str) -> ExitCode {
    eprintln!("qanatix {name}: not implemented yet");
    ExitCode::from(2)
}

pub fn run_import(_args: ImportArgs) -> ExitCode {
    not_yet("import")
}
pub fn run_search(_args: SearchArgs) -> ExitCode {
    not_yet("search")
}
pub fn run_keys(_args: KeysArgs) -> ExitCode {
    not_yet("keys")
}
pub fn run_tenants(_args: TenantsArgs) -> ExitCode {
    not_yet("tenants")
}
pub fn run_status(_args: StatusArgs) -> ExitCode {
    not_yet("status")
}
