//! `/admin/tenants`: master-key lifecycle and what tenant keys may see.

use serde_json::json;

use crate::common;

#[test]
fn master_creates_lists_updates_and_deletes_tenants() {
    let srv = common::start(&[]);
    let m = srv.master_key();
    let r = srv
        .post("/api/v1/admin/tenants")
        .bearer(&m)
        .json(&json!({"tenant_id": "acme", "name": "Acme GmbH", "plan": "starter"}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    let t = r.json();
    assert_eq!(t["tenant_id"], "acme");
    assert_eq!(t["name"], "Acme GmbH");
    assert_eq!(t["plan"], "starter");
    assert_eq!(t["status"], "active");
    assert_eq!(t["entity_count"], 0);
    assert_eq!(t["verticals"], json!([]));

    srv.post("/api/v1/admin/tenants")
        .bearer(&m)
        .json(&json!({"tenant_id": "acme"}))
        .send()
        .expect_error(409, "conflict");
    let r = srv
        .post("/api/v1/admin/tenants")
        .bearer(&m)
        .json(&json!({"tenant_id": "beta"}))
        .send();
    assert_eq!(r.json()["plan"], "free", "DEFAULT_PLAN applies");
    for bad in [
        json!({"tenant_id": "has space"}),
        json!({"tenant_id": ""}),
        json!({"tenant_id": "x", "plan": "platinum"}),
        json!({"tenant_id": "x", "extra": true}),
        json!({"name": "no id"}),
    ] {
        srv.post("/api/v1/admin/tenants")
            .bearer(&m)
            .json(&bad)
            .send()
            .expect_error(422, "validation_error");
    }

    let all = srv.get("/api/v1/admin/tenants").bearer(&m).send().json();
    let ids: Vec<_> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant_id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("acme"), json!("beta")]);
    assert_eq!(
        srv.get("/api/v1/admin/tenants/beta")
            .bearer(&m)
            .send()
            .json()["tenant_id"],
        "beta"
    );

    let r = srv
        .req("PATCH", "/api/v1/admin/tenants/beta")
        .bearer(&m)
        .json(&json!({"name": "Beta AG", "plan": "enterprise"}))
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.json()["name"].clone(), r.json()["plan"].clone()),
        (json!("Beta AG"), json!("enterprise"))
    );
    srv.req("PATCH", "/api/v1/admin/tenants/beta")
        .bearer(&m)
        .json(&json!({"status": "frozen"}))
        .send()
        .expect_error(422, "validation_error");
    srv.req("PATCH", "/api/v1/admin/tenants/ghost")
        .bearer(&m)
        .json(&json!({"name": "x"}))
        .send()
        .expect_error(404, "not_found");
    srv.get("/api/v1/admin/tenants/ghost")
        .bearer(&m)
        .send()
        .expect_error(404, "not_found");
}

#[test]
fn deleting_a_tenant_removes_its_keys_and_nothing_else() {
    let srv = common::start(&[]);
    let m = srv.master_key();
    srv.create_tenant("doomed", "pro");
    srv.create_tenant("kept", "pro");
    let doomed = srv.create_key("doomed", &["admin"]);
    let kept = srv.create_key("kept", &["admin"]);
    let r = srv
        .req("DELETE", "/api/v1/admin/tenants/doomed")
        .bearer(&m)
        .send();
    assert_eq!(r.status, 204);
    srv.get("/api/v1/auth/me")
        .bearer(&doomed)
        .send()
        .expect_error(401, "invalid_api_key");
    assert_eq!(srv.get("/api/v1/auth/me").bearer(&kept).send().status, 200);
    srv.req("DELETE", "/api/v1/admin/tenants/doomed")
        .bearer(&m)
        .send()
        .expect_error(404, "not_found");
    // The id is free again and starts with no keys.
    srv.create_tenant("doomed", "pro");
    let keys = srv
        .get("/api/v1/auth/keys")
        .bearer(&m)
        .tenant("doomed")
        .send()
        .json();
    assert_eq!(keys, json!([]));
}

#[test]
fn tenant_keys_see_only_their_own_tenant() {
    let srv = common::start(&[]);
    srv.create_tenant("acme", "pro");
    srv.create_tenant("rival", "pro");
    let key = srv.create_key("acme", &["admin"]);
    let list = srv.get("/api/v1/admin/tenants").bearer(&key).send().json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["tenant_id"], "acme");
    assert_eq!(
        srv.get("/api/v1/admin/tenants/acme")
            .bearer(&key)
            .send()
            .status,
        200
    );
    srv.get("/api/v1/admin/tenants/rival")
        .bearer(&key)
        .send()
        .expect_error(404, "not_found");
}

