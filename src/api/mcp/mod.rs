//! The MCP server (API-RECORDS.md §4): `POST /mcp/` over the Streamable HTTP transport,
//! JSON-RPC 2.0 with rmcp's message types. The request passes the same guard as the REST API
//! first (key, scope `search`, the search rate-limit bucket, the tenant's gate), so a bad key
//! is a 401 before any JSON-RPC is read.
//!
//! rmcp's own server runs on tower/axum transports; this actix handler frames and dispatches
//! JSON-RPC itself (see docs/mcp.md). Answers are JSON, or a one-event SSE stream for a client
//! that accepts only `text/event-stream`. The server never sends requests of its own, so `GET`
//! (the server-to-client stream) is 405 as the transport allows.
//!
//! `POST /open/mcp/` is the same server for Open's audience (API-RECORDS.md §7): no key, the
//! published tenant's active public records only, limited per client IP, tools named
//! `qanatix_open_*`.

pub mod jsonrpc;
pub mod resources;
pub mod session;
pub mod tools;

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue, ACCEPT, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rmcp::model::{
    CallToolRequestParams, ErrorCode, ErrorData, Implementation, InitializeRequestParams,
    InitializeResult, ListToolsResult, ReadResourceRequestParams, RequestId, ServerCapabilities,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use crate::auth::access::{open_rpm, OPEN_SEARCH, SEARCH};
use crate::auth::middleware::OpenReader;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ratelimit::BucketKind;
use crate::state::AppState;
use crate::store::{EntityStatus, Tenant, Visibility};
use jsonrpc::{Body, Message, Response};
use session::Owner;

/// Protocol versions served, newest first. 2026-07-28 and later drop `initialize` for
/// per-request metadata; a client asking for one is answered with the newest version here, as
/// the protocol's negotiation prescribes.
pub const VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
/// The only version with JSON-RPC batches (2025-06-18 removed them).
const BATCH_VERSION: &str = "2025-03-26";
/// Messages in one batch: each tool call in it is a search.
pub const MAX_BATCH: usize = 20;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

pub fn routes(cfg: &mut web::ServiceConfig) {
    for path in ["/mcp", "/mcp/"] {
        cfg.service(
            crate::api::resource(path, SEARCH)
                .post(post)
                .get(get)
                .delete(delete),
        );
    }
    for path in ["/open/mcp", "/open/mcp/"] {
        cfg.service(
            crate::api::resource(path, OPEN_SEARCH)
                .post(open_post)
                .get(get)
                .delete(open_delete),
        );
    }
}

/// Whose records the tools and resources reach.
///
/// `/mcp/` serves a tenant's whole catalog to its keys (`Tenant`); `/open/mcp/` serves the
/// published tenant's active public records to anyone (`Public`), with its tools named
/// `qanatix_open_*` so that a model connected to both can tell them apart. Searches filter on
/// visibility in the index; every record shown is checked with [`Audience::admits`] as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Every record of the tenant, whatever its status or visibility.
    Tenant,
    /// Open's readers: active, public records only.
    Public,
}

/// The prefix of the tool names `/mcp/` serves; [`Audience::names`] swaps it per audience.
pub const TOOL_PREFIX: &str = "qanatix_";

impl Audience {
    /// Whether a record with this status and visibility may be shown.
    pub fn admits(self, status: EntityStatus, visibility: Visibility) -> bool {
        match self {
            Audience::Tenant => true,
            Audience::Public => status == EntityStatus::Active && visibility == Visibility::Public,
        }
    }

    /// Whether searches see only public records.
    pub fn public_only(self) -> bool {
        match self {
            Audience::Tenant => false,
            Audience::Public => true,
        }
    }

    /// The prefix of this audience's tool names.
    pub fn tool_prefix(self) -> &'static str {
        match self {
            Audience::Tenant => TOOL_PREFIX,
            Audience::Public => "qanatix_open_",
        }
    }

    /// `text` (a tool's name, description or answer, written with `/mcp/`'s tool names) with
    /// the tool names this audience is served under. Only the tools' own names are replaced, so
    /// record data that merely starts with the prefix is left as it is.
    pub fn names(self, text: &str) -> String {
        let mut out = text.to_owned();
        if self != Audience::Tenant {
            for name in tools::NAMES {
                if let Some(base) = name.strip_prefix(TOOL_PREFIX) {
                    out = out.replace(name, &format!("{}{base}", self.tool_prefix()));
                }
            }
        }
        out
    }
}

