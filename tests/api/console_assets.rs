//! The console's files as HTTP serves them: the redirect from `/`, content types, the security
//! headers, revalidation by ETag, gzip, and the errors for anything else.

use crate::common;

const FILES: &[(&str, &str)] = &[
    ("/console", "text/html; charset=utf-8"),
    ("/console/app.js", "text/javascript; charset=utf-8"),
    ("/console/api.js", "text/javascript; charset=utf-8"),
    ("/console/dom.js", "text/javascript; charset=utf-8"),
    ("/console/signin.js", "text/javascript; charset=utf-8"),
    ("/console/search.js", "text/javascript; charset=utf-8"),
    ("/console/records.js", "text/javascript; charset=utf-8"),
    ("/console/uploads.js", "text/javascript; charset=utf-8"),
    ("/console/keys.js", "text/javascript; charset=utf-8"),
    ("/console/usage.js", "text/javascript; charset=utf-8"),
    ("/console/tenants.js", "text/javascript; charset=utf-8"),
    ("/console/style.css", "text/css; charset=utf-8"),
    ("/console/icon.svg", "image/svg+xml"),
];

#[test]
fn root_redirects_to_the_console() {
    let srv = common::start(&[]);
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    for path in ["/", "/console/"] {
        let r = agent.get(&format!("{}{path}", srv.base)).call().unwrap();
        assert_eq!(r.status(), 302, "{path}");
        assert_eq!(r.header("location"), Some("/console"), "{path}");
    }
}

#[test]
fn files_have_their_types_and_the_security_headers() {
    let srv = common::start(&[]);
    let mut total = 0;
    for (path, content_type) in FILES {
        let r = srv.get(path).send();
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.header("content-type"), Some(*content_type), "{path}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        assert!(r.header("etag").is_some_and(|t| t.starts_with("W/\"")));
        // Record data reaches the page only as text: no markup sinks anywhere.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!r.text.contains(sink), "{path} uses {sink}");
        }
        total += r.text.len();
    }
    assert!(total < 300 * 1024, "the console is {total} bytes");
}

#[test]
fn the_page_has_no_inline_script_or_style() {
    let srv = common::start(&[]);
    let page = srv.get("/console").send().text;
    for tag in page.split("<script").skip(1) {
        let open = &tag[..tag.find('>').unwrap()];
        assert!(open.contains("src="), "inline script: <script{open}>");
    }
    assert!(!page.contains("<style"), "inline style element");
    assert!(!page.contains(" style="), "inline style attribute");
    assert!(!page.contains(" on"), "inline event handler");
}

#[test]
fn head_answers_like_get_without_a_body() {
    let srv = common::start(&[]);
    for path in ["/console", "/console/app.js"] {
        let get = srv.get(path).send();
        let head = srv.req("HEAD", path).send();
        assert_eq!(head.status, 200, "{path}");
        assert_eq!(head.text, "", "{path}");
        for h in ["content-type", "etag", "content-security-policy"] {
            assert_eq!(head.header(h), get.header(h), "{path}: {h}");
        }
    }
}

#[test]
fn an_unchanged_file_revalidates_without_a_body() {
    let srv = common::start(&[]);
    let first = srv.get("/console/app.js").send();
    let tag = first.header("etag").unwrap().to_owned();
    let again = srv
        .get("/console/app.js")
        .header("If-None-Match", &tag)
        .send();
    assert_eq!(again.status, 304);
    assert_eq!(again.text, "");
    assert_eq!(again.header("etag"), Some(tag.as_str()));
    let weak = srv
        .get("/console/app.js")
        .header(
            "If-None-Match",
            &format!("\"other\", {}", tag.trim_start_matches("W/")),
        )
        .send();
    assert_eq!(weak.status, 304);
    let other = srv
        .get("/console/app.js")
        .header("If-None-Match", "\"other\"")
        .send();
    assert_eq!(other.status, 200);
    assert_eq!(other.text, first.text);
    // Each file has its own tag.
    let css = srv.get("/console/style.css").send();
    assert_ne!(css.header("etag"), Some(tag.as_str()));
}

#[test]
fn files_are_gzipped_for_browsers_that_accept_it() {
    let srv = common::start(&[]);
    for path in ["/console", "/console/search.js"] {
        let r = srv.get(path).header("Accept-Encoding", "gzip").send();
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(r.header("vary"), Some("accept-encoding"), "{path}");
        let plain = srv.get(path).send();
        assert_eq!(plain.header("content-encoding"), None, "{path}");
    }
}

#[test]
fn unknown_files_and_other_methods_are_refused() {
    let srv = common::start(&[]);
    for path in [
        "/console/nope.js",
        "/console/index.html",
        "/console/..%2FCargo.toml",
        "/console/app.js/x",
    ] {
        srv.get(path).send().expect_error(404, "not_found");
    }
    for (method, path) in [
        ("POST", "/console"),
        ("PUT", "/console/app.js"),
        ("DELETE", "/"),
    ] {
        srv.req(method, path)
            .send()
            .expect_error(405, "method_not_allowed");
    }
    // The API keeps its own answers: the console adds no route under it.
    srv.get("/api/v1/console")
        .send()
        .expect_error(404, "not_found");
}
