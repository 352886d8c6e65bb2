//! Writing a snapshot: every tree of the store, then the data dir's secrets, into one file.
//!
//! The body is compressed into a temporary file first, because the header in front of it
//! carries the record counts and the body's length, known only at the end; the final file is
//! then written as `<name>.partial` and renamed, so a file with the final name is always whole.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::format::{encode_prefix, BodyWriter, Header, SnapshotError, TreeCount, EXTENSION};
use crate::auth::secrets::{CONNECTOR_KEY_FILE, MASTER_KEY_FILE, SALT_FILE};

/// Secret files a restored data dir needs: without the salt no API key verifies, without the
/// connector key no connector's settings can be unsealed, and a master key kept in the data
/// dir is the operator's way in.
pub const SECRET_FILES: [&str; 3] = [SALT_FILE, CONNECTOR_KEY_FILE, MASTER_KEY_FILE];

/// Trees copied last. A tenant is created before, and deleted after, everything it owns, so
/// copying `tenants` last means a tenant removed while the copy ran leaves records whose tenant
/// is missing, never a tenant whose earlier records are missing; restore drops such records.
const LAST: &[u8] = b"tenants";
const ZSTD_LEVEL: i32 = 3;
const SUFFIX_PARTIAL: &str = "partial";

/// A written snapshot.
#[derive(Debug)]
pub struct Written {
    pub header: Header,
    pub path: PathBuf,
    pub bytes: u64,
}

/// `qanatix-20260101T120000Z-1a2b3c4d.snap` for a snapshot started at `ms` with this id.
pub fn file_name(ms: i64, id: &str) -> String {
    let stamp = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| ms.to_string());
    let tail = &id[id.len().saturating_sub(8)..];
    format!("qanatix-{stamp}-{tail}.{EXTENSION}")
}

/// Opens a new file readable by its owner only: snapshots are as sensitive as the data dir.
pub(crate) fn create_private(path: &Path) -> Result<File, SnapshotError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(SnapshotError::io(path, e)),
    }
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map_err(|e| SnapshotError::io(path, e))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(suffix);
    PathBuf::from(s)
}

/// Whether a file in a snapshot dir is what an interrupted write left behind.
pub fn is_leftover(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == SUFFIX_PARTIAL)
}

