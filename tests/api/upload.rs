//! `POST /ingest/{vertical}/{type}/upload`: CSV, JSON array and NDJSON files.

use serde_json::{json, Value};

use crate::common::{self, Part, Server, BOUNDARY};

fn upload(srv: &Server, parts: &[Part<'_>]) -> common::Resp {
    srv.upload("acme", "/api/v1/ingest/parts/item/upload", parts)
}

const CSV: &[u8] = b"\xEF\xBB\xBFTitle;source_id;part_number;price_eur;in_stock;notes\n\
\"Hex bolt; M8\";b1;SS-M8-40-A2;0.42;true;\"quoted \"\"note\"\"\nover two lines\"\n\
Hex nut M8;n1;SS-NUT-M8;0.05;false;\n\
ragged;row\n";

#[test]
fn csv_upload_stores_typed_rows_and_reports_ragged_ones() {
    let srv = common::start_dev(&[]);
    let r = upload(
        &srv,
        &[
            ("name_column", None, None, b"title"),
            (
                "file",
                Some("../../uploads/catalog.csv"),
                Some("text/csv"),
                CSV,
            ),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (
            v["accepted"].clone(),
            v["rejected"].clone(),
            v["status"].clone()
        ),
        (json!(2), json!(1), json!("partial"))
    );
    assert_eq!(v["errors"][0]["row"], 2);
    assert_eq!(v["errors"][0]["error_type"], "ragged_row");

    let bolt = srv
        .get(&format!(
            "/api/v1/entities/{}",
            v["entity_ids"][0].as_str().unwrap()
        ))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(bolt["name"], "Hex bolt; M8");
    assert_eq!(bolt["source_id"], "b1");
    assert_eq!(bolt["source_type"], "csv");
    assert_eq!(
        bolt["vertical_data"],
        json!({"part_number": "SS-M8-40-A2", "price_eur": 0.42, "in_stock": true, "notes": "quoted \"note\"\nover two lines"})
    );

    let ing = srv
        .get(&format!(
            "/api/v1/ingestions/{}",
            v["ingestion_id"].as_str().unwrap()
        ))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(
        ing["file_name"], "catalog.csv",
        "no path from the client's file name"
    );
    assert_eq!(ing["file_size"], CSV.len());
    let dlq = srv
        .get(&format!(
            "/api/v1/ingestions/{}/errors",
            ing["id"].as_str().unwrap()
        ))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(dlq["entries"][0]["raw"], json!(["ragged", "row"]));

    srv.wait_indexed("acme", v["entity_ids"].as_array().unwrap());
    let hits = srv
        .search("acme", "parts", &json!({"query": "ss-m8-40-a2"}))
        .json();
    assert_eq!(hits["results"][0]["name"], "Hex bolt; M8");
    let cheap = srv
        .search(
            "acme",
            "parts",
            &json!({"filters": {"price_eur_max": 0.1, "in_stock": false}}),
        )
        .json();
    assert_eq!(cheap["results"][0]["name"], "Hex nut M8");
}

#[test]
fn re_uploading_is_idempotent_and_a_changed_row_updates_its_entity() {
    let srv = common::start_dev(&[]);
    let file = b"name,source_id,price\nGear A,g1,10\nGear B,g2,20\n";
    let first = upload(&srv, &[("file", Some("gears.csv"), None, file)]).json();
    assert_eq!(first["accepted"], 2);
    let again = upload(&srv, &[("file", Some("gears.csv"), None, file)]).json();
    assert_eq!(
        (again["accepted"].clone(), again["duplicate_count"].clone()),
        (json!(0), json!(2))
    );
    let changed = upload(
        &srv,
        &[(
            "file",
            Some("gears.csv"),
            None,
            b"name,source_id,price\nGear A,g1,10\nGear B,g2,25\n",
        )],
    )
    .json();
    assert_eq!(
        (
            changed["accepted"].clone(),
            changed["duplicate_count"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_eq!(changed["entity_ids"], first["entity_ids"]);
    let b = srv
        .get(&format!(
            "/api/v1/entities/{}",
            first["entity_ids"][1].as_str().unwrap()
        ))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(b["vertical_data"]["price"], 25);
}

#[test]
fn json_array_and_ndjson_files() {
    let srv = common::start_dev(&[]);
    let arr = json!([{"name": "Array seal", "material": "FKM"}, {"nome": "no name"}]).to_string();
    let r = upload(
        &srv,
        &[(
            "file",
            Some("seals.json"),
            Some("application/json"),
            arr.as_bytes(),
        )],
    )
    .json();
    assert_eq!(
        (r["accepted"].clone(), r["rejected"].clone()),
        (json!(1), json!(1))
    );
    let nd = b"{\"name\": \"Line seal\"}\n{oops\n\n{\"name\": \"Line ring\"}\n";
    let r = upload(&srv, &[("file", Some("seals.ndjson"), None, nd)]).json();
    assert_eq!(
        (r["accepted"].clone(), r["rejected"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(r["errors"][0]["error_type"], "invalid_json");
    assert_eq!(r["errors"][0]["row"], 1);
}

#[test]
fn bad_uploads_get_clear_4xx() {
    let srv = common::start_dev(&[]);
    let url = "/api/v1/ingest/parts/item/upload";
    srv.post(url)
        .tenant("acme")
        .json(&json!({"records": []}))
        .send()
        .expect_error(415, "unsupported_media_type");
    upload(&srv, &[("name_column", None, None, b"name")]).expect_error(422, "validation_error");
    upload(&srv, &[("file", Some("cat.xml"), None, b"<BMECAT/>")])
        .expect_error(422, "validation_error");
    upload(
        &srv,
        &[(
            "file",
            Some("blob.bin"),
            Some("application/octet-stream"),
            b"\x00\x01",
        )],
    )
    .expect_error(415, "unsupported_media_type");
    upload(
        &srv,
        &[(
            "file",
            Some("x.json"),
            None,
            b"{\"name\": \"not an array\"}",
        )],
    )
    .expect_error(422, "validation_error");
    upload(&srv, &[("file", Some("x.json"), None, b"[{\"name\": ")])
        .expect_error(400, "bad_request");
    upload(
        &srv,
        &[("file", Some("x.csv"), None, b"title,sku\nWidget,W-1\n")],
    )
    .expect_error(422, "validation_error");
    upload(&srv, &[("file", Some("x.csv"), None, b"name\n")]).expect_error(422, "validation_error");
    let broken = srv
        .post(url)
        .tenant("acme")
        .raw(
            b"--nope\r\ngarbage".to_vec(),
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .send();
    assert!(
        (400..500).contains(&broken.status),
        "malformed multipart: {} {}",
        broken.status,
        broken.text
    );
    assert!(
        broken.json()["code"].is_string(),
        "in the API's error shape: {}",
        broken.text
    );
    let r = upload(
        &srv,
        &[(
            "file",
            Some("x.csv"),
            None,
            b"name,size\nOk row,1\n\xff\xfe bad,2\n",
        )],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let v: Value = r.json();
    assert_eq!(
        (v["accepted"].clone(), v["errors"][0]["error_type"].clone()),
        (json!(1), json!("invalid_utf8"))
    );
    let mut big = b"name\n".to_vec();
    big.resize(51 * 1024 * 1024, b'x');
    upload(&srv, &[("file", Some("big.csv"), None, &big)]).expect_error(413, "payload_too_large");
}