/// What a tool or resource runs with: one tenant, the records of it that `audience` admits,
/// and the server's operations. Nothing in it names a caller, so an endpoint without keys can
/// build one too.
pub struct Context<'a> {
    pub state: &'a AppState,
    pub tenant: &'a Arc<Tenant>,
    pub audience: Audience,
    /// Where tool calls past the first of a request take their own rate-limit token (the
    /// guard took the first).
    pub limit: Limit,
}

/// The rate-limit bucket a request's further searches draw from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Limits are off, or do not apply to this caller (master key, development mode).
    None,
    /// The tenant's search bucket (`/mcp/`).
    Tenant,
    /// Open's search bucket of this client (`/open/mcp/`).
    OpenClient(String),
}

impl Context<'_> {
    /// Counts one search for metering and the plan's monthly cap (402 text when used up).
    pub fn count_search(&self) -> Result<(), ApiError> {
        crate::quota::count_search(self.state, self.tenant)
    }
}

/// The negotiated version: the client's when served here, else the newest.
pub fn negotiate(requested: &str) -> &'static str {
    VERSIONS
        .iter()
        .find(|v| **v == requested)
        .copied()
        .unwrap_or(VERSIONS[0])
}

const INSTRUCTIONS: &str = "Search the user's QANATIX catalog (parts, products, suppliers and \
other structured records). Find the collection with qanatix_collections, learn its fields with \
qanatix_schema, then use qanatix_search (words, part numbers or standards, filters, sort) and \
qanatix_lookup for a whole record.";

fn initialize_result(version: &'static str, audience: Audience) -> InitializeResult {
    let mut capabilities = ServerCapabilities::default();
    capabilities.tools = Some(Default::default());
    capabilities.resources = Some(Default::default());
    InitializeResult::new(capabilities)
        .with_protocol_version(serde_json::from_value(json!(version)).unwrap_or_default())
        .with_server_info(
            Implementation::new("qanatix", env!("CARGO_PKG_VERSION")).with_title("QANATIX"),
        )
        .with_instructions(audience.names(INSTRUCTIONS))
}

/// How answers are written: JSON, or SSE for clients that accept nothing else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    Json,
    Sse,
}

/// A transport-level refusal, with a JSON-RPC error body (clients read these).
fn refuse(status: StatusCode, code: ErrorCode, message: String) -> HttpResponse {
    HttpResponse::build(status).json(Response::error(None, ErrorData::new(code, message, None)))
}

