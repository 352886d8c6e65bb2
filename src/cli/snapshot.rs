//! `qanatix snapshot` and `qanatix restore`.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct SnapshotArgs {}

#[derive(Debug, Args)]
pub struct RestoreArgs {}

pub fn run_snapshot(_args: SnapshotArgs) -> ExitCode {
    eprintln!("qanatix snapshot: not implemented yet");
    ExitCode::from(2)
}

pub fn run_restore(_args: RestoreArgs) -> ExitCode {
    eprintln!("qanatix restore: not implemented yet");
    ExitCode::from(2)
}
