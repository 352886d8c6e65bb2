//! What every operation shares, added to the generated document in one place: the three ways to
//! authenticate, the statuses the guard and the body extractors answer before a handler runs
//! (API.md §2), the `X-RateLimit-*` and `X-Request-Id` headers (§3), and the error body.
//!
//! A handler's attribute names its scope as `security(("api_key" = ["search"]))`; this module
//! turns that into the full alternative (key with the scope, master key naming a tenant, or a
//! development-mode tenant header).

use serde_json::{json, Map, Value};

const ERROR_REF: &str = "#/components/schemas/Error";

/// Applies the conventions to a generated document.
pub fn apply(mut doc: Value) -> Value {
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        components.insert("securitySchemes".into(), security_schemes());
        components.insert("headers".into(), headers());
        components.insert("responses".into(), error_responses());
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                if let Some(op) = op.as_object_mut() {
                    operation(method, path, op);
                }
            }
        }
    }
    doc
}

fn security_schemes() -> Value {
    json!({
        "api_key": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sk_live_<64 hex>",
            "description": "A tenant's API key: `Authorization: Bearer sk_live_…`. Its scopes \
                (`search`, `ingest`, `entities`, `admin`; `admin` implies all) must include the \
                operation's. Rate limited per tenant."
        },
        "master_key": {
            "type": "http",
            "scheme": "bearer",
            "description": "The operator's master key (`QANATIX_MASTER_KEY`, or \
                `DATA_DIR/master.key`): every scope, for the tenant named by `X-Tenant-Id`. \
                Not rate limited. Only it creates, changes or deletes tenants and takes snapshots."
        },
        "tenant_header": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Tenant-Id",
            "description": "The tenant a master key acts for. Alone (no `Authorization`), only in \
                development mode (`ENV=development`): acts as that tenant with every scope, \
                creating it on first use; responses then carry `X-Auth-Mode: development`."
        }
    })
}

fn headers() -> Value {
    let int = |description: &str, example: i64| json!({"description": description, "schema": {"type": "integer"}, "example": example});
    json!({
        "X-RateLimit-Limit": int("Capacity of the tenant's bucket this request drew from (requests per minute).", 1000),
        "X-RateLimit-Remaining": int("Whole requests left in that bucket.", 998),
        "X-RateLimit-Reset": int("Unix time (seconds) when the bucket is full again.", 1_795_000_000),
        "Retry-After": int("Seconds until one request is allowed again.", 2),
        "X-Request-Id": {
            "description": "The client's own `X-Request-Id` (up to 128 sane characters), or `req_<hex>`.",
            "schema": {"type": "string"},
            "example": "req_5f2b9c0e4d7a1b3c"
        }
    })
}

fn error(description: &str, example_code: &str, example_detail: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {
            "schema": {"$ref": ERROR_REF},
            "example": {"detail": example_detail, "code": example_code}
        }}
    })
}

/// The statuses the guard and the body extractors answer for any route, by status.
const SHARED: &[(&str, &str, &str, &str, &str)] = &[
    ("400", "BadRequest", "Malformed JSON, a malformed query string or header.", "bad_request", "Malformed JSON: EOF while parsing an object at line 1 column 1"),
    ("401", "Unauthorized", "Missing, malformed, unknown, revoked or expired key (`invalid_api_key`, `key_expired`).", "invalid_api_key", "Invalid or missing API key."),
    ("403", "Forbidden", "The key lacks the scope (`insufficient_scope`), or its tenant is suspended (`tenant_suspended`).", "insufficient_scope", "This route requires the 'search' scope."),
    ("404", "NotFound", "No such id in the caller's tenant (other tenants' ids look the same), or Open is not enabled.", "not_found", "Not found."),
    ("408", "RequestTimeout", "The body stopped arriving.", "request_timeout", "The request body did not arrive in time."),
    ("413", "PayloadTooLarge", "Body over the limit (1 MB; 50 MB for ingestion).", "payload_too_large", "Request body exceeds the limit of 1048576 bytes."),
    ("415", "UnsupportedMediaType", "Wrong `Content-Type`.", "unsupported_media_type", "Content-Type must be application/json."),
    ("422", "ValidationError", "Well-formed, but a field is missing or invalid.", "validation_error", "Invalid body: missing field `name` at line 1 column 2"),
    ("429", "RateLimited", "Rate limit exceeded (per tenant; per client IP on Open and for failed authentication).", "rate_limited", "Rate limit exceeded. Retry after 2 seconds."),
];

