//! `/open/mcp/`: the MCP server over Open's audience, the published tenant's active public
//! records, without a key, limited per client IP.

use serde_json::{json, Value};

use crate::common::{self, Resp, Server};
use crate::open::record;

fn rpc(srv: &Server, path: &str, session: Option<&str>, body: Value) -> Resp {
    let mut r = srv
        .post(path)
        .header("Accept", "application/json, text/event-stream");
    if let Some(s) = session {
        r = r.header("Mcp-Session-Id", s);
    }
    r.raw(body.to_string().into_bytes(), "application/json")
        .send()
}

fn initialize_body() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}})
}

fn open_session(srv: &Server) -> String {
    let r = rpc(srv, "/open/mcp/", None, initialize_body());
    assert_eq!(r.status, 200, "{}", r.text);
    r.header("mcp-session-id").expect("session id").to_owned()
}

/// A tool call's result: (isError, text).
fn call(srv: &Server, session: &str, tool: &str, arguments: Value) -> (bool, String) {
    let r = rpc(
        srv,
        "/open/mcp/",
        Some(session),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": tool, "arguments": arguments}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let result = &v["result"];
    assert!(result.is_object(), "{v}");
    (
        result["isError"].as_bool().unwrap_or(false),
        result["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

#[test]
fn open_mcp_is_404_until_a_tenant_is_published() {
    let srv = common::start_dev(&[]);
    record(&srv, "acme", "Bolt", "parts", "public");
    for path in ["/open/mcp/", "/open/mcp"] {
        rpc(&srv, path, None, initialize_body()).expect_error(404, "not_found");
    }
    srv.get("/open/mcp/").send().expect_error(404, "not_found");
}

#[test]
fn open_mcp_initializes_lists_open_tools_and_is_limited_per_ip() {
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "pub")]);
    // The published tenant exists once it has stored something.
    record(&srv, "pub", "Hex bolt", "parts", "public");
    for path in ["/open/mcp/", "/open/mcp"] {
        let r = rpc(&srv, path, None, initialize_body());
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header_u64("x-ratelimit-limit"), 60);
        let v = r.json();
        assert_eq!(v["result"]["protocolVersion"], "2025-06-18", "{v}");
        let instructions = v["result"]["instructions"].as_str().unwrap();
        assert!(
            instructions.contains("qanatix_open_search"),
            "{instructions}"
        );
    }
    let session = open_session(&srv);
    let r = rpc(
        &srv,
        "/open/mcp/",
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header_u64("x-ratelimit-limit"), 60);
    let v = r.json();
    let names: Vec<&str> = v["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "qanatix_open_search",
            "qanatix_open_lookup",
            "qanatix_open_collections",
            "qanatix_open_verticals",
            "qanatix_open_schema"
        ]
    );
    assert!(!r.text.contains("\"qanatix_search"), "{}", r.text);
    // /mcp/'s names are not tools here.
    let r = rpc(
        &srv,
        "/open/mcp/",
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "qanatix_search", "arguments": {"collection": "parts"}}}),
    );
    assert_eq!(r.json()["error"]["code"], -32602, "{}", r.text);

    let r = srv.get("/open/mcp/").send();
    assert_eq!(r.status, 405, "{}", r.text);
    let r = srv
        .req("DELETE", "/open/mcp/")
        .header("Mcp-Session-Id", &session)
        .send();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = rpc(
        &srv,
        "/open/mcp/",
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 4, "method": "ping"}),
    );
    assert_eq!(r.status, 404, "{}", r.text);
}

#[test]
fn open_and_tenant_sessions_do_not_cross() {
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "pub")]);
    record(&srv, "pub", "Hex bolt", "parts", "public");
    let open = open_session(&srv);
    let r = srv
        .post("/mcp/")
        .tenant("pub")
        .header("Mcp-Session-Id", &open)
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}))
        .send();
    assert_eq!(r.status, 404, "{}", r.text);
    let r = srv
        .post("/mcp/")
        .tenant("pub")
        .json(&initialize_body())
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let tenant = r.header("mcp-session-id").unwrap().to_owned();
    let r = rpc(
        &srv,
        "/open/mcp/",
        Some(&tenant),
        json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
    );
    assert_eq!(r.status, 404, "{}", r.text);
    let r = rpc(
        &srv,
        "/open/mcp/",
        Some(&open),
        json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn open_tools_show_only_active_public_records_of_the_published_tenant() {
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "pub")]);
    let public = record(&srv, "pub", "Hex bolt M8", "parts", "public");
    let private = record(&srv, "pub", "Hex bolt M8 secret", "parts", "private");
    let archived = record(&srv, "pub", "Hex bolt M8 old", "parts", "public");
    let hidden = record(&srv, "pub", "Hex bolt hidden", "hidden", "private");
    let foreign = record(&srv, "other", "Hex bolt M8 foreign", "parts", "public");
    let r = srv
        .req("DELETE", &format!("/api/v1/records/{archived}"))
        .tenant("pub")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let session = open_session(&srv);

    let (err, text) = call(
        &srv,
        &session,
        "qanatix_open_search",
        json!({"collection": "parts", "query": "hex bolt"}),
    );
    assert!(!err, "{text}");
    assert!(text.contains(&public), "{text}");
    for absent in [&private, &archived, &foreign] {
        assert!(!text.contains(absent.as_str()), "{text}");
    }
    assert!(text.contains("qanatix_open_lookup"), "{text}");
    assert!(!text.contains("qanatix_lookup"), "{text}");

    let (err, text) = call(
        &srv,
        &session,
        "qanatix_open_lookup",
        json!({"record_id": public}),
    );
    assert!(!err, "{text}");
    assert!(text.contains("Hex bolt M8"), "{text}");
    for absent in [&private, &archived, &foreign, &hidden] {
        let (err, text) = call(
            &srv,
            &session,
            "qanatix_open_lookup",
            json!({"record_id": absent}),
        );
        assert!(err, "{absent}: {text}");
        assert!(text.contains("No record"), "{text}");
    }

    let (err, text) = call(&srv, &session, "qanatix_open_collections", json!({}));
    assert!(!err, "{text}");
    assert!(text.contains("parts | 1 |"), "{text}");
    assert!(!text.contains("hidden"), "{text}");

    let (err, text) = call(
        &srv,
        &session,
        "qanatix_open_schema",
        json!({"collection": "hidden"}),
    );
    assert!(err, "{text}");
    let (err, text) = call(
        &srv,
        &session,
        "qanatix_open_schema",
        json!({"collection": "parts"}),
    );
    assert!(!err, "{text}");
    assert!(text.contains("from the 1 most recently"), "{text}");

    let read = |uri: String| {
        rpc(
            &srv,
            "/open/mcp/",
            Some(&session),
            json!({"jsonrpc": "2.0", "id": 5, "method": "resources/read", "params": {"uri": uri}}),
        )
        .json()
    };
    let v = read(format!("entity://{public}"));
    assert!(
        v["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Hex bolt M8"),
        "{v}"
    );
    let v = read(format!("entity://{private}"));
    assert_eq!(v["error"]["code"], -32002, "{v}");
    let v = read("schema://hidden/part".to_owned());
    assert_eq!(v["error"]["code"], -32002, "{v}");
}
