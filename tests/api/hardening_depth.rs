//! Deeply nested values: refused on every write path, and a stored entity that is too deep (or
//! cannot be decoded at all) never breaks listing, export, reindexing or its own removal.

use serde_json::{json, Value};

use crate::common::{self, Server};

/// `levels` arrays nested in each other, as JSON text: `[[…]]`.
fn nested_text(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

/// Built bottom-up: past 127 levels serde_json would not parse the text.
fn nested(levels: usize) -> Value {
    (0..levels).fold(Value::Null, |inner, _| match inner {
        Value::Null => json!([]),
        v => Value::Array(vec![v]),
    })
}

/// A response body that may nest deeper than serde_json parses by default.
fn parse_deep(text: &str) -> Value {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    serde::Deserialize::deserialize(&mut de).unwrap()
}

fn tenant_entities(srv: &Server) -> Value {
    let r = srv
        .get("/api/v1/entities?status=all&limit=100")
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    parse_deep(&r.text)
}

/// Asserts one rejected `too_deep` record and one accepted record in a batch-shaped answer, and
/// that the ingestion's dead-letter entries can be read back.
fn one_too_deep(srv: &Server, r: &common::Resp, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.text);
    let v = r.json();
    let rejected = v.get("rejected").or_else(|| v.get("parse_errors"));
    assert_eq!(rejected, Some(&json!(1)), "{what}: {v}");
    assert_eq!(v["accepted"], 1, "{what}: {v}");
    let id = v["ingestion_id"].as_str().unwrap();
    let errors = srv
        .get(&format!("/api/v1/ingestions/{id}/errors"))
        .tenant("acme")
        .send();
    assert_eq!(errors.status, 200, "{what}: {}", errors.text);
    // The raw record kept in the entry is as deep as it came.
    let entry = &parse_deep(&errors.text)["entries"][0];
    assert_eq!(entry["error_type"], "too_deep", "{what}: {entry}");
    assert!(
        entry["message"].as_str().unwrap().contains("32"),
        "{what}: the limit is named: {entry}"
    );
}

#[test]
fn values_nested_past_the_limit_are_refused_on_every_write_path() {
    let srv = common::start_dev(&[]);
    // The reported case: a CSV cell 126 levels deep was accepted and then broke every read.
    let csv = format!("name,dims\nx,\"{}\"\ny,1\n", nested_text(126));
    let r = srv.upload(
        "acme",
        "/api/v1/ingest/v/t/upload",
        &[("file", Some("deep.csv"), None, csv.as_bytes())],
    );
    one_too_deep(&srv, &r, "CSV cell 126 levels deep");

    // 33 is one past the limit; 120 still fits in serde_json's limit inside every body.
    for levels in [33, 120] {
        let deep = nested(levels);
        let records = json!({"records": [
            {"name": format!("deep {levels}"), "dims": deep},
            {"name": format!("fine {levels}"), "vertical_data": {"dims": nested(32)}},
        ]});
        let r = srv
            .post("/api/v1/ingest/v/t/batch")
            .tenant("acme")
            .json(&records)
            .send();
        one_too_deep(&srv, &r, "batch");

        let r = srv
            .post("/api/v1/webhooks/ingest/v/t")
            .tenant("acme")
            .json(&json!({"records": [
                {"name": format!("hook deep {levels}"), "vertical_data": {"a": {"b": deep}}},
                {"name": format!("hook fine {levels}")},
            ]}))
            .send();
        one_too_deep(&srv, &r, "webhook");

        let ndjson = format!(
            "{{\"name\": \"line deep {levels}\", \"dims\": {}}}\n{{\"name\": \"line fine {levels}\"}}\n",
            nested_text(levels)
        );
        let r = srv
            .post("/api/v1/ingest/v/t/stream")
            .tenant("acme")
            .raw(ndjson.clone().into_bytes(), "application/x-ndjson")
            .send();
        one_too_deep(&srv, &r, "stream");

        let csv = format!(
            "name,dims\ncsv deep {levels},\"{}\"\ncsv fine {levels},1\n",
            nested_text(levels)
        );
        let json_file = json!([
            {"name": format!("file deep {levels}"), "dims": deep},
            {"name": format!("file fine {levels}")},
        ])
        .to_string();
        let ndjson_file = ndjson.replace("line", "file line");
        for (file, bytes) in [
            ("deep.csv", csv.as_bytes()),
            ("deep.json", json_file.as_bytes()),
            ("deep.ndjson", ndjson_file.as_bytes()),
        ] {
            let r = srv.upload(
                "acme",
                "/api/v1/ingest/v/t/upload",
                &[("file", Some(file), None, bytes)],
            );
            one_too_deep(&srv, &r, file);
        }

        let r = srv
            .post("/api/v1/entities")
            .tenant("acme")
            .json(
                &json!({"vertical": "v", "entity_type": "t", "name": "single",
                          "vertical_data": {"dims": deep}}),
            )
            .send();
        r.expect_error(422, "validation_error");
        assert!(
            r.json()["detail"].as_str().unwrap().contains("32"),
            "{}",
            r.text
        );

        let id = srv
            .post("/api/v1/entities")
            .tenant("acme")
            .json(
                &json!({"vertical": "v", "entity_type": "t", "name": format!("patched {levels}")}),
            )
            .send()
            .json()["id"]
            .clone();
        let id = id.as_str().unwrap();
        srv.req("PATCH", &format!("/api/v1/entities/{id}"))
            .tenant("acme")
            .json(&json!({"vertical_data": {"x": {"y": deep}}}))
            .send()
            .expect_error(422, "validation_error");
        srv.req("PATCH", "/api/v1/entities/bulk")
            .tenant("acme")
            .json(&json!({"entity_ids": [id], "update": {"vertical_data": {"dims": deep}}}))
            .send()
            .expect_error(422, "validation_error");
    }

    // Nothing too deep got in, so the tenant reads whole.
    let all = tenant_entities(&srv);
    let names: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.contains("deep")), "{names:?}");
    assert_eq!(names.len(), 1 + 2 * 7, "{names:?}");
    let r = srv
        .get("/api/v1/export?format=ndjson")
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(r.text.lines().count(), 15);
}

