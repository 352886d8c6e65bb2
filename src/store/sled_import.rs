//! Data dirs written by versions that stored on sled 0.34 (`db/`) are copied into the current
//! store (`store/`) at the first start, tree by tree, with the same keys and values. The copy is
//! built in `store.importing/` and renamed into place only once complete and on disk, so a stop
//! part-way leaves the sled data as it was and the next start copies again. `db/` is left for
//! the operator to remove.

use std::path::Path;

use super::{kv, StoreError};

const LEGACY: &str = "db";
const IMPORTING: &str = "store.importing";
/// Records per write batch while copying.
const BATCH: usize = 10_000;

pub(super) fn holds_sled(data_dir: &Path) -> bool {
    data_dir.join(LEGACY).is_dir()
}

pub(super) fn import_if_needed(data_dir: &Path) -> Result<(), StoreError> {
    let target = super::db_path(data_dir);
    let legacy = data_dir.join(LEGACY);
    if target.exists() || !legacy.is_dir() {
        return Ok(());
    }
    if !legacy.join("conf").is_file() {
        let empty = std::fs::read_dir(&legacy).is_ok_and(|mut d| d.next().is_none());
        if empty {
            return Ok(());
        }
        // Starting an empty store beside it would hide that data for good (a store, once
        // there, is never copied over again).
        return Err(StoreError::Import(format!(
            "{} holds files but no sled database (no conf file); move it away to start with an \
             empty store",
            legacy.display()
        )));
    }
    let started = std::time::Instant::now();
    let importing = data_dir.join(IMPORTING);
    let io = |what: &str, e: std::io::Error| StoreError::Import(format!("{what}: {e}"));
    if importing.exists() {
        std::fs::remove_dir_all(&importing).map_err(|e| io("removing an unfinished copy", e))?;
    }
    log::info!(
        "copying the sled database {} into {} (first start of this version)",
        legacy.display(),
        target.display()
    );
    let sled_err =
        |e: sled::Error| StoreError::Import(format!("reading {}: {e}", legacy.display()));
    // sled's default page cache is 1 GiB: the copy reads every page once, it needs little.
    let old = sled::Config::new()
        .path(&legacy)
        .cache_capacity(64 * 1024 * 1024)
        .open()
        .map_err(sled_err)?;
    let new = kv::Db::open(&importing)?;
    let (mut trees, mut records) = (0usize, 0u64);
    for name in old.tree_names() {
        let from = old.open_tree(&name).map_err(sled_err)?;
        if from.is_empty() {
            continue;
        }
        let to = new.open_tree(&name)?;
        let mut batch = kv::Batch::default();
        for item in from.iter() {
            let (k, v) = item.map_err(sled_err)?;
            batch.insert(k, v);
            records += 1;
            if batch.len() == BATCH {
                to.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        to.apply_batch(batch)?;
        trees += 1;
    }
    // Numbers sled handed out (queue versions, outbox order, dictionary ids) stay unique.
    new.raise_ids(old.generate_id().map_err(sled_err)?)?;
    new.flush()?;
    drop(new);
    drop(old);
    std::fs::rename(&importing, &target).map_err(|e| io("moving the copy into place", e))?;
    std::fs::File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("syncing the data dir", e))?;
    log::info!(
        "copied {records} records in {trees} trees from sled in {:.1} s; {} is no longer used \
         and can be removed",
        started.elapsed().as_secs_f64(),
        legacy.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sled_data_dir_is_copied_once_with_its_ids() {
        let dir = tempfile::tempdir().unwrap();
        let issued = {
            let old = sled::open(dir.path().join(LEGACY)).unwrap();
            let t = old.open_tree("entities").unwrap();
            for i in 0..25_000u32 {
                t.insert(i.to_be_bytes(), vec![i as u8; 10]).unwrap();
            }
            old.open_tree("empty").unwrap();
            let issued = (0..5).map(|_| old.generate_id().unwrap()).max().unwrap();
            old.flush().unwrap();
            issued
        };
        // What a stop in the middle of an earlier copy leaves.
        std::fs::create_dir_all(dir.path().join(IMPORTING).join("junk")).unwrap();
        let db = super::super::open_db(dir.path()).unwrap();
        let t = db.open_tree("entities").unwrap();
        assert_eq!(t.len(), 25_000);
        assert_eq!(
            t.get(7u32.to_be_bytes()).unwrap().as_deref(),
            Some(&[7u8; 10][..])
        );
        assert!(db.generate_id().unwrap() > issued);
        let names: Vec<_> = db.tree_names();
        assert_eq!(names.len(), 1, "empty trees are not copied");
        assert!(!dir.path().join(IMPORTING).exists());
        assert!(dir.path().join(LEGACY).exists(), "the sled data is kept");
        // Written after the copy: a second start keeps it and does not copy again.
        t.insert("new", "x").unwrap();
        db.flush().unwrap();
        drop((t, db));
        let db = super::super::open_db(dir.path()).unwrap();
        let t = db.open_tree("entities").unwrap();
        assert_eq!(t.len(), 25_001);
    }

    #[test]
    fn a_db_dir_that_is_not_sled_is_refused_not_hidden() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(LEGACY)).unwrap();
        super::super::open_db(dir.path()).unwrap();
        std::fs::remove_dir_all(dir.path().join("store")).unwrap();
        std::fs::write(dir.path().join(LEGACY).join("data"), b"x").unwrap();
        let e = super::super::open_db(dir.path()).unwrap_err();
        assert!(e.to_string().contains("no sled database"), "{e}");
        assert!(!dir.path().join("store").exists());
    }
}
