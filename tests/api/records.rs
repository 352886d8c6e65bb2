//! The records/collections dialect (API-RECORDS.md §1–2) over the one store: `/records`,
//! batch and file uploads, `/uploads`, `/collections`, export by collection, the `upload`
//! scope alias and `/chat`.

use serde_json::{json, Value};

use crate::common::{self, Server};

fn create(srv: &Server, tenant: &str, body: &Value) -> Value {
    let r = srv.post("/api/v1/records").tenant(tenant).json(body).send();
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

fn batch(srv: &Server, tenant: &str, path: &str, body: &Value) -> Value {
    let r = srv.post(path).tenant(tenant).json(body).send();
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

#[test]
fn record_crud_speaks_the_records_dialect() {
    let srv = common::start_dev(&[]);
    let rec = create(
        &srv,
        "acme",
        &json!({"collection": "Tools", "record_type": "drill", "name": "Drill X",
                "data": {"watts": 700, "brand": "Bosch"}, "description": "cordless",
                "source_id": "erp-1"}),
    );
    let id = rec["record_id"].as_str().unwrap().to_owned();
    assert_eq!(rec["id"], rec["record_id"]);
    assert_eq!(rec["collection"], "tools");
    assert_eq!(rec["record_type"], "drill");
    assert_eq!(rec["data"], json!({"watts": 700, "brand": "Bosch"}));
    assert_eq!(rec["visibility"], "private");
    assert_eq!(rec["status"], "active");
    assert_eq!(rec["description_llm"], Value::Null);
    assert!(["pending", "indexed"].contains(&rec["indexing_status"].as_str().unwrap()));
    for gone in [
        "vertical",
        "entity_type",
        "vertical_data",
        "embedding_status",
    ] {
        assert!(rec.get(gone).is_none(), "{gone} in {rec}");
    }

    // The same entity, seen through the other dialect.
    let e = srv
        .get(&format!("/api/v1/entities/{id}"))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(e["vertical"], "tools");
    assert_eq!(e["vertical_data"]["watts"], 700);
    assert_eq!(e["visibility"], "private");

    let got = srv
        .get(&format!("/api/v1/records/{id}"))
        .tenant("acme")
        .send();
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json()["name"], "Drill X");

    let listed = srv
        .get("/api/v1/records?collection=tools&limit=5")
        .tenant("acme")
        .send();
    assert_eq!(listed.status, 200, "{}", listed.text);
    let listed = listed.json();
    assert_eq!(listed["records"][0]["record_id"], id.as_str());
    assert_eq!(listed["has_more"], false);
    assert_eq!(listed["cursor"], Value::Null);

    let patched = srv
        .req("PATCH", &format!("/api/v1/records/{id}"))
        .tenant("acme")
        .json(&json!({"name": "Drill Y", "data": {"watts": 750, "brand": null}, "visibility": "public"}))
        .send();
    assert_eq!(patched.status, 200, "{}", patched.text);
    let patched = patched.json();
    assert_eq!(patched["name"], "Drill Y");
    assert_eq!(patched["data"], json!({"watts": 750}));
    assert_eq!(patched["visibility"], "public");

    let bad = srv
        .req("PATCH", &format!("/api/v1/records/{id}"))
        .tenant("acme")
        .json(&json!({"data": 5}))
        .send();
    bad.expect_error(422, "validation_error");
    assert!(
        bad.json()["detail"].as_str().unwrap().starts_with("data:"),
        "{}",
        bad.text
    );

    let archived = srv
        .req("DELETE", &format!("/api/v1/records/{id}"))
        .tenant("acme")
        .send();
    assert_eq!(archived.status, 200, "{}", archived.text);
    assert_eq!(archived.json()["status"], "archived");
    let gone = srv
        .req("DELETE", &format!("/api/v1/records/{id}?permanent=true"))
        .tenant("acme")
        .send();
    assert_eq!(gone.status, 204, "{}", gone.text);
    let missing = srv
        .get(&format!("/api/v1/records/{id}"))
        .tenant("acme")
        .send();
    missing.expect_error(404, "not_found");
    assert_eq!(missing.json()["detail"], "Record not found.");
}

#[test]
fn create_validates_in_the_records_words() {
    let srv = common::start_dev(&[]);
    let r = srv
        .post("/api/v1/records")
        .tenant("acme")
        .json(&json!({"record_type": "drill", "name": "x"}))
        .send();
    r.expect_error(422, "validation_error");
    assert!(r.text.contains("collection"), "{}", r.text);
    assert!(!r.text.contains("vertical"), "{}", r.text);
    let r = srv
        .post("/api/v1/records")
        .tenant("acme")
        .json(
            &json!({"collection": "c", "record_type": "t", "name": "x", "visibility": "everyone"}),
        )
        .send();
    r.expect_error(422, "validation_error");
    assert!(r.text.contains("visibility"), "{}", r.text);
    let r = srv
        .post("/api/v1/records")
        .tenant("acme")
        .json(&json!({"collection": "c", "record_type": "t", "name": "x", "data": {}, "collection_data": {}}))
        .send();
    r.expect_error(422, "validation_error");
}

#[test]
fn bulk_update_delete_and_visibility() {
    let srv = common::start_dev(&[]);
    let ids: Vec<String> = (0..3)
        .map(|i| {
            create(
                &srv,
                "acme",
                &json!({"collection": "c", "record_type": "t", "name": format!("r{i}")}),
            )["record_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();

    let r = srv
        .req("PATCH", "/api/v1/records/bulk")
        .tenant("acme")
        .json(&json!({"record_ids": [ids[0], ids[1]], "data": {"tag": "x"}, "status": "draft"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let records = r.json()["records"].as_array().unwrap().clone();
    assert_eq!(records.len(), 2);
    assert!(records
        .iter()
        .all(|r| r["data"]["tag"] == "x" && r["status"] == "draft"));
    let r = srv
        .req("PATCH", "/api/v1/records/bulk")
        .tenant("acme")
        .json(&json!({"data": {"tag": "x"}}))
        .send();
    r.expect_error(422, "validation_error");

    let r = srv
        .post("/api/v1/records/bulk-visibility")
        .tenant("acme")
        .json(&json!({"record_ids": ids, "visibility": "public"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["updated"], 3);
    let r = srv
        .req("PATCH", &format!("/api/v1/records/{}/visibility", ids[2]))
        .tenant("acme")
        .json(&json!({"visibility": "private"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["visibility"], "private");
    srv.req("PATCH", &format!("/api/v1/records/{}/visibility", ids[2]))
        .tenant("acme")
        .json(&json!({"visibility": "secret"}))
        .send()
        .expect_error(422, "validation_error");

    let r = srv
        .post("/api/v1/records/bulk-delete")
        .tenant("acme")
        .json(&json!({"record_ids": ids}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["archived"], 3);
}

#[test]
fn visibility_defaults_to_private_then_to_the_collections_default() {
    let srv = common::start_dev(&[]);
    let plain = create(
        &srv,
        "acme",
        &json!({"collection": "c", "record_type": "t", "name": "a"}),
    );
    assert_eq!(plain["visibility"], "private");
    let explicit = create(
        &srv,
        "acme",
        &json!({"collection": "c", "record_type": "t", "name": "b", "visibility": "public"}),
    );
    assert_eq!(explicit["visibility"], "public");

    let r = srv
        .req("PATCH", "/api/v1/collections/c")
        .tenant("acme")
        .json(&json!({"default_visibility": "public"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let later = create(
        &srv,
        "acme",
        &json!({"collection": "c", "record_type": "t", "name": "c"}),
    );
    assert_eq!(later["visibility"], "public");
    let up = batch(
        &srv,
        "acme",
        "/api/v1/ingest/batch/c/t",
        &json!([{"name": "d", "source_id": "d", "visibility": "private", "size": 1},
                {"name": "d2", "size": 2},
                {"name": "d3", "visibility": "everyone"}]),
    );
    let get = |id: &Value| {
        srv.get(&format!("/api/v1/records/{}", id.as_str().unwrap()))
            .tenant("acme")
            .send()
            .json()
    };
    // A batch record's `visibility` is its own, not data; without one a new record takes the
    // collection's default; anything but public or private rejects the record.
    let rec = get(&up["record_ids"][0]);
    assert_eq!(rec["visibility"], "private", "{rec}");
    assert_eq!(rec["data"], json!({"size": 1}));
    assert_eq!(get(&up["record_ids"][1])["visibility"], "public");
    assert_eq!(up["summary"]["rejected"], 1, "{up}");
    assert_eq!(up["errors"][0]["field"], "visibility", "{up}");
    // Publishing by re-ingesting the same content under its source id is an update, not a
    // duplicate.
    let again = batch(
        &srv,
        "acme",
        "/api/v1/upload/c/t/batch",
        &json!([{"name": "d", "source_id": "d", "visibility": "public", "size": 1}]),
    );
    assert_eq!(again["summary"]["dedup_skipped"], 0, "{again}");
    assert_eq!(get(&again["record_ids"][0])["visibility"], "public");
    // The same content with no visibility is a duplicate and keeps it.
    let same = batch(
        &srv,
        "acme",
        "/api/v1/upload/c/t/batch",
        &json!([{"name": "d", "source_id": "d", "size": 1}]),
    );
    assert_eq!(same["summary"]["dedup_skipped"], 1, "{same}");
    assert_eq!(get(&same["record_ids"][0])["visibility"], "public");
    // In the entities dialect a flat `visibility` is a catalog column, as before.
    let r = srv
        .post("/api/v1/ingest/c/t/batch")
        .tenant("acme")
        .json(&json!({"records": [{"name": "col", "visibility": "internal"}]}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let e = srv
        .get(&format!(
            "/api/v1/entities/{}",
            r.json()["entity_ids"][0].as_str().unwrap()
        ))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(e["vertical_data"]["visibility"], "internal", "{e}");

    let r = srv
        .req("PATCH", "/api/v1/collections/c/default-visibility")
        .tenant("acme")
        .json(&json!({"default_visibility": "private"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["default_visibility"], "private");
    let last = create(
        &srv,
        "acme",
        &json!({"collection": "c", "record_type": "t", "name": "e"}),
    );
    assert_eq!(last["visibility"], "private");
    // Other collections keep the plain default.
    let other = create(
        &srv,
        "acme",
        &json!({"collection": "d", "record_type": "t", "name": "f"}),
    );
    assert_eq!(other["visibility"], "private");
}

#[test]
fn batch_answers_201_with_upload_id_and_summary_and_keeps_a_dlq() {
    let srv = common::start_dev(&[]);
    let body = json!([
        {"name": "Red Widget", "color": "red", "weight_kg": 1.2},
        {"name": "Blue Widget", "collection_data": {"color": "blue"}, "status": "draft", "source_id": "B-7",
         "source_url": "https://erp.example/items/7", "source_name": "ERP", "source_type": "x"},
        {"color": "nameless"},
    ]);
    let up = batch(&srv, "acme", "/api/v1/ingest/batch/widgets/widget", &body);
    assert!(up["upload_id"].is_string(), "{up}");
    assert_eq!(up["status"], "partial");
    assert_eq!(
        up["summary"],
        json!({"submitted": 3, "accepted": 2, "rejected": 1, "dedup_skipped": 0,
               "created": 2, "updated": 0})
    );
    assert_eq!(up["errors"][0]["row"], 2);
    assert!(up["metadata"]["file_hash"].is_string());
    assert!(up["metadata"]["processing_time_ms"].is_number());
    let blue = up["record_ids"][1].as_str().unwrap();
    let rec = srv
        .get(&format!("/api/v1/records/{blue}"))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(rec["data"], json!({"color": "blue"}));
    // A record's own status and source are kept; its source type is the route's.
    assert_eq!(rec["status"], "draft");
    assert_eq!(rec["source_url"], "https://erp.example/items/7");
    assert_eq!(rec["source_name"], "ERP");
    assert_eq!(rec["source_type"], "batch");
    // Drafts are not searchable.
    let found = srv
        .post("/api/v1/search/widgets")
        .tenant("acme")
        .json(&json!({"query": "blue widget"}))
        .send()
        .json();
    assert!(
        !found.to_string().contains("Blue Widget"),
        "a draft was found: {found}"
    );
    // Sent again as it is, it is a duplicate; without its status, it becomes active.
    let same = batch(
        &srv,
        "acme",
        "/api/v1/ingest/batch/widgets/widget",
        &json!([body[1]]),
    );
    assert_eq!(same["summary"]["dedup_skipped"], 1, "{same}");
    let active = batch(
        &srv,
        "acme",
        "/api/v1/ingest/batch/widgets/widget",
        &json!([{"name": "Blue Widget", "collection_data": {"color": "blue"}, "source_id": "B-7"}]),
    );
    assert_eq!(active["summary"]["updated"], 1, "{active}");
    let rec = srv
        .get(&format!("/api/v1/records/{blue}"))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(rec["status"], "active");
    assert_eq!(
        rec["source_url"], "https://erp.example/items/7",
        "kept when not given"
    );
    let bad = srv
        .post("/api/v1/ingest/batch/widgets/widget")
        .tenant("acme")
        .json(&json!([{"name": "W", "status": "gone"}]))
        .send()
        .json();
    assert_eq!(bad["summary"]["rejected"], 1, "{bad}");
    assert_eq!(bad["errors"][0]["field"], "status", "{bad}");

    // The other path form, with the `{records: [...]}` body: the same records are duplicates.
    let again = batch(
        &srv,
        "acme",
        "/api/v1/upload/widgets/widget/batch",
        &json!({"records": [{"name": "Red Widget", "color": "red", "weight_kg": 1.2}]}),
    );
    assert_eq!(again["status"], "complete");
    assert_eq!(again["summary"]["dedup_skipped"], 1);

    let id = up["upload_id"].as_str().unwrap();
    let got = srv
        .get(&format!("/api/v1/uploads/{id}"))
        .tenant("acme")
        .send();
    assert_eq!(got.status, 200, "{}", got.text);
    let got = got.json();
    assert_eq!(got["upload_id"], id);
    assert_eq!(got["collection"], "widgets");
    assert_eq!(got["record_type"], "widget");
    assert_eq!(got["status"], "partial");
    assert_eq!(got["summary"]["rejected"], 1);
    assert!(got["created_at"].as_str().unwrap().ends_with('Z'));

    let dlq = srv
        .get(&format!("/api/v1/uploads/{id}/dlq"))
        .tenant("acme")
        .send();
    assert_eq!(dlq.status, 200, "{}", dlq.text);
    let dlq = dlq.json();
    assert_eq!(dlq["upload_id"], id);
    assert_eq!(dlq["entries"].as_array().unwrap().len(), 1);
    assert_eq!(dlq["entries"][0]["row"], 2);
    assert_eq!(dlq["entries"][0]["raw"]["color"], "nameless");

    // A wholly rejected batch is still an upload: 201, status failed, its errors listed.
    let failed = batch(
        &srv,
        "acme",
        "/api/v1/ingest/batch/widgets/widget",
        &json!([{"color": "x"}]),
    );
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["summary"]["rejected"], 1);

    // Bad bodies are 4xx, never 500.
    srv.post("/api/v1/ingest/batch/widgets/widget")
        .tenant("acme")
        .json(&json!({"rows": []}))
        .send()
        .expect_error(422, "validation_error");
    srv.post("/api/v1/ingest/batch/widgets/widget")
        .tenant("acme")
        .raw(b"[{".to_vec(), "application/json")
        .send()
        .expect_error(400, "bad_request");
    let r = srv
        .post("/api/v1/ingest/batch/Bad%20Name/widget")
        .tenant("acme")
        .json(&json!([{"name": "x"}]))
        .send();
    r.expect_error(422, "validation_error");
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("collection:"),
        "{}",
        r.text
    );
}

#[test]
fn files_upload_under_both_path_forms() {
    let srv = common::start_dev(&[]);
    let csv = b"name,color\nA,red\nB,blue\n";
    for (i, path) in [
        "/api/v1/ingest/upload/files/row",
        "/api/v1/upload/files/row/upload",
        "/api/v1/upload/files/row/file",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("f{i}.csv");
        let r = srv.upload(
            "acme",
            path,
            &[("file", Some(&name), Some("text/csv"), csv)],
        );
        assert_eq!(r.status, 201, "{path}: {}", r.text);
        let r = r.json();
        assert!(r["upload_id"].is_string());
        assert_eq!(r["summary"]["submitted"], 2, "{path}: {r}");
        assert_eq!(
            r["summary"]["accepted"].as_u64().unwrap()
                + r["summary"]["dedup_skipped"].as_u64().unwrap(),
            2
        );
    }
    let r = srv
        .post("/api/v1/upload/files/row/stream")
        .tenant("acme")
        .raw(
            b"{\"name\": \"S1\", \"collection_data\": {\"k\": 1}}\nnot json\n".to_vec(),
            "application/x-ndjson",
        )
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["summary"]["accepted"], 1);
    assert_eq!(r.json()["summary"]["rejected"], 1);
    srv.upload(
        "acme",
        "/api/v1/upload/files/row/pdf",
        &[("file", Some("x.pdf"), Some("application/pdf"), b"not a pdf")],
    )
    .expect_error(415, "unsupported_media_type");
}

#[test]
fn the_entities_dialect_wins_where_both_ingest_paths_match() {
    let srv = common::start_dev(&[]);
    // `/ingest/{v}/{t}/batch` (API.md) and `/ingest/batch/{c}/{t}` both match this path.
    let r = srv
        .post("/api/v1/ingest/batch/parts/batch")
        .tenant("acme")
        .json(&json!({"records": [{"name": "x"}]}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["ingestion_id"].is_string());
    // A record type named `batch` is reached through `/upload/{c}/{t}/batch`.
    let up = batch(
        &srv,
        "acme",
        "/api/v1/upload/parts/batch/batch",
        &json!([{"name": "y"}]),
    );
    let id = up["record_ids"][0].as_str().unwrap();
    let rec = srv
        .get(&format!("/api/v1/records/{id}"))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(
        (&rec["collection"], &rec["record_type"]),
        (&json!("parts"), &json!("batch"))
    );
}

#[test]
fn scopes_of_the_records_routes_and_the_upload_alias() {
    let srv = common::start(&[("DEFAULT_PLAN", "enterprise")]);
    srv.create_tenant("acme", "enterprise");
    let search = srv.create_key("acme", &["search"]);
    let entities = srv.create_key("acme", &["entities"]);
    let admin = srv.create_key("acme", &["admin"]);

    let refused: &[(&str, &str, &str)] = &[
        (search.as_str(), "POST", "/api/v1/records"),
        (search.as_str(), "PATCH", "/api/v1/records/bulk"),
        (search.as_str(), "POST", "/api/v1/records/bulk-delete"),
        (search.as_str(), "POST", "/api/v1/records/bulk-visibility"),
        (search.as_str(), "DELETE", "/api/v1/records/0195"),
        (search.as_str(), "POST", "/api/v1/ingest/batch/c/t"),
        (search.as_str(), "POST", "/api/v1/upload/c/t/batch"),
        (entities.as_str(), "GET", "/api/v1/uploads/0195"),
        (entities.as_str(), "GET", "/api/v1/uploads/0195/dlq"),
        (search.as_str(), "PATCH", "/api/v1/collections/c"),
        (entities.as_str(), "GET", "/api/v1/collections"),
        (entities.as_str(), "POST", "/api/v1/chat"),
    ];
    for (key, method, path) in refused {
        srv.req(method, path)
            .bearer(key)
            .json(&json!({}))
            .send()
            .expect_error(403, "insufficient_scope");
    }

    // `upload` is `ingest` by another name, listed back as given.
    let r = srv
        .post("/api/v1/auth/keys")
        .bearer(&admin)
        .json(&json!({"name": "uploader", "scopes": ["upload"]}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["scopes"], json!(["upload"]));
    let uploader = r.json()["key"].as_str().unwrap().to_owned();
    let listed = srv.get("/api/v1/auth/keys").bearer(&admin).send().json();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["scopes"] == json!(["upload"])));
    let r = srv
        .post("/api/v1/ingest/batch/c/t")
        .bearer(&uploader)
        .json(&json!([{"name": "x"}]))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = srv
        .post("/api/v1/ingest/c/t/batch")
        .bearer(&uploader)
        .json(&json!({"records": [{"name": "y"}]}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    srv.post("/api/v1/records")
        .bearer(&uploader)
        .json(&json!({"collection": "c", "record_type": "t", "name": "z"}))
        .send()
        .expect_error(403, "insufficient_scope");
    srv.post("/api/v1/auth/keys")
        .bearer(&admin)
        .json(&json!({"name": "typo", "scopes": ["uploads"]}))
        .send()
        .expect_error(422, "validation_error");

    // And what the scopes allow.
    let r = srv
        .post("/api/v1/records")
        .bearer(&entities)
        .json(&json!({"collection": "c", "record_type": "t", "name": "ok"}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = srv.get("/api/v1/collections").bearer(&search).send();
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn ids_of_other_tenants_are_not_found() {
    let srv = common::start_dev(&[]);
    let rec = create(
        &srv,
        "acme",
        &json!({"collection": "c", "record_type": "t", "name": "mine"}),
    );
    let id = rec["record_id"].as_str().unwrap();
    let up = batch(
        &srv,
        "acme",
        "/api/v1/ingest/batch/c/t",
        &json!([{"name": "a"}, {"no": "name"}]),
    );
    let upload = up["upload_id"].as_str().unwrap();

    for (method, path, body) in [
        ("GET", format!("/api/v1/records/{id}"), None),
        (
            "PATCH",
            format!("/api/v1/records/{id}"),
            Some(json!({"name": "theirs"})),
        ),
        ("DELETE", format!("/api/v1/records/{id}"), None),
        (
            "DELETE",
            format!("/api/v1/records/{id}?permanent=true"),
            None,
        ),
        (
            "PATCH",
            format!("/api/v1/records/{id}/visibility"),
            Some(json!({"visibility": "public"})),
        ),
        ("GET", format!("/api/v1/uploads/{upload}"), None),
        ("GET", format!("/api/v1/uploads/{upload}/dlq"), None),
        ("GET", "/api/v1/uploads/not-an-id".to_owned(), None),
    ] {
        let mut r = srv.req(method, &path).tenant("evil");
        if let Some(b) = &body {
            r = r.json(b);
        }
        r.send().expect_error(404, "not_found");
    }
    let r = srv
        .post("/api/v1/records/bulk-delete")
        .tenant("evil")
        .json(&json!({"record_ids": [id]}))
        .send();
    assert_eq!(r.json()["archived"], 0, "{}", r.text);
    let r = srv
        .post("/api/v1/records/bulk-visibility")
        .tenant("evil")
        .json(&json!({"record_ids": [id], "visibility": "public"}))
        .send();
    assert_eq!(r.json()["updated"], 0, "{}", r.text);
    let r = srv
        .req("PATCH", "/api/v1/records/bulk")
        .tenant("evil")
        .json(&json!({"record_ids": [id], "name": "theirs"}))
        .send();
    assert_eq!(r.json()["records"], json!([]), "{}", r.text);
    srv.req("PATCH", "/api/v1/collections/c")
        .tenant("evil")
        .json(&json!({"description": "theirs"}))
        .send()
        .expect_error(404, "not_found");
    let listed = srv.get("/api/v1/records").tenant("evil").send().json();
    assert_eq!(listed["records"], json!([]));

    let mine = srv
        .get(&format!("/api/v1/records/{id}"))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(mine["name"], "mine");
    assert_eq!(mine["visibility"], "private");
}

#[test]
fn collections_list_and_metadata_survive_a_restart() {
    let mut srv = common::start_dev(&[]);
    batch(
        &srv,
        "acme",
        "/api/v1/ingest/batch/tools/drill",
        &json!([{"name": "a"}, {"name": "b"}]),
    );
    create(
        &srv,
        "acme",
        &json!({"collection": "tools", "record_type": "saw", "name": "c"}),
    );
    let r = srv.get("/api/v1/collections").tenant("acme").send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["collections"],
        json!([{"collection": "tools", "description": null, "category": null,
                "record_types": ["drill", "saw"], "record_count": 3, "has_schema": false,
                "default_visibility": "private"}])
    );

    srv.req("PATCH", "/api/v1/collections/nothing-here")
        .tenant("acme")
        .json(&json!({"description": "x"}))
        .send()
        .expect_error(404, "not_found");
    for bad in [
        json!({"colour": "red"}),
        json!({}),
        json!({"default_visibility": "everyone"}),
        json!({"description": 5}),
    ] {
        srv.req("PATCH", "/api/v1/collections/tools")
            .tenant("acme")
            .json(&bad)
            .send()
            .expect_error(422, "validation_error");
    }
    srv.req("PATCH", "/api/v1/collections/tools/default-visibility")
        .tenant("acme")
        .json(&json!({"description": "x"}))
        .send()
        .expect_error(422, "validation_error");

    let r = srv
        .req("PATCH", "/api/v1/collections/Tools")
        .tenant("acme")
        .json(
            &json!({"description": "Power tools", "category": "hardware",
                      "default_visibility": "public"}),
        )
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let view = r.json();
    assert_eq!(view["collection"], "tools");
    assert_eq!(view["description"], "Power tools");
    assert_eq!(view["record_count"], 3);
    let r = srv
        .req("PATCH", "/api/v1/collections/tools")
        .tenant("acme")
        .json(&json!({"category": null}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["category"], Value::Null);
    assert_eq!(r.json()["description"], "Power tools");

    assert!(srv.terminate().success());
    let srv = srv.restart();
    let cols = srv.get("/api/v1/collections").tenant("acme").send().json();
    let tools = &cols["collections"][0];
    assert_eq!(tools["description"], "Power tools");
    assert_eq!(tools["category"], Value::Null);
    assert_eq!(tools["default_visibility"], "public");
    // Another tenant sees none of it.
    let theirs = srv.get("/api/v1/collections").tenant("other").send().json();
    assert_eq!(theirs["collections"], json!([]));
}

#[test]
fn a_record_can_be_queued_for_reindexing() {
    let srv = common::start_dev(&[]);
    let rec = create(
        &srv,
        "acme",
        &json!({"collection": "c", "record_type": "t", "name": "x"}),
    );
    let id = rec["record_id"].as_str().unwrap();
    let r = srv
        .post(&format!("/api/v1/admin/reindex/record/{id}"))
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["record_id"], id);
    assert_eq!(r.json()["status"], "pending");
    let r = srv
        .post(&format!("/api/v1/admin/reindex/record/{id}"))
        .tenant("evil")
        .send();
    r.expect_error(404, "not_found");
    assert_eq!(r.json()["detail"], "Record not found.");
}

#[test]
fn chat_is_not_implemented() {
    let srv = common::start_dev(&[]);
    let r = srv
        .post("/api/v1/chat")
        .tenant("acme")
        .json(&json!({"message": "hello"}))
        .send();
    r.expect_error(501, "not_implemented");
    assert_eq!(
        r.json()["detail"],
        "chat needs a language model; this server has none configured"
    );
}

#[test]
fn export_selects_by_collection() {
    let srv = common::start_dev(&[]);
    batch(
        &srv,
        "acme",
        "/api/v1/ingest/batch/keep/t",
        &json!([{"name": "in"}]),
    );
    batch(
        &srv,
        "acme",
        "/api/v1/ingest/batch/skip/t",
        &json!([{"name": "out"}]),
    );
    let r = srv
        .get("/api/v1/export?collection=keep&record_type=t&format=ndjson")
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text.lines().count(), 1, "{}", r.text);
    assert!(r.text.contains("\"in\""));
    srv.get("/api/v1/export?collection=keep&vertical=skip")
        .tenant("acme")
        .send()
        .expect_error(422, "validation_error");
}
