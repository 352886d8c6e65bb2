//! Every scope against every route family of API.md §1.

use serde_json::json;

use crate::common;

/// One representative request per route family and the scope it needs (`None` = any caller).
const FAMILIES: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/api/v1/auth/keys", Some("admin")),
    ("POST", "/api/v1/search/parts", Some("search")),
    ("GET", "/api/v1/search/parts?q=bolt", Some("search")),
    ("GET", "/api/v1/entities", Some("entities")),
    ("PATCH", "/api/v1/entities/bulk", Some("entities")),
    ("POST", "/api/v1/ingest/parts/bolt/batch", Some("ingest")),
    ("POST", "/api/v1/webhooks/ingest/parts/bolt", Some("ingest")),
    ("GET", "/api/v1/ingestions/0195", Some("ingest")),
    ("GET", "/api/v1/pipeline/status/0195", Some("ingest")),
    ("POST", "/api/v1/schemas", Some("admin")),
    ("GET", "/api/v1/schemas", None),
    ("GET", "/api/v1/verticals", None),
    ("GET", "/api/v1/admin/stats", Some("admin")),
    ("GET", "/api/v1/admin/tenants", Some("admin")),
    ("GET", "/api/v1/export", Some("admin")),
    ("GET", "/api/v1/usage", Some("admin")),
    ("GET", "/api/v1/auth/me", None),
];

#[test]
fn every_scope_against_every_route_family() {
    let srv = common::start_dev(&[("DEFAULT_PLAN", "enterprise")]);
    for scope in ["search", "ingest", "entities", "admin"] {
        let key = srv.create_key("acme", &[scope]);
        for (method, path, needed) in FAMILIES {
            let r = srv.req(method, path).bearer(&key).json(&json!({})).send();
            let allowed = match needed {
                None => true,
                Some(n) => *n == scope || scope == "admin",
            };
            if allowed {
                assert!(
                    r.status != 403 && r.status != 401,
                    "{scope} should reach {method} {path}: {} {}",
                    r.status,
                    r.text
                );
            } else {
                r.expect_error(403, "insufficient_scope");
                assert!(r.json()["detail"]
                    .as_str()
                    .unwrap()
                    .contains(needed.unwrap()));
            }
        }
    }
}

#[test]
fn admin_scope_does_not_reach_master_only_routes() {
    let srv = common::start(&[]);
    srv.create_tenant("acme", "pro");
    let admin = srv.create_key("acme", &["admin"]);
    srv.post("/api/v1/admin/tenants")
        .bearer(&admin)
        .json(&json!({"tenant_id": "other"}))
        .send()
        .expect_error(403, "insufficient_scope");
    srv.req("PATCH", "/api/v1/admin/tenants/acme")
        .bearer(&admin)
        .json(&json!({"plan": "enterprise"}))
        .send()
        .expect_error(403, "insufficient_scope");
    srv.req("DELETE", "/api/v1/admin/tenants/acme")
        .bearer(&admin)
        .send()
        .expect_error(403, "insufficient_scope");
}
