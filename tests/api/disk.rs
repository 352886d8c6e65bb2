//! Entity records are stored compressed with a dictionary of their tenant once it has 1,000
//! (src/store/dictionaries.rs): every way of reading them must give back what was written,
//! across restarts, updates, dedup, and a tenant deleted and made again under its name.

use std::process::Command;

use serde_json::{json, Value};

use crate::common::{self, Server};

fn records(from: usize, n: usize, tag: &str) -> Value {
    let records: Vec<Value> = (from..from + n)
        .map(|i| {
            json!({
                "name": format!("Hex bolt M{} {tag}", 6 + i % 5),
                "source_id": format!("{tag}-{i}"),
                "description": format!("Hex bolt, stainless steel A2, length {} mm", 10 + i % 40),
                "vertical_data": {"material": "stainless steel", "thread": format!("M{}", 6 + i % 5),
                                  "part_number": format!("HB-{tag}-{i:05}"), "price_eur": i as f64 / 100.0}
            })
        })
        .collect();
    json!({ "records": records })
}

/// `store-sizes` on the stopped server's data dir: how many entity records are compressed.
fn compressed_records(srv: &Server) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_store-sizes"))
        .arg(srv.data_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("of which compressed"))
        .unwrap_or_else(|| panic!("{text}"));
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

fn export(srv: &Server, tenant: &str) -> Vec<Value> {
    let r = srv.get("/api/v1/export?format=json").tenant(tenant).send();
    assert_eq!(r.status, 200, "{}", r.text);
    let mut all = r.json().as_array().unwrap().clone();
    all.sort_by_key(|e| e["source_id"].as_str().unwrap().to_owned());
    all
}

#[test]
fn compressed_entity_records_read_back_whole_across_restarts_updates_and_tenant_reuse() {
    let mut srv = common::start_dev(&[]);
    // The first 1,000 are stored as they are and make the dictionary; the next are compressed.
    srv.ingest("acme", "parts", "bolt", &records(0, 1000, "a"));
    let second = srv.ingest("acme", "parts", "bolt", &records(1000, 300, "a"));
    assert_eq!(second["accepted"], 300, "{second}");
    let before = export(&srv, "acme");
    assert_eq!(before.len(), 1300);
    let one = before.iter().find(|e| e["source_id"] == "a-1100").unwrap();
    let got = srv
        .get(&format!("/api/v1/entities/{}", one["id"].as_str().unwrap()))
        .tenant("acme")
        .send();
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json()["vertical_data"], one["vertical_data"]);

    // Re-sending compressed records is dedup; changing one is an update of the same entity.
    let again = srv.ingest("acme", "parts", "bolt", &records(1000, 300, "a"));
    assert_eq!(again["duplicate_count"], 300, "{again}");
    let mut changed = records(1100, 1, "a");
    changed["records"][0]["vertical_data"]["price_eur"] = json!(99.5);
    let upd = srv.ingest("acme", "parts", "bolt", &changed);
    assert_eq!(upd["updated"], 1, "{upd}");
    assert_eq!(upd["entity_ids"][0], one["id"]);

    srv.kill9();
    let srv = srv.restart();
    let after = export(&srv, "acme");
    assert_eq!(after.len(), 1300);
    for (a, b) in before.iter().zip(&after) {
        if a["id"] == one["id"] {
            assert_eq!(b["vertical_data"]["price_eur"], 99.5);
        } else {
            assert_eq!(a, b);
        }
    }
    // Searchable from the compressed records (the index is rebuilt from them as well).
    let wanted = before.iter().find(|e| e["source_id"] == "a-1250").unwrap()["id"].clone();
    let mut last = String::new();
    let found = common::wait_for(std::time::Duration::from_secs(30), || {
        let r = srv.search("acme", "parts", &json!({"query": "HB-a-01250"}));
        last = r.text.clone();
        r.status == 200 && r.json()["results"][0]["entity_id"] == wanted
    });
    assert!(found, "{wanted} not found by its part number: {last}");

    // A tenant deleted and made again under its name gets a dictionary of its own.
    let m = srv.master_key();
    let del = srv
        .req("DELETE", "/api/v1/admin/tenants/acme")
        .bearer(&m)
        .send();
    assert_eq!(del.status, 204, "{}", del.text);
    srv.ingest("acme", "parts", "nut", &records(0, 1000, "b"));
    srv.ingest("acme", "parts", "nut", &records(1000, 200, "b"));
    let reborn = export(&srv, "acme");
    assert_eq!(reborn.len(), 1200);
    assert!(reborn.iter().all(|e| e["entity_type"] == "nut"));

    let mut srv = srv;
    srv.terminate();
    // The records of the tenant's second batch (the first made its dictionary).
    let compressed = compressed_records(&srv);
    assert!((150..=200).contains(&compressed), "{compressed}");
    let srv = srv.restart();
    assert_eq!(export(&srv, "acme"), reborn);
}
