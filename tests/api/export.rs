//! `GET /export`: streamed json, ndjson and csv, filters, and export → upload round trips.

use serde_json::{json, Value};

use crate::common::{self, Server};

fn export(srv: &Server, tenant: &str, query: &str) -> common::Resp {
    srv.get(&format!("/api/v1/export?{query}"))
        .tenant(tenant)
        .send()
}

/// What a round trip must keep: name, source_id, description and vertical_data, by source id.
fn content(entities: &[Value]) -> Vec<Value> {
    let mut v: Vec<Value> = entities
        .iter()
        .map(|e| {
            json!({"name": e["name"], "source_id": e["source_id"],
                   "description": e["description"], "vertical_data": e["vertical_data"]})
        })
        .collect();
    v.sort_by_key(|e| e["source_id"].as_str().unwrap_or("").to_owned());
    v
}

fn all_entities(srv: &Server, tenant: &str) -> Vec<Value> {
    let r = export(srv, tenant, "format=json");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json().as_array().unwrap().clone()
}

fn seed(srv: &Server) -> Vec<Value> {
    let r = srv.ingest(
        "src",
        "parts",
        "bolt",
        &json!({"records": [
            {"name": "Hex bolt, \"zinc\"", "source_id": "b1", "description": "Line one\nline two",
             "vertical_data": {"thread": "M8", "length_mm": 40, "price": 0.42, "in_stock": true,
                               "dims": {"head": 13, "unit": "mm"}, "tags": ["din933", "8.8"]}},
            {"name": "Socket screw; ISO 4762", "source_id": "b2",
             "vertical_data": {"thread": "M6", "length_mm": 20, "ean": "04012345000017"}},
            {"name": "Washer", "source_id": "b3", "vertical_data": {"inner_mm": 8.4}}
        ]}),
    );
    assert_eq!(r["accepted"], 3, "{r}");
    srv.ingest(
        "src",
        "tools",
        "drill",
        &json!({"records": [{"name": "Cordless drill", "source_id": "d1", "vertical_data": {"volts": 18}}]}),
    );
    all_entities(srv, "src")
}

#[test]
fn exports_stream_every_format_with_filters() {
    let srv = common::start_dev(&[]);
    let all = seed(&srv);
    assert_eq!(all.len(), 4);
    let r = export(&srv, "src", "");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("transfer-encoding"),
        Some("chunked"),
        "streamed: {:?}",
        r.headers
    );
    assert!(r
        .header("content-disposition")
        .unwrap()
        .contains("attachment"));
    assert_eq!(r.json().as_array().unwrap().len(), 4);

    let nd = export(&srv, "src", "format=ndjson&vertical=parts");
    assert_eq!(nd.header("content-type"), Some("application/x-ndjson"));
    let lines: Vec<Value> = nd
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|e| e["vertical"] == "parts"));

    let csv = export(&srv, "src", "format=csv&vertical=parts&entity_type=bolt");
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let header = csv.text.lines().next().unwrap();
    assert_eq!(
        header,
        "id,vertical,entity_type,name,source_id,description,dims,ean,in_stock,inner_mm,length_mm,price,tags,thread"
    );
    assert_eq!(csv.text.matches("Hex bolt").count(), 1);

    // status filter: archive one.
    let id = all.iter().find(|e| e["source_id"] == "b3").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    srv.req("DELETE", &format!("/api/v1/entities/{id}"))
        .tenant("src")
        .send();
    let archived = export(&srv, "src", "status=archived").json();
    assert_eq!(archived.as_array().unwrap().len(), 1);
    assert_eq!(archived[0]["source_id"], "b3");

    // Other tenants see nothing of it.
    assert_eq!(export(&srv, "rival", "").json(), json!([]));
    assert_eq!(export(&srv, "rival", "format=ndjson").text, "");
    assert_eq!(
        export(&srv, "rival", "format=csv").text.trim(),
        "id,vertical,entity_type,name,source_id,description"
    );

    export(&srv, "src", "format=xml").expect_error(422, "validation_error");
    export(&srv, "src", "status=gone").expect_error(422, "validation_error");
    export(&srv, "src", "vertical=Not%20A%20Slug").expect_error(422, "validation_error");
    export(&srv, "src", "colour=red").expect_error(400, "bad_request");
}

fn round_trip(format: &str, file_name: &str) {
    let srv = common::start_dev(&[]);
    let original = seed(&srv);
    let parts: Vec<Value> = original
        .iter()
        .filter(|e| e["vertical"] == "parts")
        .cloned()
        .collect();
    let file = export(&srv, "src", &format!("format={format}&vertical=parts"));
    assert_eq!(file.status, 200);
    let r = srv.upload(
        "dst",
        "/api/v1/ingest/parts/bolt/upload",
        &[("file", Some(file_name), None, file.text.as_bytes())],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["accepted"], 3, "{}", r.text);
    let copied = all_entities(&srv, "dst");
    assert_eq!(content(&copied), content(&parts), "{format} round trip");
    // Importing the same export again changes nothing.
    let again = srv.upload(
        "dst",
        "/api/v1/ingest/parts/bolt/upload",
        &[("file", Some(file_name), None, file.text.as_bytes())],
    );
    assert_eq!(again.json()["duplicate_count"], 3, "{}", again.text);
}

#[test]
fn json_export_round_trips_through_upload() {
    round_trip("json", "export.json");
}

#[test]
fn ndjson_export_round_trips_through_upload() {
    round_trip("ndjson", "export.ndjson");
}

#[test]
fn csv_export_round_trips_through_upload() {
    round_trip("csv", "export.csv");
}
