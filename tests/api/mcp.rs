//! The MCP endpoint (`/mcp/`): driven by the official Rust SDK's client (rmcp, Streamable HTTP)
//! where a real client's behaviour is the point, and by raw HTTP for the protocol's error paths
//! that no well-behaved client produces.

use std::collections::HashMap;
use std::future::Future;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientConfig, ErrorCode, ProtocolVersion,
    ReadResourceRequestParams, ResourceContents,
};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::{json, Map, Value};

use crate::common::{self, Resp, Server};

type Client = RunningService<RoleClient, ClientConfig>;

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// How a client authenticates: a bearer key, or (development mode) a tenant header.
enum Auth<'a> {
    Key(&'a str),
    DevTenant(&'a str),
}

async fn connect(
    srv: &Server,
    auth: Auth<'_>,
    version: Option<ProtocolVersion>,
) -> Result<Client, rmcp::service::ClientInitializeError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp/", srv.base));
    match auth {
        Auth::Key(k) => config = config.auth_header(k),
        Auth::DevTenant(t) => {
            config = config.custom_headers(HashMap::from([(
                "x-tenant-id".parse().unwrap(),
                t.parse().unwrap(),
            )]))
        }
    }
    let mut info = ClientConfig::default();
    if let Some(v) = version {
        info = info.with_protocol_version(v);
    }
    info.serve(StreamableHttpClientTransport::from_config(config))
        .await
}

