//! Every scope against every route of both dialects (API.md §1, API-RECORDS.md §2).

use serde_json::json;

use crate::common;

/// Every route the server registers, with the scope it needs (`None` = any caller): a route
/// added without a row here is a gap in this test, and one registered without a policy does not
/// compile (see `api::resource`). Routes only the master key may use are checked in
/// `admin_scope_does_not_reach_master_only_routes`.
const ID: &str = "00000000-0000-4000-8000-000000000000";
const FAMILIES: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/api/v1/auth/keys", Some("admin")),
    ("POST", "/api/v1/auth/keys", Some("admin")),
    ("POST", "/api/v1/auth/keys/{id}/rotate", Some("admin")),
    ("DELETE", "/api/v1/auth/keys/{id}", Some("admin")),
    ("GET", "/api/v1/auth/me", None),
    ("POST", "/api/v1/search/parts", Some("search")),
    ("GET", "/api/v1/search/parts?q=bolt", Some("search")),
    ("GET", "/api/v1/entities", Some("entities")),
    ("POST", "/api/v1/entities", Some("entities")),
    ("PATCH", "/api/v1/entities/bulk", Some("entities")),
    ("POST", "/api/v1/entities/bulk-delete", Some("entities")),
    ("GET", "/api/v1/entities/{id}", Some("entities")),
    ("PATCH", "/api/v1/entities/{id}", Some("entities")),
    ("DELETE", "/api/v1/entities/{id}", Some("entities")),
    ("POST", "/api/v1/ingest/parts/bolt/batch", Some("ingest")),
    ("POST", "/api/v1/ingest/parts/bolt/stream", Some("ingest")),
    ("POST", "/api/v1/ingest/parts/bolt/upload", Some("ingest")),
    ("POST", "/api/v1/ingest/parts/bolt/pdf", Some("ingest")),
    ("POST", "/api/v1/webhooks/ingest/parts/bolt", Some("ingest")),
    ("GET", "/api/v1/ingestions/{id}", Some("ingest")),
    ("GET", "/api/v1/ingestions/{id}/errors", Some("ingest")),
    ("GET", "/api/v1/pipeline/status/{id}", Some("ingest")),
    ("POST", "/api/v1/pipeline/trigger/{id}", Some("ingest")),
    ("POST", "/api/v1/schemas", Some("admin")),
    ("GET", "/api/v1/schemas", None),
    ("GET", "/api/v1/schemas/parts/bolt", None),
    ("GET", "/api/v1/verticals", None),
    ("GET", "/api/v1/admin/stats", Some("admin")),
    ("POST", "/api/v1/admin/reindex/parts", Some("admin")),
    ("POST", "/api/v1/admin/reindex/entity/{id}", Some("admin")),
    ("POST", "/api/v1/admin/reindex/record/{id}", Some("admin")),
    ("GET", "/api/v1/admin/tenants", Some("admin")),
    ("GET", "/api/v1/admin/tenants/acme", Some("admin")),
    ("GET", "/api/v1/export", Some("admin")),
    ("GET", "/api/v1/usage", Some("admin")),
    ("GET", "/api/v1/records", Some("entities")),
    ("POST", "/api/v1/records", Some("entities")),
    ("PATCH", "/api/v1/records/bulk", Some("entities")),
    ("POST", "/api/v1/records/bulk-delete", Some("entities")),
    ("POST", "/api/v1/records/bulk-visibility", Some("entities")),
    ("GET", "/api/v1/records/{id}", Some("entities")),
    ("PATCH", "/api/v1/records/{id}", Some("entities")),
    ("DELETE", "/api/v1/records/{id}", Some("entities")),
    ("PATCH", "/api/v1/records/{id}/visibility", Some("entities")),
    ("POST", "/api/v1/ingest/batch/parts/bolt", Some("ingest")),
    ("POST", "/api/v1/ingest/upload/parts/bolt", Some("ingest")),
    ("POST", "/api/v1/upload/parts/bolt/batch", Some("ingest")),
    ("POST", "/api/v1/upload/parts/bolt/upload", Some("ingest")),
    ("POST", "/api/v1/upload/parts/bolt/file", Some("ingest")),
    ("POST", "/api/v1/upload/parts/bolt/pdf", Some("ingest")),
    ("POST", "/api/v1/upload/parts/bolt/stream", Some("ingest")),
    ("GET", "/api/v1/uploads/{id}", Some("ingest")),
    ("GET", "/api/v1/uploads/{id}/dlq", Some("ingest")),
    ("GET", "/api/v1/collections", Some("search")),
    ("PATCH", "/api/v1/collections/parts", Some("admin")),
    (
        "PATCH",
        "/api/v1/collections/parts/default-visibility",
        Some("admin"),
    ),
    ("POST", "/api/v1/chat", Some("search")),
    ("GET", "/api/v1/portal/webhooks", Some("admin")),
    ("POST", "/api/v1/portal/webhooks", Some("admin")),
    ("GET", "/api/v1/portal/webhooks/{id}", Some("admin")),
    ("PATCH", "/api/v1/portal/webhooks/{id}", Some("admin")),
    ("DELETE", "/api/v1/portal/webhooks/{id}", Some("admin")),
    ("POST", "/api/v1/portal/webhooks/{id}/test", Some("admin")),
    (
        "GET",
        "/api/v1/portal/webhooks/{id}/deliveries",
        Some("admin"),
    ),
    ("GET", "/api/v1/connectors", Some("admin")),
    ("POST", "/api/v1/connectors", Some("admin")),
    ("GET", "/api/v1/connectors/{id}", Some("admin")),
    ("DELETE", "/api/v1/connectors/{id}", Some("admin")),
    ("POST", "/api/v1/connectors/{id}/pull", Some("admin")),
    ("POST", "/mcp/", Some("search")),
    ("POST", "/mcp", Some("search")),
    ("GET", "/mcp/", Some("search")),
    ("DELETE", "/mcp/", Some("search")),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
    ("GET", "/docs/docs.js", None),
    ("GET", "/docs/docs.css", None),
];

