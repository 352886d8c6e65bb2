//! Webhook, NDJSON stream, pipeline status and trigger, verticals.

use serde_json::{json, Value};

use crate::common;

const SECRET: &str = "webhook-secret-for-tests";

fn signed(body: &Value) -> (Vec<u8>, String) {
    let bytes = body.to_string().into_bytes();
    let sig = qanatix::ingest::webhook::sign(SECRET.as_bytes(), &bytes);
    (bytes, sig)
}

#[test]
fn webhook_requires_a_valid_signature_when_a_secret_is_set() {
    let srv = common::start_dev(&[("WEBHOOK_SECRET", SECRET)]);
    let url = "/api/v1/webhooks/ingest/parts/item";
    let body = json!({"records": [{"name": "Hooked gear", "source_id": "h1"}]});
    let (bytes, sig) = signed(&body);

    srv.post(url)
        .tenant("acme")
        .raw(bytes.clone(), "application/json")
        .send()
        .expect_error(401, "invalid_signature");
    srv.post(url)
        .tenant("acme")
        .header("X-Webhook-Signature", "sha256=00")
        .raw(bytes.clone(), "application/json")
        .send()
        .expect_error(401, "invalid_signature");
    let (_, other_sig) = signed(&json!({"records": [{"name": "Other"}]}));
    srv.post(url)
        .tenant("acme")
        .header("X-Webhook-Signature", &other_sig)
        .raw(bytes.clone(), "application/json")
        .send()
        .expect_error(401, "invalid_signature");
    srv.post(url)
        .tenant("acme")
        .header("X-Webhook-Signature", sig.trim_start_matches("sha256="))
        .raw(bytes.clone(), "application/json")
        .send()
        .expect_error(401, "invalid_signature");

    let r = srv
        .post(url)
        .tenant("acme")
        .header("X-Webhook-Signature", &sig)
        .raw(bytes, "application/json")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = r.json();
    assert_eq!(r["accepted"], 1);
    let e = srv
        .get(&format!(
            "/api/v1/entities/{}",
            r["entity_ids"][0].as_str().unwrap()
        ))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(e["source_type"], "webhook");
}

