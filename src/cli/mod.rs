//! The command line: `qanatix` alone serves; subcommands are operator tools.
//!
//! `snapshot` and `restore` work on a data dir directly (offline); `import`, `search`, `keys`,
//! `tenants` and `status` talk HTTP to a running server.

pub mod remote;
pub mod snapshot;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::Config;

#[derive(Debug, Parser)]
#[command(
    name = "qanatix",
    version,
    about = "Self-hosted QANATIX API server",
    args_conflicts_with_subcommands = true,
    after_help = remote::EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub serve: Config,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or list snapshots of a stopped server's data dir.
    Snapshot(snapshot::SnapshotArgs),
    /// Rebuild a data dir from a snapshot.
    Restore(snapshot::RestoreArgs),
    /// Upload a file to a running server, with progress.
    Import(remote::ImportArgs),
    /// Search a running server.
    Search(remote::SearchArgs),
    /// Manage API keys on a running server.
    Keys(remote::KeysArgs),
    /// Manage tenants on a running server (master key).
    Tenants(remote::TenantsArgs),
    /// Health, index lag and counts of a running server.
    Status(remote::StatusArgs),
}

/// Runs an operator subcommand; the server itself runs when none is given.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Snapshot(args) => snapshot::run_snapshot(args),
        Command::Restore(args) => snapshot::run_restore(args),
        Command::Import(args) => remote::run_import(args),
        Command::Search(args) => remote::run_search(args),
        Command::Keys(args) => remote::run_keys(args),
        Command::Tenants(args) => remote::run_tenants(args),
        Command::Status(args) => remote::run_status(args),
    }
}