/// A refusal of the request's headers, answered by [`refuse`] as -32600 with this status.
struct Refusal(StatusCode, &'static str);

impl Refusal {
    fn response(self) -> HttpResponse {
        refuse(self.0, ErrorCode::INVALID_REQUEST, self.1.to_owned())
    }
}

fn media_types(v: &HeaderValue) -> Vec<String> {
    v.to_str()
        .unwrap_or("")
        .split(',')
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

fn framing(req: &HttpRequest) -> Result<Framing, Refusal> {
    let Some(accept) = req.headers().get(ACCEPT) else {
        return Ok(Framing::Json);
    };
    let types = media_types(accept);
    if types.is_empty()
        || types
            .iter()
            .any(|t| matches!(t.as_str(), "application/json" | "application/*" | "*/*"))
    {
        Ok(Framing::Json)
    } else if types.iter().any(|t| t == "text/event-stream") {
        Ok(Framing::Sse)
    } else {
        Err(Refusal(
            StatusCode::NOT_ACCEPTABLE,
            "Accept must allow application/json or text/event-stream.",
        ))
    }
}

fn check_content_type(req: &HttpRequest) -> Result<(), Refusal> {
    match req.headers().get(CONTENT_TYPE) {
        None => Ok(()),
        Some(v) if media_types(v).iter().any(|t| t == "application/json") => Ok(()),
        Some(_) => Err(Refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json.",
        )),
    }
}

/// Who a request serves: the tenant, its audience, the bucket further searches draw from, and
/// the session owner it may use sessions of. `/mcp/` and `/open/mcp/` each build one from their
/// principal; everything after that is shared.
struct Served {
    tenant: Arc<Tenant>,
    audience: Audience,
    limit: Limit,
    owner: Owner,
}

impl Served {
    fn caller(state: &AppState, caller: &Caller) -> Result<Served, ApiError> {
        let tenant = Arc::clone(caller.tenant()?);
        let limit = if state.config.rate_limit_enabled && caller.rate_limited_tenant().is_some() {
            Limit::Tenant
        } else {
            Limit::None
        };
        Ok(Served {
            owner: Owner {
                tenant: tenant.id.clone(),
                key: caller.key.as_ref().map(|k| k.record.id),
                audience: Audience::Tenant,
            },
            tenant,
            audience: Audience::Tenant,
            limit,
        })
    }

    fn open(state: &AppState, reader: &OpenReader) -> Served {
        let limit = if state.config.rate_limit_enabled {
            Limit::OpenClient(reader.client.clone())
        } else {
            Limit::None
        };
        Served {
            owner: Owner {
                tenant: reader.tenant.id.clone(),
                key: None,
                audience: Audience::Public,
            },
            tenant: Arc::clone(&reader.tenant),
            audience: Audience::Public,
            limit,
        }
    }
}

fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn answer(status: StatusCode, framing: Framing, body: &impl serde::Serialize) -> HttpResponse {
    let json = match serde_json::to_string(body) {
        Ok(j) => j,
        Err(e) => {
            use actix_web::ResponseError;
            return ApiError::Internal(format!("MCP answer not serializable: {e}"))
                .error_response();
        }
    };
    match framing {
        Framing::Json => HttpResponse::build(status)
            .content_type("application/json")
            .body(json),
        // One event, then the stream ends: the request's answer is all this server sends.
        Framing::Sse => HttpResponse::build(status)
            .content_type("text/event-stream")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(format!("event: message\ndata: {json}\n\n")),
    }
}

fn params<T: DeserializeOwned>(params: Option<Map<String, Value>>) -> Result<T, ErrorData> {
    serde_json::from_value(Value::Object(params.unwrap_or_default()))
        .map_err(|e| ErrorData::invalid_params(format!("Invalid params: {e}"), None))
}

fn to_value(v: impl serde::Serialize) -> Result<Value, ErrorData> {
    serde_json::to_value(v).map_err(|e| ErrorData::internal_error(e.to_string(), None))
}

/// Tool calls and resource reads: each is a search for metering, quota and (past the first of
/// a batch, whose token the guard took) the rate limit.
fn is_search(method: &str) -> bool {
    matches!(method, "tools/call" | "resources/read")
}

/// Answers one request of an established session.
async fn dispatch(
    ctx: &Context<'_>,
    method: &str,
    params_: Option<Map<String, Value>>,
) -> Result<Value, ErrorData> {
    match method {
        "ping" => Ok(json!({})),
        "tools/list" => {
            let mut r = ListToolsResult::with_all_items(tools::list(ctx.audience).to_vec());
            r.result_type = None;
            to_value(r)
        }
        "tools/call" => {
            let p: CallToolRequestParams = params(params_)?;
            let mut r = tools::call(ctx, &p.name, p.arguments).await?;
            r.result_type = None;
            to_value(r)
        }
        "resources/list" => to_value(resources::list(ctx).await?),
        "resources/templates/list" => to_value(resources::templates()),
        "resources/read" => {
            let p: ReadResourceRequestParams = params(params_)?;
            ctx.count_search()
                .map_err(|e| ErrorData::new(ErrorCode(-32000), e.to_string(), None))?;
            to_value(resources::read(ctx, &p.uri)?)
        }
        "initialize" => Err(ErrorData::invalid_request(
            "initialize starts a session: send it alone, in a POST without Mcp-Session-Id."
                .to_owned(),
            None,
        )),
        other => Err(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("Method not found: {other}"),
            None,
        )),
    }
}

