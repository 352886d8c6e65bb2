//! Authentication: development seed flow, production mode, malformed/expired/revoked/rotated keys,
//! master key, suspended tenants and the per-IP failure limit.

use serde_json::json;

use crate::common::{self, now_secs, rfc3339};

#[test]
fn dev_mode_seed_flow_creates_tenant_and_key_usable_as_bearer() {
    let srv = common::start_dev(&[("DEFAULT_PLAN", "free")]);
    let r = srv
        .post("/api/v1/auth/keys")
        .tenant("acme")
        .json(&json!({"name": "seed", "scopes": ["search", "ingest"]}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("x-auth-mode"), Some("development"));
    let body = r.json();
    let key = body["key"].as_str().unwrap();
    assert!(key.starts_with("sk_live_") && key.len() == 72);
    assert_eq!(body["scopes"], json!(["search", "ingest"]));

    let me = srv.get("/api/v1/auth/me").bearer(key).send();
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.header("x-auth-mode"), None);
    let me = me.json();
    assert_eq!(me["tenant_id"], "acme");
    assert_eq!(me["key_id"], body["id"]);
    assert_eq!(me["name"], "seed");
    assert_eq!(me["plan"], "free", "dev tenants get DEFAULT_PLAN");
    assert_eq!(me["scopes"], json!(["search", "ingest"]));

    let dev_me = srv.get("/api/v1/auth/me").tenant("acme").send().json();
    assert_eq!(dev_me["key_id"], json!(null));
    assert_eq!(dev_me["name"], json!(null));
    assert_eq!(dev_me["scopes"], json!(["admin"]));
}

#[test]
fn production_treats_a_malformed_tenant_id_without_key_as_unauthenticated() {
    let srv = common::start(&[]);
    for bad in ["bad tenant!", &"a".repeat(65), "acme"] {
        srv.get("/api/v1/auth/me")
            .tenant(bad)
            .send()
            .expect_error(401, "invalid_api_key");
    }
}

#[test]
fn dev_mode_rejects_malformed_tenant_id() {
    let srv = common::start_dev(&[]);
    srv.get("/api/v1/auth/me")
        .tenant("bad tenant!")
        .send()
        .expect_error(400, "bad_request");
    srv.get("/api/v1/auth/me")
        .tenant(&"a".repeat(65))
        .send()
        .expect_error(400, "bad_request");
}

#[test]
fn production_mode_ignores_tenant_header() {
    let srv = common::start(&[]);
    srv.post("/api/v1/auth/keys")
        .tenant("acme")
        .json(&json!({"name": "x", "scopes": ["admin"]}))
        .send()
        .expect_error(401, "invalid_api_key");
    let r = srv.get("/api/v1/auth/me").tenant("acme").send();
    r.expect_error(401, "invalid_api_key");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert!(srv.logs().contains("mode Production"));
    assert!(!srv.logs().contains("DEVELOPMENT MODE"));
}

#[test]
fn authorization_wins_over_tenant_header() {
    let srv = common::start_dev(&[]);
    let key_a = srv.create_key("tenant-a", &["admin"]);
    srv.create_key("tenant-b", &["admin"]);
    let me = srv
        .get("/api/v1/auth/me")
        .bearer(&key_a)
        .tenant("tenant-b")
        .send()
        .json();
    assert_eq!(me["tenant_id"], "tenant-a");
    let keys = srv
        .get("/api/v1/auth/keys")
        .bearer(&key_a)
        .tenant("tenant-b")
        .send()
        .json();
    assert_eq!(keys.as_array().unwrap().len(), 1);
}

