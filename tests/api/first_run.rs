//! What a new user meets first: start-up messages, run modes, development-mode plans and error
//! messages written in JSON terms rather than Rust's.

use serde_json::{json, Value};

use crate::common;

#[test]
fn first_key_steps_are_logged_only_while_no_tenant_exists() {
    let mut srv = common::start(&[]);
    let logs = srv.logs();
    assert!(logs.contains("master key: "), "{logs}");
    assert!(logs.contains("first key, step 1"), "{logs}");
    assert!(logs.contains("KEY=$(curl"), "step 2 keeps the key: {logs}");
    srv.create_tenant("acme", "pro");
    srv.terminate();
    let again = srv.restart();
    let logs = again.logs();
    assert!(logs.contains("master key: "), "{logs}");
    assert!(!logs.contains("first key"), "{logs}");
}

#[test]
fn a_second_server_on_the_same_data_dir_names_the_first() {
    let srv = common::start(&[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qanatix"))
        .env_remove("DATA_DIR")
        .env_remove("ENV")
        .args(["--port", "0", "--data-dir"])
        .arg(srv.data_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is in use by another qanatix (pid "),
        "{stderr}"
    );
    assert!(!stderr.to_lowercase().contains("sled"), "{stderr}");
    assert_eq!(
        srv.get("/health").send().status,
        200,
        "first server unharmed"
    );
}

#[test]
fn run_modes_accept_short_names_and_say_which_exist() {
    let prod = common::start(&[("ENV", "prod")]);
    prod.get("/api/v1/auth/me")
        .tenant("acme")
        .send()
        .expect_error(401, "invalid_api_key");
    let dev = common::start(&[("ENV", "dev")]);
    assert_eq!(dev.get("/api/v1/auth/me").tenant("acme").send().status, 200);

    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qanatix"))
        .env("ENV", "staging")
        .args(["--port", "0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("development") && stderr.contains("production"),
        "{stderr}"
    );
}

fn batch(vertical_tag: &str, n: usize) -> Value {
    let records: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("{vertical_tag} {i}"), "vertical_data": {"i": i}}))
        .collect();
    json!({ "records": records })
}

/// Development mode is for trying the server out: the tenants it creates are on an uncapped
/// plan, so a catalog in two verticals loads without a quota error.
#[test]
fn development_tenants_are_uncapped_by_default() {
    let srv = common::start(&[("ENV", "development")]);
    let me = srv.get("/api/v1/auth/me").tenant("acme").send().json();
    assert_eq!(me["plan"], "enterprise", "{me}");
    for vertical in ["parts", "suppliers"] {
        let r = srv
            .post(&format!("/api/v1/ingest/{vertical}/item/batch"))
            .tenant("acme")
            .json(&batch(vertical, 600))
            .send();
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // DEV_PLAN chooses another plan; DEFAULT_PLAN still applies to tenants made with the master key.
    let capped = common::start(&[("ENV", "development"), ("DEV_PLAN", "free")]);
    let me = capped.get("/api/v1/auth/me").tenant("acme").send().json();
    assert_eq!(me["plan"], "free", "{me}");
}

#[test]
fn body_errors_speak_json_not_rust() {
    let srv = common::start_dev(&[]);
    let r = srv
        .post("/api/v1/auth/keys")
        .tenant("acme")
        .json(&json!({"name": "k", "scopes": "admin"}))
        .send();
    r.expect_error(422, "validation_error");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("expected an array"), "{detail}");
    let r = srv
        .post("/api/v1/auth/keys")
        .tenant("acme")
        .json(&json!(null))
        .send();
    r.expect_error(422, "validation_error");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("expected a JSON object"), "{detail}");
    let r = srv
        .post("/api/v1/search/parts")
        .tenant("acme")
        .json(&json!({"query": "bolt", "limit": "ten"}))
        .send();
    assert_eq!(r.status, 422, "{}", r.text);
    let r2 = srv.get("/api/v1/entities?limit=-3").tenant("acme").send();
    for detail in [
        r.json()["detail"].to_string(),
        r2.json()["detail"].to_string(),
    ] {
        for jargon in ["struct ", "i64", "u32", "u64", "usize", "sequence", " map"] {
            assert!(!detail.contains(jargon), "{jargon} in {detail}");
        }
    }
}

/// A batch refused by a cap says what the whole batch would add, not how far reading got.
#[test]
fn a_quota_refusal_names_the_real_overshoot() {
    let srv = common::start(&[("ENV", "development"), ("DEV_PLAN", "free")]);
    let r = srv
        .post("/api/v1/ingest/parts/item/batch")
        .tenant("acme")
        .json(&batch("bolt", 200))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = srv
        .post("/api/v1/ingest/parts/item/batch")
        .tenant("acme")
        .json(&batch("nut", 10_000))
        .send();
    r.expect_error(402, "quota_exceeded");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("of 10000 records"), "{detail}");
    // 500 ingested records a month, 200 used: 10,000 more is 9,700 over.
    assert!(detail.contains("9700 over the cap"), "{detail}");
    assert!(detail.contains("Nothing was stored"), "{detail}");
}
