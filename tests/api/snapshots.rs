//! Online snapshots (`/admin/snapshots`), `qanatix snapshot` and `qanatix restore`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, Server};

/// Runs the built binary with `args` and no server configuration from the environment.
fn qanatix(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qanatix"));
    for var in [
        "DATA_DIR",
        "SNAPSHOT_DIR",
        "ENV",
        "QANATIX_MASTER_KEY",
        "API_KEY_SALT",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(args).output().expect("run qanatix")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// `SNAP-000042`-style names are identifiers: each finds its own entity.
fn records(from: usize, n: usize) -> Value {
    let records: Vec<Value> = (from..from + n)
        .map(|i| json!({"name": format!("SNAP-{i:06}"), "vertical_data": {"n": i}}))
        .collect();
    json!({ "records": records })
}

fn ids_of(response: &Value) -> Vec<String> {
    response["entity_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Starts a snapshot with the master key and waits until it is no longer running.
fn snapshot_now(srv: &Server) -> Value {
    let r = srv
        .post("/api/v1/admin/snapshots")
        .bearer(&srv.master_key())
        .send();
    assert_eq!(r.status, 202, "{}", r.text);
    let started = r.json();
    assert_eq!(started["status"], "running");
    wait_snapshot(srv, started["id"].as_str().unwrap())
}

fn wait_snapshot(srv: &Server, id: &str) -> Value {
    let mut last = Value::Null;
    let done = common::wait_for(Duration::from_secs(120), || {
        let list = srv
            .get("/api/v1/admin/snapshots")
            .bearer(&srv.master_key())
            .send();
        assert_eq!(list.status, 200, "{}", list.text);
        last = list.json()["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or(Value::Null);
        last["status"] != "running"
    });
    assert!(done, "snapshot {id} still running: {last}");
    assert_eq!(last["status"], "completed", "{last}");
    last
}

/// Restores `file` with the binary into a fresh dir and starts a development server on it.
fn restore_and_start(file: &Path) -> Server {
    let target = tempfile::tempdir().unwrap();
    let out = qanatix(&[
        "restore",
        path_str(file),
        "--data-dir",
        path_str(target.path()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("rebuilt at first start"));
    assert!(!target.path().join("index").exists());
    common::start_dev_in(target)
}

/// Every entity id of `tenant` in `parts`, through search listings (so: searchable).
fn searchable_ids(srv: &Server, key: &str) -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    for page in 0.. {
        let r = srv
            .post("/api/v1/search/parts")
            .bearer(key)
            .json(&json!({"limit": 100, "offset": page * 100}))
            .send();
        assert_eq!(r.status, 200, "{}", r.text);
        let body = r.json();
        for hit in body["results"].as_array().unwrap() {
            out.insert(hit["entity_id"].as_str().unwrap().to_owned());
        }
        if body["pagination"]["has_more"] != true {
            break;
        }
    }
    out
}

fn wait_rebuilt(srv: &Server) {
    let master = srv.master_key();
    let ok = common::wait_for(Duration::from_secs(120), || {
        srv.get("/ready").send().status == 200
            && srv.get("/api/v1/admin/stats").bearer(&master).send().json()["embedding_status"]
                ["pending"]
                == 0
    });
    assert!(ok, "the restored index was not rebuilt in time");
}

#[test]
fn a_snapshot_taken_under_writes_restores_everything_acknowledged_before_it() {
    let srv = common::start_dev(&[("RATE_LIMIT_ENABLED", "false")]);
    let key = srv.create_key("acme", &["search", "entities"]);
    let master = srv.master_key();
    let mut acked = Vec::new();
    for b in 0..10 {
        acked.extend(ids_of(&srv.ingest(
            "acme",
            "parts",
            "bolt",
            &records(b * 100, 100),
        )));
    }
    let acked = Mutex::new(acked);
    let stop = AtomicBool::new(false);
    let (before, snapshot) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut next = 1000;
            while !stop.load(Ordering::Relaxed) {
                let r = srv.ingest("acme", "parts", "bolt", &records(next, 10));
                acked.lock().unwrap().extend(ids_of(&r));
                next += 10;
            }
            next - 1000
        });
        // Some writes go on before, during and after the request.
        std::thread::sleep(Duration::from_millis(300));
        let before = acked.lock().unwrap().clone();
        let r = srv.post("/api/v1/admin/snapshots").bearer(&master).send();
        assert_eq!(r.status, 202, "{}", r.text);
        let id = r.json()["id"].as_str().unwrap().to_owned();
        // A second request while it runs is refused, unless the first is already done.
        let again = srv.post("/api/v1/admin/snapshots").bearer(&master).send();
        if again.status == 409 {
            again.expect_error(409, "conflict");
            assert!(again.json()["detail"].as_str().unwrap().contains(&id));
        } else {
            assert_eq!(again.status, 202, "{}", again.text);
        }
        let snapshot = wait_snapshot(&srv, &id);
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        let written_during = writer.join().unwrap();
        assert!(written_during > 0);
        (before, snapshot)
    });
    assert!(snapshot["records"]["entities"].as_u64().unwrap() as usize >= before.len());
    assert!(snapshot["records"]["tenants"].as_u64().unwrap() >= 1);
    assert!(snapshot["bytes"].as_u64().unwrap() > 0);
    assert!(snapshot["finished_at"].is_string());
    let file = PathBuf::from(snapshot["file"].as_str().unwrap());
    assert!(
        file.starts_with(srv.data_dir().join("snapshots")),
        "{file:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "snapshot files are private");
    }

    let restored = restore_and_start(&file);
    assert_eq!(restored.master_key(), master);
    let tenants = restored.get("/api/v1/admin/tenants").bearer(&master).send();
    assert_eq!(tenants.status, 200, "{}", tenants.text);
    assert_eq!(tenants.json()[0]["tenant_id"], "acme");
    let me = restored.get("/api/v1/auth/me").bearer(&key).send();
    assert_eq!(
        me.status, 200,
        "a key made before the snapshot works: {}",
        me.text
    );

    wait_rebuilt(&restored);
    for id in &before {
        let r = restored
            .get(&format!("/api/v1/entities/{id}"))
            .bearer(&key)
            .send();
        assert_eq!(
            r.status, 200,
            "{id} was acknowledged before the snapshot: {}",
            r.text
        );
        assert_eq!(r.json()["embedding_status"], "completed");
    }
    let searchable = searchable_ids(&restored, &key);
    let missing: Vec<_> = before
        .iter()
        .filter(|id| !searchable.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "not searchable after restore: {missing:?}"
    );
    let hit = restored
        .post("/api/v1/search/parts")
        .bearer(&key)
        .json(&json!({"query": "SNAP-000042"}))
        .send()
        .json();
    assert_eq!(hit["results"][0]["name"], "SNAP-000042");
    // Upserts by content still find the restored entities (their hash index was rebuilt).
    let again = restored.ingest("acme", "parts", "bolt", &records(42, 1));
    assert_eq!(again["duplicate_count"], 1, "{again}");
    assert_eq!(
        again["entity_ids"][0].as_str(),
        before.get(42).map(String::as_str)
    );
}

#[test]
fn damaged_snapshots_are_refused_and_the_target_is_left_alone() {
    let srv = common::start_dev(&[]);
    srv.ingest("acme", "parts", "bolt", &records(0, 50));
    let snapshot = snapshot_now(&srv);
    let good = std::fs::read(snapshot["file"].as_str().unwrap()).unwrap();
    let work = tempfile::tempdir().unwrap();

    let mut flipped = good.clone();
    let middle = good.len() / 2;
    flipped[middle] ^= 0x20;
    let mut wrong_magic = good.clone();
    wrong_magic[..4].copy_from_slice(b"PK\x03\x04");
    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&7u32.to_le_bytes());
    let cases = [
        (
            "truncated.snap",
            good[..good.len() - 100].to_vec(),
            "truncated",
        ),
        ("flipped.snap", flipped, "checksum mismatch"),
        ("magic.snap", wrong_magic, "not a qanatix snapshot"),
        ("version.snap", newer, "snapshot format version 7"),
    ];
    for (name, bytes, expected) in cases {
        let file = work.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        for target in [work.path().join("new-dir"), {
            let empty = work.path().join("empty-dir");
            std::fs::create_dir_all(&empty).unwrap();
            empty
        }] {
            let existed = target.exists();
            let out = qanatix(&["restore", path_str(&file), "--data-dir", path_str(&target)]);
            assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(err.contains(expected), "{name}: {err}");
            assert!(err.contains(name), "the message names the file: {err}");
            assert_eq!(target.exists(), existed, "{name}");
            if existed {
                assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0, "{name}");
            }
        }
    }

    // A target in use is refused, and so is one that is not empty.
    let file = work.path().join("good.snap");
    std::fs::write(&file, &good).unwrap();
    let out = qanatix(&[
        "restore",
        path_str(&file),
        "--data-dir",
        path_str(srv.data_dir()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    let out = qanatix(&[
        "restore",
        path_str(&work.path().join("nowhere.snap")),
        "--data-dir",
        path_str(&work.path().join("t")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nowhere.snap"), "{}", stderr(&out));
    // Usage errors are exit code 2.
    assert_eq!(qanatix(&["restore"]).status.code(), Some(2));
    assert_eq!(
        qanatix(&["restore", path_str(&file)]).status.code(),
        Some(2)
    );
    assert_eq!(qanatix(&["snapshot", "frobnicate"]).status.code(), Some(2));
}

#[test]
fn only_the_master_key_takes_or_lists_snapshots() {
    let srv = common::start(&[]);
    srv.create_tenant("acme", "pro");
    let admin = srv.create_key("acme", &["admin"]);
    let search = srv.create_key("acme", &["search"]);
    for method in ["GET", "POST"] {
        srv.req(method, "/api/v1/admin/snapshots")
            .send()
            .expect_error(401, "invalid_api_key");
        let r = srv
            .req(method, "/api/v1/admin/snapshots")
            .bearer(&admin)
            .send();
        r.expect_error(403, "insufficient_scope");
        assert!(r.json()["detail"].as_str().unwrap().contains("master key"));
        srv.req(method, "/api/v1/admin/snapshots")
            .bearer(&search)
            .send()
            .expect_error(403, "insufficient_scope");
    }
    let list = srv
        .get("/api/v1/admin/snapshots")
        .bearer(&srv.master_key())
        .send();
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json()["snapshots"], json!([]));
    srv.req("DELETE", "/api/v1/admin/snapshots")
        .bearer(&srv.master_key())
        .send()
        .expect_error(405, "method_not_allowed");

    let dev = common::start_dev(&[]);
    dev.post("/api/v1/admin/snapshots")
        .tenant("acme")
        .send()
        .expect_error(403, "insufficient_scope");
}

#[test]
fn snapshots_go_to_snapshot_dir_and_a_bad_schedule_stops_start_up() {
    let elsewhere = tempfile::tempdir().unwrap();
    let srv = common::start_dev(&[("SNAPSHOT_DIR", path_str(elsewhere.path()))]);
    srv.ingest("acme", "parts", "bolt", &records(0, 5));
    let snapshot = snapshot_now(&srv);
    let file = PathBuf::from(snapshot["file"].as_str().unwrap());
    assert_eq!(file.parent(), Some(elsewhere.path()));
    assert!(!srv.data_dir().join("snapshots").exists());
    let list = srv
        .get("/api/v1/admin/snapshots")
        .bearer(&srv.master_key())
        .send()
        .json();
    assert_eq!(list["snapshot_dir"], path_str(elsewhere.path()));

    let dir = tempfile::tempdir().unwrap();
    for (var, value, expected) in [
        (
            "SNAPSHOT_SCHEDULE",
            "every 5s",
            "shortest allowed interval is 60 s",
        ),
        ("SNAPSHOT_SCHEDULE", "at noon", "SNAPSHOT_SCHEDULE"),
        ("SNAPSHOT_RETAIN", "0", "snapshot-retain"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_qanatix"))
            .env_remove("DATA_DIR")
            .env(var, value)
            .args(["--port", "0", "--data-dir", path_str(dir.path())])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}={value} must not start");
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    }
}

#[test]
fn offline_snapshots_need_the_server_stopped_and_restore_like_online_ones() {
    let mut srv = common::start_dev(&[]);
    let ids = ids_of(&srv.ingest("acme", "parts", "bolt", &records(0, 20)));
    let key = srv.create_key("acme", &["entities"]);
    let dir = path_str(srv.data_dir()).to_owned();

    let out = qanatix(&["snapshot", "create", "--data-dir", &dir]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("is in use by another qanatix"), "{err}");
    assert!(err.contains("POST /api/v1/admin/snapshots"), "{err}");
    assert!(!srv.data_dir().join("snapshots").exists());

    srv.terminate();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("offline.snap");
    let create_into = |file: &Path| {
        qanatix(&[
            "snapshot",
            "create",
            "--data-dir",
            &dir,
            "--out",
            path_str(file),
        ])
    };
    let out = create_into(&file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("entities"));
    let again = create_into(&file);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("offline.snap: exists"),
        "{}",
        stderr(&again)
    );
    let out = qanatix(&["snapshot", "create", "--data-dir", &dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = qanatix(&["snapshot", "list", "--data-dir", &dir]);
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listing.contains("completed") && listing.contains(".snap"),
        "{listing}"
    );

    let missing = qanatix(&["snapshot", "create", "--data-dir", path_str(work.path())]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("holds no qanatix store"),
        "{}",
        stderr(&missing)
    );

    let restored = restore_and_start(&file);
    for id in &ids {
        let r = restored
            .get(&format!("/api/v1/entities/{id}"))
            .bearer(&key)
            .send();
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let srv = srv.restart();
    assert_eq!(
        srv.get("/health").send().status,
        200,
        "the source dir still serves"
    );
}

/// A restore that was interrupted leaves its marker: neither a server nor an offline snapshot
/// takes that directory for a data dir.
#[test]
fn a_half_restored_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("db")).unwrap();
    std::fs::write(
        dir.path().join("restore.incomplete"),
        "restore of x did not finish\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qanatix"))
        .args(["--port", "0", "--data-dir"])
        .arg(dir.path())
        .env("QANATIX_MASTER_KEY", "half-restored-test-master-key")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unfinished restore"), "{err}");
    assert!(
        !dir.path().join("key.salt").exists(),
        "no new salt was made"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qanatix"))
        .args(["snapshot", "create", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unfinished restore"));
}