#[test]
fn every_scope_against_every_route() {
    let srv = common::start_dev(&[("DEFAULT_PLAN", "enterprise")]);
    for scope in ["search", "ingest", "entities", "admin"] {
        let key = srv.create_key("acme", &[scope]);
        for (method, path, needed) in FAMILIES {
            let path = &path.replace("{id}", ID);
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
    for method in ["GET", "POST"] {
        srv.req(method, "/api/v1/admin/snapshots")
            .bearer(&admin)
            .send()
            .expect_error(403, "insufficient_scope");
    }
}

/// Routes that need no credentials: the probes and the console's static files (its data comes
/// from the API with the user's key). Each answers the same to nobody, to a bad key and to a
/// key of any scope.
const PUBLIC: &[(&str, u16)] = &[
    ("/health", 200),
    ("/ready", 200),
    ("/metrics", 200),
    ("/", 302),
    ("/console", 200),
    ("/console/", 302),
    ("/console/app.js", 200),
];

#[test]
fn public_routes_need_no_key() {
    let srv = common::start_dev(&[]);
    let search = srv.create_key("acme", &["search"]);
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    for (path, status) in PUBLIC {
        for auth in [
            None,
            Some("Bearer sk_live_bad"),
            Some(&*format!("Bearer {search}")),
        ] {
            let mut req = agent.get(&format!("{}{path}", srv.base));
            if let Some(a) = auth {
                req = req.set("Authorization", a);
            }
            let got = match req.call() {
                Ok(r) => r.status(),
                Err(ureq::Error::Status(s, _)) => s,
                Err(e) => panic!("{path}: {e}"),
            };
            assert_eq!(got, *status, "{path} with {auth:?}");
        }
    }
}
