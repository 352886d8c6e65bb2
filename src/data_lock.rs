//! One server per data directory. The storage engine refuses a second opener with a bare lock error; taking our
//! own lock first lets the second process say which process holds the directory.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const LOCK_FILE: &str = "qanatix.lock";

/// Held for the life of the server; the OS releases it when the process exits, however it exits.
pub struct DataDirLock {
    _file: File,
}

pub fn acquire(data_dir: &Path) -> Result<DataDirLock, String> {
    let path = data_dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another qanatix".to_owned()
            } else {
                format!("another qanatix (pid {holder})")
            };
            return Err(format!(
                "data dir {} is in use by {who}; stop it or choose another DATA_DIR",
                data_dir.display()
            ));
        }
        Err(TryLockError::Error(e)) => {
            return Err(format!("cannot lock {}: {e}", path.display()));
        }
    }
    let pid = std::process::id().to_string();
    file.set_len(0)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(pid.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(DataDirLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path()).unwrap();
        let err = acquire(dir.path()).err().unwrap();
        assert!(err.contains("in use by another qanatix (pid "), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        assert!(acquire(dir.path()).is_ok());
    }
}