#[test]
fn malformed_keys_get_401_without_a_lookup_and_unknown_keys_look_the_same() {
    let srv = common::start_dev(&[]);
    let good = srv.create_key("acme", &["admin"]);
    let hex = &good["sk_live_".len()..];
    let malformed = [
        format!("Bearer sk_test_{hex}"),
        format!("Bearer {}", &good[..71]),
        format!("Bearer {good}0"),
        format!("Bearer sk_live_{}", hex.to_uppercase()),
        format!("Bearer sk_live_{}z", &hex[..63]),
        "Bearer ".to_owned(),
        format!("Bearer  {good}"),
        format!("Basic {good}"),
        good.clone(),
    ];
    let before = srv.metric("qanatix_auth_key_lookups_total");
    let mut bodies = Vec::new();
    for value in &malformed {
        let r = srv
            .get("/api/v1/auth/keys")
            .header("Authorization", value)
            .send();
        r.expect_error(401, "invalid_api_key");
        bodies.push(r.text.clone());
    }
    assert_eq!(
        srv.metric("qanatix_auth_key_lookups_total"),
        before,
        "malformed keys must be refused before any lookup"
    );
    let unknown = format!("sk_live_{}", "0".repeat(64));
    let r = srv.get("/api/v1/auth/keys").bearer(&unknown).send();
    r.expect_error(401, "invalid_api_key");
    assert_eq!(srv.metric("qanatix_auth_key_lookups_total"), before + 1.0);
    assert!(
        bodies.iter().all(|b| *b == r.text),
        "a 401 must not reveal why: {bodies:?} vs {}",
        r.text
    );
    assert_eq!(
        srv.get("/api/v1/auth/keys").bearer(&good).send().status,
        200
    );
}

#[test]
fn missing_credentials_are_401() {
    let srv = common::start(&[]);
    for path in ["/api/v1/auth/keys", "/api/v1/auth/me", "/api/v1/entities"] {
        srv.get(path).send().expect_error(401, "invalid_api_key");
    }
}

#[test]
fn expired_key_is_401_key_expired_and_hidden_from_listing() {
    let srv = common::start_dev(&[]);
    let admin = srv.create_key("acme", &["admin"]);
    let r = srv
        .post("/api/v1/auth/keys")
        .bearer(&admin)
        .json(&json!({"name": "short-lived", "scopes": ["search"], "expires_at": rfc3339(now_secs() + 2)}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    let short = r.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(srv.get("/api/v1/auth/me").bearer(&short).send().status, 200);
    std::thread::sleep(std::time::Duration::from_millis(3100));
    srv.get("/api/v1/auth/me")
        .bearer(&short)
        .send()
        .expect_error(401, "key_expired");

    let active = srv.get("/api/v1/auth/keys").bearer(&admin).send().json();
    let names: Vec<_> = active
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("test key")]);
    let all = srv
        .get("/api/v1/auth/keys?include_expired=true")
        .bearer(&admin)
        .send()
        .json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    srv.get("/api/v1/auth/keys?include_expired=maybe")
        .bearer(&admin)
        .send()
        .expect_error(400, "bad_request");
}

#[test]
fn revoked_key_fails_on_the_very_next_request() {
    let srv = common::start_dev(&[]);
    let admin = srv.create_key("acme", &["admin"]);
    let victim = srv.create_key("acme", &["search"]);
    assert_eq!(
        srv.get("/api/v1/auth/me").bearer(&victim).send().status,
        200
    );
    let id = srv.get("/api/v1/auth/me").bearer(&victim).send().json()["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = srv
        .req("DELETE", &format!("/api/v1/auth/keys/{id}"))
        .bearer(&admin)
        .send();
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    srv.get("/api/v1/auth/me")
        .bearer(&victim)
        .send()
        .expect_error(401, "invalid_api_key");
    srv.req("DELETE", &format!("/api/v1/auth/keys/{id}"))
        .bearer(&admin)
        .send()
        .expect_error(404, "not_found");
}

#[test]
fn rotation_keeps_identity_and_kills_the_old_value_at_once() {
    let srv = common::start_dev(&[]);
    let admin = srv.create_key("acme", &["admin"]);
    let created = srv
        .post("/api/v1/auth/keys")
        .bearer(&admin)
        .json(&json!({"name": "ci", "scopes": ["ingest", "search"], "expires_at": "2999-01-01T00:00:00Z"}))
        .send()
        .json();
    let old = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap();
    // A keep-alive connection that has used the old key before rotation.
    assert_eq!(srv.get("/api/v1/auth/me").bearer(&old).send().status, 200);

    let r = srv
        .post(&format!("/api/v1/auth/keys/{id}/rotate"))
        .bearer(&admin)
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let rotated = r.json();
    assert_eq!(rotated["id"], created["id"]);
    assert_eq!(rotated["name"], "ci");
    assert_eq!(rotated["scopes"], created["scopes"]);
    assert_eq!(rotated["expires_at"], "2999-01-01T00:00:00Z");
    assert_eq!(
        rotated["message"],
        "Old key is now invalid. Update your applications immediately."
    );
    let new = rotated["key"].as_str().unwrap();
    assert_ne!(new, old);

    srv.get("/api/v1/auth/me")
        .bearer(&old)
        .send()
        .expect_error(401, "invalid_api_key");
    let me = srv.get("/api/v1/auth/me").bearer(new).send().json();
    assert_eq!(me["key_id"], created["id"]);
    let listed = srv.get("/api/v1/auth/keys").bearer(&admin).send().json();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created["id"])
        .unwrap()
        .clone();
    assert_eq!(entry["prefix"], &new[..12]);
}