#[test]
fn tenant_views_count_entities_and_list_verticals() {
    let srv = common::start_dev(&[]);
    srv.ingest(
        "acme",
        "tools",
        "drill",
        &json!({"records": [{"name": "Drill"}]}),
    );
    srv.ingest(
        "acme",
        "parts",
        "bolt",
        &json!({"records": [{"name": "Bolt"}, {"name": "Nut"}]}),
    );
    srv.ingest(
        "rival",
        "parts",
        "bolt",
        &json!({"records": [{"name": "Other"}]}),
    );
    let t = srv
        .get("/api/v1/admin/tenants/acme")
        .tenant("acme")
        .send()
        .json();
    assert_eq!(t["entity_count"], 3);
    assert_eq!(t["verticals"], json!(["parts", "tools"]));
    let all = srv
        .get("/api/v1/admin/tenants")
        .bearer(&srv.master_key())
        .send()
        .json();
    let rival = all
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant_id"] == "rival")
        .unwrap()
        .clone();
    assert_eq!(rival["entity_count"], 1);
}

#[test]
fn deleting_a_tenant_removes_its_entities_and_search_documents_only() {
    let srv = common::start_dev(&[]);
    let m = srv.master_key();
    let doomed = srv.ingest(
        "doomed",
        "parts",
        "item",
        &json!({"records": [{"name": "Vanishing sprocket"}]}),
    );
    let kept = srv.ingest(
        "kept",
        "parts",
        "item",
        &json!({"records": [{"name": "Vanishing sprocket twin"}]}),
    );
    srv.wait_indexed("doomed", doomed["entity_ids"].as_array().unwrap());
    srv.wait_indexed("kept", kept["entity_ids"].as_array().unwrap());
    for t in ["doomed", "kept"] {
        let r = srv
            .post("/api/v1/schemas")
            .tenant(t)
            .json(&json!({"vertical": "parts", "entity_type": "item", "schema": {}}))
            .send();
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let usage = |t: &str| srv.get("/api/v1/usage").tenant(t).send().json()["usage"].clone();
    assert_eq!(usage("doomed")["ingested_records"], 1);

    let r = srv
        .req("DELETE", "/api/v1/admin/tenants/doomed")
        .bearer(&m)
        .send();
    assert_eq!(r.status, 204, "{}", r.text);

    // Development mode re-creates the tenant on first use: it starts empty.
    assert_eq!(
        srv.get("/api/v1/entities?status=all")
            .tenant("doomed")
            .send()
            .json()["items"],
        json!([])
    );
    assert_eq!(
        srv.search_names("doomed", &json!({"query": "sprocket"})),
        Vec::<String>::new()
    );
    // Counted by the index itself (hydration would hide stale documents from results).
    let count = srv
        .search(
            "doomed",
            "parts",
            &json!({"filters": {"entity_type": "item"}}),
        )
        .json();
    assert_eq!(
        count["metadata"]["total_estimate"], 0,
        "index documents removed: {count}"
    );
    srv.get(&format!(
        "/api/v1/ingestions/{}",
        doomed["ingestion_id"].as_str().unwrap()
    ))
    .tenant("doomed")
    .send()
    .expect_error(404, "not_found");
    assert_eq!(
        srv.search_names("kept", &json!({"query": "sprocket"})),
        vec!["Vanishing sprocket twin"]
    );
    // Schemas and usage go too; the other tenant's stay.
    assert_eq!(
        srv.get("/api/v1/schemas").tenant("doomed").send().json(),
        json!([])
    );
    assert_eq!(
        srv.get("/api/v1/schemas")
            .tenant("kept")
            .send()
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(usage("doomed")["ingested_records"], 0);
    assert_eq!(usage("kept")["ingested_records"], 1);
    // Also on disk: after a restart the deleted tenant's counts do not come back.
    let mut srv = srv;
    assert!(srv.terminate().success());
    let srv = srv.restart();
    let after = srv.get("/api/v1/usage").tenant("doomed").send().json();
    assert_eq!(after["usage"]["ingested_records"], 0, "{after}");
    let kept_after = srv.get("/api/v1/usage").tenant("kept").send().json();
    assert_eq!(kept_after["usage"]["ingested_records"], 1, "{kept_after}");
}
