//! Snapshots of a running server: one at a time on a low-priority thread, listed with the
//! snapshot files already in the snapshot dir, optionally on a schedule, keeping the newest N.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;

use super::create::{self, file_name, is_leftover};
use super::format::{Header, EXTENSION};
use super::restore::header_of;
use crate::connectors::schedule::Schedule;

/// Jobs of this process kept in memory; older ones are still listed from their files.
const KEEP_JOBS: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Completed,
    Failed,
}

/// One snapshot, running or done, as listed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Job {
    pub id: String,
    pub file: String,
    pub status: Status,
    pub bytes: Option<u64>,
    /// Records copied per tree.
    pub records: BTreeMap<String, u64>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    #[serde(skip)]
    started_ms: i64,
}

impl Job {
    fn completed(path: &Path, header: &Header, bytes: u64) -> Job {
        Job {
            id: header.id.clone(),
            file: path.display().to_string(),
            status: Status::Completed,
            bytes: Some(bytes),
            records: header
                .trees
                .iter()
                .map(|t| (t.name.clone(), t.records))
                .collect(),
            started_at: header.created_at.clone(),
            finished_at: Some(crate::timestamp::ms_to_rfc3339(header.finished_at_ms)),
            error: None,
            started_ms: header.created_at_ms,
        }
    }
}

/// A snapshot is already running: its id.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy(pub String);

pub struct Snapshots {
    dir: PathBuf,
    data_dir: PathBuf,
    retain: Option<usize>,
    jobs: Mutex<Vec<Job>>,
}

