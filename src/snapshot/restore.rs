//! Checking a snapshot and rebuilding a data dir from it.
//!
//! The whole file is verified (length, checksum) before anything is written, so a damaged file
//! leaves the target as it was. The target must be empty or missing: restoring over a data dir
//! would mix two stores. The search index is not in a snapshot; the server rebuilds it from
//! the store at first start.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::create::SECRET_FILES;
use super::format::{read_header, BodyReader, Entry, Header, SnapshotError, CHECKSUM_LEN};
use crate::store::repair::Repaired;
use crate::store::Store;

/// Records per write batch while importing.
const BATCH: usize = 10_000;
/// Or this many bytes of keys and values, whichever comes first.
const BATCH_BYTES: usize = 64 << 20;

/// A restored data dir.
#[derive(Debug)]
pub struct Restored {
    pub header: Header,
    pub repaired: Repaired,
    /// Secrets the snapshot did not hold, with what the operator must do about each.
    pub warnings: Vec<String>,
}

/// Opens a snapshot and checks its header (not the body): what `list` shows.
pub fn header_of(path: &Path) -> Result<(Header, u64), SnapshotError> {
    let mut file = File::open(path).map_err(|e| SnapshotError::io(path, e))?;
    let len = file
        .metadata()
        .map_err(|e| SnapshotError::io(path, e))?
        .len();
    read_header(&mut BufReader::new(&mut file), len, path)
}

