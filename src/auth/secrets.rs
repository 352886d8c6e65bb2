//! Server secrets kept in the data dir: the API-key hashing salt, the master key and the key
//! that seals connectors' connection settings. Each file is created once with mode 0600 and
//! reused on every start.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::auth::key::KeyHasher;

pub const MASTER_KEY_FILE: &str = "master.key";
pub const SALT_FILE: &str = "key.salt";
/// Seals the connection settings of database connectors (see `crate::connectors::sealing`).
/// Losing it makes every stored connector's settings unreadable, so it is backed up with the
/// data dir.
pub const CONNECTOR_KEY_FILE: &str = "connector.key";
const MIN_MASTER_LEN: usize = 32;

/// Where the master key came from, for the start-up log (which never shows the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    Env,
    File { path: PathBuf, created: bool },
}

fn random_hex32() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(crate) fn write_secret_file(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

/// The master key from `QANATIX_MASTER_KEY`, else `<data_dir>/master.key`, created if missing.
pub fn load_master_key(
    env_value: Option<&str>,
    data_dir: &Path,
) -> Result<(String, MasterKeySource), String> {
    if let Some(v) = env_value {
        if v.chars().count() < MIN_MASTER_LEN {
            return Err(format!(
                "QANATIX_MASTER_KEY must be at least {MIN_MASTER_LEN} characters"
            ));
        }
        return Ok((v.to_owned(), MasterKeySource::Env));
    }
    let path = data_dir.join(MASTER_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = text.trim().to_owned();
            if key.len() < MIN_MASTER_LEN {
                return Err(format!(
                    "{} is too short to be a master key",
                    path.display()
                ));
            }
            Ok((
                key,
                MasterKeySource::File {
                    path,
                    created: false,
                },
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = format!("sk_master_{}", random_hex32());
            write_secret_file(&path, &key)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok((
                key,
                MasterKeySource::File {
                    path,
                    created: true,
                },
            ))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// 32 bytes kept as hex in `path`, generated (0600) on first use.
fn load_or_create_hex32(path: &Path) -> Result<[u8; 32], String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let fresh = random_hex32();
            write_secret_file(path, &fresh)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            fresh
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{} does not hold 64 hex characters", path.display()))
}

/// The hasher from `API_KEY_SALT`, else from `<data_dir>/key.salt`, created if missing.
pub fn load_key_hasher(env_value: Option<&str>, data_dir: &Path) -> Result<KeyHasher, String> {
    if let Some(secret) = env_value {
        return Ok(KeyHasher::from_secret(secret));
    }
    Ok(KeyHasher::new(load_or_create_hex32(
        &data_dir.join(SALT_FILE),
    )?))
}

/// The connector sealing key from `<data_dir>/connector.key`, created if missing.
pub fn load_connector_key(data_dir: &Path) -> Result<[u8; 32], String> {
    load_or_create_hex32(&data_dir.join(CONNECTOR_KEY_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::key::ApiKey;

    #[test]
    fn master_key_is_created_once_with_0600() {
        let dir = tempfile::tempdir().unwrap();
        let (k1, src) = load_master_key(None, dir.path()).unwrap();
        assert!(k1.starts_with("sk_master_") && k1.len() == 10 + 64);
        assert!(matches!(src, MasterKeySource::File { created: true, .. }));
        let (k2, src) = load_master_key(None, dir.path()).unwrap();
        assert_eq!(k1, k2);
        assert!(matches!(src, MasterKeySource::File { created: false, .. }));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn short_env_master_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_master_key(Some("short"), dir.path()).is_err());
        let long = "x".repeat(32);
        assert_eq!(
            load_master_key(Some(&long), dir.path()).unwrap().1,
            MasterKeySource::Env
        );
        assert!(!dir.path().join(MASTER_KEY_FILE).exists());
    }

    #[test]
    fn salt_file_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let k = ApiKey::generate();
        let h1 = load_key_hasher(None, dir.path()).unwrap().hash(&k);
        let h2 = load_key_hasher(None, dir.path()).unwrap().hash(&k);
        assert_eq!(h1, h2);
        let h3 = load_key_hasher(Some("operator salt"), dir.path())
            .unwrap()
            .hash(&k);
        assert_ne!(h1, h3);
    }

    #[test]
    fn connector_key_is_created_once_with_0600() {
        let dir = tempfile::tempdir().unwrap();
        let k1 = load_connector_key(dir.path()).unwrap();
        assert_eq!(k1, load_connector_key(dir.path()).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(dir.path().join(CONNECTOR_KEY_FILE)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(CONNECTOR_KEY_FILE), "short").unwrap();
        assert!(load_connector_key(dir.path()).is_err());
    }
}
