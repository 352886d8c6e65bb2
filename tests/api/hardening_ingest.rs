//! Ingestion edge cases: dedup within a batch that also updates, `source_id` scoped to vertical
//! and type (and the start-up migration of the old index), created/updated counts, CSV export
//! round trips, batch body shapes, and fully rejected batches.

use serde_json::{json, Value};

use crate::common::{self, Server};

fn batch(srv: &Server, path: &str, body: &Value) -> common::Resp {
    srv.post(&format!("/api/v1/ingest/{path}/batch"))
        .tenant("acme")
        .json(body)
        .send()
}

fn entities(srv: &Server, query: &str) -> Vec<Value> {
    let r = srv
        .get(&format!("/api/v1/entities?status=all&limit=100&{query}"))
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"].as_array().unwrap().clone()
}

/// `vertical_data` of every stored entity of the type, sorted.
fn contents(srv: &Server, query: &str) -> Vec<Value> {
    let mut v: Vec<Value> = entities(srv, query)
        .iter()
        .map(|e| json!([e["source_id"], e["vertical_data"]]))
        .collect();
    v.sort_by_key(|x| x.to_string());
    v
}

#[test]
fn content_superseded_within_a_batch_is_not_a_duplicate() {
    let srv = common::start_dev(&[]);
    // The first record's content is replaced by the second; the third has that content again
    // and must be stored, not counted as a duplicate of content that no longer exists.
    let r = srv.ingest(
        "acme",
        "parts",
        "bolt",
        &json!({"records": [
            {"name": "Bolt", "source_id": "s1", "v": 1},
            {"name": "Bolt", "source_id": "s1", "v": 2},
            {"name": "Bolt", "v": 1}
        ]}),
    );
    assert_eq!(r["duplicate_count"], 0, "{r}");
    assert_eq!(r["accepted"], 3, "{r}");
    assert_eq!(
        contents(&srv, "vertical=parts"),
        [json!(["s1", {"v": 2}]), json!([null, {"v": 1}])]
    );
    let ids = r["entity_ids"].as_array().unwrap();
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[2], ids[0]);

    // The other order: a record counted as a duplicate of an entity that a later record of
    // the same batch changes. Its content must still exist afterwards.
    let r = srv.ingest(
        "acme",
        "tools",
        "drill",
        &json!({"records": [{"name": "Drill", "source_id": "d1", "v": 1}]}),
    );
    assert_eq!(r["created"], 1, "{r}");
    let r = srv.ingest(
        "acme",
        "tools",
        "drill",
        &json!({"records": [
            {"name": "Drill", "v": 1},
            {"name": "Drill", "source_id": "d1", "v": 2},
            {"name": "Drill", "v": 1}
        ]}),
    );
    assert_eq!(
        contents(&srv, "vertical=tools"),
        [json!(["d1", {"v": 2}]), json!([null, {"v": 1}])],
        "{r}"
    );
    let ids = r["entity_ids"].as_array().unwrap();
    assert_eq!(ids[0], ids[2], "{r}");
    assert_ne!(ids[0], ids[1], "{r}");
    assert_eq!(
        (&r["created"], &r["updated"]),
        (&json!(1), &json!(1)),
        "{r}"
    );
    assert_eq!(r["duplicate_count"], 1, "{r}");
}