fn args(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

async fn call(client: &Client, tool: &str, arguments: Value) -> CallToolResult {
    let mut p = CallToolRequestParams::new(tool.to_owned());
    p.arguments = Some(args(arguments));
    client
        .call_tool(p)
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

fn ok_text(r: &CallToolResult) -> String {
    assert_ne!(r.is_error, Some(true), "{}", text(r));
    text(r)
}

fn err_text(r: &CallToolResult) -> String {
    assert_eq!(r.is_error, Some(true), "{}", text(r));
    text(r)
}

/// The first Record ID of a search table.
fn first_id(table: &str) -> String {
    table
        .lines()
        .find(|l| l.starts_with("1 | "))
        .and_then(|l| l.split(" | ").nth(1))
        .unwrap_or_else(|| panic!("no rows: {table}"))
        .to_owned()
}

fn resource_text(c: &ResourceContents) -> (&str, &str) {
    match c {
        ResourceContents::TextResourceContents {
            text, mime_type, ..
        } => (text.as_str(), mime_type.as_deref().unwrap_or("")),
        other => panic!("not text: {other:?}"),
    }
}

/// A dev-mode server with the fixture catalog in `parts/item` for "acme".
fn catalog_server(env: &[(&str, &str)]) -> Server {
    let srv = common::start_dev(env);
    srv.load_catalog("acme");
    srv
}

#[test]
fn an_mcp_client_lists_and_calls_every_tool_and_reads_both_resources() {
    let srv = catalog_server(&[]);
    let key = srv.create_key("acme", &["search"]);
    block_on(async {
        let client = connect(&srv, Auth::Key(&key), None).await.expect("connect");
        let info = client.peer_info().expect("server info");
        // rmcp asks for 2026-07-28, which has no initialize: the newest served version answers.
        assert_eq!(info.protocol_version.as_str(), "2025-11-25");
        assert_eq!(info.server_info.as_ref().unwrap().name, "qanatix");
        assert!(info.capabilities.tools.is_some() && info.capabilities.resources.is_some());

        let tools = client.list_all_tools().await.unwrap();
        let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "qanatix_collections",
                "qanatix_lookup",
                "qanatix_schema",
                "qanatix_search",
                "qanatix_verticals"
            ]
        );
        for t in &tools {
            assert_eq!(t.input_schema["type"], "object", "{}", t.name);
            assert!(t.description.as_ref().unwrap().len() > 80, "{}", t.name);
        }
        let search = tools.iter().find(|t| t.name == "qanatix_search").unwrap();
        assert!(search.description.as_ref().unwrap().contains("_min"));
        assert_eq!(search.input_schema["properties"]["limit"]["maximum"], 20);

        let found = ok_text(
            &call(
                &client,
                "qanatix_search",
                json!({"collection": "parts", "query": "stainless hex bolt", "limit": 2}),
            )
            .await,
        );
        assert!(found.starts_with("Showing 2 of "), "{found}");
        assert!(
            found.contains("# | Record ID | Name | Score | Key Data"),
            "{found}"
        );
        assert!(found.contains("Hex bolt"), "{found}");
        assert!(found.contains("offset 2"), "{found}");
        let id = first_id(&found);

        // The older words work the same, and filters and sort reach the search.
        let filtered = ok_text(
            &call(
                &client,
                "qanatix_search",
                json!({"vertical": "parts", "filters": {"diameter_mm_min": 10}, "sort": "-price_eur"}),
            )
            .await,
        );
        assert!(filtered.contains("in vertical 'parts'"), "{filtered}");
        assert!(!filtered.contains("diameter_mm: 6;"), "{filtered}");

        // No query and no filters lists the collection.
        let listed =
            ok_text(&call(&client, "qanatix_search", json!({"collection": "parts"})).await);
        assert!(listed.starts_with("Showing 10 of 21 results"), "{listed}");

        let record = ok_text(&call(&client, "qanatix_lookup", json!({"record_id": id})).await);
        assert!(record.contains(&format!("record_id: \"{id}\"")), "{record}");
        assert!(record.contains("collection: \"parts\""), "{record}");
        assert!(record.contains("data:\n  "), "{record}");
        let same = ok_text(&call(&client, "qanatix_lookup", json!({"entity_id": id})).await);
        assert_eq!(same, record);

        let collections = ok_text(&call(&client, "qanatix_collections", json!({})).await);
        assert!(collections.contains("Collection | Records | Record types | Schema"));
        assert!(
            collections.contains("parts | 21 | item | no"),
            "{collections}"
        );
        let none = ok_text(&call(&client, "qanatix_collections", json!({"query": "zzz"})).await);
        assert!(none.starts_with("Showing 0 of 0 collections"), "{none}");
        let verticals = ok_text(&call(&client, "qanatix_verticals", json!({})).await);
        assert!(
            verticals.contains("Vertical | Entities | Entity types"),
            "{verticals}"
        );
        assert!(verticals.contains("parts | 21 | item"), "{verticals}");

        let schema = ok_text(
            &call(
                &client,
                "qanatix_schema",
                json!({"collection": "parts", "record_type": "item"}),
            )
            .await,
        );
        assert!(
            schema.contains("Field | Type | In records | Sample values"),
            "{schema}"
        );
        assert!(schema.contains("\ndiameter_mm | integer | "), "{schema}");
        assert!(schema.contains("\nmaterial | string | "), "{schema}");
        assert!(schema.contains("\"stainless steel\""), "{schema}");
        assert!(schema.contains("field_min"), "{schema}");

        let listed = client.list_resources(None).await.unwrap();
        let uris: Vec<&str> = listed.resources.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(uris, ["schema://parts/item"]);
        let templates = client.list_resource_templates(None).await.unwrap();
        let mut t: Vec<&str> = templates
            .resource_templates
            .iter()
            .map(|t| t.uri_template.as_str())
            .collect();
        t.sort_unstable();
        assert_eq!(t, ["entity://{id}", "schema://{vertical}/{entity_type}"]);

        let read = client
            .read_resource(ReadResourceRequestParams::new(format!("entity://{id}")))
            .await
            .unwrap();
        let (yaml, mime) = resource_text(&read.contents[0]);
        assert_eq!(mime, "application/yaml");
        assert_eq!(yaml, record);
        let read = client
            .read_resource(ReadResourceRequestParams::new("schema://parts/item"))
            .await
            .unwrap();
        let (schema_json, mime) = resource_text(&read.contents[0]);
        assert_eq!(mime, "application/json");
        let schema_json: Value = serde_json::from_str(schema_json).unwrap();
        assert_eq!(schema_json["type"], "object");
        assert_eq!(schema_json["properties"]["diameter_mm"]["type"], "integer");
        client.cancel().await.unwrap();
    });
    // 9 tool calls and 2 resource reads, each one search.
    let usage = srv.get("/api/v1/usage").tenant("acme").send().json();
    assert_eq!(usage["usage"]["searches"], 11, "{usage}");
}