impl Snapshots {
    /// Snapshots of `data_dir` into `dir`; files an interrupted snapshot left there are removed.
    pub fn new(dir: PathBuf, data_dir: PathBuf, retain: Option<usize>) -> Snapshots {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for p in entries.flatten().map(|e| e.path()) {
                if is_leftover(&p) {
                    log::warn!("removing {}, left by an interrupted snapshot", p.display());
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        Snapshots {
            dir,
            data_dir,
            retain,
            jobs: Mutex::new(Vec::new()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn jobs(&self) -> MutexGuard<'_, Vec<Job>> {
        // Each update replaces whole fields: a panic cannot leave a job half-written.
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a snapshot of `db` on its own thread, unless one is running.
    pub fn start(self: &Arc<Self>, db: crate::store::kv::Db) -> Result<Job, Busy> {
        let job = self.begin()?;
        let this = Arc::clone(self);
        let id = job.id.clone();
        let path = PathBuf::from(&job.file);
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                crate::search::indexer::lower_priority();
                let result = std::fs::create_dir_all(&this.dir)
                    .map_err(|e| super::SnapshotError::io(&this.dir, e))
                    .and_then(|()| create::write(&db, &this.data_dir, &path, &id));
                this.end(&id, result);
            });
        if let Err(e) = spawned {
            self.end(
                &job.id,
                Err(super::SnapshotError::Store(format!(
                    "cannot start the snapshot thread: {e}"
                ))),
            );
        }
        Ok(job)
    }

    /// Registers a new running job; [`Busy`] while another runs.
    fn begin(&self) -> Result<Job, Busy> {
        let mut jobs = self.jobs();
        if let Some(running) = jobs.iter().find(|j| j.status == Status::Running) {
            return Err(Busy(running.id.clone()));
        }
        let started_ms = crate::timestamp::now_ms();
        let id = uuid::Uuid::now_v7().to_string();
        let job = Job {
            file: self
                .dir
                .join(file_name(started_ms, &id))
                .display()
                .to_string(),
            id,
            status: Status::Running,
            bytes: None,
            records: BTreeMap::new(),
            started_at: crate::timestamp::ms_to_rfc3339(started_ms),
            finished_at: None,
            error: None,
            started_ms,
        };
        jobs.push(job.clone());
        let excess = jobs.len().saturating_sub(KEEP_JOBS);
        jobs.drain(..excess);
        Ok(job)
    }

    fn end(&self, id: &str, result: Result<create::Written, super::SnapshotError>) {
        let finished = crate::timestamp::ms_to_rfc3339(crate::timestamp::now_ms());
        {
            let mut jobs = self.jobs();
            let Some(job) = jobs.iter_mut().find(|j| j.id == id) else {
                return;
            };
            match &result {
                Ok(w) => {
                    let started_ms = job.started_ms;
                    *job = Job::completed(&w.path, &w.header, w.bytes);
                    job.started_ms = started_ms;
                    log::info!(
                        "snapshot {id} written: {} ({} bytes)",
                        w.path.display(),
                        w.bytes
                    );
                }
                Err(e) => {
                    log::error!("snapshot {id} failed: {e}");
                    job.status = Status::Failed;
                    job.error = Some(e.to_string());
                    job.finished_at = Some(finished);
                }
            }
        }
        if let (Ok(_), Some(keep)) = (&result, self.retain) {
            for path in prune(&self.dir, keep) {
                log::info!("snapshot retention: removed {}", path.display());
            }
        }
    }

    /// This process's jobs and the snapshot files in the dir, newest first.
    pub fn list(&self) -> Vec<Job> {
        let mut out: Vec<Job> = self
            .jobs()
            .iter()
            // A completed snapshot that retention (or the operator) removed is gone.
            .filter(|j| j.status != Status::Completed || Path::new(&j.file).exists())
            .cloned()
            .collect();
        for file in list_dir(&self.dir) {
            if !out.iter().any(|j| j.id == file.id || j.file == file.file) {
                out.push(file);
            }
        }
        out.sort_by(|a, b| (b.started_ms, &b.id).cmp(&(a.started_ms, &a.id)));
        out
    }

    /// Takes a snapshot at every time of `schedule` until stopped; a time that finds one still
    /// running is skipped.
    pub fn spawn_schedule(
        self: &Arc<Self>,
        schedule: Schedule,
        db: crate::store::kv::Db,
    ) -> Option<ScheduleThread> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let this = Arc::clone(self);
        let signal = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("snapshot-schedule".into())
            .spawn(move || loop {
                let now = crate::timestamp::now_ms();
                let Some(next) = schedule.next_after(now) else {
                    return;
                };
                let wait = Duration::from_millis(u64::try_from(next - now).unwrap_or(0));
                let (lock, cvar) = &*signal;
                let stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
                let (stopped, _) = cvar
                    .wait_timeout_while(stopped, wait, |s| !*s)
                    .unwrap_or_else(|p| p.into_inner());
                if *stopped {
                    return;
                }
                drop(stopped);
                if let Err(Busy(id)) = this.start(db.clone()) {
                    log::warn!("scheduled snapshot skipped: snapshot {id} is still running");
                }
            })
            .map_err(|e| log::error!("cannot start the snapshot schedule: {e}"))
            .ok()?;
        Some(ScheduleThread { stop, thread })
    }
}

/// The scheduler's thread; [`ScheduleThread::stop`] ends it.
pub struct ScheduleThread {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: std::thread::JoinHandle<()>,
}

impl ScheduleThread {
    pub fn stop(self) {
        let (lock, cvar) = &*self.stop;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cvar.notify_all();
        let _ = self.thread.join();
    }
}

/// The snapshot files in `dir`, newest first; one whose header cannot be read is listed as
/// failed, with the reason.
pub fn list_dir(dir: &Path) -> Vec<Job> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Job> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == EXTENSION) && p.is_file())
        .map(|p| match header_of(&p) {
            Ok((header, _)) => {
                let bytes = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                Job::completed(&p, &header, bytes)
            }
            Err(e) => Job {
                id: p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                file: p.display().to_string(),
                status: Status::Failed,
                bytes: std::fs::metadata(&p).map(|m| m.len()).ok(),
                records: BTreeMap::new(),
                started_at: String::new(),
                finished_at: None,
                error: Some(e.to_string()),
                started_ms: 0,
            },
        })
        .collect();
    out.sort_by(|a, b| (b.started_ms, &b.id).cmp(&(a.started_ms, &a.id)));
    out
}

