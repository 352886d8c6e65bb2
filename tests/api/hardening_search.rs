//! Hostile inputs to search and the routes that name a vertical or type, and readiness while the
//! search index is rebuilt.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;

/// A request body and its content type.
type Body = (Vec<u8>, String);

/// Every route that takes a vertical or an entity type refuses the same malformed values with
/// the same 422, naming the rule.
#[test]
fn vertical_and_type_are_validated_alike_on_every_route() {
    let srv = common::start_dev(&[]);
    let long = "v".repeat(65);
    let batch = json!({"records": [{"name": "x"}]}).to_string().into_bytes();
    let multipart = common::multipart(&[("file", Some("a.csv"), Some("text/csv"), b"name\nx\n")]);
    let multipart_ct = format!("multipart/form-data; boundary={}", common::BOUNDARY);
    let cases: Vec<(&str, String, Option<Body>, &str)> = vec![
        (
            "POST",
            format!("/api/v1/search/{long}"),
            Some((
                br#"{"query":"bolt"}"#.to_vec(),
                "application/json".to_owned(),
            )),
            "vertical",
        ),
        (
            "GET",
            format!("/api/v1/search/{long}?q=bolt"),
            None,
            "vertical",
        ),
        (
            "GET",
            "/api/v1/search/a%20b?q=bolt".into(),
            None,
            "vertical",
        ),
        ("GET", "/api/v1/search/a:b?q=bolt".into(), None, "vertical"),
        (
            "POST",
            format!("/api/v1/ingest/{long}/item/batch"),
            Some((batch.clone(), "application/json".to_owned())),
            "vertical",
        ),
        (
            "POST",
            format!("/api/v1/ingest/parts/{long}/batch"),
            Some((batch.clone(), "application/json".to_owned())),
            "entity_type",
        ),
        (
            "POST",
            format!("/api/v1/webhooks/ingest/{long}/item"),
            Some((batch.clone(), "application/json".to_owned())),
            "vertical",
        ),
        (
            "POST",
            format!("/api/v1/ingest/{long}/item/stream"),
            Some((
                b"{\"name\":\"x\"}\n".to_vec(),
                "application/x-ndjson".to_owned(),
            )),
            "vertical",
        ),
        (
            "POST",
            format!("/api/v1/ingest/{long}/item/upload"),
            Some((multipart.clone(), multipart_ct.clone())),
            "vertical",
        ),
        (
            "POST",
            format!("/api/v1/ingest/parts/{long}/pdf"),
            Some((multipart.clone(), multipart_ct.clone())),
            "entity_type",
        ),
        (
            "GET",
            format!("/api/v1/schemas/{long}/item"),
            None,
            "vertical",
        ),
        (
            "GET",
            format!("/api/v1/schemas/parts/{long}"),
            None,
            "entity_type",
        ),
        (
            "GET",
            format!("/api/v1/schemas?vertical={long}"),
            None,
            "vertical",
        ),
        (
            "POST",
            format!("/api/v1/admin/reindex/{long}"),
            None,
            "vertical",
        ),
        (
            "GET",
            format!("/api/v1/entities?vertical={long}"),
            None,
            "vertical",
        ),
        (
            "GET",
            format!("/api/v1/entities?entity_type={long}"),
            None,
            "entity_type",
        ),
        (
            "GET",
            format!("/api/v1/export?vertical={long}"),
            None,
            "vertical",
        ),
    ];
    for (method, path, body, field) in cases {
        let mut req = srv.req(method, &path).tenant("acme");
        if let Some((bytes, ct)) = body {
            req = req.raw(bytes, &ct);
        }
        let r = req.send();
        r.expect_error(422, "validation_error");
        let detail = r.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.starts_with(field) && detail.contains("1-64 characters of a-z, 0-9"),
            "{method} {path}: {detail}"
        );
    }
    // Case is folded, as for the entity fields.
    let r = srv.get("/api/v1/search/PARTS?q=bolt").tenant("acme").send();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = srv
        .get("/api/v1/entities?vertical=PARTS")
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Distinct 8-letter words (edit distance 2 when typo-tolerant) filling `chars` characters.
fn fuzzy_words(seed: u32, chars: usize) -> String {
    let mut out = String::new();
    let mut i = seed * 1000;
    while out.len() + 9 <= chars {
        let mut n = i;
        let word: String = (0..8)
            .map(|_| {
                let c = (b'a' + (n % 26) as u8) as char;
                n /= 26;
                c
            })
            .collect();
        out.push_str(&word);
        out.push(' ');
        i += 7919;
    }
    out.trim_end().to_owned()
}