#[test]
fn source_ids_are_scoped_to_vertical_and_type() {
    let srv = common::start_dev(&[]);
    let records: Vec<Value> = (1..=5)
        .map(|i| json!({"name": format!("Part {i}"), "source_id": i.to_string(), "n": i}))
        .collect();
    let first = srv.ingest("acme", "parts", "bolt", &json!({ "records": records }));
    // The same source ids in another vertical, and in another type: new entities each time.
    let again: Vec<Value> = [("tools", "bolt"), ("parts", "nut")]
        .iter()
        .map(|(v, t)| srv.ingest("acme", v, t, &json!({ "records": records })))
        .collect();
    assert_eq!(entities(&srv, "vertical=parts&entity_type=bolt").len(), 5);
    assert_eq!(entities(&srv, "vertical=tools").len(), 5);
    assert_eq!(entities(&srv, "vertical=parts&entity_type=nut").len(), 5);
    assert_eq!(
        (&first["created"], &first["updated"]),
        (&json!(5), &json!(0)),
        "{first}"
    );
    for r in &again {
        assert_eq!(r["created"], 5, "{r}");
        assert_eq!(r["accepted"], 5, "{r}");
        assert_eq!(r["duplicate_count"], 0, "{r}");
    }

    // Within its own vertical and type a source id still upserts.
    let r = srv.ingest(
        "acme",
        "parts",
        "bolt",
        &json!({"records": [{"name": "Part 1", "source_id": "1", "n": 100}]}),
    );
    assert_eq!(
        (&r["created"], &r["updated"]),
        (&json!(0), &json!(1)),
        "{r}"
    );
    let tools = entities(&srv, "vertical=tools");
    assert!(tools.iter().all(|e| e["vertical_data"]["n"] != 100));

    // POST /entities: a source id is taken only within its vertical and type.
    let post = |v: &str| {
        srv.post("/api/v1/entities")
            .tenant("acme")
            .json(
                &json!({"name": "Manual", "vertical": v, "entity_type": "bolt", "source_id": "1"}),
            )
            .send()
    };
    post("parts").expect_error(409, "conflict");
    let other = post("manuals");
    assert_eq!(other.status, 201, "{}", other.text);
    // Moving it into `parts/bolt` would give that scope two entities with source id 1.
    let id = other.json()["id"].as_str().unwrap().to_owned();
    srv.req("PATCH", &format!("/api/v1/entities/{id}"))
        .tenant("acme")
        .json(&json!({"vertical": "parts"}))
        .send()
        .expect_error(409, "conflict");
    srv.req("PATCH", "/api/v1/entities/bulk")
        .tenant("acme")
        .json(&json!({"entity_ids": [id], "update": {"vertical": "parts"}}))
        .send()
        .expect_error(409, "conflict");
    assert_eq!(entities(&srv, "vertical=manuals").len(), 1);
}