fn error_responses() -> Value {
    let mut out = Map::new();
    for (status, name, description, code, detail) in SHARED {
        let mut response = error(description, code, detail);
        response["headers"] = json!({"X-Request-Id": header_ref("X-Request-Id")});
        if *status == "429" {
            response["headers"]["Retry-After"] = header_ref("Retry-After");
        }
        out.insert((*name).into(), response);
    }
    Value::Object(out)
}

fn shared(status: &str) -> Value {
    let name = SHARED
        .iter()
        .find(|s| s.0 == status)
        .map_or("BadRequest", |s| s.1);
    json!({"$ref": format!("#/components/responses/{name}")})
}

fn header_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/headers/{name}")})
}

/// `get_entities_id` for `GET /api/v1/entities/{id}`: handlers of different resources share
/// names (`list`, `create`), paths do not.
fn operation_id(method: &str, path: &str) -> String {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let words: Vec<String> = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let slash = if path.ends_with('/') { "_slash" } else { "" };
    format!("{method}_{}{slash}", words.join("_"))
}

/// An example value for a parameter, by its name (the same names mean the same things on
/// every route); a parameter with an enumeration shows its first value.
fn parameter_example(path: &str, name: &str, schema: Option<&Value>) -> Option<Value> {
    if let Some(first) = schema.and_then(|s| s.get("enum")).and_then(|e| e.get(0)) {
        return Some(first.clone());
    }
    Some(match name {
        "id" | "cursor" => json!("01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e"),
        "Mcp-Session-Id" => json!("6f1c0d2e-4b7a-4c1e-9f3a-2d5e8b7c1a90"),
        "vertical" | "collection" => json!("parts"),
        "entity_type" | "record_type" => json!("bolt"),
        "q" => json!("hex bolt M8"),
        "limit" => json!(20),
        "offset" => json!(0),
        "status" => json!("active"),
        "format" if path.ends_with("/export") => json!("ndjson"),
        "format" => json!("json"),
        "sort" => json!("-price_eur"),
        "facets" => json!("material,brand"),
        "filters" => json!({"material": "stainless steel", "price_eur_max": 1}),
        "permanent" | "include_expired" => json!(true),
        "X-Webhook-Signature" => {
            json!("sha256=6f4b0e0c5d2a1f9e8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a")
        }
        _ => return None,
    })
}

/// Gives every parameter without an example one (see [`parameter_example`]).
fn parameter_examples(path: &str, op: &mut Map<String, Value>) {
    let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for p in params.iter_mut().filter_map(Value::as_object_mut) {
        if p.contains_key("$ref") || p.contains_key("example") || p.contains_key("examples") {
            continue;
        }
        if p.get("schema").is_some_and(|s| s.get("example").is_some()) {
            continue;
        }
        let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
        if let Some(example) = parameter_example(path, name, p.get("schema")) {
            p.insert("example".into(), example);
        }
    }
}

fn operation(method: &str, path: &str, op: &mut Map<String, Value>) {
    op.insert(
        "operationId".into(),
        Value::String(operation_id(method, path)),
    );
    parameter_examples(path, op);
    let scopes = declared_scopes(op);
    let authenticated = scopes.is_some();
    let open = path.starts_with("/open/");
    if let Some(scopes) = scopes {
        op.insert(
            "security".into(),
            json!([
                {"api_key": scopes},
                {"master_key": [], "tenant_header": []},
                {"tenant_header": []}
            ]),
        );
    }
    let has_body = op.contains_key("requestBody");
    let has_path_params = path.contains('{');
    let has_query = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let mut add = |status: &str, response: Value| {
        responses.entry(status.to_owned()).or_insert(response);
    };
    let mut statuses = Vec::new();
    if authenticated {
        statuses.extend(["401", "403"]);
    }
    if authenticated || open {
        statuses.push("429");
    }
    if has_body {
        statuses.extend(["400", "408", "413", "415", "422"]);
    }
    if has_query {
        // A query string that does not parse, or a value out of range.
        statuses.extend(["400", "422"]);
    }
    if has_path_params || open {
        statuses.push("404");
    }
    let segments = [
        "{vertical}",
        "{entity_type}",
        "{collection}",
        "{record_type}",
    ];
    if segments.iter().any(|s| path.contains(s)) {
        // A vertical or type segment that is not 1–64 characters of `a-z0-9_-`.
        statuses.push("422");
    }
    for status in statuses {
        add(status, shared(status));
    }
    either_error_shape(responses);
    // Shared responses carry their own headers; the operation's own answers get them here.
    for response in responses
        .values_mut()
        .filter_map(Value::as_object_mut)
        .filter(|r| !r.contains_key("$ref"))
    {
        let headers = response
            .entry("headers")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(headers) = headers {
            headers.insert("X-Request-Id".into(), header_ref("X-Request-Id"));
            if authenticated || open {
                for h in [
                    "X-RateLimit-Limit",
                    "X-RateLimit-Remaining",
                    "X-RateLimit-Reset",
                ] {
                    headers.insert(h.into(), header_ref(h));
                }
            }
        }
    }
}