/// Takes a search token for a further tool call of a batch; the error says when to retry.
fn extra_token(ctx: &Context<'_>) -> Result<(), ErrorData> {
    let d = match &ctx.limit {
        Limit::None => return Ok(()),
        Limit::Tenant => ctx.state.take_token(ctx.tenant, BucketKind::Search),
        Limit::OpenClient(who) => {
            ctx.state
                .open_limiter
                .take(who, BucketKind::Search, open_rpm(BucketKind::Search))
        }
    };
    if d.allowed {
        Ok(())
    } else {
        Err(ErrorData::new(
            ErrorCode(-32000),
            ApiError::RateLimited {
                retry_after: d.retry_after,
            }
            .to_string(),
            Some(json!({ "retry_after": d.retry_after })),
        ))
    }
}

async fn respond(ctx: &Context<'_>, message: Message, searches: &mut usize) -> Option<Response> {
    match message {
        Message::Request { id, method, params } => {
            if is_search(&method) {
                *searches += 1;
                if *searches > 1 {
                    if let Err(e) = extra_token(ctx) {
                        return Some(Response::error(Some(id), e));
                    }
                }
            }
            Some(match dispatch(ctx, &method, params).await {
                Ok(result) => Response::result(id, result),
                Err(error) => Response::error(Some(id), error),
            })
        }
        Message::Invalid { id, error } => Some(Response::error(id, error)),
        Message::Notification { .. } | Message::Response => None,
    }
}

async fn initialize(
    state: &AppState,
    served: Served,
    framing: Framing,
    id: RequestId,
    p: Option<Map<String, Value>>,
) -> HttpResponse {
    let p: InitializeRequestParams = match params(p) {
        Ok(p) => p,
        Err(e) => return answer(StatusCode::OK, framing, &Response::error(Some(id), e)),
    };
    let version = negotiate(p.protocol_version.as_str());
    let session = state.mcp_sessions.create(served.owner, version);
    let result = match to_value(initialize_result(version, served.audience)) {
        Ok(r) => Response::result(id, r),
        Err(e) => Response::error(Some(id), e),
    };
    let mut res = answer(StatusCode::OK, framing, &result);
    if let Ok(v) = HeaderValue::from_str(&session) {
        res.headers_mut()
            .insert(header::HeaderName::from_static(SESSION_HEADER), v);
    }
    res
}

/// `POST /mcp/`: a key's tenant, its whole catalog.
async fn post(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let served = Served::caller(&state, &caller)?;
    serve(&state, served, &req, payload).await
}

/// `POST /open/mcp/`: the published tenant's public records, without a key.
async fn open_post(
    state: web::Data<AppState>,
    reader: OpenReader,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let served = Served::open(&state, &reader);
    serve(&state, served, &req, payload).await
}

async fn serve(
    state: &AppState,
    served: Served,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if let Err(refusal) = check_content_type(req) {
        return Ok(refusal.response());
    }
    let framing = match framing(req) {
        Ok(f) => f,
        Err(refusal) => return Ok(refusal.response()),
    };
    let bytes = super::read_body(req, payload, super::BODY_LIMIT).await?;
    let body = match jsonrpc::parse(&bytes) {
        Ok(b) => b,
        Err(e) => {
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                Framing::Json,
                &Response::error(None, e),
            ))
        }
    };
    let body = match body {
        Body::Single(Message::Request { id, method, params }) if method == "initialize" => {
            return Ok(initialize(state, served, framing, id, params).await);
        }
        other => other,
    };
    let Some(session) = header(req, SESSION_HEADER) else {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_REQUEST,
            "Mcp-Session-Id header missing: start a session with initialize first.".into(),
        ));
    };
    let Some(version) = state.mcp_sessions.touch(session, &served.owner) else {
        return Ok(refuse(
            StatusCode::NOT_FOUND,
            ErrorCode(-32001),
            "Session not found: it ended or expired; initialize a new one.".into(),
        ));
    };
    if let Some(asked) = header(req, VERSION_HEADER) {
        if !VERSIONS.contains(&asked) {
            return Ok(refuse(
                StatusCode::BAD_REQUEST,
                ErrorCode::INVALID_REQUEST,
                format!(
                    "Unsupported MCP-Protocol-Version '{asked}'; this server speaks {}.",
                    VERSIONS.join(", ")
                ),
            ));
        }
    }
    let ctx = Context {
        state,
        tenant: &served.tenant,
        audience: served.audience,
        limit: served.limit,
    };
    let mut searches = 0;
    match body {
        Body::Single(message) => match respond(&ctx, message, &mut searches).await {
            None => Ok(HttpResponse::Accepted().finish()),
            Some(r) => {
                let status = if r.is_malformed() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::OK
                };
                Ok(answer(status, framing, &r))
            }
        },
        Body::Batch(messages) => {
            let refusal = if version != BATCH_VERSION {
                Some(format!(
                    "JSON-RPC batches are not part of protocol version {version} (only of {BATCH_VERSION}); send one message per request."
                ))
            } else if messages.is_empty() {
                Some("An empty batch is not a valid request.".to_owned())
            } else if messages.len() > MAX_BATCH {
                Some(format!(
                    "A batch holds at most {MAX_BATCH} messages; this one has {}.",
                    messages.len()
                ))
            } else {
                None
            };
            if let Some(message) = refusal {
                return Ok(refuse(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::INVALID_REQUEST,
                    message,
                ));
            }
            let mut answers = Vec::with_capacity(messages.len());
            for m in messages {
                answers.extend(respond(&ctx, m, &mut searches).await);
            }
            if answers.is_empty() {
                Ok(HttpResponse::Accepted().finish())
            } else {
                Ok(answer(StatusCode::OK, framing, &answers))
            }
        }
    }
}