#[test]
fn every_ingestion_route_reports_created_and_updated() {
    let srv = common::start_dev(&[]);
    let check = |what: &str, r: &Value, created: u64, updated: u64| {
        assert_eq!(
            (r["created"].as_u64(), r["updated"].as_u64()),
            (Some(created), Some(updated)),
            "{what}: {r}"
        );
        let ing = srv.ingestion("acme", r);
        assert_eq!(
            (ing["created"].as_u64(), ing["updated"].as_u64()),
            (Some(created), Some(updated)),
            "{what} ingestion record: {ing}"
        );
    };
    let body =
        json!({"records": [{"name": "A", "source_id": "a"}, {"name": "B", "source_id": "b"}]});
    check("batch", &srv.ingest("acme", "p", "t", &body), 2, 0);
    let body =
        json!({"records": [{"name": "A2", "source_id": "a"}, {"name": "C", "source_id": "c"}]});
    let r = srv
        .post("/api/v1/webhooks/ingest/p/t")
        .tenant("acme")
        .json(&body)
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    check("webhook", &r.json(), 1, 1);
    let r = srv
        .post("/api/v1/ingest/p/t/stream")
        .tenant("acme")
        .raw(
            b"{\"name\": \"A3\", \"source_id\": \"a\"}\n{\"name\": \"D\"}\n".to_vec(),
            "application/x-ndjson",
        )
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    check("stream", &r.json(), 1, 1);
    let r = srv.upload(
        "acme",
        "/api/v1/ingest/p/t/upload",
        &[(
            "file",
            Some("f.csv"),
            None,
            b"name,source_id\nA4,a\nE,e\nF,f\n",
        )],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    check("upload", &r.json(), 2, 1);
    let pdf = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/datasheet_2p.pdf"),
    )
    .unwrap();
    let up = |bytes: &[u8]| {
        let r = srv.upload(
            "acme",
            "/api/v1/ingest/p/t/pdf",
            &[("file", Some("sheet.pdf"), Some("application/pdf"), bytes)],
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    };
    check("pdf", &up(&pdf), 1, 0);
}

/// CSV export of a type uploaded back into it: the same entities, nothing new, even for
/// entities without a source id whose text looks like a number.
#[test]
fn csv_export_round_trips_into_the_same_entities() {
    let srv = common::start_dev(&[]);
    let r = srv.ingest(
        "acme",
        "parts",
        "bolt",
        &json!({"records": [
            {"name": "Hex bolt", "source_id": "b1", "thread": "M8", "code": "42"},
            {"name": "Plain washer", "size": "8", "in_stock": "true"},
            {"name": "Rivet", "vertical_data": {"id": "R-1", "vertical": "x", "mm": 4}}
        ]}),
    );
    assert_eq!(r["created"], 3, "{r}");
    let before = entities(&srv, "vertical=parts");
    let csv = srv
        .get("/api/v1/export?format=csv&vertical=parts&entity_type=bolt")
        .tenant("acme")
        .send();
    assert_eq!(csv.status, 200, "{}", csv.text);
    let header = csv.text.lines().next().unwrap();
    assert!(
        header.starts_with("id,vertical,entity_type,name,source_id,description,"),
        "{header}"
    );
    let r = srv.upload(
        "acme",
        "/api/v1/ingest/parts/bolt/upload",
        &[("file", Some("export.csv"), None, csv.text.as_bytes())],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = r.json();
    assert_eq!(r["created"], 0, "{r}");
    assert_eq!(r["rejected"], 0, "{r}");
    let after = entities(&srv, "vertical=parts");
    let ids = |list: &[Value]| {
        let mut v: Vec<String> = list.iter().map(|e| e["id"].to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&after), ids(&before));
    let rivet = after.iter().find(|e| e["name"] == "Rivet").unwrap();
    assert_eq!(
        rivet["vertical_data"],
        json!({"id": "R-1", "vertical": "x", "mm": 4}),
        "data keys named like the metadata columns survive"
    );
    // The same file uploaded into another type creates copies there and leaves these alone.
    let r = srv.upload(
        "acme",
        "/api/v1/ingest/parts/screw/upload",
        &[("file", Some("export.csv"), None, csv.text.as_bytes())],
    );
    assert_eq!(r.json()["created"], 3, "{}", r.text);
    assert_eq!(entities(&srv, "vertical=parts&entity_type=bolt").len(), 3);
}

#[test]
fn batch_body_shapes() {
    let srv = common::start_dev(&[]);
    // A bare array is a batch (the records dialect's batch body; API-RECORDS.md §2).
    let r = batch(&srv, "parts/bolt", &json!([{"name": "Bare"}]));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["accepted"], 1);
    for bad in [json!({"record": []}), json!("x"), json!({"records": {}})] {
        let r = batch(&srv, "parts/bolt", &bad);
        r.expect_error(422, "validation_error");
        let detail = r.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(r#"{"records": [...]}"#), "{bad}: {detail}");
    }
    batch(&srv, "parts/bolt", &json!([])).expect_error(422, "validation_error");
}

#[test]
fn a_batch_with_nothing_accepted_is_422() {
    let srv = common::start_dev(&[]);
    let r = srv
        .post("/api/v1/schemas")
        .tenant("acme")
        .json(&json!({"vertical": "parts", "entity_type": "bolt",
                      "schema": {"type": "object", "required": ["price"]}}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    for route in [
        "/api/v1/ingest/parts/bolt/batch",
        "/api/v1/webhooks/ingest/parts/bolt",
    ] {
        let r = srv
            .post(route)
            .tenant("acme")
            .json(&json!({"records": [{"name": "No price"}]}))
            .send();
        assert_eq!(r.status, 422, "{route}: {}", r.text);
        let body = r.json();
        assert_eq!(body["code"], "validation_error");
        assert!(body["detail"].is_string(), "{body}");
        assert_eq!(body["status"], "failed");
        assert_eq!(body["accepted"], 0);
        assert_eq!(
            body["errors"][0]["error_type"], "schema_violation",
            "{body}"
        );
        // The ingestion is still recorded, with its dead-letter entries.
        let errs = srv
            .get(&format!(
                "/api/v1/ingestions/{}/errors",
                body["ingestion_id"].as_str().unwrap()
            ))
            .tenant("acme")
            .send();
        assert_eq!(errs.json()["entries"].as_array().unwrap().len(), 1);
    }
    let r = batch(
        &srv,
        "parts/bolt",
        &json!({"records": [{"name": "No price"}, {"name": "Priced", "price": 1}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "partial");
    // Only duplicates: nothing rejected, so not a failure.
    let r = batch(
        &srv,
        "parts/bolt",
        &json!({"records": [{"name": "Priced", "price": 1}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A data dir written before source ids were scoped (index key `s tenant \0 source_id`) is
/// migrated at start-up: its entities are found by source id in their own vertical and type,
/// and nowhere else.
#[test]
fn old_source_id_index_is_migrated_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let old = |vertical: &str, entity_type: &str, sid: &str, name: &str| {
        let id = uuid::Uuid::now_v7();
        let e = json!({
            "id": id, "tenant_id": "acme", "vertical": vertical, "entity_type": entity_type,
            "name": name, "description": null, "source_id": sid, "source_type": "batch",
            "source_name": null, "source_url": null, "status": "active",
            "vertical_data": {"n": 1}, "created_at": 1_700_000_000_000i64,
            "updated_at": 1_700_000_000_000i64
        });
        let mut value = vec![1u8];
        value.extend(serde_json::to_vec(&e).unwrap());
        let key = |kind: u8, rest: &[u8]| {
            let mut k = vec![kind];
            k.extend_from_slice(b"acme\0");
            k.extend_from_slice(rest);
            k
        };
        (
            key(b'e', id.as_bytes()),
            value,
            key(b's', sid.as_bytes()),
            id,
        )
    };
    let a = old("parts", "bolt", "1", "Old bolt");
    let b = old("tools", "drill", "2", "Old drill");
    {
        let db = sled::open(dir.path().join("db")).unwrap();
        let tree = db.open_tree("entities").unwrap();
        for (ek, ev, sk, id) in [&a, &b] {
            tree.insert(ek, ev.clone()).unwrap();
            tree.insert(sk, id.as_bytes().to_vec()).unwrap();
        }
        db.flush().unwrap();
    }
    let mut srv = common::start_dev_in(dir);
    for round in 0..2 {
        let r = srv.ingest(
            "acme",
            "parts",
            "bolt",
            &json!({"records": [{"name": "Old bolt", "source_id": "1", "n": 10 + round}]}),
        );
        assert_eq!(
            (&r["created"], &r["updated"]),
            (&json!(0), &json!(1)),
            "{r}"
        );
        assert_eq!(r["entity_ids"][0], a.3.to_string());
        let r = srv.ingest(
            "acme",
            "tools",
            "drill",
            &json!({"records": [{"name": "Old drill", "source_id": "2", "n": 10 + round}]}),
        );
        assert_eq!(r["entity_ids"][0], b.3.to_string(), "{r}");
        // The same id in another vertical is another entity.
        let r = srv.ingest(
            "acme",
            "tools",
            "bolt",
            &json!({"records": [{"name": "Tool bolt", "source_id": "1"}]}),
        );
        assert_ne!(r["entity_ids"][0], a.3.to_string(), "{r}");
        // A second start finds the index already migrated.
        srv.terminate();
        srv = srv.restart();
    }
    assert_eq!(entities(&srv, "").len(), 3);
}