#[test]
fn master_key_acts_for_named_tenant_and_is_not_rate_limited() {
    let srv = common::start(&[]);
    let master = srv.master_key();
    srv.get("/api/v1/auth/keys")
        .bearer(&master)
        .send()
        .expect_error(400, "bad_request");
    srv.get("/api/v1/auth/keys")
        .bearer(&master)
        .tenant("ghost")
        .send()
        .expect_error(404, "not_found");
    srv.create_tenant("acme", "free");
    for _ in 0..70 {
        let r = srv
            .get("/api/v1/auth/keys")
            .bearer(&master)
            .tenant("acme")
            .send();
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("x-ratelimit-limit"), None);
    }
    let wrong = format!("sk_master_{}", "0".repeat(64));
    srv.get("/api/v1/admin/tenants")
        .bearer(&wrong)
        .send()
        .expect_error(401, "invalid_api_key");
}

#[test]
fn suspended_tenant_keys_get_403() {
    let srv = common::start(&[]);
    srv.create_tenant("acme", "pro");
    let key = srv.create_key("acme", &["admin"]);
    let master = srv.master_key();
    let r = srv
        .req("PATCH", "/api/v1/admin/tenants/acme")
        .bearer(&master)
        .json(&json!({"status": "suspended"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "suspended");
    srv.get("/api/v1/auth/me")
        .bearer(&key)
        .send()
        .expect_error(403, "tenant_suspended");
    srv.req("PATCH", "/api/v1/admin/tenants/acme")
        .bearer(&master)
        .json(&json!({"status": "active"}))
        .send();
    assert_eq!(srv.get("/api/v1/auth/me").bearer(&key).send().status, 200);
}

#[test]
fn failed_authentication_is_limited_per_ip() {
    let srv = common::start_dev(&[("AUTH_FAILURES_PER_MINUTE", "5")]);
    let good = srv.create_key("acme", &["admin"]);
    let bad = format!("sk_live_{}", "1".repeat(64));
    for _ in 0..5 {
        srv.get("/api/v1/auth/me")
            .bearer(&bad)
            .send()
            .expect_error(401, "invalid_api_key");
    }
    let r = srv.get("/api/v1/auth/me").bearer(&bad).send();
    r.expect_error(429, "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=12).contains(&retry), "{retry}");
    // Only failures are limited: valid keys and the master key from the same IP still work,
    // so one client guessing behind a shared proxy cannot lock out every tenant.
    assert_eq!(srv.get("/api/v1/auth/me").bearer(&good).send().status, 200);
    let r = srv
        .get("/api/v1/admin/tenants")
        .bearer(&srv.master_key())
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    srv.get("/api/v1/auth/me")
        .bearer(&bad)
        .send()
        .expect_error(429, "rate_limited");
    // Requests without credentials are not guesses and are not blocked.
    assert_eq!(srv.get("/health").send().status, 200);
}