/// Copies every tree of `db` and the secrets of `data_dir` into `out`. Writes go on meanwhile:
/// every record written before the call is in the file; later ones may or may not be.
pub fn write(
    db: &crate::store::kv::Db,
    data_dir: &Path,
    out: &Path,
    id: &str,
) -> Result<Written, SnapshotError> {
    let body_path = with_suffix(out, &format!("body.{SUFFIX_PARTIAL}"));
    let partial = with_suffix(out, SUFFIX_PARTIAL);
    let result = write_parts(db, data_dir, out, id, &body_path, &partial);
    let _ = std::fs::remove_file(&body_path);
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn write_parts(
    db: &crate::store::kv::Db,
    data_dir: &Path,
    out: &Path,
    id: &str,
    body_path: &Path,
    partial: &Path,
) -> Result<Written, SnapshotError> {
    let created_at_ms = crate::timestamp::now_ms();
    let secrets = read_secrets(data_dir)?;
    let io_body = |e| SnapshotError::io(body_path, e);

    let body_file = create_private(body_path)?;
    let encoder = zstd::stream::write::Encoder::new(BufWriter::new(body_file), ZSTD_LEVEL)
        .map_err(io_body)?;
    let mut body = BodyWriter::new(BufWriter::with_capacity(1 << 18, encoder));
    // One point in time for every tree: writes going on meanwhile are in none of them.
    let view = db.snapshot();
    let mut names = db.tree_names();
    names.sort();
    names.sort_by_key(|n| n.as_ref() == LAST);
    let mut trees = Vec::with_capacity(names.len());
    for name in names {
        let tree = db.open_tree(&name)?;
        body.tree(&name).map_err(io_body)?;
        let mut records = 0u64;
        for item in view.iter(&tree) {
            let (k, v) = item?;
            body.record(&k, &v).map_err(io_body)?;
            records += 1;
        }
        trees.push(TreeCount {
            name: String::from_utf8_lossy(&name).into_owned(),
            records,
        });
    }
    for (name, data) in &secrets {
        body.secret(name, data).map_err(io_body)?;
    }
    let encoder = body
        .finish()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .map_err(io_body)?;
    let mut body_file = encoder
        .finish()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .map_err(io_body)?;
    let body_bytes = body_file.metadata().map_err(io_body)?.len();

    let header = Header {
        id: id.to_owned(),
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: crate::timestamp::ms_to_rfc3339(created_at_ms),
        created_at_ms,
        finished_at_ms: crate::timestamp::now_ms(),
        trees,
        secrets: secrets.into_iter().map(|(n, _)| n.to_owned()).collect(),
        compression: "zstd".into(),
        body_bytes,
    };
    let io_out = |e| SnapshotError::io(partial, e);
    let mut file = BufWriter::with_capacity(1 << 20, create_private(partial)?);
    let mut hasher = blake3::Hasher::new();
    let prefix = encode_prefix(&header)?;
    hasher.update(&prefix);
    file.write_all(&prefix).map_err(io_out)?;
    use std::io::Seek;
    body_file.rewind().map_err(io_body)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = body_file.read(&mut buf).map_err(io_body)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io_out)?;
    }
    file.write_all(hasher.finalize().as_bytes())
        .map_err(io_out)?;
    let file = file.into_inner().map_err(|e| io_out(e.into_error()))?;
    file.sync_all().map_err(io_out)?;
    let bytes = file.metadata().map_err(io_out)?.len();
    drop(file);
    publish(partial, out)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable once the directory is synced.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(Written {
        header,
        path: out.to_path_buf(),
        bytes,
    })
}

/// Gives the finished file its name without ever replacing a file of that name, even one
/// created since the caller checked: a hard link fails if the name exists, a rename would not.
fn publish(partial: &Path, out: &Path) -> Result<(), SnapshotError> {
    match std::fs::hard_link(partial, out) {
        Ok(()) => std::fs::remove_file(partial).map_err(|e| SnapshotError::io(partial, e)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(partial);
            Err(SnapshotError::Refused(format!(
                "{}: exists; a snapshot never replaces a file",
                out.display()
            )))
        }
        // A file system without hard links: the name was checked free before the write.
        Err(_) => std::fs::rename(partial, out).map_err(|e| SnapshotError::io(out, e)),
    }
}

/// The secret files present in `data_dir`, with their contents.
fn read_secrets(data_dir: &Path) -> Result<Vec<(&'static str, Vec<u8>)>, SnapshotError> {
    let mut out = Vec::new();
    for name in SECRET_FILES {
        let path = data_dir.join(name);
        match std::fs::read(&path) {
            Ok(data) => out.push((name, data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SnapshotError::io(&path, e)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_end_in_the_id() {
        let name = file_name(1_767_268_800_123, "0190-abcdef12");
        assert_eq!(name, "qanatix-20260101T120000Z-abcdef12.snap");
        assert!(is_leftover(Path::new("/x/a.snap.partial")));
        assert!(is_leftover(Path::new("/x/a.snap.body.partial")));
        assert!(!is_leftover(Path::new("/x/a.snap")));
    }

    #[test]
    fn a_finished_snapshot_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (partial, out) = (dir.path().join("s.partial"), dir.path().join("s.snap"));
        std::fs::write(&out, b"someone else's").unwrap();
        std::fs::write(&partial, b"snapshot").unwrap();
        let e = publish(&partial, &out).unwrap_err().to_string();
        assert!(e.contains("exists"), "{e}");
        assert_eq!(std::fs::read(&out).unwrap(), b"someone else's");
        assert!(!partial.exists());

        std::fs::remove_file(&out).unwrap();
        std::fs::write(&partial, b"snapshot").unwrap();
        publish(&partial, &out).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"snapshot");
        assert!(!partial.exists());
    }
}
