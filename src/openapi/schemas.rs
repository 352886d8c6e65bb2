//! Shapes of the bodies that handlers read or build as plain JSON (`serde_json::Value`, so that a
//! wrong field is a 422 naming it, or to rename fields between the dialects), written as types
//! for the document. Bodies with a Rust type of their own are described by that type, beside
//! its handler.

#![allow(dead_code)] // Read by the OpenAPI derive only.

use serde_json::Value;
use utoipa::ToSchema;

/// Every error: a human message and a stable machine code (API.md §2).
#[derive(ToSchema)]
#[schema(example = json!({"detail": "Entity not found.", "code": "not_found"}))]
pub struct Error {
    /// What went wrong, for a person.
    detail: String,
    /// `bad_request`, `invalid_api_key`, `key_expired`, `invalid_signature`, `quota_exceeded`,
    /// `insufficient_scope`, `tenant_suspended`, `not_found`, `method_not_allowed`, `conflict`,
    /// `request_timeout`, `payload_too_large`, `unsupported_media_type`, `validation_error`,
    /// `not_implemented`, `rate_limited` or `internal`.
    code: String,
}

#[derive(ToSchema)]
#[schema(example = json!({"status": "ok", "version": "0.1.0"}))]
pub struct Health {
    status: String,
    version: String,
}

/// `ready`; while a lost index is rebuilt, `rebuilding` with its progress (503), or
/// `rebuild_failed` (503).
#[derive(ToSchema)]
#[schema(example = json!({"status": "ready"}))]
pub struct Ready {
    status: String,
    indexed: Option<u64>,
    total: Option<u64>,
    detail: Option<String>,
}

#[derive(ToSchema)]
pub struct ByStatus {
    active: u64,
    archived: u64,
    draft: u64,
}

#[derive(ToSchema)]
pub struct ByIndexing {
    completed: u64,
    pending: u64,
    failed: u64,
}

/// The text-embedding model and the vectors held in memory (hybrid search).
#[derive(ToSchema)]
pub struct EmbeddingsState {
    /// `false` when the server runs with `EMBEDDINGS_ENABLED=false` (then no other field).
    enabled: bool,
    /// The built-in model's id.
    model: Option<String>,
    /// Stored vectors have been read back into memory since start-up (until then text search
    /// is keyword-only).
    loaded: Option<bool>,
    /// Vectors held, for the tenant (or all tenants, for the master key).
    vectors: Option<u64>,
}

#[derive(ToSchema)]
#[schema(example = json!({"total_entities": 200, "entities_by_status": {"active": 198, "archived": 2, "draft": 0}, "embedding_status": {"completed": 200, "pending": 0, "failed": 0}, "queue_depth": 0, "embeddings": {"enabled": true, "model": "potion-base-8M/f16/3955b8a3acf2", "loaded": true, "vectors": 198}}))]
pub struct Stats {
    total_entities: u64,
    entities_by_status: ByStatus,
    embedding_status: ByIndexing,
    queue_depth: u64,
    embeddings: EmbeddingsState,
}

#[derive(ToSchema)]
#[schema(example = json!({"vertical": "parts", "entities_reset": 200, "message": "200 entities queued for reindexing."}))]
pub struct ReindexVertical {
    vertical: String,
    entities_reset: u64,
    message: String,
}

#[derive(ToSchema)]
#[schema(example = json!({"entity_id": "01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e", "status": "pending", "message": "Entity queued for reindexing."}))]
pub struct ReindexEntity {
    entity_id: uuid::Uuid,
    status: String,
    message: String,
}

#[derive(ToSchema)]
#[schema(example = json!({"record_id": "01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e", "status": "pending", "message": "Record queued for reindexing."}))]
pub struct ReindexRecord {
    record_id: uuid::Uuid,
    status: String,
    message: String,
}

/// A snapshot job: `id`, `status` (`running`, `completed`, `failed`), file, sizes and times.
#[derive(ToSchema)]
pub struct Snapshots {
    snapshot_dir: String,
    snapshots: Vec<Value>,
}

