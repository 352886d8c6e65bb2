//! Health, readiness, metrics, request ids, access logs, routing errors, start-up and shutdown.

use crate::common;

#[test]
fn health_and_ready_need_no_auth() {
    let srv = common::start(&[]);
    let h = srv.get("/health").send();
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "ok");
    assert_eq!(h.json()["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(srv.get("/ready").send().status, 200);
    assert_eq!(srv.get("/health").bearer("garbage").send().status, 200);
}

#[test]
fn metrics_count_by_route_pattern_without_ids_or_secrets() {
    let srv = common::start_dev(&[]);
    let key = srv.create_key("secret-tenant-xyz", &["admin"]);
    srv.get("/api/v1/auth/me").bearer(&key).send();
    srv.post("/api/v1/auth/keys/0198a1b2-0000-7000-8000-000000000000/rotate")
        .bearer(&key)
        .send();
    let m = srv.get("/metrics").send();
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    let text = m.text;
    assert!(text.contains(
        "qanatix_http_requests_total{route=\"/api/v1/auth/me\",method=\"GET\",status=\"200\"} 1"
    ), "{text}");
    assert!(text.contains("route=\"/api/v1/auth/keys/{id}/rotate\",method=\"POST\",status=\"404\""));
    assert!(text.contains("qanatix_http_request_duration_seconds_bucket"));
    assert!(!text.contains("secret-tenant-xyz"));
    assert!(!text.contains("0198a1b2"));
    assert!(!text.contains(&key[8..]));
}

#[test]
fn request_ids_are_echoed_when_sane_and_generated_otherwise() {
    let srv = common::start(&[]);
    let r = srv.get("/health").header("X-Request-Id", "trace-42").send();
    assert_eq!(r.header("x-request-id"), Some("trace-42"));
    let r = srv
        .get("/health")
        .header("X-Request-Id", &"x".repeat(129))
        .send();
    assert!(r.header("x-request-id").unwrap().starts_with("req_"));
    let r = srv.get("/api/v1/auth/me").send();
    let id = r.header("x-request-id").unwrap().to_owned();
    assert!(id.starts_with("req_") && id.len() == 20, "{id}");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let logs = srv.logs();
    let line = logs
        .lines()
        .find(|l| l.contains(&id))
        .expect("access log line with the request id");
    assert!(line.contains("GET /api/v1/auth/me 401"), "{line}");
    assert!(line.contains("ms"), "{line}");
}

#[test]
fn unknown_paths_are_404_for_every_caller_and_known_routes_authenticate_first() {
    let srv = common::start_dev(&[]);
    let master = srv.master_key();
    let key = srv.create_key("acme", &["admin"]);
    for path in [
        "/api/v1/nope",
        "/api/v1/entitiesX",
        "/api/v1/entities/a/b/c",
        "/api/v1/admin/nope",
        "/nope",
    ] {
        srv.get(path).send().expect_error(404, "not_found");
        srv.get(path)
            .bearer("sk_live_not_a_real_key")
            .send()
            .expect_error(404, "not_found");
        srv.get(path)
            .bearer(&key)
            .send()
            .expect_error(404, "not_found");
        srv.get(path)
            .tenant("acme")
            .send()
            .expect_error(404, "not_found");
        srv.get(path)
            .bearer(&master)
            .send()
            .expect_error(404, "not_found");
    }
    // A method a known route does not have: the caller is authenticated before the 405.
    srv.req("PUT", "/api/v1/entities")
        .send()
        .expect_error(401, "invalid_api_key");
    let r = srv.req("PUT", "/api/v1/entities").bearer(&key).send();
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.json()["code"], "method_not_allowed");
    let r = srv.req("DELETE", "/health").send();
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["code"], "method_not_allowed");
}

#[test]
fn first_log_lines_say_where_the_master_key_is_and_how_to_make_a_key() {
    let mut srv = common::start(&[]);
    let master = srv.master_key();
    let logs = srv.logs();
    let head: Vec<_> = logs.lines().take(6).collect();
    let head = head.join("\n");
    assert!(head.contains("master.key"), "{head}");
    assert!(head.contains("/api/v1/auth/keys"), "{head}");
    assert!(!logs.contains(&master[10..]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(srv.data_dir().join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(srv.terminate().success());
}

#[test]
fn env_master_key_is_used_and_short_one_refused() {
    let long = "operator-master-key-0123456789abcdef";
    let srv = common::start(&[("QANATIX_MASTER_KEY", long)]);
    assert!(!srv.data_dir().join("master.key").exists());
    assert_eq!(
        srv.get("/api/v1/admin/tenants").bearer(long).send().status,
        200
    );
    assert!(!srv.logs().contains(long));

    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qanatix"))
        .args(["--port", "0", "--data-dir"])
        .arg(dir.path())
        .env("QANATIX_MASTER_KEY", "too-short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32"));
}

#[test]
fn dev_mode_warns_at_start_and_marks_responses() {
    let srv = common::start_dev(&[]);
    assert!(srv.logs().contains("DEVELOPMENT MODE"));
    let r = srv.get("/api/v1/auth/me").tenant("acme").send();
    assert_eq!(r.header("x-auth-mode"), Some("development"));
}
