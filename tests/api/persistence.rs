//! Durability: keys and tenants survive restarts and `kill -9` right after a 2xx.

use serde_json::json;

use crate::common;

#[test]
fn keys_and_tenants_survive_a_graceful_restart_and_the_salt_is_reused() {
    let mut srv = common::start(&[]);
    srv.create_tenant("acme", "starter");
    let key = srv.create_key("acme", &["search"]);
    let salt = std::fs::read(srv.data_dir().join("key.salt")).unwrap();
    let master = srv.master_key();
    let status = srv.terminate();
    assert!(status.success(), "SIGTERM must exit 0: {status:?}");
    assert!(srv.logs().contains("storage flushed"));

    let srv2 = srv.restart();
    assert_eq!(
        std::fs::read(srv2.data_dir().join("key.salt")).unwrap(),
        salt
    );
    assert_eq!(srv2.master_key(), master);
    assert!(srv2.logs().contains("existing"));
    let me = srv2.get("/api/v1/auth/me").bearer(&key).send();
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["plan"], "starter");
    let tenants = srv2
        .get("/api/v1/admin/tenants")
        .bearer(&master)
        .send()
        .json();
    assert_eq!(tenants[0]["tenant_id"], "acme");
}

#[test]
fn writes_acknowledged_before_kill_9_are_kept() {
    let mut srv = common::start_dev(&[]);
    let admin = srv.create_key("acme", &["admin"]);
    let revoked = srv.create_key("acme", &["search"]);
    let rotated = srv
        .post("/api/v1/auth/keys")
        .bearer(&admin)
        .json(&json!({"name": "rot", "scopes": ["ingest"]}))
        .send()
        .json();
    let revoked_id = srv.get("/api/v1/auth/me").bearer(&revoked).send().json()["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        srv.req("DELETE", &format!("/api/v1/auth/keys/{revoked_id}"))
            .bearer(&admin)
            .send()
            .status,
        204
    );
    let new_value = srv
        .post(&format!(
            "/api/v1/auth/keys/{}/rotate",
            rotated["id"].as_str().unwrap()
        ))
        .bearer(&admin)
        .send()
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let fresh = srv
        .post("/api/v1/auth/keys")
        .bearer(&admin)
        .json(&json!({"name": "last", "scopes": ["search"]}))
        .send()
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    srv.kill9();

    let srv2 = srv.restart();
    let ok = |k: &str| srv2.get("/api/v1/auth/me").bearer(k).send().status;
    assert_eq!(ok(&fresh), 200, "key created just before kill -9");
    assert_eq!(ok(&new_value), 200, "rotated value");
    assert_eq!(ok(&admin), 200);
    assert_eq!(ok(&revoked), 401, "revocation is durable");
    assert_eq!(
        ok(rotated["key"].as_str().unwrap()),
        401,
        "rotation is durable"
    );
}

#[test]
fn a_different_salt_invalidates_existing_keys() {
    let mut srv = common::start_dev(&[("API_KEY_SALT", "first salt")]);
    let key = srv.create_key("acme", &["search"]);
    srv.terminate();
    let mut srv2 = srv.restart();
    assert_eq!(srv2.get("/api/v1/auth/me").bearer(&key).send().status, 200);
    srv2.terminate();
    let srv3 = srv2.restart_with(&[("API_KEY_SALT", "other salt")]);
    srv3.get("/api/v1/auth/me")
        .bearer(&key)
        .send()
        .expect_error(401, "invalid_api_key");
}
