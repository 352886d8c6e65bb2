//! Operations served by a handler that is registered at more than one path (the records
//! dialect's several upload paths, MCP with and without its trailing slash). A `#[utoipa::path]`
//! describes one path, so the handler's attribute describes its first path and these describe
//! the others; the route-table test keeps both lists equal to what the server registers.

#![allow(dead_code)] // Read by the OpenAPI derive only.

use crate::openapi::schemas::{
    CollectionTypePath, Error, FileUpload, JsonRpc, UploadAnswers, UploadBatch,
};

const RW: &str = "Answered once the write is searchable.";

/// Another path of `POST /api/v1/ingest/batch/{collection}/{record_type}`.
#[utoipa::path(
    post,
    path = "/api/v1/upload/{collection}/{record_type}/batch",
    tag = "uploads",
    summary = "Upload a batch of records (any record type, also `batch` or `upload`).",
    description = RW,
    params(CollectionTypePath),
    request_body = UploadBatch,
    responses(UploadAnswers),
    security(("api_key" = ["ingest"]))
)]
pub fn upload_batch() {}

macro_rules! file_upload {
    ($name:ident, $path:literal) => {
        /// Another path of `POST /api/v1/ingest/upload/{collection}/{record_type}`.
        #[utoipa::path(
                    post,
                    path = $path,
                    tag = "uploads",
                    summary = "Upload a file of records (CSV, JSON, NDJSON, XML).",
                    description = RW,
                    params(CollectionTypePath),
                    request_body(content = FileUpload, content_type = "multipart/form-data"),
                    responses(UploadAnswers),
                    security(("api_key" = ["ingest"]))
                )]
        pub fn $name() {}
    };
}

file_upload!(
    upload_upload,
    "/api/v1/upload/{collection}/{record_type}/upload"
);
file_upload!(
    upload_file,
    "/api/v1/upload/{collection}/{record_type}/file"
);

const MCP: &str =
    "Streamable HTTP transport, JSON-RPC 2.0, protocol versions 2025-03-26 and later: \
    `initialize` (answers an `Mcp-Session-Id` header that later requests send), `tools/list`, \
    `tools/call`, `resources/list`, `resources/templates/list`, `resources/read`, `ping`. \
    Tools: `qanatix_search`, `qanatix_lookup`, `qanatix_collections`, `qanatix_verticals`, \
    `qanatix_schema`. Answers JSON, or one SSE event for a client that accepts only \
    `text/event-stream`. Each tool call counts as one search. Tool errors are results with \
    `isError: true`.";
const OPEN_MCP: &str = "The MCP server over the published tenant's public records, without a \
    key: tools `qanatix_open_*`, 60 calls per minute per client IP. 404 unless \
    `OPEN_TENANT_ID` is set.";

macro_rules! mcp {
    ($post:ident, $get:ident, $delete:ident, $path:literal, $tag:literal, $what:expr, $(security($($security:tt)*))?) => {
        #[utoipa::path(
            post,
            path = $path,
            tag = $tag,
            summary = "Send a JSON-RPC message to the MCP server.",
            description = $what,
            params(("Mcp-Session-Id" = Option<String>, Header, description = "The session `initialize` opened.")),
            request_body = JsonRpc,
            responses(
                (status = 200, description = "The JSON-RPC response (`application/json`, or `text/event-stream`).", body = Object),
                (status = 202, description = "A notification or response was accepted; nothing to answer."),
                (status = 400, description = "Not JSON-RPC, or an unknown session.", body = Object),
                (status = 404, description = "The session has ended.", body = Object),
                (status = 406, description = "The client accepts neither JSON nor an event stream.", body = Object),
                (status = 415, description = "Content-Type is not application/json.", body = Object)
            ),
            $(security($($security)*))?
        )]
        pub fn $post() {}

        #[utoipa::path(
            get,
            path = $path,
            tag = $tag,
            summary = "The server-to-client stream: this server sends no unprompted messages.",
            responses((status = 405, description = "Always (the transport allows it), with `Allow: POST, DELETE`.", body = Error)),
            $(security($($security)*))?
        )]
        pub fn $get() {}

        #[utoipa::path(
            delete,
            path = $path,
            tag = $tag,
            summary = "End an MCP session.",
            params(("Mcp-Session-Id" = String, Header, description = "The session to end.")),
            responses(
                (status = 204, description = "Ended."),
                (status = 400, description = "No `Mcp-Session-Id` header.", body = Object),
                (status = 404, description = "No such session of this caller.", body = Object)
            ),
            $(security($($security)*))?
        )]
        pub fn $delete() {}
    };
}

mcp!(
    mcp_post,
    mcp_get,
    mcp_delete,
    "/mcp",
    "mcp",
    MCP,
    security(("api_key" = ["search"]))
);
mcp!(
    mcp_post_slash,
    mcp_get_slash,
    mcp_delete_slash,
    "/mcp/",
    "mcp",
    MCP,
    security(("api_key" = ["search"]))
);
mcp!(
    open_mcp_post,
    open_mcp_get,
    open_mcp_delete,
    "/open/mcp",
    "open",
    OPEN_MCP,
);
mcp!(
    open_mcp_post_slash,
    open_mcp_get_slash,
    open_mcp_delete_slash,
    "/open/mcp/",
    "open",
    OPEN_MCP,
);
