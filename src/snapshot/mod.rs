//! Online snapshots of the store and restore from them (docs/operations.md, "Backup and
//! restore").
//!
//! A snapshot is one file ([`format`]) holding every record of every store tree and the data
//! dir's secrets, written while the server keeps serving ([`create`], [`jobs`]). Restoring
//! ([`restore`]) verifies the file, rebuilds the store, then repairs what a copy taken under
//! writes can leave inconsistent (`crate::store::repair`). The search index is derived data
//! and is not in a snapshot: the server rebuilds it from the store at first start.

pub mod create;
pub mod format;
pub mod jobs;
pub mod restore;

pub use format::SnapshotError;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::entities::sample_entity;
    use crate::store::{Store, Tenant, TenantStatus};

    /// A data dir with one tenant, one entity with a source id, and the secret files.
    fn data_dir() -> (tempfile::TempDir, uuid::Uuid) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .tenants
            .insert_new(Tenant {
                id: "acme".into(),
                name: "Acme".into(),
                plan: "pro".into(),
                status: TenantStatus::Active,
                created_at: 0,
            })
            .unwrap();
        let mut e = sample_entity("acme", "hex bolt");
        e.source_id = Some("b-1".into());
        let mut changes = store.entities.changes();
        changes.put(&e, None).unwrap();
        store.entities.apply(changes).unwrap();
        store.flush_blocking().unwrap();
        crate::auth::secrets::load_key_hasher(None, dir.path()).unwrap();
        crate::auth::secrets::load_connector_key(dir.path()).unwrap();
        crate::auth::secrets::load_master_key(None, dir.path()).unwrap();
        (dir, e.id)
    }

    fn snapshot(dir: &std::path::Path) -> (tempfile::TempDir, std::path::PathBuf) {
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("s.snap");
        let db = crate::store::open_db(dir).unwrap();
        let written = create::write(&db, dir, &path, "id-1").unwrap();
        assert_eq!(written.bytes, std::fs::metadata(&path).unwrap().len());
        (out, path)
    }

    #[test]
    fn a_snapshot_restores_the_store_and_its_secrets() {
        let (dir, id) = data_dir();
        let (_out, path) = snapshot(dir.path());
        let (header, _) = restore::verify(&path).unwrap();
        assert_eq!(header.id, "id-1");
        assert_eq!(header.secrets, ["key.salt", "connector.key", "master.key"]);
        assert_eq!(header.trees.last().unwrap().name, "tenants");
        let entities = header.trees.iter().find(|t| t.name == "entities").unwrap();
        // The entity, its source-id and hash entries, its queue entry and the format marker.
        assert_eq!(entities.records, 5);

        let target = tempfile::tempdir().unwrap();
        let into = target.path().join("restored");
        let restored = restore::restore(&path, &into).unwrap();
        assert!(restored.warnings.is_empty(), "{:?}", restored.warnings);
        assert_eq!(restored.repaired.entities, 1);
        for name in create::SECRET_FILES {
            assert_eq!(
                std::fs::read(dir.path().join(name)).unwrap(),
                std::fs::read(into.join(name)).unwrap()
            );
        }
        let store = Store::open(&into).unwrap();
        assert!(store.tenants.get("acme").is_some());
        let e = store.entities.get("acme", id).unwrap().unwrap();
        let by_source = store
            .entities
            .by_source_id(&crate::store::SourceKey::of(&e).unwrap())
            .unwrap();
        assert_eq!(by_source.map(|e| e.id), Some(id));
        // Nothing queued: the missing search index makes the server queue every entity.
        assert_eq!(store.entities.queue_depth(), 0);
    }

    #[test]
    fn damaged_files_and_used_targets_are_refused_without_touching_the_target() {
        let (dir, _) = data_dir();
        let (out, path) = snapshot(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        let target = tempfile::tempdir().unwrap();
        let into = target.path().join("restored");
        let damaged = out.path().join("d.snap");
        let mut flipped = bytes.clone();
        let middle = bytes.len() - 40;
        flipped[middle] ^= 0x01;
        for (contents, expect) in [
            (flipped, "checksum mismatch"),
            (bytes[..bytes.len() - 3].to_vec(), "truncated"),
            ([b"X", &bytes[1..]].concat(), "not a qanatix snapshot"),
        ] {
            std::fs::write(&damaged, &contents).unwrap();
            let e = restore::restore(&damaged, &into).unwrap_err().to_string();
            assert!(e.contains(expect), "{e}");
            assert!(e.contains("d.snap"), "{e}");
            assert!(!into.exists());
        }
        std::fs::create_dir_all(&into).unwrap();
        std::fs::write(into.join("keep"), b"mine").unwrap();
        let e = restore::restore(&path, &into).unwrap_err().to_string();
        assert!(e.contains("not empty"), "{e}");
        assert_eq!(std::fs::read(into.join("keep")).unwrap(), b"mine");
        assert_eq!(std::fs::read_dir(&into).unwrap().count(), 1);
    }

    /// The file is read twice (checked, then imported): bytes that changed in between are
    /// caught by the hash taken while importing.
    #[test]
    fn a_file_changed_after_its_check_is_refused_by_the_import() {
        let (dir, _) = data_dir();
        let (_out, path) = snapshot(dir.path());
        let (header, body_start) = restore::verify(&path).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        // Inside the header, which the import does not parse again.
        bytes[body_start as usize - 2] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let target = tempfile::tempdir().unwrap();
        let e = restore::import(&path, &header, body_start, target.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("checksum mismatch"), "{e}");
    }
}
