//! `qanatix snapshot` and `qanatix restore`: offline, on a data dir no server holds.
//!
//! Exit codes: 0 done, 1 the operation failed (the message names the file and the problem),
//! 2 usage error (clap's own).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::snapshot::{create, jobs, restore, SnapshotError};

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Write a snapshot of a stopped server's data dir (a running server takes them itself:
    /// `POST /api/v1/admin/snapshots`).
    Create(CreateArgs),
    /// List the snapshots in the snapshot dir.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The data dir to copy.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The file to write (default: a new file in the snapshot dir).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Default `DATA_DIR/snapshots`.
    #[arg(long, env = "SNAPSHOT_DIR")]
    pub snapshot_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Default `DATA_DIR/snapshots`.
    #[arg(long, env = "SNAPSHOT_DIR")]
    pub snapshot_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The snapshot file.
    pub snapshot: PathBuf,
    /// The data dir to create: it must be empty or missing (no environment default, so a
    /// restore never lands somewhere by accident).
    #[arg(long)]
    pub data_dir: PathBuf,
}

fn snapshot_dir(data_dir: &Path, given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| data_dir.join("snapshots"))
}

fn failed(command: &str, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("qanatix {command}: {message}");
    ExitCode::FAILURE
}

pub fn run_snapshot(args: SnapshotArgs) -> ExitCode {
    match args.command {
        SnapshotCommand::Create(a) => match create_offline(a) {
            Ok(written) => {
                println!(
                    "snapshot {} written: {} ({} bytes)",
                    written.header.id,
                    written.path.display(),
                    written.bytes
                );
                for t in &written.header.trees {
                    println!("  {:<24} {:>12} records", t.name, t.records);
                }
                ExitCode::SUCCESS
            }
            Err(e) => failed("snapshot create", e),
        },
        SnapshotCommand::List(a) => {
            let dir = snapshot_dir(&a.data_dir, a.snapshot_dir);
            let snapshots = jobs::list_dir(&dir);
            if snapshots.is_empty() {
                println!("no snapshots in {}", dir.display());
            }
            for s in snapshots {
                let status = serde_json::to_value(s.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                println!(
                    "{}  {:<9}  {:>12} bytes  {}  {}",
                    s.started_at,
                    status,
                    s.bytes.unwrap_or(0),
                    s.file,
                    s.error.unwrap_or_default()
                );
            }
            ExitCode::SUCCESS
        }
    }
}

fn create_offline(a: CreateArgs) -> Result<create::Written, SnapshotError> {
    let db_path = crate::store::db_path(&a.data_dir);
    if !crate::store::holds_store(&a.data_dir) {
        return Err(SnapshotError::Refused(format!(
            "{}: holds no qanatix store ({} is missing)",
            a.data_dir.display(),
            db_path.display()
        )));
    }
    let _lock = crate::data_lock::acquire(&a.data_dir).map_err(|e| {
        SnapshotError::Refused(format!(
            "{e}. A running server takes snapshots itself: \
             POST /api/v1/admin/snapshots with the master key (docs/operations.md)"
        ))
    })?;
    crate::snapshot::restore::check_complete(&a.data_dir).map_err(SnapshotError::Refused)?;
    let db = crate::store::open_db(&a.data_dir)?;
    let id = uuid::Uuid::now_v7().to_string();
    let out = match a.out {
        Some(out) => out,
        None => snapshot_dir(&a.data_dir, a.snapshot_dir)
            .join(create::file_name(crate::timestamp::now_ms(), &id)),
    };
    if out.exists() {
        return Err(SnapshotError::Refused(format!(
            "{}: exists; a snapshot never replaces a file (choose another --out)",
            out.display()
        )));
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| SnapshotError::io(parent, e))?;
    }
    create::write(&db, &a.data_dir, &out, &id)
}

pub fn run_restore(args: RestoreArgs) -> ExitCode {
    match restore::restore(&args.snapshot, &args.data_dir) {
        Ok(r) => {
            println!(
                "restored snapshot {} (taken {}) into {}",
                r.header.id,
                r.header.created_at,
                args.data_dir.display()
            );
            let records: u64 = r.header.trees.iter().map(|t| t.records).sum();
            println!(
                "  {records} records in {} trees, {} entities; the search index is rebuilt at \
                 first start",
                r.header.trees.len(),
                r.repaired.entities
            );
            if !r.repaired.orphan_tenants.is_empty() {
                println!(
                    "  removed records of tenants deleted while the snapshot ran: {}",
                    r.repaired.orphan_tenants.join(", ")
                );
            }
            for w in &r.warnings {
                eprintln!("qanatix restore: warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => failed("restore", e),
    }
}
