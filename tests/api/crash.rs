//! `kill -9` during concurrent ingestion, over and over on one data dir: every record whose batch
//! was acknowledged (200) is there after each restart, the entity counts agree with the store,
//! and the restarted server takes writes again. `CRASH_CYCLES` sets the number of cycles
//! (default 5; `scripts/crash-test.sh` runs 20).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, Server};

const CLIENTS: usize = 3;
const BATCH: usize = 50;

/// Every source id the tenant's store holds, from a full export (tens of MB by the last cycle).
fn stored_source_ids(srv: &Server) -> BTreeSet<String> {
    let r = srv
        .get("/api/v1/export?vertical=parts&format=ndjson")
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("an exported line is JSON");
            v["source_id"].as_str().expect("source_id").to_owned()
        })
        .collect()
}

/// Ingests batches from `CLIENTS` threads until `stop`, noting the source ids of every
/// acknowledged batch. A request cut by the kill counts as not acknowledged.
fn ingest_until(
    base: &str,
    cycle: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) -> Vec<std::thread::JoinHandle<usize>> {
    (0..CLIENTS)
        .map(|client| {
            let (url, stop, acked) = (
                format!("{base}/api/v1/ingest/parts/item/batch"),
                Arc::clone(&stop),
                Arc::clone(&acked),
            );
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(10))
                    .build();
                let mut sent = 0;
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let ids: Vec<String> = (0..BATCH)
                        .map(|i| format!("c{cycle}-k{client}-b{n}-r{i}"))
                        .collect();
                    let records: Vec<Value> = ids
                        .iter()
                        .map(|id| json!({"name": format!("Gear {id}"), "source_id": id}))
                        .collect();
                    let r = agent
                        .post(&url)
                        .set("X-Tenant-Id", "acme")
                        .send_json(json!({ "records": records }));
                    match r {
                        Ok(resp) if resp.status() == 200 => {
                            acked.lock().unwrap().extend(ids);
                            sent += 1;
                        }
                        // Refused or cut off by the kill: not acknowledged.
                        _ => break,
                    }
                }
                sent
            })
        })
        .collect()
}

#[test]
fn acknowledged_records_survive_repeated_kill_9_during_concurrent_ingest() {
    let cycles: usize = std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut srv = common::start_dev(&[]);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    for cycle in 0..cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = ingest_until(&srv.base, cycle, Arc::clone(&stop), Arc::clone(&acked));
        // Kill at a different point of the write path each cycle.
        std::thread::sleep(Duration::from_millis(300 + 137 * (cycle as u64 % 7)));
        srv.kill9();
        stop.store(true, Ordering::Relaxed);
        let batches: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
        assert!(batches > 0, "cycle {cycle}: no batch was acknowledged");

        srv = srv.restart();
        let stored = stored_source_ids(&srv);
        let acked_now = acked.lock().unwrap().clone();
        let lost: Vec<&String> = acked_now
            .iter()
            .filter(|id| !stored.contains(*id))
            .collect();
        assert!(
            lost.is_empty(),
            "cycle {cycle}: {} of {} acknowledged records lost, e.g. {:?}",
            lost.len(),
            acked_now.len(),
            &lost[..lost.len().min(5)]
        );
        // The counts agree with the store after the unclean stop.
        let stats = srv.get("/api/v1/admin/stats").tenant("acme").send().json();
        assert_eq!(
            stats["total_entities"].as_u64().unwrap() as usize,
            stored.len(),
            "cycle {cycle}: {stats}"
        );
    }
    // And the server still takes and finds writes.
    let r = srv.ingest(
        "acme",
        "parts",
        "item",
        &json!({"records": [{"name": "Gear after the crashes", "source_id": "after"}]}),
    );
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    let names = srv.search_names("acme", &json!({"query": "crashes"}));
    assert_eq!(names, vec!["Gear after the crashes"]);
}
