//! `/auth/keys`: create, list, validation and tenant isolation.

use serde_json::json;

use crate::common;

#[test]
fn create_returns_key_once_and_list_never_shows_it() {
    let srv = common::start_dev(&[]);
    let admin = srv.create_key("acme", &["admin"]);
    let r = srv
        .post("/api/v1/auth/keys")
        .bearer(&admin)
        .json(&json!({"name": "etl", "scopes": ["ingest", "search", "ingest"]}))
        .send();
    assert_eq!(r.status, 201);
    let created = r.json();
    assert_eq!(
        created["message"],
        "Store this key securely — it cannot be retrieved again."
    );
    assert_eq!(created["scopes"], json!(["search", "ingest"]));
    assert_eq!(created["expires_at"], json!(null));
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    let key = created["key"].as_str().unwrap();

    srv.get("/api/v1/auth/me").bearer(key).send();
    let listed = srv.get("/api/v1/auth/keys").bearer(&admin).send();
    assert_eq!(listed.status, 200);
    assert!(
        !listed.text.contains(&key[12..]),
        "list must not leak the key"
    );
    let listed = listed.json();
    let items = listed.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["id"], created["id"], "ordered by creation");
    assert_eq!(items[1]["prefix"], &key[..12]);
    assert!(items[1]["last_used_at"].is_string(), "{}", items[1]);
    let fields: Vec<_> = items[1].as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        fields
            .iter()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        [
            "created_at",
            "expires_at",
            "id",
            "last_used_at",
            "name",
            "prefix",
            "scopes"
        ]
        .into_iter()
        .collect()
    );
}

#[test]
fn listing_is_ordered_by_creation() {
    let srv = common::start_dev(&[]);
    let admin = srv.create_key("acme", &["admin"]);
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = srv
            .post("/api/v1/auth/keys")
            .bearer(&admin)
            .json(&json!({"name": format!("k{i}"), "scopes": ["search"]}))
            .send();
        ids.push(r.json()["id"].clone());
    }
    let listed = srv.get("/api/v1/auth/keys").bearer(&admin).send().json();
    let got: Vec<_> = listed.as_array().unwrap()[1..]
        .iter()
        .map(|k| k["id"].clone())
        .collect();
    assert_eq!(got, ids);
}

#[test]
fn create_validation_errors() {
    let srv = common::start_dev(&[]);
    let admin = srv.create_key("acme", &["admin"]);
    let post = |body: serde_json::Value| {
        srv.post("/api/v1/auth/keys")
            .bearer(&admin)
            .json(&body)
            .send()
    };
    for body in [
        json!({"name": "", "scopes": ["search"]}),
        json!({"name": "x".repeat(101), "scopes": ["search"]}),
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["root"]}),
        json!({"name": "x", "scopes": ["search"], "expires_at": "2001-01-01T00:00:00Z"}),
        json!({"name": "x", "scopes": ["search"], "expires_at": "next week"}),
        json!({"name": "x", "scopes": ["search"], "colour": "blue"}),
        json!({"name": 5, "scopes": ["search"]}),
        json!({"scopes": ["search"]}),
        json!({"name": "x", "scopes": "search"}),
    ] {
        post(body.clone()).expect_error(422, "validation_error");
    }
    assert_eq!(
        post(json!({"name": "x".repeat(100), "scopes": ["search"]})).status,
        201
    );
}

#[test]
fn bad_bodies_get_clear_4xx() {
    let srv = common::start_dev(&[]);
    let admin = srv.create_key("acme", &["admin"]);
    let send = |body: Vec<u8>, ct: &str| {
        srv.post("/api/v1/auth/keys")
            .bearer(&admin)
            .raw(body, ct)
            .send()
    };
    send(b"{\"name\": \"x\",".to_vec(), "application/json").expect_error(400, "bad_request");
    send(Vec::new(), "application/json").expect_error(400, "bad_request");
    send(
        b"{\"name\": \"\xff\xfe\", \"scopes\": [\"search\"]}".to_vec(),
        "application/json",
    )
    .expect_error(400, "bad_request");
    send(b"name=x".to_vec(), "application/x-www-form-urlencoded")
        .expect_error(415, "unsupported_media_type");
    let huge = format!(
        "{{\"name\": \"{}\", \"scopes\": [\"search\"]}}",
        "x".repeat(1024 * 1024 + 10)
    );
    send(huge.into_bytes(), "application/json").expect_error(413, "payload_too_large");
    srv.post("/api/v1/auth/keys")
        .bearer(&admin)
        .send()
        .expect_error(415, "unsupported_media_type");
}

#[test]
fn tenants_cannot_see_rotate_or_revoke_each_others_keys() {
    let srv = common::start_dev(&[]);
    let a = srv.create_key("tenant-a", &["admin"]);
    let b = srv.create_key("tenant-b", &["admin"]);
    let b_id = srv.get("/api/v1/auth/me").bearer(&b).send().json()["key_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let a_list = srv.get("/api/v1/auth/keys").bearer(&a).send().json();
    assert!(a_list
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["id"] != b_id.as_str()));
    srv.post(&format!("/api/v1/auth/keys/{b_id}/rotate"))
        .bearer(&a)
        .send()
        .expect_error(404, "not_found");
    srv.req("DELETE", &format!("/api/v1/auth/keys/{b_id}"))
        .bearer(&a)
        .send()
        .expect_error(404, "not_found");
    assert_eq!(srv.get("/api/v1/auth/me").bearer(&b).send().status, 200);
}

#[test]
fn unknown_and_malformed_key_ids_are_404() {
    let srv = common::start_dev(&[]);
    let admin = srv.create_key("acme", &["admin"]);
    for id in ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "%00"] {
        srv.post(&format!("/api/v1/auth/keys/{id}/rotate"))
            .bearer(&admin)
            .send()
            .expect_error(404, "not_found");
        srv.req("DELETE", &format!("/api/v1/auth/keys/{id}"))
            .bearer(&admin)
            .send()
            .expect_error(404, "not_found");
    }
}

#[test]
fn me_reports_plan_scopes_and_both_buckets() {
    let srv = common::start_dev(&[("DEFAULT_PLAN", "free")]);
    let key = srv.create_key("acme", &["search"]);
    let me = srv.get("/api/v1/auth/me").bearer(&key).send();
    let body = me.json();
    assert_eq!(body["plan"], "free");
    assert_eq!(body["scopes"], json!(["search"]));
    assert_eq!(body["rate_limits"]["general"]["limit"], 60);
    assert_eq!(
        body["rate_limits"]["general"]["remaining"], 59,
        "/auth/me counts as one general request"
    );
    assert_eq!(body["rate_limits"]["search"]["limit"], 30);
    assert_eq!(body["rate_limits"]["search"]["remaining"], 30);
    assert_eq!(me.header_u64("x-ratelimit-remaining"), 59);
}
