//! Open (API-RECORDS.md §7): the public records of the tenant `OPEN_TENANT_ID` names, read-only
//! and without a key, limited per client IP.

use serde_json::{json, Value};

use crate::common::{self, Server};

/// Stores a `part` record in `tenant` through the REST API; its id.
pub fn record(
    srv: &Server,
    tenant: &str,
    name: &str,
    collection: &str,
    visibility: &str,
) -> String {
    let r = srv
        .post("/api/v1/records")
        .tenant(tenant)
        .json(
            &json!({"collection": collection, "record_type": "part", "name": name,
                      "data": {"material": "steel"}, "visibility": visibility}),
        )
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["record_id"].as_str().unwrap().to_owned()
}

#[test]
fn every_open_route_is_404_until_a_tenant_is_published() {
    let srv = common::start_dev(&[]);
    record(&srv, "acme", "Bolt", "parts", "public");
    for path in [
        "/open/v1/collections",
        "/open/v1/records/00000000-0000-4000-8000-000000000000",
        "/open/v1/nope",
    ] {
        srv.get(path).send().expect_error(404, "not_found");
    }
    // Named but not (yet) existing: still nothing to publish.
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "ghost")]);
    srv.get("/open/v1/collections")
        .send()
        .expect_error(404, "not_found");
}

#[test]
fn open_lists_and_reads_only_public_active_records_of_the_published_tenant() {
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "pub")]);
    let public = record(&srv, "pub", "Hex bolt M8", "parts", "public");
    let private = record(&srv, "pub", "Secret bolt", "parts", "private");
    let archived = record(&srv, "pub", "Old bolt", "parts", "public");
    record(&srv, "pub", "Only private", "hidden", "private");
    let foreign = record(&srv, "other", "Other bolt", "parts", "public");
    let r = srv
        .req("DELETE", &format!("/api/v1/records/{archived}"))
        .tenant("pub")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = srv
        .req("PATCH", "/api/v1/collections/parts")
        .tenant("pub")
        .json(&json!({"description": "Fasteners"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);

    let r = srv.get("/open/v1/collections").send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([{"collection": "parts", "record_types": ["part"], "record_count": 1,
                "description": "Fasteners"}])
    );

    let r = srv.get(&format!("/open/v1/records/{public}")).send();
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["record_id"], Value::String(public.clone()));
    assert_eq!(v["name"], "Hex bolt M8");
    assert_eq!(v["visibility"], "public");
    for hidden in [&private, &archived, &foreign, &"not-a-uuid".to_owned()] {
        srv.get(&format!("/open/v1/records/{hidden}"))
            .send()
            .expect_error(404, "not_found");
    }
    // Read-only: writes have no route.
    let r = srv.post("/open/v1/collections").json(&json!({})).send();
    assert_eq!(r.status, 405, "{}", r.text);
    // A key is neither needed nor looked at.
    let r = srv
        .get("/open/v1/collections")
        .bearer("sk_live_garbage")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn open_is_limited_per_client_ip_and_logs_the_agent_id() {
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "pub")]);
    let id = record(&srv, "pub", "Bolt", "parts", "public");
    let path = format!("/open/v1/records/{id}");
    let first = srv.get(&path).header("X-Agent-Id", "agent-7").send();
    assert_eq!(first.status, 200);
    assert_eq!(first.header_u64("x-ratelimit-limit"), 120);
    let mut refused = None;
    for _ in 0..130 {
        let r = srv.get(&path).send();
        if r.status != 200 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("120 per minute per IP must run out");
    r.expect_error(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // The published tenant's own keyed traffic is not affected by Open's buckets.
    let r = srv.get("/api/v1/records").tenant("pub").send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(srv.logs().contains("agent=agent-7"), "{}", srv.logs());
}

#[test]
fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "pub"), ("TRUST_PROXY", "true")]);
    record(&srv, "pub", "Bolt", "parts", "public");
    let remaining = |client: &str| {
        srv.get("/open/v1/collections")
            .header("X-Forwarded-For", client)
            .send()
            .header_u64("x-ratelimit-remaining")
    };
    let a1 = remaining("203.0.113.1");
    let a2 = remaining("203.0.113.1");
    let b1 = remaining("203.0.113.2");
    assert_eq!(a2, a1 - 1);
    assert_eq!(b1, a1, "a second client starts with a full bucket");
}

