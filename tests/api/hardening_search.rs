//! Hostile inputs to search and the routes that name a vertical or type, and readiness while the
//! search index is rebuilt.

use serde_json::json;

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
