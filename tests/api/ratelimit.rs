//! Per-tenant token buckets, headers, 429 and recovery, plan changes (API.md §3).

use std::time::Duration;

use serde_json::json;

use crate::common::{self, now_secs};

#[test]
fn headers_present_and_decreasing() {
    let srv = common::start_dev(&[("DEFAULT_PLAN", "free")]);
    let key = srv.create_key("acme", &["admin"]);
    let mut last = u64::MAX;
    for _ in 0..5 {
        let r = srv.get("/api/v1/auth/keys").bearer(&key).send();
        assert_eq!(r.header_u64("x-ratelimit-limit"), 60);
        let remaining = r.header_u64("x-ratelimit-remaining");
        assert!(remaining < last, "{remaining} !< {last}");
        last = remaining;
        let reset = r.header_u64("x-ratelimit-reset") as i64;
        assert!(reset >= now_secs() && reset <= now_secs() + 61, "{reset}");
    }
    // Error responses of an identified tenant carry them too.
    let r = srv
        .get("/api/v1/entities/00000000-0000-4000-8000-000000000000")
        .bearer(&key)
        .send();
    r.expect_error(404, "not_found");
    assert!(r.header("x-ratelimit-remaining").is_some());
}

#[test]
fn empty_bucket_gives_429_then_recovers_after_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let plans = common::plans_file(
        &dir,
        json!({"burst": {"general_rpm": 120, "search_rpm": 120}}),
    );
    let srv = common::start_dev(&[("PLANS_FILE", &plans), ("DEFAULT_PLAN", "burst")]);
    let key = srv.create_key("acme", &["admin"]);
    let mut limited = None;
    for _ in 0..400 {
        let r = srv.get("/api/v1/auth/keys").bearer(&key).send();
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 200);
    }
    let r = limited.expect("bucket never ran out");
    r.expect_error(429, "rate_limited");
    let retry = r.header_u64("retry-after");
    assert_eq!(retry, 1, "120 rpm refills a token every 0.5 s");
    assert_eq!(
        r.json()["detail"],
        format!("Rate limit exceeded. Retry after {retry} seconds.")
    );
    assert_eq!(r.header_u64("x-ratelimit-remaining"), 0);
    assert_eq!(r.header_u64("x-ratelimit-limit"), 120);
    std::thread::sleep(Duration::from_secs(retry));
    assert_eq!(srv.get("/api/v1/auth/keys").bearer(&key).send().status, 200);
}

#[test]
fn search_and_general_buckets_are_separate_and_shared_by_keys() {
    let dir = tempfile::tempdir().unwrap();
    let plans = common::plans_file(&dir, json!({"tiny": {"general_rpm": 600, "search_rpm": 3}}));
    let srv = common::start_dev(&[("PLANS_FILE", &plans), ("DEFAULT_PLAN", "tiny")]);
    let k1 = srv.create_key("acme", &["admin"]);
    let k2 = srv.create_key("acme", &["search"]);
    for (i, k) in [&k1, &k2, &k1].into_iter().enumerate() {
        let r = srv.get("/api/v1/search/parts?q=x").bearer(k).send();
        assert_ne!(r.status, 429);
        assert_eq!(r.header_u64("x-ratelimit-limit"), 3);
        assert_eq!(
            r.header_u64("x-ratelimit-remaining"),
            2 - i as u64,
            "keys share the bucket"
        );
    }
    let r = srv.get("/api/v1/search/parts?q=x").bearer(&k2).send();
    r.expect_error(429, "rate_limited");
    assert_eq!(r.header_u64("retry-after"), 20);
    let general = srv.get("/api/v1/auth/me").bearer(&k1).send();
    assert_eq!(general.status, 200);
    assert_eq!(general.header_u64("x-ratelimit-limit"), 600);
    // Another tenant is untouched.
    let other = srv.create_key("other", &["search"]);
    assert_ne!(
        srv.get("/api/v1/search/parts?q=x")
            .bearer(&other)
            .send()
            .status,
        429
    );
}

#[test]
fn plan_change_applies_live() {
    let srv = common::start(&[]);
    srv.create_tenant("acme", "free");
    let key = srv.create_key("acme", &["admin"]);
    let r = srv.get("/api/v1/auth/me").bearer(&key).send();
    assert_eq!(r.header_u64("x-ratelimit-limit"), 60);
    let p = srv
        .req("PATCH", "/api/v1/admin/tenants/acme")
        .bearer(&srv.master_key())
        .json(&json!({"plan": "pro"}))
        .send();
    assert_eq!(p.status, 200, "{}", p.text);
    let r = srv.get("/api/v1/auth/me").bearer(&key).send();
    assert_eq!(r.header_u64("x-ratelimit-limit"), 1000);
    assert!(r.header_u64("x-ratelimit-remaining") >= 990);
    assert_eq!(r.json()["plan"], "pro");
}

#[test]
fn disabled_rate_limit_sends_no_headers_and_never_429s() {
    let dir = tempfile::tempdir().unwrap();
    let plans = common::plans_file(&dir, json!({"free": {"general_rpm": 2, "search_rpm": 1}}));
    let srv = common::start_dev(&[
        ("PLANS_FILE", &plans),
        ("RATE_LIMIT_ENABLED", "false"),
        ("DEFAULT_PLAN", "free"),
    ]);
    let key = srv.create_key("acme", &["admin"]);
    for _ in 0..10 {
        let r = srv.get("/api/v1/auth/me").bearer(&key).send();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-limit"), None);
        assert_eq!(r.json()["rate_limits"], json!(null));
    }
}

#[test]
fn invalid_plans_file_or_default_plan_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let plans = common::plans_file(&dir, json!({"free": {"general_rpm": "lots"}}));
    for env in [
        vec![("PLANS_FILE", plans.as_str())],
        vec![("DEFAULT_PLAN", "platinum")],
        vec![("DEV_PLAN", "platinum")],
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_qanatix"));
        cmd.env_remove("PLANS_FILE")
            .env_remove("DEFAULT_PLAN")
            .env_remove("DEV_PLAN");
        let out = cmd
            .args(["--port", "0", "--data-dir"])
            .arg(dir.path().join("data"))
            .envs(env)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("plan"));
    }
}