/// A JSON Merge Patch of an entity (RFC 7396): top-level fields replace, `vertical_data` is
/// merged (`null` removes a key).
#[derive(ToSchema)]
#[schema(example = json!({"status": "active", "vertical_data": {"price_eur": 0.31, "stock": null}}))]
pub struct EntityPatch {
    name: Option<String>,
    description: Option<String>,
    status: Option<String>,
    visibility: Option<String>,
    source_id: Option<String>,
    source_type: Option<String>,
    source_name: Option<String>,
    source_url: Option<String>,
    vertical_data: Option<Value>,
}

#[derive(ToSchema)]
#[schema(example = json!({"entity_ids": ["01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e", "01938a1e-7c50-7b11-8c2d-0a1b2c3d4e5f"], "update": {"status": "archived"}}))]
pub struct BulkEntityUpdate {
    /// At most 1,000 ids; unknown and other tenants' ids are skipped.
    entity_ids: Vec<uuid::Uuid>,
    update: EntityPatch,
}

#[derive(ToSchema)]
#[schema(example = json!({"entity_ids": ["01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e", "01938a1e-7c50-7b11-8c2d-0a1b2c3d4e5f"]}))]
pub struct EntityIds {
    /// At most 1,000 ids.
    entity_ids: Vec<uuid::Uuid>,
}

#[derive(ToSchema)]
#[schema(example = json!({"archived": 3}))]
pub struct Archived {
    archived: u64,
}

#[derive(ToSchema)]
#[schema(example = json!({"updated": 3}))]
pub struct Updated {
    updated: u64,
}

/// A record of a batch: `name` is required; in the records dialect every field other than
/// `name, description, source_id, source_type, source_url, source_name, status, visibility,
/// collection_data, data` goes into the record's data.
#[derive(ToSchema)]
#[schema(example = json!({"name": "Hex bolt M8x40 A2", "source_id": "SKU-1001", "vertical_data": {"part_number": "DIN933-M8x40-A2", "material": "stainless steel", "price_eur": 0.31}}))]
pub struct BatchRecord {
    name: String,
    source_id: Option<String>,
    description: Option<String>,
    vertical_data: Option<Value>,
}

#[derive(ToSchema)]
#[schema(example = json!({"records": [{"name": "Hex bolt M8x40 A2", "source_id": "SKU-1001", "vertical_data": {"part_number": "DIN933-M8x40-A2", "material": "stainless steel", "price_eur": 0.31}}, {"name": "Hex nut M8 A2", "source_id": "SKU-1002", "vertical_data": {"part_number": "DIN934-M8-A2", "material": "stainless steel"}}]}))]
pub struct BatchRecords {
    /// At most 10,000 records.
    records: Vec<BatchRecord>,
}

/// A bare array of records, or `{records: [...]}`.
#[derive(ToSchema)]
#[schema(example = json!([{"name": "Red Widget", "color": "red"}, {"name": "Blue Widget", "color": "blue"}]))]
pub struct UploadBatch(Vec<Value>);

/// A file upload: `multipart/form-data` with a `file` part.
#[derive(ToSchema)]
#[schema(example = json!({"file": "name,part_number,material\nHex bolt M8x40,DIN933-M8x40-A2,stainless steel\n", "name_column": "name"}))]
pub struct FileUpload {
    /// CSV, JSON array, NDJSON or XML (BMEcat, SAP IDoc), at most 50 MB; the type is read from
    /// the extension or the part's content type.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
    /// CSV only: the column holding each record's name (default `name`).
    name_column: Option<String>,
}

/// A PDF upload: `multipart/form-data` with a `file` part.
#[derive(ToSchema)]
#[schema(example = json!({"file": "(the bytes of datasheet.pdf)"}))]
pub struct PdfUpload {
    /// 1–3 pages become one entity; 4 or more, one entity per page.
    #[schema(format = Binary, content_media_type = "application/pdf")]
    file: String,
}

#[derive(ToSchema)]
#[schema(example = json!({"ingestion_id": "01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e", "total": 200, "pending": 0, "processing": 0, "completed": 200, "failed": 0}))]
pub struct PipelineStatus {
    ingestion_id: uuid::Uuid,
    total: u64,
    pending: u64,
    processing: u64,
    completed: u64,
    failed: u64,
}

#[derive(ToSchema)]
#[schema(example = json!({"triggered": 2, "message": "2 entities queued for indexing."}))]
pub struct PipelineTrigger {
    triggered: u64,
    message: String,
}