#[test]
fn bodies_deeper_than_the_json_parser_allows_get_a_clear_400() {
    let srv = common::start_dev(&[]);
    let deep = nested_text(300);
    let vd = format!("{{\"dims\": {deep}}}");
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/ingest/v/t/batch",
            format!("{{\"records\": [{{\"name\": \"x\", \"vertical_data\": {vd}}}]}}"),
        ),
        (
            "POST",
            "/api/v1/webhooks/ingest/v/t",
            format!("{{\"records\": [{{\"name\": \"x\", \"vertical_data\": {vd}}}]}}"),
        ),
        (
            "POST",
            "/api/v1/entities",
            format!("{{\"vertical\": \"v\", \"entity_type\": \"t\", \"name\": \"x\", \"vertical_data\": {vd}}}"),
        ),
        (
            "PATCH",
            "/api/v1/entities/bulk",
            format!("{{\"entity_ids\": [], \"update\": {{\"vertical_data\": {vd}}}}}"),
        ),
    ] {
        let r = srv
            .req(method, path)
            .tenant("acme")
            .raw(body.into_bytes(), "application/json")
            .send();
        r.expect_error(400, "bad_request");
        assert!(
            r.json()["detail"].as_str().unwrap().contains("nested too deeply"),
            "{path}: {}",
            r.text
        );
    }
    // Files are read record by record: the deep one is reported, the others are stored.
    let ndjson = format!("{{\"name\": \"x\", \"dims\": {deep}}}\n{{\"name\": \"ok\"}}\n");
    let r = srv
        .post("/api/v1/ingest/v/t/stream")
        .tenant("acme")
        .raw(ndjson.clone().into_bytes(), "application/x-ndjson")
        .send();
    one_too_deep(&srv, &r, "stream past the parser's limit");
    let json_file = format!("[{{\"name\": \"x\", \"dims\": {deep}}}, {{\"name\": \"ok 2\"}}]");
    let r = srv.upload(
        "acme",
        "/api/v1/ingest/v/t/upload",
        &[("file", Some("deep.json"), None, json_file.as_bytes())],
    );
    one_too_deep(&srv, &r, "JSON file past the parser's limit");
}

/// What an older version stored: an entity `levels` deep, as the `entities` tree holds it.
fn stored_entity(tenant: &str, id: uuid::Uuid, name: &str, data: Value) -> Vec<u8> {
    let e = json!({
        "id": id, "tenant_id": tenant, "vertical": "v", "entity_type": "t", "name": name,
        "description": null, "source_id": null, "source_type": "batch", "source_name": null,
        "source_url": null, "status": "active", "vertical_data": data,
        "created_at": 1, "updated_at": 1,
    });
    let mut out = vec![1u8];
    out.extend_from_slice(e.to_string().as_bytes());
    out
}

