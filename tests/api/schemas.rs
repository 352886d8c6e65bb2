//! Schemas: versions, listing, and validation on every write path.

use serde_json::json;

use crate::common::{self, Server};

const PART_SCHEMA: &str = r#"{"type": "object", "required": ["price"],
    "properties": {"price": {"type": "number", "minimum": 0}, "part_number": {"type": "string"}}}"#;

fn post_schema(srv: &Server, schema: serde_json::Value) -> common::Resp {
    srv.post("/api/v1/schemas")
        .tenant("acme")
        .json(&json!({"vertical": "parts", "entity_type": "bolt", "schema": schema}))
        .send()
}

#[test]
fn schemas_are_versioned_listed_and_per_tenant() {
    let srv = common::start_dev(&[]);
    let schema: serde_json::Value = serde_json::from_str(PART_SCHEMA).unwrap();
    let r = post_schema(&srv, schema.clone());
    assert_eq!(r.status, 201, "{}", r.text);
    let r = r.json();
    assert_eq!(
        (r["vertical"].as_str(), r["version"].as_u64()),
        (Some("parts"), Some(1))
    );
    assert!(r["created_at"].is_string());
    let r = post_schema(&srv, json!({"type": "object"}));
    assert_eq!(r.json()["version"], 2);

    let latest = srv.get("/api/v1/schemas/parts/bolt").tenant("acme").send();
    assert_eq!(latest.status, 200);
    assert_eq!(latest.json()["version"], 2);
    assert_eq!(latest.json()["schema"], json!({"type": "object"}));
    let list = srv
        .get("/api/v1/schemas?vertical=parts")
        .tenant("acme")
        .send()
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let none = srv
        .get("/api/v1/schemas?vertical=other")
        .tenant("acme")
        .send()
        .json();
    assert_eq!(none, json!([]));

    srv.get("/api/v1/schemas/parts/bolt")
        .tenant("rival")
        .send()
        .expect_error(404, "not_found");
    assert_eq!(
        srv.get("/api/v1/schemas").tenant("rival").send().json(),
        json!([])
    );

    // has_schema in /verticals, even before any entity exists.
    let v = srv.get("/api/v1/verticals").tenant("acme").send().json();
    assert_eq!(v[0]["vertical"], "parts");
    assert_eq!(v[0]["has_schema"], true, "{v}");
}

#[test]
fn bad_schemas_and_bodies_are_refused() {
    let srv = common::start_dev(&[]);
    post_schema(&srv, json!({"type": "not-a-type"})).expect_error(422, "validation_error");
    post_schema(&srv, json!([1])).expect_error(422, "validation_error");
    post_schema(&srv, json!({"$ref": "http://example.com/x.json"}))
        .expect_error(422, "validation_error");
    srv.post("/api/v1/schemas")
        .tenant("acme")
        .json(&json!({"vertical": "Bad Vertical!", "entity_type": "bolt", "schema": {}}))
        .send()
        .expect_error(422, "validation_error");
    srv.post("/api/v1/schemas")
        .tenant("acme")
        .json(&json!({"vertical": "parts", "entity_type": "bolt", "schema": {}, "extra": 1}))
        .send()
        .expect_error(422, "validation_error");
    srv.post("/api/v1/schemas")
        .tenant("acme")
        .raw(b"{\"vertical\":".to_vec(), "application/json")
        .send()
        .expect_error(400, "bad_request");
    // Nothing was stored by the failures.
    srv.get("/api/v1/schemas/parts/bolt")
        .tenant("acme")
        .send()
        .expect_error(404, "not_found");
}

