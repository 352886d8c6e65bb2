//! `/openapi.json` and `/docs`: served without a key, the document valid for the routes the
//! server has, the reference page offline under a strict Content-Security-Policy.

use crate::common;

#[test]
fn the_document_is_served_without_a_key_and_describes_both_dialects() {
    let srv = common::start(&[]);
    let r = srv.get("/openapi.json").send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/health",
        "/api/v1/entities/{id}",
        "/api/v1/records/{id}",
        "/api/v1/search/{vertical}",
        "/mcp/",
        "/open/v1/search/{collection}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    let schemes = &doc["components"]["securitySchemes"];
    for scheme in ["api_key", "master_key", "tenant_header"] {
        assert!(schemes[scheme].is_object(), "{scheme}");
    }
    let search = &doc["paths"]["/api/v1/search/{vertical}"]["post"];
    assert_eq!(search["security"][0]["api_key"][0], "search");
    for status in ["200", "401", "403", "422", "429"] {
        assert!(search["responses"][status].is_object(), "search {status}");
    }
    // The same bytes every time.
    assert_eq!(srv.get("/openapi.json").send().text, r.text);
}

#[test]
fn the_reference_page_and_its_assets_are_offline_under_a_strict_csp() {
    let srv = common::start(&[]);
    for (path, content_type) in [
        ("/docs", "text/html"),
        ("/docs/docs.js", "text/javascript"),
        ("/docs/docs.css", "text/css"),
    ] {
        let r = srv.get(path).send();
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(
            r.header("content-type").unwrap().starts_with(content_type),
            "{path}: {:?}",
            r.header("content-type")
        );
        let csp = r.header("content-security-policy").expect("CSP");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(
            !r.text.contains("http://") && !r.text.contains("https://"),
            "{path} names an external URL"
        );
        assert!(!r.text.contains("//cdn"), "{path}");
    }
    let html = srv.get("/docs").send().text;
    assert!(html.contains("src=\"/docs/docs.js\"") && html.contains("href=\"/docs/docs.css\""));
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "inline script or style"
    );
}

#[test]
fn the_documents_routes_answer_other_methods_with_405() {
    let srv = common::start(&[]);
    srv.req("POST", "/openapi.json")
        .send()
        .expect_error(405, "method_not_allowed");
    srv.req("DELETE", "/docs")
        .send()
        .expect_error(405, "method_not_allowed");
}
