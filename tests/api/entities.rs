//! `/entities` (API.md §5).

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, Server};

fn create(srv: &Server, tenant: &str, body: Value) -> Value {
    let r = srv
        .post("/api/v1/entities")
        .tenant(tenant)
        .json(&body)
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[test]
fn create_get_and_become_searchable() {
    let srv = common::start_dev(&[]);
    let e = create(
        &srv,
        "acme",
        json!({
            "name": "Hex bolt M12", "vertical": "Parts", "entity_type": "Bolt",
            "vertical_data": {"thread": "M12", "price": 0.5}, "description": "Zinc plated",
            "source_id": "erp-1", "source_type": "erp", "source_name": "SAP", "source_url": "https://erp.example/1"
        }),
    );
    assert_eq!(e["vertical"], "parts", "lower-cased");
    assert_eq!(e["entity_type"], "bolt");
    assert_eq!(e["status"], "active");
    assert_eq!(e["embedding_status"], "pending");
    assert_eq!(e["tenant_id"], "acme");
    for key in [
        "id",
        "tenant_id",
        "vertical",
        "entity_type",
        "name",
        "description",
        "source_id",
        "source_type",
        "source_name",
        "source_url",
        "status",
        "vertical_data",
        "embedding_status",
        "created_at",
        "updated_at",
    ] {
        assert!(e.get(key).is_some(), "missing {key}");
    }
    srv.wait_indexed("acme", &[e["id"].clone()]);
    let got = srv
        .get(&format!("/api/v1/entities/{}", id(&e)))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(got["embedding_status"], "completed");
    assert_eq!(got["vertical_data"], json!({"thread": "M12", "price": 0.5}));
    assert_eq!(
        srv.search_names("acme", &json!({"query": "M12"})),
        vec!["Hex bolt M12"]
    );
}

#[test]
fn create_validation_and_conflicts() {
    let srv = common::start_dev(&[]);
    let post = |b: Value| srv.post("/api/v1/entities").tenant("acme").json(&b).send();
    for body in [
        json!({"name": "", "vertical": "p", "entity_type": "t"}),
        json!({"name": "x".repeat(501), "vertical": "p", "entity_type": "t"}),
        json!({"name": "x", "vertical": "bad vertical", "entity_type": "t"}),
        json!({"name": "x", "vertical": "p", "entity_type": "t".repeat(65)}),
        json!({"name": "x", "vertical": "p", "entity_type": "t", "status": "deleted"}),
        json!({"name": "x", "vertical": "p", "entity_type": "t", "vertical_data": [1]}),
        json!({"name": "x", "vertical": "p", "entity_type": "t", "vertical_data": {"big": "y".repeat(70_000)}}),
        json!({"name": "x", "vertical": "p", "entity_type": "t", "colour": "red"}),
        json!({"vertical": "p", "entity_type": "t"}),
    ] {
        post(body).expect_error(422, "validation_error");
    }
    assert_eq!(
        post(
            json!({"name": "x".repeat(500), "vertical": "p", "entity_type": "t", "source_id": "s1"})
        )
        .status,
        201
    );
    post(json!({"name": "y", "vertical": "p", "entity_type": "t", "source_id": "s1"}))
        .expect_error(409, "conflict");
    srv.post("/api/v1/entities")
        .tenant("acme")
        .raw(b"{".to_vec(), "application/json")
        .send()
        .expect_error(400, "bad_request");
    srv.post("/api/v1/entities")
        .tenant("acme")
        .raw(b"name=x".to_vec(), "text/plain")
        .send()
        .expect_error(415, "unsupported_media_type");
}

#[test]
fn list_filters_and_cursor_pages_without_skips_or_repeats() {
    let srv = common::start_dev(&[]);
    let mut ids = Vec::new();
    for i in 0..25 {
        let et = if i % 2 == 0 { "even" } else { "odd" };
        ids.push(id(&create(
            &srv,
            "acme",
            json!({"name": format!("Item {i} widget"), "vertical": "parts", "entity_type": et}),
        )));
    }
    create(
        &srv,
        "acme",
        json!({"name": "Tool", "vertical": "tools", "entity_type": "even"}),
    );
    create(
        &srv,
        "acme",
        json!({"name": "Draft widget", "vertical": "parts", "entity_type": "even", "status": "draft"}),
    );

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut concurrent = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("/api/v1/entities?vertical=parts&limit=7&cursor={c}"),
            None => "/api/v1/entities?vertical=parts&limit=7".to_owned(),
        };
        let page = srv.get(&url).tenant("acme").send().json();
        seen.extend(page["items"].as_array().unwrap().iter().map(id));
        // Writes between pages land after the cursor: they appear once, nothing shifts.
        if concurrent < 2 {
            ids.push(id(&create(&srv, "acme", json!({"name": format!("Late {concurrent}"), "vertical": "parts", "entity_type": "odd"}))));
            concurrent += 1;
        }
        if page["has_more"] == false {
            assert_eq!(page["cursor"], Value::Null);
            break;
        }
        cursor = Some(page["cursor"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        seen, ids,
        "every active parts entity once, in creation order"
    );

    let count = |q: &str| {
        srv.get(&format!("/api/v1/entities?{q}&limit=100"))
            .tenant("acme")
            .send()
            .json()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("vertical=parts&entity_type=even"), 13);
    assert_eq!(count("vertical=parts&status=draft"), 1);
    assert_eq!(
        count("q=WIDGET%2012"),
        1,
        "q matches words of the name, ignoring case"
    );
    assert_eq!(count("vertical=tools"), 1);
    assert_eq!(count("status=all"), 29);
    for bad in ["limit=0", "limit=101", "status=gone"] {
        srv.get(&format!("/api/v1/entities?{bad}"))
            .tenant("acme")
            .send()
            .expect_error(422, "validation_error");
    }
    srv.get("/api/v1/entities?cursor=nope")
        .tenant("acme")
        .send()
        .expect_error(400, "bad_request");
    srv.get("/api/v1/entities?limit=x")
        .tenant("acme")
        .send()
        .expect_error(400, "bad_request");
}

#[test]
fn patch_merges_vertical_data_and_requeues() {
    let srv = common::start_dev(&[]);
    let e = create(
        &srv,
        "acme",
        json!({"name": "Bolt", "vertical": "parts", "entity_type": "bolt", "description": "old", "vertical_data": {"a": 1, "b": {"c": 2, "d": 3}, "gone": true}}),
    );
    srv.wait_indexed("acme", &[e["id"].clone()]);
    let r = srv.req("PATCH", &format!("/api/v1/entities/{}", id(&e))).tenant("acme")
        .json(&json!({"name": "Bolt v2", "description": null, "vertical_data": {"a": 5, "b": {"d": null}, "gone": null, "new": "x"}}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let p = r.json();
    assert_eq!(p["name"], "Bolt v2");
    assert_eq!(p["description"], Value::Null);
    assert_eq!(
        p["vertical_data"],
        json!({"a": 5, "b": {"c": 2}, "new": "x"})
    );
    assert_eq!(p["embedding_status"], "pending");
    assert!(p["updated_at"].as_str().unwrap() > e["updated_at"].as_str().unwrap());
    assert_eq!(p["created_at"], e["created_at"]);
    assert!(common::wait_for(Duration::from_secs(2), || srv
        .search_names("acme", &json!({"query": "v2"}))
        == vec!["Bolt v2"]));

    let patch = |b: Value| {
        srv.req("PATCH", &format!("/api/v1/entities/{}", id(&e)))
            .tenant("acme")
            .json(&b)
            .send()
    };
    patch(json!({"name": ""})).expect_error(422, "validation_error");
    patch(json!({"status": "gone"})).expect_error(422, "validation_error");
    patch(json!({"bogus": 1})).expect_error(422, "validation_error");
    patch(json!({"vertical_data": 3})).expect_error(422, "validation_error");
    create(
        &srv,
        "acme",
        json!({"name": "Other", "vertical": "parts", "entity_type": "bolt", "source_id": "taken"}),
    );
    patch(json!({"source_id": "taken"})).expect_error(409, "conflict");
    srv.req(
        "PATCH",
        "/api/v1/entities/00000000-0000-7000-8000-000000000000",
    )
    .tenant("acme")
    .json(&json!({"name": "x"}))
    .send()
    .expect_error(404, "not_found");
}

#[test]
fn soft_and_permanent_delete() {
    let srv = common::start_dev(&[]);
    let e = create(
        &srv,
        "acme",
        json!({"name": "Walrus bracket", "vertical": "parts", "entity_type": "bracket"}),
    );
    srv.wait_indexed("acme", &[e["id"].clone()]);
    let r = srv
        .req("DELETE", &format!("/api/v1/entities/{}", id(&e)))
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "archived");
    assert!(common::wait_for(Duration::from_secs(2), || srv
        .search_names("acme", &json!({"query": "walrus"}))
        .is_empty()));
    let archived = srv
        .get("/api/v1/entities?status=archived")
        .tenant("acme")
        .send()
        .json();
    assert_eq!(archived["items"][0]["id"], e["id"]);

    let r = srv
        .req(
            "DELETE",
            &format!("/api/v1/entities/{}?permanent=true", id(&e)),
        )
        .tenant("acme")
        .send();
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    srv.get(&format!("/api/v1/entities/{}", id(&e)))
        .tenant("acme")
        .send()
        .expect_error(404, "not_found");
    srv.req("DELETE", &format!("/api/v1/entities/{}", id(&e)))
        .tenant("acme")
        .send()
        .expect_error(404, "not_found");
}

#[test]
fn bulk_update_and_bulk_delete() {
    let srv = common::start_dev(&[]);
    let ids: Vec<Value> = (0..3)
        .map(|i| create(&srv, "acme", json!({"name": format!("Gear {i}"), "vertical": "parts", "entity_type": "gear", "vertical_data": {"teeth": 10 + i}}))["id"].clone())
        .collect();
    let foreign = create(
        &srv,
        "rival",
        json!({"name": "Rival gear", "vertical": "parts", "entity_type": "gear"}),
    )["id"]
        .clone();
    let mut targets = ids.clone();
    targets.push(foreign.clone());
    targets.push(json!("not-an-id"));
    let r = srv.req("PATCH", "/api/v1/entities/bulk").tenant("acme")
        .json(&json!({"entity_ids": targets, "update": {"vertical_data": {"module": 2}, "status": "draft"}}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let updated = r.json();
    assert_eq!(
        updated.as_array().unwrap().len(),
        3,
        "foreign and malformed ids are not touched"
    );
    assert!(updated
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["status"] == "draft" && e["vertical_data"]["module"] == 2));
    assert_eq!(
        srv.get(&format!("/api/v1/entities/{}", foreign.as_str().unwrap()))
            .tenant("rival")
            .send()
            .json()["status"],
        "active"
    );

    let r = srv
        .post("/api/v1/entities/bulk-delete")
        .tenant("acme")
        .json(&json!({"entity_ids": targets}))
        .send();
    assert_eq!(r.json(), json!({"archived": 3}));
    let r = srv
        .post("/api/v1/entities/bulk-delete")
        .tenant("acme")
        .json(&json!({"entity_ids": targets}))
        .send();
    assert_eq!(r.json(), json!({"archived": 0}), "already archived");

    let too_many: Vec<String> = (0..1001).map(|_| uuid_like()).collect();
    srv.post("/api/v1/entities/bulk-delete")
        .tenant("acme")
        .json(&json!({"entity_ids": too_many}))
        .send()
        .expect_error(422, "validation_error");
    srv.post("/api/v1/entities/bulk-delete")
        .tenant("acme")
        .json(&json!({"entity_ids": []}))
        .send()
        .expect_error(422, "validation_error");
    srv.req("PATCH", "/api/v1/entities/bulk")
        .tenant("acme")
        .json(&json!({"entity_ids": ids, "update": {"source_id": "x"}}))
        .send()
        .expect_error(422, "validation_error");
    srv.req("PATCH", "/api/v1/entities/bulk")
        .tenant("acme")
        .json(&json!({"entity_ids": ids, "update": {"name": ""}}))
        .send()
        .expect_error(422, "validation_error");
}

fn uuid_like() -> String {
    "0198a1b2-0000-7000-8000-000000000000".to_owned()
}

#[test]
fn other_tenants_entities_behave_as_missing() {
    let srv = common::start_dev(&[]);
    let e = create(
        &srv,
        "acme",
        json!({"name": "Secret part", "vertical": "parts", "entity_type": "x"}),
    );
    let path = format!("/api/v1/entities/{}", id(&e));
    srv.get(&path)
        .tenant("rival")
        .send()
        .expect_error(404, "not_found");
    srv.req("PATCH", &path)
        .tenant("rival")
        .json(&json!({"name": "pwned"}))
        .send()
        .expect_error(404, "not_found");
    srv.req("DELETE", &path)
        .tenant("rival")
        .send()
        .expect_error(404, "not_found");
    srv.req("DELETE", &format!("{path}?permanent=true"))
        .tenant("rival")
        .send()
        .expect_error(404, "not_found");
    assert_eq!(
        srv.get("/api/v1/entities?status=all")
            .tenant("rival")
            .send()
            .json()["items"],
        json!([])
    );
    assert_eq!(
        srv.get(&path).tenant("acme").send().json()["name"],
        "Secret part"
    );
    srv.get("/api/v1/entities/not-a-uuid")
        .tenant("acme")
        .send()
        .expect_error(404, "not_found");
}