/// A handler's own body for an error status (a batch's per-record errors with its 422) is not
/// the only body that status can have: the body extractors and validation answer it in the
/// error shape too.
fn either_error_shape(responses: &mut Map<String, Value>) {
    for (status, response) in responses.iter_mut() {
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        let Some(schema) = response.pointer_mut("/content/application~1json/schema") else {
            continue;
        };
        if schema.get("$ref").and_then(Value::as_str) != Some(ERROR_REF) {
            let own = schema.take();
            *schema = json!({"anyOf": [own, {"$ref": ERROR_REF}]});
        }
    }
}

/// The scopes an operation's attribute declared for `api_key`, if it is authenticated.
fn declared_scopes(op: &Map<String, Value>) -> Option<Value> {
    op.get("security")?
        .as_array()?
        .iter()
        .find_map(|req| req.get("api_key").cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authenticated_operation_gets_every_way_in_and_the_guards_errors() {
        let doc = apply(json!({
            "components": {},
            "paths": {"/api/v1/things/{id}": {"patch": {
                "security": [{"api_key": ["entities"]}],
                "requestBody": {},
                "responses": {"200": {"description": "ok"}}
            }}}
        }));
        let op = &doc["paths"]["/api/v1/things/{id}"]["patch"];
        assert_eq!(op["security"][0]["api_key"], json!(["entities"]));
        assert_eq!(op["security"].as_array().unwrap().len(), 3);
        for status in [
            "400", "401", "403", "404", "408", "413", "415", "422", "429",
        ] {
            let name = op["responses"][status]["$ref"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap();
            let shared = &doc["components"]["responses"][name];
            let json = &shared["content"]["application/json"];
            assert_eq!(json["schema"]["$ref"], ERROR_REF, "{status}");
            assert!(json["example"]["code"].is_string(), "{status}");
        }
        assert!(op["responses"]["200"]["headers"]["X-RateLimit-Remaining"].is_object());
        assert!(doc["components"]["securitySchemes"]["master_key"].is_object());
        assert_eq!(op["operationId"], "patch_things_id");
    }

    #[test]
    fn a_public_operation_stays_public() {
        let doc = apply(json!({
            "components": {},
            "paths": {"/health": {"get": {"responses": {"200": {"description": "ok"}}}}}
        }));
        let op = &doc["paths"]["/health"]["get"];
        assert!(op.get("security").is_none());
        assert!(op["responses"].get("401").is_none());
        assert!(op["responses"]["200"]["headers"]
            .get("X-RateLimit-Limit")
            .is_none());
        assert!(op["responses"]["200"]["headers"]["X-Request-Id"].is_object());
    }

    #[test]
    fn a_handlers_own_answer_for_a_status_is_kept() {
        let doc = apply(json!({
            "components": {},
            "paths": {"/api/v1/x": {"post": {
                "security": [{"api_key": ["admin"]}],
                "requestBody": {},
                "responses": {"422": {"description": "mine"}}
            }}}
        }));
        assert_eq!(
            doc["paths"]["/api/v1/x"]["post"]["responses"]["422"]["description"],
            "mine"
        );
    }

    #[test]
    fn query_parameters_and_segments_bring_their_refusals_and_own_error_bodies_allow_the_shape() {
        let doc = apply(json!({
            "components": {},
            "paths": {"/api/v1/ingest/{vertical}/{entity_type}/batch": {"post": {
                "security": [{"api_key": ["ingest"]}],
                "parameters": [{"name": "limit", "in": "query"}],
                "responses": {"422": {"description": "rejected", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/BatchResponse"}
                }}}}
            }}}
        }));
        let op = &doc["paths"]["/api/v1/ingest/{vertical}/{entity_type}/batch"]["post"];
        assert_eq!(op["operationId"], "post_ingest_vertical_entity_type_batch");
        assert!(op["responses"]["400"].is_object());
        let schema = &op["responses"]["422"]["content"]["application/json"]["schema"];
        assert_eq!(
            schema["anyOf"][0]["$ref"],
            "#/components/schemas/BatchResponse"
        );
        assert_eq!(schema["anyOf"][1]["$ref"], ERROR_REF);
    }
}