/// Rejected records of an ingestion, with their raw input.
#[derive(ToSchema)]
pub struct IngestionErrors {
    ingestion_id: uuid::Uuid,
    entries: Vec<RejectedRecord>,
}

#[derive(ToSchema)]
pub struct RejectedRecord {
    row: u64,
    field: Option<String>,
    error_type: String,
    message: String,
    raw: Option<Value>,
}

/// A record in the records dialect (API-RECORDS.md §1).
#[derive(ToSchema)]
#[schema(example = json!({"id": "01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e", "record_id": "01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e", "name": "Red Widget", "collection": "demo", "record_type": "widget", "data": {"color": "red"}, "description": null, "description_llm": null, "source_type": null, "source_id": null, "source_url": null, "source_name": null, "status": "active", "visibility": "private", "indexing_status": "indexed", "created_at": "2026-11-27T10:00:00.000Z", "updated_at": "2026-11-27T10:00:00.000Z"}))]
pub struct Record {
    id: uuid::Uuid,
    record_id: uuid::Uuid,
    name: String,
    collection: String,
    record_type: String,
    data: Value,
    description: Option<String>,
    description_llm: Option<String>,
    source_type: Option<String>,
    source_id: Option<String>,
    source_url: Option<String>,
    source_name: Option<String>,
    /// `active`, `draft` or `archived`.
    status: String,
    /// `public` or `private`.
    visibility: String,
    /// `pending`, `indexed` or `failed`.
    indexing_status: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

#[derive(ToSchema)]
pub struct RecordPage {
    records: Vec<Record>,
    /// Pass back as `cursor` for the next page; null on the last.
    cursor: Option<String>,
    has_more: bool,
}

#[derive(ToSchema)]
#[schema(example = json!({"collection": "demo", "record_type": "widget", "name": "Blue Widget", "data": {"color": "blue"}}))]
pub struct CreateRecord {
    collection: String,
    record_type: String,
    name: String,
    data: Option<Value>,
    description: Option<String>,
    source_type: Option<String>,
    source_id: Option<String>,
    source_url: Option<String>,
    source_name: Option<String>,
    status: Option<String>,
    visibility: Option<String>,
}

/// Flat fields; `data` is a JSON Merge Patch into the stored data (`null` removes a key).
#[derive(ToSchema)]
#[schema(example = json!({"data": {"stock": 3}}))]
pub struct RecordPatch {
    name: Option<String>,
    description: Option<String>,
    data: Option<Value>,
    status: Option<String>,
    visibility: Option<String>,
    source_type: Option<String>,
    source_id: Option<String>,
    source_url: Option<String>,
    source_name: Option<String>,
}

/// `record_ids` (at most 1,000) and the flat fields of a [`RecordPatch`].
#[derive(ToSchema)]
#[schema(example = json!({"record_ids": ["01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e"], "status": "draft"}))]
pub struct BulkRecordUpdate {
    record_ids: Vec<uuid::Uuid>,
    name: Option<String>,
    description: Option<String>,
    data: Option<Value>,
    status: Option<String>,
    visibility: Option<String>,
}

#[derive(ToSchema)]
pub struct RecordList {
    records: Vec<Record>,
}

#[derive(ToSchema)]
#[schema(example = json!({"record_ids": ["01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e", "01938a1e-7c50-7b11-8c2d-0a1b2c3d4e5f"]}))]
pub struct RecordIds {
    /// At most 1,000 ids.
    record_ids: Vec<uuid::Uuid>,
}

#[derive(ToSchema)]
#[schema(example = json!({"visibility": "public"}))]
pub struct VisibilityChange {
    /// `public` or `private`.
    visibility: String,
}

#[derive(ToSchema)]
#[schema(example = json!({"record_ids": ["01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e"], "visibility": "public"}))]
pub struct BulkVisibilityChange {
    record_ids: Vec<uuid::Uuid>,
    /// `public` or `private`.
    visibility: String,
}

#[derive(ToSchema)]
pub struct UploadSummary {
    submitted: u64,
    accepted: u64,
    rejected: u64,
    dedup_skipped: u64,
    created: Option<u64>,
    updated: Option<u64>,
}

#[derive(ToSchema)]
pub struct UploadError {
    row: u64,
    field: Option<String>,
    error_type: String,
    message: String,
}

#[derive(ToSchema)]
pub struct UploadMetadata {
    processing_time_ms: Option<i64>,
    file_hash: String,
}

/// The answer to a records-dialect batch or file: 201 even when every record was rejected
/// (`status: failed`, with the errors).
#[derive(ToSchema)]
#[schema(example = json!({"upload_id": "01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e", "status": "complete", "collection": "demo", "record_type": "widget", "summary": {"submitted": 2, "accepted": 2, "rejected": 0, "dedup_skipped": 0, "created": 2, "updated": 0}, "record_ids": ["01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e", "01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8f"], "errors": [], "metadata": {"processing_time_ms": 12, "file_hash": "9f86d081884c7d65"}}))]
pub struct UploadResult {
    upload_id: uuid::Uuid,
    /// `complete`, `partial` or `failed`.
    status: String,
    collection: String,
    record_type: String,
    summary: UploadSummary,
    record_ids: Vec<uuid::Uuid>,
    errors: Vec<UploadError>,
    metadata: UploadMetadata,
}

#[derive(ToSchema)]
pub struct Upload {
    upload_id: uuid::Uuid,
    status: String,
    collection: String,
    record_type: String,
    source_type: String,
    file_name: Option<String>,
    file_size: u64,
    file_hash: String,
    summary: UploadSummary,
    error: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    completed_at: Option<String>,
}

#[derive(ToSchema)]
pub struct UploadDlq {
    upload_id: uuid::Uuid,
    entries: Vec<RejectedRecord>,
}

#[derive(ToSchema)]
#[schema(example = json!({"collection": "demo", "description": "Widgets", "category": null, "record_types": ["widget"], "record_count": 2, "has_schema": false, "default_visibility": "private"}))]
pub struct Collection {
    collection: String,
    description: Option<String>,
    category: Option<String>,
    record_types: Vec<String>,
    record_count: u64,
    has_schema: bool,
    default_visibility: String,
}

#[derive(ToSchema)]
pub struct Collections {
    collections: Vec<Collection>,
}

/// Each field is optional; `null` clears it.
#[derive(ToSchema)]
#[schema(example = json!({"description": "Widgets", "default_visibility": "public"}))]
pub struct CollectionPatch {
    description: Option<String>,
    category: Option<String>,
    /// `public` or `private`.
    default_visibility: Option<String>,
}

#[derive(ToSchema)]
#[schema(example = json!({"default_visibility": "public"}))]
pub struct DefaultVisibility {
    /// `public` or `private`.
    default_visibility: String,
}

#[derive(ToSchema)]
#[schema(example = json!({"vertical": "parts", "entity_count": 200, "entity_types": ["bolt", "nut"], "has_schema": false}))]
pub struct Vertical {
    vertical: String,
    entity_count: u64,
    entity_types: Vec<String>,
    has_schema: bool,
}

#[derive(ToSchema)]
pub struct OpenCollection {
    collection: String,
    record_types: Vec<String>,
    record_count: u64,
    description: Option<String>,
}

#[derive(ToSchema)]
pub struct UsageCounts {
    requests: u64,
    searches: u64,
    ingested_records: u64,
    entities_created: u64,
}

/// One day's counts.
#[derive(ToSchema)]
pub struct UsageDay {
    /// `YYYY-MM-DD`, UTC.
    date: String,
    requests: u64,
    searches: u64,
    ingested_records: u64,
    entities_created: u64,
}

#[derive(ToSchema)]
#[schema(example = json!({"tenant_id": "acme", "plan": "pro", "period": "2026-11", "metering_enabled": true, "usage": {"requests": 120, "searches": 40, "ingested_records": 200, "entities_created": 200}, "daily": [{"date": "2026-11-01", "requests": 100, "searches": 30, "ingested_records": 200, "entities_created": 200}, {"date": "2026-11-02", "requests": 20, "searches": 10, "ingested_records": 0, "entities_created": 0}], "limits": {"general_rpm": 1000, "search_rpm": 500}}))]
pub struct Usage {
    tenant_id: String,
    plan: String,
    /// `YYYY-MM`, UTC.
    period: String,
    metering_enabled: bool,
    usage: UsageCounts,
    /// Each day of the period up to today, oldest first (days add up to `usage`).
    daily: Vec<UsageDay>,
    /// The plan's rates and monthly caps (a missing cap is unlimited).
    limits: Value,
}

/// A JSON-RPC 2.0 message (or, on protocol 2025-03-26, a batch of them).
#[derive(ToSchema)]
#[schema(example = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "qanatix_search", "arguments": {"collection": "parts", "query": "DIN 933", "limit": 3}}}))]
pub struct JsonRpc {
    jsonrpc: String,
    id: Option<Value>,
    method: Option<String>,
    params: Option<Value>,
}

/// The entities dialect's answer to an NDJSON stream.
#[derive(ToSchema)]
#[schema(example = json!({"ingestion_id": "01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e", "accepted": 2, "duplicate_count": 0, "created": 2, "updated": 0, "parse_errors": 1, "buffer_size": 2, "flushed": true}))]
pub struct StreamResult {
    ingestion_id: uuid::Uuid,
    accepted: u64,
    duplicate_count: u64,
    created: Option<u64>,
    updated: Option<u64>,
    /// Lines that were not JSON and records that were invalid (see the ingestion's errors).
    parse_errors: u64,
    /// Lines that were JSON.
    buffer_size: u64,
    flushed: bool,
}

/// A vertical in the path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VerticalPath {
    /// 1–64 characters of `a-z0-9_-` (lower-cased).
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    vertical: String,
}

