//! Batch ingestion (API.md §7): counts, per-record errors, upsert, dedup, limits, durability.

use serde_json::{json, Value};

use crate::common;

#[test]
fn batch_counts_errors_and_ingestion_record() {
    let srv = common::start_dev(&[]);
    let body = json!({"records": [
        {"name": "Bolt A", "source_id": "a", "vertical_data": {"d": 8}},
        {"name": "Bolt B", "description": "flat field goes to vertical_data", "material": "A2"},
        {"vertical_data": {"d": 1}},
        {"name": "x".repeat(501)},
        "not an object",
        {"name": "Bolt C", "vertical_data": "nope"},
        {"name": "Bolt B", "description": "flat field goes to vertical_data", "material": "A2"}
    ]});
    let r = srv.ingest("acme", "Parts", "Bolt", &body);
    assert_eq!(r["status"], "partial");
    assert_eq!(
        (
            r["record_count"].clone(),
            r["accepted"].clone(),
            r["rejected"].clone(),
            r["duplicate_count"].clone()
        ),
        (json!(7), json!(2), json!(4), json!(1))
    );
    let ids = r["entity_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(
        ids[1], ids[2],
        "an in-batch duplicate reports the id of its first copy"
    );
    let errors: Vec<_> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["field"].clone(),
                e["error_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (2, json!("name"), "missing".to_owned()),
            (3, json!("name"), "too_long".to_owned()),
            (4, Value::Null, "invalid_type".to_owned()),
            (5, json!("vertical_data"), "invalid_type".to_owned()),
        ]
    );

    let b = srv
        .get(&format!("/api/v1/entities/{}", ids[1].as_str().unwrap()))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(b["vertical"], "parts");
    assert_eq!(b["vertical_data"], json!({"material": "A2"}));
    assert_eq!(b["description"], "flat field goes to vertical_data");
    assert_eq!(b["source_type"], "batch");

    let ing = srv
        .get(&format!(
            "/api/v1/ingestions/{}",
            r["ingestion_id"].as_str().unwrap()
        ))
        .tenant("acme")
        .send();
    assert_eq!(ing.status, 200);
    let ing = ing.json();
    for key in [
        "id",
        "tenant_id",
        "vertical",
        "entity_type",
        "source_type",
        "file_name",
        "file_size",
        "content_hash",
        "record_count",
        "accepted",
        "rejected",
        "duplicate_count",
        "status",
        "created_at",
        "completed_at",
    ] {
        assert!(ing.get(key).is_some(), "missing {key}");
    }
    assert_eq!(ing["status"], "partial");
    assert!(ing["file_size"].as_u64().unwrap() > 100);
    let errs = srv
        .get(&format!(
            "/api/v1/ingestions/{}/errors",
            ing["id"].as_str().unwrap()
        ))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(errs["entries"].as_array().unwrap().len(), 4);
    assert_eq!(
        errs["entries"][2]["raw"], "not an object",
        "the raw input is kept"
    );
    srv.get(&format!(
        "/api/v1/ingestions/{}",
        ing["id"].as_str().unwrap()
    ))
    .tenant("rival")
    .send()
    .expect_error(404, "not_found");
    srv.get("/api/v1/ingestions/nope")
        .tenant("acme")
        .send()
        .expect_error(404, "not_found");
}

#[test]
fn upsert_by_source_id_and_dedup_against_stored() {
    let srv = common::start_dev(&[]);
    let body = json!({"records": [
        {"name": "Bearing 6204", "source_id": "b1", "vertical_data": {"price": 4.9}},
        {"name": "Bearing 6205", "source_id": "b2", "vertical_data": {"price": 5.6}},
        {"name": "Seal 20x35", "vertical_data": {"price": 1.1}}
    ]});
    let first = srv.ingest("acme", "parts", "item", &body);
    assert_eq!(first["accepted"], 3);
    assert_eq!(first["status"], "completed");

    let again = srv.ingest("acme", "parts", "item", &body);
    assert_eq!(
        (again["accepted"].clone(), again["duplicate_count"].clone()),
        (json!(0), json!(3))
    );
    assert_eq!(again["entity_ids"], first["entity_ids"]);
    assert_eq!(again["status"], "completed");

    let changed = srv.ingest(
        "acme",
        "parts",
        "item",
        &json!({"records": [
            {"name": "Bearing 6204", "source_id": "b1", "vertical_data": {"price": 4.5}}
        ]}),
    );
    assert_eq!(changed["accepted"], 1);
    assert_eq!(
        changed["entity_ids"][0], first["entity_ids"][0],
        "same entity updated in place"
    );
    let e = srv
        .get(&format!(
            "/api/v1/entities/{}",
            first["entity_ids"][0].as_str().unwrap()
        ))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(e["vertical_data"]["price"], 4.5);
    let listed = srv
        .get("/api/v1/entities?limit=100")
        .tenant("acme")
        .send()
        .json();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        3,
        "no new entity from the update"
    );

    // Another tenant's identical records are its own.
    let other = srv.ingest("rival", "parts", "item", &body);
    assert_eq!(other["accepted"], 3);
}