/// The server-to-client stream: this server has nothing to send unprompted.
async fn get() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST, DELETE"))
        .json(json!({
            "detail": "This MCP server sends no server-initiated messages; POST JSON-RPC to this URL.",
            "code": "method_not_allowed"
        }))
}

/// Ends a session of `/mcp/`.
async fn delete(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let served = Served::caller(&state, &caller)?;
    end_session(&state, &served.owner, &req)
}

/// Ends a session of `/open/mcp/`.
async fn open_delete(
    reader: OpenReader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let served = Served::open(&state, &reader);
    end_session(&state, &served.owner, &req)
}

fn end_session(
    state: &AppState,
    owner: &Owner,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let Some(session) = header(req, SESSION_HEADER) else {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_REQUEST,
            "Name the session to end in the Mcp-Session-Id header.".into(),
        ));
    };
    Ok(if state.mcp_sessions.end(session, owner) {
        HttpResponse::NoContent().finish()
    } else {
        refuse(
            StatusCode::NOT_FOUND,
            ErrorCode(-32001),
            "Session not found.".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_negotiated() {
        assert_eq!(negotiate("2025-03-26"), "2025-03-26");
        assert_eq!(negotiate("2025-06-18"), "2025-06-18");
        assert_eq!(negotiate("2025-11-25"), "2025-11-25");
        assert_eq!(negotiate("2026-07-28"), "2025-11-25");
        assert_eq!(negotiate("2024-11-05"), "2025-11-25");
        assert_eq!(negotiate("nonsense"), "2025-11-25");
    }

    #[test]
    fn the_initialize_result_names_the_version_and_capabilities() {
        let v = serde_json::to_value(initialize_result("2025-03-26", Audience::Tenant)).unwrap();
        assert_eq!(v["protocolVersion"], "2025-03-26");
        assert!(v["capabilities"]["tools"].is_object());
        assert!(v["capabilities"]["resources"].is_object());
        assert_eq!(v["serverInfo"]["name"], "qanatix");
    }

    #[test]
    fn the_public_audience_sees_active_public_records_under_open_names() {
        use EntityStatus::Active;
        use Visibility::{Private, Public};
        assert!(Audience::Public.admits(Active, Public));
        assert!(!Audience::Public.admits(Active, Private));
        assert!(!Audience::Public.admits(EntityStatus::Archived, Public));
        assert!(Audience::Tenant.admits(EntityStatus::Archived, Private));
        assert!(Audience::Public.public_only() && !Audience::Tenant.public_only());
        assert_eq!(
            Audience::Public.names("qanatix_search then qanatix_lookup; qanatix_other"),
            "qanatix_open_search then qanatix_open_lookup; qanatix_other"
        );
        assert_eq!(Audience::Tenant.names("qanatix_search"), "qanatix_search");
        let v = serde_json::to_value(initialize_result("2025-06-18", Audience::Public)).unwrap();
        let instructions = v["instructions"].as_str().unwrap();
        assert!(
            instructions.contains("qanatix_open_collections"),
            "{instructions}"
        );
    }
}
