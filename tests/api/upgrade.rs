//! Data written by older builds keeps working: each directory under tests/fixtures/upgrade/ is a
//! data dir made by an earlier build (scripts/make-upgrade-fixture), and this build must read
//! every kind of record in it, rebuild the search index from it and keep writing to it.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, wait_for};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn fixtures() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expect.json").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no fixtures under {}", root.display());
    dirs
}

#[test]
fn data_dirs_written_by_older_builds_read_back_whole() {
    for fixture in fixtures() {
        let name = fixture.file_name().unwrap().to_string_lossy().into_owned();
        let expect: Value =
            serde_json::from_slice(&std::fs::read(fixture.join("expect.json")).unwrap()).unwrap();
        let text = |k: &str| expect[k].as_str().unwrap().to_owned();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&fixture.join("data"), dir.path());
        let (master, key) = (text("master_key"), text("key"));
        let made_at = text("made_at");
        let s = common::start_in(
            dir,
            &[
                ("QANATIX_MASTER_KEY", &master),
                ("QANATIX_USAGE_CLOCK_START", &made_at),
            ],
        );
        let ctx = |what: &str| format!("fixture {name}: {what}");

        // The index is not in the fixture: it is rebuilt from the store.
        assert!(
            wait_for(Duration::from_secs(60), || s.get("/ready").send().status
                == 200),
            "{}",
            ctx("never ready")
        );
        let me = s.get("/api/v1/auth/me").bearer(&key).send();
        assert_eq!(me.status, 200, "{}: {}", ctx("key"), me.text);
        assert_eq!(me.json()["tenant_id"], "acme", "{}", ctx("key tenant"));
        let tenants = s.get("/api/v1/admin/tenants").bearer(&master).send();
        assert_eq!(tenants.status, 200, "{}", ctx("master key"));
        let list = tenants.json();
        let ids: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["tenant_id"].as_str())
            .collect();
        assert_eq!(ids.len(), 2, "{}: {}", ctx("tenants"), tenants.text);
        assert!(
            ids.contains(&"acme") && ids.contains(&"other"),
            "{}",
            ctx("tenants")
        );

        let keys = s.get("/api/v1/auth/keys").bearer(&key).send().json();
        let keys = keys.as_array().unwrap();
        assert_eq!(keys.len(), 1, "{}: {keys:?}", ctx("keys"));
        assert_ne!(
            keys[0]["id"],
            expect["revoked_key_id"],
            "{}",
            ctx("revoked key")
        );
        assert_eq!(keys[0]["name"], "fixture admin", "{}", ctx("key record"));

        let patched = s
            .get(&format!("/api/v1/entities/{}", text("patched_entity")))
            .bearer(&key)
            .send();
        assert_eq!(patched.status, 200, "{}", ctx("entity"));
        let e = patched.json();
        assert_eq!(
            e["vertical_data"]["length_mm"],
            45,
            "{}",
            ctx("patched entity")
        );
        assert_eq!(e["name"], "Hex bolt M8x40 A2", "{}", ctx("entity name"));

        let hits = s
            .post("/api/v1/search/parts")
            .bearer(&key)
            .json(&json!({"query": "hex bolt"}))
            .send()
            .json();
        assert_eq!(
            hits["results"].as_array().map(Vec::len),
            Some(2),
            "{}: {hits}",
            ctx("search after rebuild")
        );
        let bearing = s
            .post("/api/v1/search/catalog")
            .bearer(&key)
            .json(&json!({"query": "6204-2RS"}))
            .send()
            .json();
        assert_eq!(
            bearing["results"][0]["name"],
            "Deep groove ball bearing 6204-2RS",
            "{}: {bearing}",
            ctx("records dialect")
        );

        let ingestion = s
            .get(&format!("/api/v1/ingestions/{}", text("ingestion_id")))
            .bearer(&key)
            .send()
            .json();
        assert_eq!(
            ingestion["rejected"],
            1,
            "{}: {ingestion}",
            ctx("ingestion")
        );
        let errors = s
            .get(&format!(
                "/api/v1/ingestions/{}/errors",
                text("ingestion_id")
            ))
            .bearer(&key)
            .send();
        assert_eq!(errors.status, 200, "{}", ctx("dead letters"));
        assert!(
            errors.text.contains("B-3"),
            "{}: {}",
            ctx("dead letter row"),
            errors.text
        );

        let schema = s.get("/api/v1/schemas/parts/bolt").bearer(&key).send();
        assert_eq!(schema.status, 200, "{}: {}", ctx("schema"), schema.text);
        assert!(schema.text.contains("thread"), "{}", ctx("schema body"));
        let collections = s.get("/api/v1/collections").bearer(&key).send();
        assert!(
            collections.text.contains("Bearings and seals"),
            "{}: {}",
            ctx("collection metadata"),
            collections.text
        );
        let hooks = s.get("/api/v1/portal/webhooks").bearer(&key).send();
        assert!(
            hooks.text.contains("127.0.0.1:9/hook"),
            "{}: {}",
            ctx("webhooks"),
            hooks.text
        );
        let connectors = s.get("/api/v1/connectors").bearer(&key).send();
        assert!(
            connectors.text.contains("fixture source") && connectors.text.contains("REDACTED"),
            "{}: {}",
            ctx("connectors"),
            connectors.text
        );
        let usage = s.get("/api/v1/usage").bearer(&key).send().json();
        assert!(
            usage["usage"]["searches"].as_u64().unwrap_or(0) >= 2,
            "{}: {usage}",
            ctx("usage of the fixture's month")
        );

        // New writes go in this build's format beside the old records, and both survive a restart.
        let r = s
            .post("/api/v1/ingest/parts/bolt/batch")
            .bearer(&key)
            .json(
                &json!({"records": [{"name": "Hex bolt M12x50", "source_id": "B-9",
                "vertical_data": {"thread": "M12"}}]}),
            )
            .send();
        assert_eq!(r.status, 200, "{}: {}", ctx("write"), r.text);
        let mut s = s;
        s.terminate();
        let s = s.restart();
        assert!(wait_for(Duration::from_secs(60), || s
            .post("/api/v1/search/parts")
            .bearer(&key)
            .json(&json!({"query": "hex bolt"}))
            .send()
            .json()["results"]
            .as_array()
            .map(Vec::len)
            == Some(3)));
        let ingestion = s
            .get(&format!("/api/v1/ingestions/{}", text("ingestion_id")))
            .bearer(&key)
            .send();
        assert_eq!(
            ingestion.status,
            200,
            "{}",
            ctx("old ingestion after restart")
        );
    }
}