#[test]
fn batch_limits_and_bad_bodies() {
    let srv = common::start_dev(&[]);
    let url = "/api/v1/ingest/parts/item/batch";
    let too_many: Vec<Value> = (0..10_001)
        .map(|i| json!({"name": format!("n{i}")}))
        .collect();
    srv.post(url)
        .tenant("acme")
        .json(&json!({"records": too_many}))
        .send()
        .expect_error(413, "payload_too_large");
    let ok: Vec<Value> = (0..10_000)
        .map(|i| json!({"name": format!("n{i}")}))
        .collect();
    let r = srv
        .post(url)
        .tenant("acme")
        .json(&json!({"records": ok}))
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["accepted"], 10_000);
    srv.post(url)
        .tenant("acme")
        .json(&json!({"records": []}))
        .send()
        .expect_error(422, "validation_error");
    srv.post(url)
        .tenant("acme")
        .json(&json!({"rows": []}))
        .send()
        .expect_error(422, "validation_error");
    srv.post(url)
        .tenant("acme")
        .json(&json!({"records": "x"}))
        .send()
        .expect_error(422, "validation_error");
    srv.post(url)
        .tenant("acme")
        .raw(b"{\"records\": [".to_vec(), "application/json")
        .send()
        .expect_error(400, "bad_request");
    srv.post(url)
        .tenant("acme")
        .raw(b"\xff\xfe".to_vec(), "application/json")
        .send()
        .expect_error(400, "bad_request");
    srv.post(url)
        .tenant("acme")
        .raw(b"name,x".to_vec(), "text/csv")
        .send()
        .expect_error(415, "unsupported_media_type");
    srv.post(
        "/api/v1/ingest/Bad Vertical/item/batch"
            .replace(' ', "%20")
            .as_str(),
    )
    .tenant("acme")
    .json(&json!({"records": [{"name": "x"}]}))
    .send()
    .expect_error(422, "validation_error");
    let huge = vec![b' '; 50 * 1024 * 1024 + 1];
    srv.post(url)
        .tenant("acme")
        .raw(huge, "application/json")
        .send()
        .expect_error(413, "payload_too_large");
    // Other routes keep the 1 MB limit.
    let big = json!({"name": "x", "vertical": "p", "entity_type": "t", "description": "y".repeat(1024 * 1024)});
    srv.post("/api/v1/entities")
        .tenant("acme")
        .json(&big)
        .send()
        .expect_error(413, "payload_too_large");
}

#[test]
fn acknowledged_batch_survives_kill_9_and_is_searchable_after_restart() {
    let mut srv = common::start_dev(&[]);
    let records: Vec<Value> = (0..2000)
        .map(|i| json!({"name": format!("Crashproof widget {i}"), "source_id": format!("w{i}"), "vertical_data": {"n": i}}))
        .collect();
    let r = srv.ingest("acme", "parts", "widget", &json!({"records": records}));
    assert_eq!(r["accepted"], 2000);
    srv.kill9();

    let srv2 = srv.restart();
    // A filter-only search counts exactly (a text query's total is an estimate that counts
    // re-indexed documents twice until segments merge).
    assert!(
        common::wait_for(std::time::Duration::from_secs(20), || {
            let r = srv2
                .search(
                    "acme",
                    "parts",
                    &json!({"filters": {"entity_type": "widget"}, "limit": 1}),
                )
                .json();
            r["metadata"]["total_estimate"] == 2000
        }),
        "all acknowledged records searchable after restart, without a manual reindex"
    );
    let r = srv2
        .search(
            "acme",
            "parts",
            &json!({"query": "crashproof widget", "limit": 100}),
        )
        .json();
    assert_eq!(r["results"].as_array().map(Vec::len), Some(100), "{r}");
    let last = srv2
        .search("acme", "parts", &json!({"filters": {"n": 1999}}))
        .json();
    assert_eq!(last["results"][0]["name"], "Crashproof widget 1999");
}

#[test]
fn a_lost_index_is_rebuilt_from_storage_and_reindex_routes_work() {
    let mut srv = common::start_dev(&[]);
    let r = srv.ingest(
        "acme",
        "parts",
        "widget",
        &json!({"records": [{"name": "Phoenix flange"}, {"name": "Phoenix gasket"}]}),
    );
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    assert!(srv.terminate().success());
    std::fs::remove_dir_all(srv.data_dir().join("index")).unwrap();

    let srv2 = srv.restart();
    assert!(common::wait_for(
        std::time::Duration::from_secs(10),
        || srv2
            .search_names("acme", &json!({"query": "phoenix"}))
            .len()
            == 2
    ));
    assert!(srv2.logs().contains("rebuilding it from 2 stored entities"));

    let r = srv2
        .post("/api/v1/admin/reindex/PARTS")
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["entities_reset"], 2);
    assert_eq!(r.json()["vertical"], "parts");
    let e = srv2
        .search("acme", "parts", &json!({"query": "flange"}))
        .json()["results"][0]["entity_id"]
        .clone();
    let r = srv2
        .post(&format!(
            "/api/v1/admin/reindex/entity/{}",
            e.as_str().unwrap()
        ))
        .tenant("acme")
        .send();
    assert_eq!(r.json()["status"], "pending");
    srv2.post(&format!(
        "/api/v1/admin/reindex/entity/{}",
        e.as_str().unwrap()
    ))
    .tenant("rival")
    .send()
    .expect_error(404, "not_found");
    srv2.wait_indexed("acme", &[e]);
}