/// Checks the header, the length and the checksum of the whole file; returns the header and
/// where the body starts.
pub fn verify(path: &Path) -> Result<(Header, u64), SnapshotError> {
    let (header, body_start) = header_of(path)?;
    let mut file = File::open(path).map_err(|e| SnapshotError::io(path, e))?;
    let mut hasher = blake3::Hasher::new();
    let covered = body_start + header.body_bytes;
    let mut limited = (&mut file).take(covered);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = limited
            .read(&mut buf)
            .map_err(|e| SnapshotError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let mut stored = [0u8; CHECKSUM_LEN as usize];
    file.read_exact(&mut stored)
        .map_err(|e| SnapshotError::io(path, e))?;
    if hasher.finalize() != blake3::Hash::from_bytes(stored) {
        return Err(SnapshotError::Checksum(path.display().to_string()));
    }
    Ok((header, body_start))
}

/// A file reader that hashes what it reads.
struct Hashing {
    file: File,
    hasher: blake3::Hasher,
}

impl Read for Hashing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Present in a data dir while a restore into it runs, and left behind if it was interrupted.
pub const INCOMPLETE_MARKER: &str = "restore.incomplete";

/// Refuses a data dir that a restore did not finish.
pub fn check_complete(data_dir: &Path) -> Result<(), String> {
    if data_dir.join(INCOMPLETE_MARKER).exists() {
        return Err(format!(
            "data dir {} holds an unfinished restore ({INCOMPLETE_MARKER}); \
             remove the directory and run `qanatix restore` again",
            data_dir.display()
        ));
    }
    Ok(())
}

/// Rebuilds the data dir `target` (empty or missing) from the snapshot at `path`.
pub fn restore(path: &Path, target: &Path) -> Result<Restored, SnapshotError> {
    let (header, body_start) = verify(path)?;
    let created = match std::fs::read_dir(target) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(SnapshotError::Refused(format!(
                    "{}: not empty; restore only into an empty or new directory \
                     (move the old data dir aside first)",
                    target.display()
                )));
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(target).map_err(|e| SnapshotError::io(target, e))?;
            true
        }
        Err(e) => return Err(SnapshotError::io(target, e)),
    };
    let lock = crate::data_lock::acquire(target).map_err(SnapshotError::Refused)?;
    // Until the import and its repair are done, the dir must not pass for a data dir: a server
    // started on a half-restored dir would make a new key salt and master key, and serve a
    // store whose derived entries were never rebuilt.
    let marker = target.join(INCOMPLETE_MARKER);
    let result = std::fs::write(
        &marker,
        format!("restore of {} did not finish\n", path.display()),
    )
    .map_err(|e| SnapshotError::io(&marker, e))
    .and_then(|()| import(path, &header, body_start, target))
    .and_then(|done| {
        std::fs::remove_file(&marker).map_err(|e| SnapshotError::io(&marker, e))?;
        Ok(done)
    });
    drop(lock);
    match result {
        Ok((repaired, warnings)) => Ok(Restored {
            header,
            repaired,
            warnings,
        }),
        Err(e) => {
            // Leave the target as it was found: missing, or empty.
            if created {
                let _ = std::fs::remove_dir_all(target);
            } else if let Ok(entries) = std::fs::read_dir(target) {
                for entry in entries.flatten() {
                    let p = entry.path();
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
            Err(e)
        }
    }
}

/// One tree being imported, checked against the header's count when it ends.
struct Filling {
    tree: crate::store::kv::Tree,
    index: usize,
    records: u64,
    batch: crate::store::kv::Batch,
    pending: usize,
    pending_bytes: usize,
}

pub(super) fn import(
    path: &Path,
    header: &Header,
    body_start: u64,
    target: &Path,
) -> Result<(Repaired, Vec<String>), SnapshotError> {
    let damaged = |detail: String| SnapshotError::Damaged {
        path: path.display().to_string(),
        detail,
    };
    // `verify` checked the file, but the file may change before it is read again (a copy
    // still arriving): the bytes imported are hashed on their way in and checked at the end.
    let mut hashing = Hashing {
        file: File::open(path).map_err(|e| SnapshotError::io(path, e))?,
        hasher: blake3::Hasher::new(),
    };
    std::io::copy(&mut (&mut hashing).take(body_start), &mut std::io::sink())
        .map_err(|e| SnapshotError::io(path, e))?;
    let decoder = zstd::stream::read::Decoder::new(hashing.take(header.body_bytes))
        .map_err(|e| SnapshotError::io(path, e))?;
    let mut body = BodyReader::new(BufReader::with_capacity(1 << 18, decoder), path);

    let db = crate::store::open_db(target)?;
    let mut current: Option<Filling> = None;
    let mut trees_seen = 0usize;
    let mut secrets = Vec::new();
    let finish = |filling: Option<Filling>| -> Result<(), SnapshotError> {
        let Some(f) = filling else { return Ok(()) };
        f.tree.apply_batch(f.batch)?;
        let expected = header.trees[f.index].records;
        if f.records != expected {
            return Err(damaged(format!(
                "tree '{}' holds {} records where the header says {expected}",
                header.trees[f.index].name, f.records
            )));
        }
        Ok(())
    };
    loop {
        match body.next_entry()? {
            Entry::Tree(name) => {
                finish(current.take())?;
                let shown = String::from_utf8_lossy(&name);
                match header.trees.get(trees_seen) {
                    Some(t) if t.name == shown => {}
                    _ => {
                        return Err(damaged(format!(
                            "tree '{shown}' is not where the header lists it"
                        )))
                    }
                }
                current = Some(Filling {
                    tree: db.open_tree(&name)?,
                    index: trees_seen,
                    records: 0,
                    batch: crate::store::kv::Batch::default(),
                    pending: 0,
                    pending_bytes: 0,
                });
                trees_seen += 1;
            }
            Entry::Record(k, v) => {
                let Some(f) = current.as_mut() else {
                    return Err(damaged("a record comes before any tree".into()));
                };
                f.pending_bytes += k.len() + v.len();
                f.batch.insert(k, v);
                f.records += 1;
                f.pending += 1;
                if f.pending == BATCH || f.pending_bytes >= BATCH_BYTES {
                    f.tree.apply_batch(std::mem::take(&mut f.batch))?;
                    f.pending = 0;
                    f.pending_bytes = 0;
                }
            }
            Entry::Secret(name, data) => {
                finish(current.take())?;
                if !SECRET_FILES.contains(&name.as_str()) {
                    return Err(damaged(format!("unknown secret file '{name}'")));
                }
                secrets.push((name, data));
            }
            Entry::End => {
                finish(current.take())?;
                break;
            }
        }
    }
    if trees_seen != header.trees.len() {
        return Err(damaged(format!(
            "the header lists {} trees, the body holds {trees_seen}",
            header.trees.len()
        )));
    }
    // What the decoder left of the body is hashed too, then held against the checksum.
    let mut rest = body.into_inner().into_inner().finish().into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(|e| SnapshotError::io(path, e))?;
    let mut hashing = rest.into_inner();
    let mut stored = [0u8; CHECKSUM_LEN as usize];
    hashing
        .file
        .read_exact(&mut stored)
        .map_err(|e| SnapshotError::io(path, e))?;
    if hashing.hasher.finalize() != blake3::Hash::from_bytes(stored) {
        return Err(SnapshotError::Checksum(path.display().to_string()));
    }
    db.flush()?;
    drop(db);

    let mut warnings = Vec::new();
    for name in SECRET_FILES {
        let Some((_, data)) = secrets.iter().find(|(n, _)| n == name) else {
            warnings.push(missing_secret(name));
            continue;
        };
        let text = std::str::from_utf8(data)
            .map_err(|_| damaged(format!("secret '{name}' is not text")))?;
        let to = target.join(name);
        crate::auth::secrets::write_secret_file(&to, text)
            .map_err(|e| SnapshotError::io(&to, e))?;
    }
    let store = Store::open(target)?;
    let repaired = store.repair_restored(crate::timestamp::now_ms())?;
    Ok((repaired, warnings))
}

/// What to do when the snapshotted data dir did not hold a secret file.
fn missing_secret(name: &str) -> String {
    use crate::auth::secrets::{CONNECTOR_KEY_FILE, MASTER_KEY_FILE, SALT_FILE};
    match name {
        SALT_FILE => format!(
            "the snapshot holds no {SALT_FILE}: its server took API_KEY_SALT from the \
             environment; start the restored server with the same API_KEY_SALT, or no API key \
             will verify"
        ),
        MASTER_KEY_FILE => format!(
            "the snapshot holds no {MASTER_KEY_FILE}: its server took QANATIX_MASTER_KEY from \
             the environment; set it again (without it, a new master key is generated)"
        ),
        CONNECTOR_KEY_FILE => format!(
            "the snapshot holds no {CONNECTOR_KEY_FILE}: connectors stored in it cannot be \
             unsealed (a new key is generated at start)"
        ),
        other => format!("the snapshot holds no {other}"),
    }
}
