//! Entity counts (`/admin/stats`, `/verticals`, tenant views, `/collections`) come from counts
//! kept beside the writes, not from a scan; they must stay exact across clean stops and across
//! `kill -9` in the middle of writes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, Server};

fn stats(s: &Server) -> Value {
    let r = s.get("/api/v1/admin/stats").tenant("acme").send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

/// What the store holds, read entity by entity: the export.
fn exported(s: &Server, status: &str) -> u64 {
    let r = s
        .get(&format!("/api/v1/export?format=ndjson&status={status}"))
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.text.lines().filter(|l| !l.trim().is_empty()).count() as u64
}

fn vertical_counts(s: &Server) -> Vec<(String, u64)> {
    let r = s.get("/api/v1/verticals").tenant("acme").send();
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["vertical"].as_str().unwrap().to_owned(),
                v["entity_count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn batch(prefix: &str, n: usize) -> Value {
    let records: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("{prefix} {i}"), "source_id": format!("{prefix}-{i}")}))
        .collect();
    json!({ "records": records })
}

#[test]
fn counts_follow_writes_and_survive_a_clean_restart() {
    let mut s = common::start_dev(&[]);
    s.ingest("acme", "parts", "bolt", &batch("bolt", 30));
    let seals = s.ingest("acme", "seals", "oring", &batch("ring", 12));
    s.ingest("other", "parts", "bolt", &batch("bolt", 5));
    let id = seals["entity_ids"][0].as_str().unwrap();
    let r = s
        .req("DELETE", &format!("/api/v1/entities/{id}"))
        .tenant("acme")
        .send();
    assert!(r.status < 300, "{}", r.text);

    let check = |s: &Server| {
        let st = stats(s);
        assert_eq!(st["total_entities"], 42, "{st}");
        assert_eq!(st["entities_by_status"]["active"], 41, "{st}");
        assert_eq!(st["entities_by_status"]["archived"], 1, "{st}");
        assert_eq!(
            vertical_counts(s),
            [("parts".to_owned(), 30), ("seals".to_owned(), 12)]
        );
        let t = s
            .get("/api/v1/admin/tenants/acme")
            .bearer(&s.master_key())
            .send()
            .json();
        assert_eq!(t["entity_count"], 42, "{t}");
    };
    check(&s);
    s.terminate();
    let s = s.restart();
    check(&s);
    assert!(
        !s.logs().contains("counted"),
        "a clean stop saves the counts: {}",
        s.logs()
    );
}

#[test]
fn counts_are_exact_after_kill_9_during_writes() {
    let mut s = common::start_dev(&[]);
    s.ingest("acme", "parts", "bolt", &batch("seed", 100));
    // Counts saved by this clean stop go stale with the writes below.
    s.terminate();
    let mut s = s.restart();
    let base = s.base.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(5))
                .build();
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                let vertical = ["parts", "seals", "tools"][round % 3];
                let _ = agent
                    .post(&format!("{base}/api/v1/ingest/{vertical}/item/batch"))
                    .set("X-Tenant-Id", "acme")
                    .send_json(batch(&format!("w{round}"), 200));
                round += 1;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    s.kill9();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    let s = s.restart();
    assert!(s.logs().contains("counted"), "{}", s.logs());
    let st = stats(&s);
    let stored = exported(&s, "active");
    assert!(stored > 100, "the writer wrote nothing: {stored}");
    assert_eq!(st["total_entities"].as_u64(), Some(stored), "{st}");
    let by_vertical: u64 = vertical_counts(&s).iter().map(|(_, n)| n).sum();
    assert_eq!(by_vertical, stored);
}