/// Searches built to be as costly as the API allows (and, before the path was validated, a
/// 1,500-character vertical) must not hold up other tenants: a health check and another
/// tenant's small search still answer promptly while they run.
#[test]
fn costly_searches_do_not_delay_other_tenants() {
    // No rate limit: the attacker's searches must be harmless by their cost alone, however many
    // its plan would allow (with limits on, a fast machine answered part of the attack with 429).
    let srv = common::start_dev(&[("WORKERS", "2"), ("RATE_LIMIT_ENABLED", "false")]);
    let r = srv.ingest(
        "bystander",
        "parts",
        "item",
        &json!({"records": [{"name": "Hex bolt M8"}, {"name": "Washer M8"}]}),
    );
    srv.wait_indexed("bystander", r["entity_ids"].as_array().unwrap());
    // The attacker has data too, so fuzzy expansion walks real terms.
    let records: Vec<Value> = (0..200)
        .map(|i| json!({"name": fuzzy_words(i + 50, 120)}))
        .collect();
    let r = srv.ingest("attacker", "parts", "item", &json!({"records": records}));
    srv.wait_indexed("attacker", r["entity_ids"].as_array().unwrap());

    let verticals = [
        "v".repeat(1500),
        "v".repeat(64),
        "parts".to_owned(),
        "w".repeat(64),
    ];
    let stop = AtomicBool::new(false);
    let statuses = Mutex::new(Vec::new());
    // A timed-out request panics in the harness: caught here so the attack always winds down.
    let attempt = |f: &dyn Fn() -> common::Resp| {
        std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|_| "request failed")
    };
    let attack = |vertical: &str, seed: u32| {
        let mut n = seed;
        while !stop.load(Ordering::Relaxed) {
            let r = attempt(&|| {
                srv.post(&format!("/api/v1/search/{vertical}"))
                    .tenant("attacker")
                    .json(&json!({"query": fuzzy_words(n, 500)}))
                    .send()
            });
            statuses.lock().unwrap().push(r.map(|r| r.status));
            n += 1;
        }
    };
    let mut worst = Duration::ZERO;
    let mut failure = None;
    std::thread::scope(|s| {
        for (i, v) in verticals.iter().enumerate() {
            let attack = &attack;
            s.spawn(move || attack(v, i as u32 * 10));
        }
        // Let the attack get going, then probe for a while.
        std::thread::sleep(Duration::from_millis(500));
        let deadline = Instant::now() + Duration::from_secs(6);
        while Instant::now() < deadline {
            let t = Instant::now();
            let health = attempt(&|| srv.get("/health").send());
            worst = worst.max(t.elapsed());
            let t = Instant::now();
            let search =
                attempt(&|| srv.search("bystander", "parts", &json!({"query": "hex bolt"})));
            worst = worst.max(t.elapsed());
            let ok = health.is_ok_and(|r| r.status == 200)
                && search.is_ok_and(|r| r.json()["results"][0]["name"] == "Hex bolt M8");
            if !ok {
                failure = Some("a bystander request failed (timed out or was reset)");
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::Relaxed);
    });
    let statuses = statuses.into_inner().unwrap();
    assert!(
        statuses.iter().all(|s| matches!(s, Ok(200) | Ok(422))),
        "{statuses:?}"
    );
    // Generous for two shared, busy cores; the attack used to hold requests for seconds.
    assert_eq!(failure, None, "after {worst:?}");
    assert!(
        worst < Duration::from_millis(1500),
        "a bystander request took {worst:?}"
    );
}