#[test]
fn posting_a_schema_needs_the_admin_scope() {
    let srv = common::start(&[]);
    let master = srv.master_key();
    srv.create_tenant("acme", "enterprise");
    let ingest = srv.create_key("acme", &["ingest", "search"]);
    srv.post("/api/v1/schemas")
        .bearer(&ingest)
        .json(&json!({"vertical": "parts", "entity_type": "bolt", "schema": {}}))
        .send()
        .expect_error(403, "insufficient_scope");
    let admin = srv.create_key("acme", &["admin"]);
    let r = srv
        .post("/api/v1/schemas")
        .bearer(&admin)
        .json(&json!({"vertical": "parts", "entity_type": "bolt", "schema": {}}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    // Reading schemas needs no particular scope.
    assert_eq!(
        srv.get("/api/v1/schemas").bearer(&ingest).send().status,
        200
    );
    let _ = master;
}

#[test]
fn every_write_path_validates_against_the_latest_schema() {
    let srv = common::start_dev(&[]);
    let schema: serde_json::Value = serde_json::from_str(PART_SCHEMA).unwrap();
    assert_eq!(post_schema(&srv, schema).status, 201);

    // /entities: 422 naming the field.
    let bad = srv
        .post("/api/v1/entities")
        .tenant("acme")
        .json(
            &json!({"name": "Bolt", "vertical": "parts", "entity_type": "bolt",
                      "vertical_data": {"price": "cheap"}}),
        )
        .send();
    bad.expect_error(422, "validation_error");
    assert!(
        bad.json()["detail"].as_str().unwrap().contains("price"),
        "{}",
        bad.text
    );
    let good = srv
        .post("/api/v1/entities")
        .tenant("acme")
        .json(
            &json!({"name": "Bolt", "vertical": "parts", "entity_type": "bolt",
                      "vertical_data": {"price": 1.5, "extra": "allowed"}}),
        )
        .send();
    assert_eq!(good.status, 201, "{}", good.text);
    let id = good.json()["id"].as_str().unwrap().to_owned();
    // Other types are not affected.
    let other = srv
        .post("/api/v1/entities")
        .tenant("acme")
        .json(&json!({"name": "Nut", "vertical": "parts", "entity_type": "nut"}))
        .send();
    assert_eq!(other.status, 201, "{}", other.text);
    // PATCH and bulk update.
    srv.req("PATCH", &format!("/api/v1/entities/{id}"))
        .tenant("acme")
        .json(&json!({"vertical_data": {"price": -1}}))
        .send()
        .expect_error(422, "validation_error");
    srv.req("PATCH", "/api/v1/entities/bulk")
        .tenant("acme")
        .json(&json!({"entity_ids": [id], "update": {"vertical_data": {"price": null}}}))
        .send()
        .expect_error(422, "validation_error");
    let e = srv
        .get(&format!("/api/v1/entities/{id}"))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(e["vertical_data"]["price"], 1.5, "unchanged: {e}");

    // Ingestion: a per-row error, the rest stored.
    let r = srv.ingest(
        "acme",
        "parts",
        "bolt",
        &json!({"records": [{"name": "Good bolt", "price": 2},
                            {"name": "Bad bolt", "price": "two"},
                            {"name": "No price"}]}),
    );
    assert_eq!(
        (r["accepted"].as_u64(), r["rejected"].as_u64()),
        (Some(1), Some(2)),
        "{r}"
    );
    assert_eq!(r["errors"][0]["row"], 1);
    assert_eq!(r["errors"][0]["error_type"], "schema_violation");
    assert_eq!(r["errors"][0]["field"], "vertical_data.price");
    let dlq = srv
        .get(&format!(
            "/api/v1/ingestions/{}/errors",
            r["ingestion_id"].as_str().unwrap()
        ))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(dlq["entries"].as_array().unwrap().len(), 2);
    assert_eq!(dlq["entries"][0]["raw"]["name"], "Bad bolt");

    // Upload, stream and webhook go through the same check.
    let up = srv.upload(
        "acme",
        "/api/v1/ingest/parts/bolt/upload",
        &[(
            "file",
            Some("b.csv"),
            None,
            b"name,price\nCSV bolt,3\nCSV bad,x\n",
        )],
    );
    let up = up.json();
    assert_eq!(
        (up["accepted"].as_u64(), up["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{up}"
    );
    let st = srv
        .post("/api/v1/ingest/parts/bolt/stream")
        .tenant("acme")
        .raw(
            b"{\"name\":\"S ok\",\"price\":1}\n{\"name\":\"S bad\"}\n".to_vec(),
            "application/x-ndjson",
        )
        .send()
        .json();
    assert_eq!(
        (st["accepted"].as_u64(), st["parse_errors"].as_u64()),
        (Some(1), Some(1)),
        "{st}"
    );
    let wh = srv
        .post("/api/v1/webhooks/ingest/parts/bolt")
        .tenant("acme")
        .json(&json!({"records": [{"name": "W bad", "price": false}]}))
        .send()
        .json();
    assert_eq!(wh["rejected"], 1, "{wh}");

    // A new version applies at once: price is no longer required.
    assert_eq!(post_schema(&srv, json!({"type": "object"})).status, 201);
    let r = srv.ingest(
        "acme",
        "parts",
        "bolt",
        &json!({"records": [{"name": "No price now"}]}),
    );
    assert_eq!(r["accepted"], 1, "{r}");
}

#[test]
fn schemas_survive_a_restart() {
    let srv = common::start_dev(&[]);
    let schema: serde_json::Value = serde_json::from_str(PART_SCHEMA).unwrap();
    assert_eq!(post_schema(&srv, schema).status, 201);
    let mut srv = srv;
    srv.kill9();
    let srv = srv.restart();
    assert_eq!(
        srv.get("/api/v1/schemas/parts/bolt")
            .tenant("acme")
            .send()
            .json()["version"],
        1
    );
    let r = srv
        .post("/api/v1/ingest/parts/bolt/batch")
        .tenant("acme")
        .json(&json!({"records": [{"name": "No price"}]}))
        .send();
    assert_eq!(r.status, 422, "nothing stored: {}", r.text);
    assert_eq!(r.json()["rejected"], 1, "{}", r.text);
}