#[test]
fn a_registered_schema_is_the_schema_resource() {
    let srv = catalog_server(&[]);
    let schema = json!({"type": "object", "properties": {"price_eur": {"type": "number"}}});
    let r = srv
        .post("/api/v1/schemas")
        .tenant("acme")
        .json(&json!({"vertical": "parts", "entity_type": "item", "schema": schema}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    block_on(async {
        let client = connect(&srv, Auth::DevTenant("acme"), None).await.unwrap();
        let read = client
            .read_resource(ReadResourceRequestParams::new("schema://parts/item"))
            .await
            .unwrap();
        let (text, _) = resource_text(&read.contents[0]);
        assert_eq!(serde_json::from_str::<Value>(text).unwrap(), schema);
        let described =
            ok_text(&call(&client, "qanatix_schema", json!({"collection": "parts"})).await);
        assert!(
            described.contains("Registered JSON Schema for record type 'item' (version 1"),
            "{described}"
        );
        let missing = client
            .read_resource(ReadResourceRequestParams::new("schema://parts/nothing"))
            .await
            .unwrap_err();
        assert_mcp_error(missing, ErrorCode::RESOURCE_NOT_FOUND);
        client.cancel().await.unwrap();
    });
}

fn assert_mcp_error(e: ServiceError, code: ErrorCode) {
    match e {
        ServiceError::McpError(data) => assert_eq!(data.code, code, "{}", data.message),
        other => panic!("not an MCP error: {other}"),
    }
}

#[test]
fn tool_errors_are_results_a_model_can_act_on() {
    let srv = catalog_server(&[]);
    srv.ingest(
        "other",
        "parts",
        "item",
        &json!({"records": [{"name": "Secret part", "vertical_data": {"x": 1}}]}),
    );
    let foreign = srv
        .get("/api/v1/entities?vertical=parts")
        .tenant("other")
        .send()
        .json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    block_on(async {
        let client = connect(&srv, Auth::DevTenant("acme"), None).await.unwrap();
        let bad_filter = err_text(
            &call(
                &client,
                "qanatix_search",
                json!({"collection": "parts", "filters": {"diameter_mm_min": "big"}}),
            )
            .await,
        );
        assert!(bad_filter.contains("diameter_mm_min"), "{bad_filter}");
        let bad_sort = err_text(
            &call(
                &client,
                "qanatix_search",
                json!({"collection": "parts", "query": "bolt", "sort": "-colour"}),
            )
            .await,
        );
        assert!(bad_sort.contains("sortable fields: name"), "{bad_sort}");
        assert!(bad_sort.contains("in collection 'parts'"), "{bad_sort}");
        let no_collection = err_text(&call(&client, "qanatix_search", json!({"query": "x"})).await);
        assert!(
            no_collection.contains("collection is required"),
            "{no_collection}"
        );
        let too_many = err_text(
            &call(
                &client,
                "qanatix_search",
                json!({"collection": "parts", "query": "x", "limit": 50}),
            )
            .await,
        );
        assert!(too_many.contains("limit must be a whole number from 1 to 20"));
        let unknown_arg = err_text(&call(&client, "qanatix_lookup", json!({"id": "x"})).await);
        assert!(unknown_arg.contains("record_id"), "{unknown_arg}");
        for id in [
            foreign.as_str(),
            "not-a-uuid",
            "01900000-0000-7000-8000-000000000000",
        ] {
            let missing =
                err_text(&call(&client, "qanatix_lookup", json!({"record_id": id})).await);
            assert!(missing.contains("No record with id"), "{missing}");
            assert!(!missing.contains("Secret"), "{missing}");
            let e = client
                .read_resource(ReadResourceRequestParams::new(format!("entity://{id}")))
                .await
                .unwrap_err();
            assert_mcp_error(e, ErrorCode::RESOURCE_NOT_FOUND);
        }
        // The other tenant's collection is not listed, nor searchable.
        let unknown = ok_text(
            &call(
                &client,
                "qanatix_search",
                json!({"collection": "nothing", "query": "x"}),
            )
            .await,
        );
        assert!(
            unknown.contains("has no records in collection 'nothing'"),
            "{unknown}"
        );
        let secret = ok_text(
            &call(
                &client,
                "qanatix_search",
                json!({"collection": "parts", "query": "Secret"}),
            )
            .await,
        );
        assert!(!secret.contains("Secret part"), "{secret}");
        let e = client
            .call_tool(CallToolRequestParams::new("no_such_tool"))
            .await
            .unwrap_err();
        assert_mcp_error(e, ErrorCode::INVALID_PARAMS);
        client.cancel().await.unwrap();
    });
}

#[test]
fn versions_are_negotiated_with_real_clients() {
    let srv = common::start_dev(&[]);
    block_on(async {
        for v in [
            ProtocolVersion::V_2025_03_26,
            ProtocolVersion::V_2025_06_18,
            ProtocolVersion::V_2025_11_25,
        ] {
            let client = connect(&srv, Auth::DevTenant("acme"), Some(v.clone()))
                .await
                .unwrap();
            assert_eq!(client.peer_info().unwrap().protocol_version, v);
            client.list_all_tools().await.unwrap();
            client.cancel().await.unwrap();
        }
    });
    let r = initialize(&srv, "2024-11-05");
    assert_eq!(r.json()["result"]["protocolVersion"], "2025-11-25");
}

// ---- raw HTTP -------------------------------------------------------------------------------

fn mcp_post(srv: &Server, tenant: &str, session: Option<&str>, body: &str) -> Resp {
    let mut r = srv
        .post("/mcp/")
        .tenant(tenant)
        .header("Accept", "application/json, text/event-stream");
    if let Some(s) = session {
        r = r.header("Mcp-Session-Id", s);
    }
    r.raw(body.as_bytes().to_vec(), "application/json").send()
}

fn initialize(srv: &Server, version: &str) -> Resp {
    let r = mcp_post(
        srv,
        "acme",
        None,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}})
        .to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

fn session(srv: &Server, version: &str) -> String {
    initialize(srv, version)
        .header("mcp-session-id")
        .expect("session id")
        .to_owned()
}

fn rpc_error(r: &Resp, status: u16, code: i32) -> Value {
    assert_eq!(r.status, status, "{}", r.text);
    let v = r.json();
    assert_eq!(v["jsonrpc"], "2.0", "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().len() > 5, "{v}");
    v
}

#[test]
fn malformed_json_rpc_gets_the_spec_codes() {
    let srv = common::start_dev(&[]);
    let s = session(&srv, "2025-06-18");
    let post = |body: &str| mcp_post(&srv, "acme", Some(&s), body);
    let v = rpc_error(&post("{\"jsonrpc\": \"2.0\", "), 400, -32700);
    assert_eq!(v["id"], Value::Null);
    rpc_error(&post("[1, 2"), 400, -32700);
    rpc_error(&post("7"), 400, -32600);
    rpc_error(&post(r#"{"id": 1, "method": "ping"}"#), 200, -32600);
    rpc_error(
        &post(r#"{"jsonrpc": "2.0", "id": null, "method": "ping"}"#),
        400,
        -32600,
    );
    let v = rpc_error(
        &post(r#"{"jsonrpc": "2.0", "id": 5, "method": "nope/nope"}"#),
        200,
        -32601,
    );
    assert_eq!(v["id"], 5);
    rpc_error(
        &post(r#"{"jsonrpc": "2.0", "id": "a", "method": "tools/call"}"#),
        200,
        -32602,
    );
    rpc_error(
        &post(r#"{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": [1]}"#),
        200,
        -32602,
    );
    rpc_error(
        &post(r#"{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "nope"}}"#),
        200,
        -32602,
    );
    rpc_error(
        &post(r#"{"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {}}"#),
        200,
        -32602,
    );
    rpc_error(
        &post(
            r#"{"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": "ftp://x"}}"#,
        ),
        200,
        -32602,
    );
    // Batches went away in 2025-06-18.
    rpc_error(
        &post(r#"[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]"#),
        400,
        -32600,
    );
    // A valid ping still answers after all that.
    let r = post(r#"{"jsonrpc": "2.0", "id": 9, "method": "ping"}"#);
    assert_eq!(r.json(), json!({"jsonrpc": "2.0", "id": 9, "result": {}}));
    // Bodies over 1 MiB, other media types, a refusing Accept.
    let big = format!(
        r#"{{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {{"pad": "{}"}}}}"#,
        "x".repeat(1024 * 1024)
    );
    post(&big).expect_error(413, "payload_too_large");
    let r = srv
        .post("/mcp/")
        .tenant("acme")
        .header("Mcp-Session-Id", &s)
        .raw(b"{}".to_vec(), "text/plain")
        .send();
    rpc_error(&r, 415, -32600);
    let r = srv
        .post("/mcp/")
        .tenant("acme")
        .header("Mcp-Session-Id", &s)
        .header("Accept", "text/html")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send();
    rpc_error(&r, 406, -32600);
}

#[test]
fn batches_follow_the_negotiated_version() {
    let srv = catalog_server(&[]);
    let s = session(&srv, "2025-03-26");
    let r = mcp_post(
        &srv,
        "acme",
        Some(&s),
        &json!([
            {"jsonrpc": "2.0", "id": 1, "method": "ping"},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "qanatix_search", "arguments": {"collection": "parts", "query": "bolt"}}},
            {"jsonrpc": "2.0", "id": 3, "method": "nope"},
            {"jsonrpc": "2.0", "id": 4, "method": "initialize", "params": {}},
            5
        ])
        .to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let answers = r.json();
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 5, "{answers:?}");
    assert_eq!(answers[0], json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
    assert!(answers[1]["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Showing "));
    assert_eq!(answers[2]["error"]["code"], -32601);
    assert_eq!(answers[3]["error"]["code"], -32600);
    assert_eq!(answers[4]["error"]["code"], -32600);
    assert_eq!(answers[4]["id"], Value::Null);
    // Only notifications: nothing to answer.
    let r = mcp_post(
        &srv,
        "acme",
        Some(&s),
        r#"[{"jsonrpc": "2.0", "method": "notifications/initialized"}]"#,
    );
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.text.is_empty());
    rpc_error(&mcp_post(&srv, "acme", Some(&s), "[]"), 400, -32600);
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "ping"}))
        .collect();
    rpc_error(
        &mcp_post(&srv, "acme", Some(&s), &Value::Array(many).to_string()),
        400,
        -32600,
    );
}

#[test]
fn sessions_are_issued_checked_and_ended() {
    let srv = common::start_dev(&[]);
    let s = session(&srv, "2025-06-18");
    assert_eq!(s.len(), 32);
    let ping = r#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#;
    // Notifications are accepted with 202 and no body.
    let r = mcp_post(
        &srv,
        "acme",
        Some(&s),
        r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#,
    );
    assert_eq!((r.status, r.text.as_str()), (202, ""));
    let r = mcp_post(
        &srv,
        "acme",
        Some(&s),
        r#"{"jsonrpc": "2.0", "id": 1, "result": {}}"#,
    );
    assert_eq!(r.status, 202);
    rpc_error(&mcp_post(&srv, "acme", None, ping), 400, -32600);
    rpc_error(&mcp_post(&srv, "acme", Some("f00d"), ping), 404, -32001);
    // Another tenant cannot use the session, nor end it.
    rpc_error(&mcp_post(&srv, "other", Some(&s), ping), 404, -32001);
    let r = srv
        .req("DELETE", "/mcp/")
        .tenant("other")
        .header("Mcp-Session-Id", &s)
        .send();
    assert_eq!(r.status, 404);
    // The protocol version header is checked; the path works without the slash.
    let r = srv
        .post("/mcp")
        .tenant("acme")
        .header("Mcp-Session-Id", &s)
        .header("MCP-Protocol-Version", "2025-06-18")
        .raw(ping.as_bytes().to_vec(), "application/json")
        .send();
    assert_eq!(r.json()["result"], json!({}), "{}", r.text);
    let r = srv
        .post("/mcp")
        .tenant("acme")
        .header("Mcp-Session-Id", &s)
        .header("MCP-Protocol-Version", "1999-01-01")
        .raw(ping.as_bytes().to_vec(), "application/json")
        .send();
    rpc_error(&r, 400, -32600);
    // A client that accepts only SSE gets the answer as one event.
    let r = srv
        .post("/mcp/")
        .tenant("acme")
        .header("Mcp-Session-Id", &s)
        .header("Accept", "text/event-stream")
        .raw(ping.as_bytes().to_vec(), "application/json")
        .send();
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        r.text,
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"
    );
    // No server-initiated stream.
    let r = srv
        .get("/mcp/")
        .tenant("acme")
        .header("Mcp-Session-Id", &s)
        .send();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST, DELETE"));
    // DELETE ends it.
    let delete = || {
        srv.req("DELETE", "/mcp/")
            .tenant("acme")
            .header("Mcp-Session-Id", &s)
            .send()
    };
    assert_eq!(delete().status, 204);
    assert_eq!(delete().status, 404);
    rpc_error(&mcp_post(&srv, "acme", Some(&s), ping), 404, -32001);
    let r = srv.req("DELETE", "/mcp/").tenant("acme").send();
    rpc_error(&r, 400, -32600);
}

/// A production server whose tenant "acme" may search `search_rpm` times a minute, and a key
/// of it with the `search` scope (the directory holds the plans file).
fn limited_server(search_rpm: u32) -> (tempfile::TempDir, Server, String) {
    let dir = tempfile::tempdir().unwrap();
    let plans = common::plans_file(
        &dir,
        json!({"tiny": {"general_rpm": 600, "search_rpm": search_rpm}}),
    );
    let srv = common::start(&[("PLANS_FILE", &plans)]);
    srv.create_tenant("acme", "tiny");
    let key = srv.create_key("acme", &["search"]);
    (dir, srv, key)
}

#[test]
fn auth_scopes_and_rate_limits_are_the_rest_apis() {
    let (_dir, srv, search_key) = limited_server(4);
    let ingest_key = srv.create_key("acme", &["ingest"]);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    let post = |key: Option<&str>| {
        let mut r = srv.post("/mcp/");
        if let Some(k) = key {
            r = r.bearer(k);
        }
        r.json(&init).send()
    };
    let r = post(None);
    r.expect_error(401, "invalid_api_key");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    post(Some(&format!("sk_live_{}", "0".repeat(64)))).expect_error(401, "invalid_api_key");
    // Production ignores X-Tenant-Id without a key.
    srv.post("/mcp/")
        .tenant("acme")
        .json(&init)
        .send()
        .expect_error(401, "invalid_api_key");
    post(Some(&ingest_key)).expect_error(403, "insufficient_scope");
    // The master key names its tenant.
    let master = srv.master_key();
    srv.post("/mcp/")
        .bearer(&master)
        .json(&init)
        .send()
        .expect_error(400, "bad_request");
    let r = srv
        .post("/mcp/")
        .bearer(&master)
        .tenant("acme")
        .json(&init)
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    // A real client gets nowhere with a bad key.
    block_on(async {
        let bad = format!("sk_live_{}", "1".repeat(64));
        assert!(connect(&srv, Auth::Key(&bad), None).await.is_err());
    });
    // Every request draws from the search bucket (limit 4; the 403 above took one).
    let r = post(Some(&search_key));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header_u64("x-ratelimit-limit"), 4);
    let remaining = r.header_u64("x-ratelimit-remaining");
    for _ in 0..remaining {
        assert_eq!(post(Some(&search_key)).status, 200);
    }
    let r = post(Some(&search_key));
    r.expect_error(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // REST search shares the bucket.
    srv.get("/api/v1/search/parts?q=x")
        .bearer(&search_key)
        .send()
        .expect_error(429, "rate_limited");
}

#[test]
fn tool_calls_are_metered_as_searches_and_capped_by_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let plans = common::plans_file(
        &dir,
        json!({"capped": {"general_rpm": 600, "search_rpm": 600, "max_searches_per_month": 3}}),
    );
    let srv = common::start_dev(&[("PLANS_FILE", &plans), ("DEFAULT_PLAN", "capped")]);
    let s = session(&srv, "2025-03-26");
    let search = |id: i64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "qanatix_search", "arguments": {"collection": "parts", "query": "bolt"}}})
    };
    // One REST search, then two tool calls in one batch: three searches.
    assert_eq!(
        srv.search("acme", "parts", &json!({"query": "bolt"}))
            .status,
        200
    );
    let r = mcp_post(
        &srv,
        "acme",
        Some(&s),
        &Value::Array(vec![search(1), search(2)]).to_string(),
    );
    for a in r.json().as_array().unwrap() {
        assert_eq!(a["result"]["isError"], false, "{a}");
    }
    let r = mcp_post(&srv, "acme", Some(&s), &search(3).to_string());
    let result = &r.json()["result"];
    assert_eq!(result["isError"], true, "{result}");
    assert!(result["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("searches per month"));
    let usage = srv.get("/api/v1/usage").tenant("acme").send().json();
    assert_eq!(usage["usage"]["searches"], 3, "{usage}");
    // Listing tools is not a search.
    let r = mcp_post(
        &srv,
        "acme",
        Some(&s),
        r#"{"jsonrpc": "2.0", "id": 4, "method": "tools/list"}"#,
    );
    assert_eq!(r.json()["result"]["tools"].as_array().unwrap().len(), 5);
}

#[test]
fn tool_calls_in_a_batch_each_take_a_search_token() {
    let (_dir, srv, key) = limited_server(3);
    let init = initialize_with_key(&srv, &key);
    let calls: Vec<Value> = (0..3)
        .map(|i| {
            json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
                "name": "qanatix_verticals", "arguments": {}}})
        })
        .collect();
    // initialize took one token of 3; the batch's request one more, its second call the last.
    let r = srv
        .post("/mcp/")
        .bearer(&key)
        .header("Mcp-Session-Id", &init)
        .json(&Value::Array(calls))
        .send();
    let answers = r.json();
    let answers = answers.as_array().unwrap().clone();
    assert!(answers[0]["result"].is_object(), "{answers:?}");
    assert!(answers[1]["result"].is_object(), "{answers:?}");
    assert_eq!(answers[2]["error"]["code"], -32000, "{answers:?}");
    assert!(answers[2]["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Rate limit exceeded"));
}

fn initialize_with_key(srv: &Server, key: &str) -> String {
    let r = srv
        .post("/mcp/")
        .bearer(key)
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
        )
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.header("mcp-session-id").unwrap().to_owned()
}