/// Any-of filters take at most 100 values each: every value becomes term queries, and a body of
/// comma-separated values used to make one search cost seconds.
#[test]
fn filter_value_lists_are_bounded() {
    let srv = common::start_dev(&[]);
    let values = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
    let r = srv.search(
        "acme",
        "parts",
        &json!({"query": "bolt", "filters": {"size_in": values(100)}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    for filters in [
        json!({"size_in": values(101)}),
        json!({"size": values(5000).join(",")}),
    ] {
        let r = srv.search(
            "acme",
            "parts",
            &json!({"query": "bolt", "filters": filters}),
        );
        r.expect_error(422, "validation_error");
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .contains("at most 100 values"),
            "{}",
            r.text
        );
    }
    let list = values(101).join(",");
    let r = srv
        .get(&format!("/api/v1/search/parts?q=bolt&size_in={list}"))
        .tenant("acme")
        .send();
    r.expect_error(422, "validation_error");
}

/// After the index is lost, `/ready` answers 503 with progress until the rebuild is done, and
/// searches meanwhile say their results may be incomplete.
#[test]
fn ready_is_503_with_progress_while_the_index_rebuilds() {
    let mut srv = common::start_dev(&[]);
    for chunk in 0..3 {
        let records: Vec<Value> = (0..10_000)
            .map(|i| json!({"name": format!("Rebuild widget {chunk} {i}"), "vertical_data": {"n": i}}))
            .collect();
        srv.ingest("acme", "parts", "widget", &json!({"records": records}));
    }
    assert!(srv.terminate().success());
    std::fs::remove_dir_all(srv.data_dir().join("index")).unwrap();

    let srv2 = srv.restart();
    let r = srv2.get("/ready").send();
    assert_eq!(r.status, 503, "{}", r.text);
    let body = r.json();
    assert_eq!(body["status"], "rebuilding", "{body}");
    assert!(body["indexed"].is_u64(), "{body}");
    assert!(body["total"].is_u64() || body["total"].is_null(), "{body}");

    // The flag only goes from rebuilding to complete, so a search answered while /ready still
    // says 503 afterwards must have been flagged.
    let s = srv2.search("acme", "parts", &json!({"query": "widget"}));
    assert_eq!(s.status, 200, "{}", s.text);
    if srv2.get("/ready").send().status == 503 {
        assert_eq!(s.json()["metadata"]["index_rebuilding"], true, "{}", s.text);
        assert_eq!(
            s.json()["metadata"]["freshness"],
            "rebuilding",
            "{}",
            s.text
        );
    }

    let mut seen_progress = false;
    let done = common::wait_for(Duration::from_secs(120), || {
        let r = srv2.get("/ready").send();
        if r.status == 503 {
            let b = r.json();
            if let (Some(i), Some(t)) = (b["indexed"].as_u64(), b["total"].as_u64()) {
                assert!(i <= t, "{b}");
                assert_eq!(t, 30_000, "{b}");
                seen_progress = true;
            }
        }
        r.status == 200
    });
    assert!(done, "index rebuild did not finish:\n{}", srv2.logs());
    let _ = seen_progress;
    assert_eq!(srv2.get("/ready").send().json()["status"], "ready");
    let s = srv2.search("acme", "parts", &json!({"query": "widget 2 9999"}));
    assert_eq!(
        s.json()["metadata"]["index_rebuilding"],
        false,
        "{}",
        s.text
    );
    assert_eq!(s.json()["metadata"]["freshness"], "current", "{}", s.text);
    assert_eq!(
        s.json()["results"][0]["name"],
        "Rebuild widget 2 9999",
        "{}",
        s.text
    );
    // The log is read from the server's stderr by another thread: give it a moment.
    common::wait_for(Duration::from_secs(5), || {
        srv2.logs().contains("search index rebuild complete")
    });
    let logs = srv2.logs();
    assert!(
        logs.contains("rebuilding it from 30000 stored entities"),
        "{logs}"
    );
    assert!(logs.contains("search index rebuild complete"), "{logs}");
}
