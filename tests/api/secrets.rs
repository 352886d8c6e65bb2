//! No plain key value on disk or in logs.

use serde_json::json;

use crate::common;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn plain_keys_never_reach_the_data_dir_or_the_logs() {
    let mut srv = common::start_dev(&[("RUST_LOG", "trace")]);
    let admin = srv.create_key("acme", &["admin"]);
    let created = srv
        .post("/api/v1/auth/keys")
        .bearer(&admin)
        .json(&json!({"name": "secret", "scopes": ["search"]}))
        .send()
        .json();
    let first = created["key"].as_str().unwrap().to_owned();
    srv.get("/api/v1/auth/me").bearer(&first).send();
    let second = srv
        .post(&format!(
            "/api/v1/auth/keys/{}/rotate",
            created["id"].as_str().unwrap()
        ))
        .bearer(&admin)
        .send()
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    srv.get("/api/v1/auth/me").bearer(&second).send();
    srv.get("/api/v1/auth/me")
        .bearer(&format!("{}0", &second[..71]))
        .send();
    let master = srv.master_key();
    srv.terminate();

    let logs = srv.logs();
    assert!(
        logs.contains("/api/v1/auth/me"),
        "access log must be captured: {logs}"
    );
    for key in [&admin, &first, &second] {
        let secret_part = &key["sk_live_".len()..];
        assert!(!logs.contains(secret_part), "key value in logs");
        for file in common::files_under(srv.data_dir()) {
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !contains(&bytes, secret_part.as_bytes()),
                "key value found in {}",
                file.display()
            );
            assert!(!contains(&bytes, &hex::decode(secret_part).unwrap()));
        }
    }
    assert!(
        !logs.contains(&master["sk_master_".len()..]),
        "master key in logs"
    );
    // The start-up hint shows `Bearer $(cat …/master.key)`; no real token may follow "Bearer ".
    assert!(!logs.contains("Bearer sk_"), "a bearer token was logged");
}