fn open_names(srv: &Server, collection: &str, body: &Value) -> (Vec<String>, Value) {
    let r = srv
        .post(&format!("/open/v1/search/{collection}"))
        .json(body)
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let names = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap().to_owned())
        .collect();
    (names, v["metadata"].clone())
}

#[test]
fn open_search_finds_only_published_records() {
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "pub")]);
    record(&srv, "pub", "Hex bolt M8 public", "parts", "public");
    let private = record(&srv, "pub", "Hex bolt M8 private", "parts", "private");
    record(&srv, "pub", "Hex bolt M8 secret", "hidden", "private");
    record(&srv, "other", "Hex bolt M8 other tenant", "parts", "public");
    // Keyed search sees both of the tenant's parts; Open only the public one, whatever the shape
    // of the query: words, list (empty query), filter only, sorted, fuzzy fallback.
    let keyed = srv
        .post("/api/v1/search/parts")
        .tenant("pub")
        .json(&json!({"query": "hex bolt"}))
        .send()
        .json();
    assert_eq!(keyed["results"].as_array().unwrap().len(), 2, "{keyed}");
    for body in [
        json!({"query": "hex bolt"}),
        json!({"query": "M8"}),
        json!({}),
        json!({"filters": {"material": "steel"}}),
        json!({"query": "bolt", "sort": "-name"}),
        json!({"query": "hxe blot"}),
    ] {
        let (names, _) = open_names(&srv, "parts", &body);
        assert_eq!(names, vec!["Hex bolt M8 public"], "{body}");
    }
    let r = srv.get("/open/v1/search/parts?q=bolt").send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 1);
    assert_eq!(r.header_u64("x-ratelimit-limit"), 60);
    let r = srv
        .post("/open/v1/search/parts")
        .json(&json!({"query": "bolt", "format": "compact"}))
        .send();
    assert!(
        r.text.contains("public") && !r.text.contains("private"),
        "{}",
        r.text
    );

    // A collection with no published record, or none at all: empty, flagged, 200.
    for collection in ["hidden", "nothing"] {
        let (names, meta) = open_names(&srv, collection, &json!({"query": "bolt"}));
        assert!(names.is_empty(), "{collection}: {names:?}");
        assert_eq!(meta["unknown_collection"], true, "{collection}");
    }
    // Bad input is the search API's 4xx.
    srv.post("/open/v1/search/parts")
        .json(&json!({"limit": 0}))
        .send()
        .expect_error(422, "validation_error");

    // Publishing a record makes it searchable; unpublishing hides it again.
    let r = srv
        .req("PATCH", &format!("/api/v1/records/{private}/visibility"))
        .tenant("pub")
        .json(&json!({"visibility": "public"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let (names, _) = open_names(&srv, "parts", &json!({"query": "hex bolt"}));
    assert_eq!(names.len(), 2, "{names:?}");
    let r = srv
        .req("PATCH", &format!("/api/v1/records/{private}/visibility"))
        .tenant("pub")
        .json(&json!({"visibility": "private"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let (names, _) = open_names(&srv, "parts", &json!({"query": "hex bolt"}));
    assert_eq!(names, vec!["Hex bolt M8 public"]);
}

#[test]
fn open_searches_are_metered_as_the_published_tenants_searches() {
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "pub")]);
    record(&srv, "pub", "Bolt", "parts", "public");
    let searches = || {
        srv.get("/api/v1/usage").tenant("pub").send().json()["usage"]["searches"]
            .as_u64()
            .unwrap_or_default()
    };
    let before = searches();
    for _ in 0..3 {
        open_names(&srv, "parts", &json!({"query": "bolt"}));
    }
    assert_eq!(searches(), before + 3);
}

#[test]
fn open_search_totals_count_published_records_only() {
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "pub")]);
    for i in 0..3 {
        record(
            &srv,
            "pub",
            &format!("Flange gasket {i}"),
            "parts",
            "public",
        );
        record(
            &srv,
            "pub",
            &format!("Flange gasket secret {i}"),
            "parts",
            "private",
        );
    }
    for body in [
        json!({"query": "flange gasket", "limit": 1}),
        json!({"query": "gasket", "limit": 1}),
        json!({"limit": 1}),
    ] {
        let (names, meta) = open_names(&srv, "parts", &body);
        assert_eq!(names.len(), 1, "{body}");
        assert_eq!(meta["total_estimate"], 3, "{body}: {meta}");
    }
}