/// Removes all but the newest `keep` readable snapshots in `dir`; returns what it removed.
/// Files it cannot read are left for the operator to look at.
fn prune(dir: &Path, keep: usize) -> Vec<PathBuf> {
    list_dir(dir)
        .into_iter()
        .filter(|j| j.status == Status::Completed)
        .skip(keep)
        .map(|j| PathBuf::from(j.file))
        .filter(|p| std::fs::remove_file(p).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, crate::store::kv::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        (dir, db)
    }

    fn wait_done(s: &Snapshots, id: &str) -> Job {
        for _ in 0..500 {
            if let Some(j) = s
                .list()
                .into_iter()
                .find(|j| j.id == id && j.status != Status::Running)
            {
                return j;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("snapshot {id} did not finish");
    }

    #[test]
    fn the_schedule_takes_snapshots_and_retention_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let snaps = dir.path().join("snaps");
        let s = Arc::new(Snapshots::new(
            snaps.clone(),
            dir.path().to_owned(),
            Some(2),
        ));
        let (_dir, db) = db();
        let schedule = s.spawn_schedule(Schedule::Every(100), db).unwrap();
        let enough = (0..300).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            s.jobs().len() >= 4
        });
        schedule.stop();
        assert!(enough, "the schedule did not run");
        // A snapshot started just before the stop finishes, then retention runs.
        let settled = (0..300).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            s.jobs().iter().all(|j| j.status == Status::Completed) && list_dir(&snaps).len() == 2
        });
        assert!(settled, "{:?}", list_dir(&snaps));
        let newest = s
            .jobs()
            .iter()
            .max_by_key(|j| j.started_ms)
            .unwrap()
            .id
            .clone();
        assert_eq!(list_dir(&snaps)[0].id, newest);
    }

    #[test]
    fn one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshots::new(dir.path().join("snaps"), dir.path().to_owned(), None);
        let first = s.begin().unwrap();
        assert_eq!(s.begin().unwrap_err(), Busy(first.id.clone()));
        s.end(
            &first.id,
            Err(super::super::SnapshotError::Store("x".into())),
        );
        let listed = s.list();
        assert_eq!(listed[0].status, Status::Failed);
        assert_eq!(listed[0].error.as_deref(), Some("x"));
        assert!(s.begin().is_ok());
    }

    #[test]
    fn snapshots_are_listed_from_memory_and_disk_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let snaps = dir.path().join("snaps");
        std::fs::create_dir_all(&snaps).unwrap();
        std::fs::write(snaps.join("old.snap.partial"), b"x").unwrap();
        std::fs::write(snaps.join("junk.snap"), b"not one").unwrap();
        let s = Arc::new(Snapshots::new(
            snaps.clone(),
            dir.path().to_owned(),
            Some(2),
        ));
        assert!(!snaps.join("old.snap.partial").exists());
        let (_dir, db) = db();
        db.open_tree("things").unwrap().insert(b"k", b"v").unwrap();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let job = s.start(db.clone()).unwrap();
            assert_eq!(job.status, Status::Running);
            let done = wait_done(&s, &job.id);
            assert_eq!(done.status, Status::Completed, "{:?}", done.error);
            assert_eq!(done.records.get("things"), Some(&1));
            ids.push(job.id);
            std::thread::sleep(Duration::from_millis(5));
        }
        let listed = s.list();
        let completed: Vec<_> = listed
            .iter()
            .filter(|j| j.status == Status::Completed)
            .map(|j| j.id.clone())
            .collect();
        assert_eq!(completed, [ids[2].clone(), ids[1].clone()]);
        let junk = listed
            .iter()
            .find(|j| j.file.ends_with("junk.snap"))
            .unwrap();
        assert_eq!(junk.status, Status::Failed);
        assert!(junk
            .error
            .as_deref()
            .unwrap()
            .contains("not a qanatix snapshot"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&listed[0].file)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A fresh process lists the same files from disk alone.
        let again = Snapshots::new(snaps, dir.path().to_owned(), None).list();
        assert_eq!(again.len(), 3);
        assert_eq!(again[0].id, ids[2]);
    }
}