/// A vertical and an entity type in the path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VerticalTypePath {
    /// 1–64 characters of `a-z0-9_-` (lower-cased).
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    vertical: String,
    /// 1–64 characters of `a-z0-9_-` (lower-cased).
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    entity_type: String,
}

/// A collection in the path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CollectionPath {
    /// 1–64 characters of `a-z0-9_-` (lower-cased).
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    collection: String,
}

/// A collection and a record type in the path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CollectionTypePath {
    /// 1–64 characters of `a-z0-9_-` (lower-cased).
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    collection: String,
    /// 1–64 characters of `a-z0-9_-` (lower-cased).
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    record_type: String,
}

/// `GET /search/{vertical}`'s query string: the POST body's fields, and filters.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words, a part number or a standard (1–500 characters; `query` is the same). Empty or
    /// absent lists the vertical.
    q: Option<String>,
    /// Results per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// Results to skip, 0–10,000.
    #[param(minimum = 0, maximum = 10000)]
    offset: Option<i64>,
    /// `json` (default), `compact` (a markdown table, text/plain) or `yaml` (text/plain).
    format: Option<String>,
    /// A `vertical_data` key, `name`, `created_at` or `updated_at`; `-` first for descending
    /// (`-price`).
    sort: Option<String>,
    /// Comma-separated `vertical_data` keys to count values of (at most 10).
    facets: Option<String>,
    /// Every other parameter is a filter, as in the POST body: `material=stainless steel`,
    /// `price_min=1`, `brand_in=SKF,ABB`.
    #[param(style = Form, explode, value_type = Option<Object>)]
    filters: Option<Value>,
}

/// The entities dialect's answers to a batch, file, PDF or webhook ingestion.
#[derive(utoipa::IntoResponses)]
pub enum BatchAnswers {
    /// Stored: `completed`, or `partial` with per-record errors.
    #[response(status = 200)]
    Stored(crate::api::ingest::BatchResponse<'static>),
    /// Every record was rejected: the same body with `detail` and `code`, or a validation error.
    #[response(status = 422)]
    Rejected(crate::api::ingest::BatchResponse<'static>),
    /// A monthly cap of the tenant's plan is reached (`quota_exceeded`).
    #[response(status = 402)]
    Quota(Error),
}

/// The records dialect's answers to a batch, file, PDF or stream upload.
#[derive(utoipa::IntoResponses)]
pub enum UploadAnswers {
    /// The upload (also when every record was rejected: `status: failed`).
    #[response(status = 201)]
    Uploaded(UploadResult),
    /// A monthly cap of the tenant's plan is reached (`quota_exceeded`).
    #[response(status = 402)]
    Quota(Error),
}