#[test]
fn webhook_without_a_secret_takes_the_batch_body() {
    let srv = common::start_dev(&[]);
    let r = srv
        .post("/api/v1/webhooks/ingest/parts/item")
        .tenant("acme")
        .json(&json!({"records": [{"name": "Unsigned"}]}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    srv.post("/api/v1/webhooks/ingest/parts/item")
        .tenant("acme")
        .json(&json!({"records": []}))
        .send()
        .expect_error(422, "validation_error");
    // The route needs the ingest scope like every ingestion route.
    let key = srv.create_key("acme", &["search"]);
    srv.post("/api/v1/webhooks/ingest/parts/item")
        .bearer(&key)
        .json(&json!({"records": [{"name": "x"}]}))
        .send()
        .expect_error(403, "insufficient_scope");
}

#[test]
fn ndjson_stream_skips_and_counts_bad_lines() {
    let srv = common::start_dev(&[]);
    let body = b"{\"name\": \"Stream bolt A\", \"pn\": \"SB-1\"}\n\n{not json\n\xff\xfe\n{\"nome\": \"no name\"}\n{\"name\": \"Stream bolt B\"}\r\n".to_vec();
    let r = srv
        .post("/api/v1/ingest/parts/item/stream")
        .tenant("acme")
        .raw(body.clone(), "application/x-ndjson")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["accepted"], 2);
    assert_eq!(
        v["parse_errors"], 3,
        "two unparsable lines and one record without a name"
    );
    assert_eq!(v["buffer_size"], 3);
    assert_eq!(v["flushed"], true);
    let again = srv
        .post("/api/v1/ingest/parts/item/stream")
        .tenant("acme")
        .raw(body, "application/x-ndjson")
        .send()
        .json();
    assert_eq!(
        (again["accepted"].clone(), again["duplicate_count"].clone()),
        (json!(0), json!(2))
    );
    assert!(common::wait_for(std::time::Duration::from_secs(2), || srv
        .search_names("acme", &json!({"query": "stream bolt"}))
        .len()
        == 2));
    srv.post("/api/v1/ingest/parts/item/stream")
        .tenant("acme")
        .raw(b"{}".to_vec(), "application/json")
        .send()
        .expect_error(415, "unsupported_media_type");
}

#[test]
fn pipeline_status_and_trigger() {
    let srv = common::start_dev(&[]);
    let r = srv.ingest(
        "acme",
        "parts",
        "item",
        &json!({"records": [{"name": "P1"}, {"name": "P2"}, {"name": "P1"}]}),
    );
    let id = r["ingestion_id"].as_str().unwrap().to_owned();
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    let s = srv
        .get(&format!("/api/v1/pipeline/status/{id}"))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(
        s,
        json!({"ingestion_id": id, "total": 2, "pending": 0, "processing": 0, "completed": 2, "failed": 0})
    );
    let t = srv
        .post(&format!("/api/v1/pipeline/trigger/{id}"))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(t["triggered"], 0, "nothing pending or failed");
    srv.get(&format!("/api/v1/pipeline/status/{id}"))
        .tenant("rival")
        .send()
        .expect_error(404, "not_found");
    srv.post(&format!("/api/v1/pipeline/trigger/{id}"))
        .tenant("rival")
        .send()
        .expect_error(404, "not_found");
    srv.get("/api/v1/pipeline/status/nope")
        .tenant("acme")
        .send()
        .expect_error(404, "not_found");
}

#[test]
fn verticals_list_counts_and_types() {
    let srv = common::start_dev(&[]);
    srv.ingest(
        "acme",
        "parts",
        "bolt",
        &json!({"records": [{"name": "B1"}, {"name": "B2"}]}),
    );
    srv.ingest(
        "acme",
        "parts",
        "nut",
        &json!({"records": [{"name": "N1"}]}),
    );
    srv.ingest(
        "acme",
        "tools",
        "drill",
        &json!({"records": [{"name": "D1"}]}),
    );
    srv.ingest("rival", "secret", "x", &json!({"records": [{"name": "S"}]}));
    let v = srv.get("/api/v1/verticals").tenant("acme").send().json();
    assert_eq!(
        v,
        json!([
            {"vertical": "parts", "entity_count": 3, "entity_types": ["bolt", "nut"], "has_schema": false},
            {"vertical": "tools", "entity_count": 1, "entity_types": ["drill"], "has_schema": false}
        ])
    );
    let key = srv.create_key("acme", &["search"]);
    assert_eq!(
        srv.get("/api/v1/verticals").bearer(&key).send().status,
        200,
        "any valid key"
    );
}

#[test]
fn stream_and_webhook_upsert_by_source_id() {
    let srv = common::start_dev(&[]);
    let stream = |body: &[u8]| {
        srv.post("/api/v1/ingest/parts/item/stream")
            .tenant("acme")
            .raw(body.to_vec(), "application/x-ndjson")
            .send()
            .json()
    };
    let first = stream(b"{\"name\": \"Pump\", \"source_id\": \"p1\", \"kw\": 2}\n{\"name\": \"Valve\", \"source_id\": \"v1\"}\n");
    assert_eq!(first["accepted"], 2);
    let changed = stream(b"{\"name\": \"Pump\", \"source_id\": \"p1\", \"kw\": 3}\n{\"name\": \"Valve\", \"source_id\": \"v1\"}\n");
    assert_eq!(
        (
            changed["accepted"].as_u64(),
            changed["duplicate_count"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let hook = srv
        .post("/api/v1/webhooks/ingest/parts/item")
        .tenant("acme")
        .json(&json!({"records": [{"name": "Pump", "source_id": "p1", "kw": 4}]}))
        .send()
        .json();
    assert_eq!(hook["accepted"], 1);
    let list = srv.get("/api/v1/entities").tenant("acme").send().json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "no copies: {list}");
    let pump = items.iter().find(|e| e["source_id"] == "p1").unwrap();
    assert_eq!(
        pump["vertical_data"]["kw"], 4,
        "the webhook's value: {pump}"
    );
    assert_eq!(hook["entity_ids"][0], pump["id"], "the same entity");
}