fn entity_key(tenant: &str, id: uuid::Uuid) -> Vec<u8> {
    let mut k = vec![b'e'];
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

#[test]
fn a_stored_entity_that_is_too_deep_or_corrupt_breaks_nothing() {
    let mut srv = common::start_dev(&[]);
    let r = srv.ingest(
        "acme",
        "v",
        "t",
        &json!({"records": [{"name": "before"}, {"name": "after"}]}),
    );
    assert_eq!(r["accepted"], 2);
    srv.terminate();

    // Planted between the two good entities' ids' neighbours: a deep one and an undecodable one.
    let deep_id = uuid::Uuid::now_v7();
    let corrupt_id = uuid::Uuid::now_v7();
    {
        let db = qanatix::store::open_db(srv.data_dir()).unwrap();
        let tree = db.open_tree("entities").unwrap();
        tree.insert(
            entity_key("acme", deep_id),
            stored_entity("acme", deep_id, "deep one", json!({"dims": nested(200)})),
        )
        .unwrap();
        tree.insert(entity_key("acme", corrupt_id), &b"\x01{\"id\": garbage"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let srv = srv.restart();

    let all = tenant_entities(&srv);
    let names: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["before", "after", "deep one"],
        "the corrupt one is skipped"
    );

    for format in ["json", "ndjson", "csv"] {
        let r = srv
            .get(&format!("/api/v1/export?format={format}"))
            .tenant("acme")
            .send();
        assert_eq!(r.status, 200, "{format}");
        assert!(
            r.text.contains("deep one") && r.text.contains("after"),
            "{format} export is complete: {}",
            r.text
        );
    }
    let r = srv.post("/api/v1/admin/reindex/v").tenant("acme").send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["entities_reset"], 3);
    let stats = srv.get("/api/v1/verticals").tenant("acme").send();
    assert_eq!(stats.status, 200, "{}", stats.text);

    // The deep one reads, is found by search once indexed, and can be deleted.
    let r = srv
        .get(&format!("/api/v1/entities/{deep_id}"))
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    // Past what this harness's parser takes: compared as text.
    assert!(r.text.contains(&nested_text(200)), "{}", r.text);
    let indexed = common::wait_for(std::time::Duration::from_secs(20), || {
        let r = srv
            .get(&format!("/api/v1/entities/{deep_id}"))
            .tenant("acme")
            .send();
        parse_deep(&r.text)["embedding_status"] == "completed"
    });
    assert!(indexed, "the deep entity was not indexed");
    let found = srv.search("acme", "v", &json!({"query": "deep"}));
    assert_eq!(found.status, 200, "{}", found.text);
    assert!(found.text.contains("deep one"), "{}", found.text);
    srv.req(
        "DELETE",
        &format!("/api/v1/entities/{deep_id}?permanent=true"),
    )
    .tenant("acme")
    .send();
    let r = srv
        .get(&format!("/api/v1/entities/{deep_id}"))
        .tenant("acme")
        .send();
    r.expect_error(404, "not_found");

    // The corrupt one cannot be shown or archived, but it can be removed for good.
    let path = format!("/api/v1/entities/{corrupt_id}");
    let r = srv.get(&path).tenant("acme").send();
    assert!(r.status >= 400, "{}", r.text);
    srv.req("DELETE", &path)
        .tenant("acme")
        .send()
        .expect_error(409, "conflict");
    // Bulk requests pass over it like an unknown id.
    let r = srv
        .post("/api/v1/entities/bulk-delete")
        .tenant("acme")
        .json(&json!({"entity_ids": [corrupt_id]}))
        .send();
    assert_eq!(
        (r.status, r.json()["archived"].clone()),
        (200, json!(0)),
        "{}",
        r.text
    );
    let r = srv
        .req("PATCH", "/api/v1/entities/bulk")
        .tenant("acme")
        .json(&json!({"entity_ids": [corrupt_id], "update": {"status": "draft"}}))
        .send();
    assert_eq!((r.status, r.json()), (200, json!([])), "{}", r.text);
    let r = srv
        .req("DELETE", &format!("{path}?permanent=true"))
        .tenant("acme")
        .send();
    assert_eq!(r.status, 204, "{}", r.text);
    srv.get(&path)
        .tenant("acme")
        .send()
        .expect_error(404, "not_found");
    assert!(
        srv.logs().contains(&corrupt_id.to_string()),
        "the skipped entity is named in the log"
    );
}
