//! Ingestion routes (API.md §7): the batch endpoint and ingestion records.

use crate::auth::access;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::dialect::Dialect;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ingest::batch::{self, BatchResult, BatchSource, MAX_RECORDS};
use crate::quota::WriteQuota;
use crate::state::AppState;
use crate::store::{Ingestion, IngestionStatus};
use crate::timestamp::serde_rfc3339;

/// Body limit of ingestion routes (API.md §2).
pub const INGEST_BODY_LIMIT: usize = 50 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/ingest/{vertical}/{entity_type}/batch", access::INGEST).post(batch_route),
    )
    .service(
        super::resource("/ingest/{vertical}/{entity_type}/stream", access::INGEST)
            .post(stream_route),
    )
    .service(
        super::resource("/ingest/{vertical}/{entity_type}/upload", access::INGEST)
            .post(super::upload::upload_route),
    )
    .service(
        super::resource("/ingest/{vertical}/{entity_type}/pdf", access::INGEST)
            .post(super::upload::pdf_route),
    )
    .service(
        super::resource("/webhooks/ingest/{vertical}/{entity_type}", access::INGEST)
            .post(webhook_route),
    )
    .service(super::resource("/pipeline/status/{id}", access::INGEST).get(pipeline_status))
    .service(super::resource("/pipeline/trigger/{id}", access::INGEST).post(pipeline_trigger))
    .service(super::resource("/ingestions/{id}", access::INGEST).get(get_ingestion))
    .service(super::resource("/ingestions/{id}/errors", access::INGEST).get(get_errors));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    records: Vec<Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorView<'a> {
    row: usize,
    field: Option<&'a str>,
    error_type: &'a str,
    message: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct BatchResponse<'a> {
    ingestion_id: Uuid,
    status: IngestionStatus,
    record_count: usize,
    accepted: usize,
    rejected: usize,
    duplicate_count: usize,
    created: Option<usize>,
    updated: Option<usize>,
    entity_ids: &'a [Uuid],
    errors: Vec<ErrorView<'a>>,
    /// Set when nothing was stored: the response is then a 422 error that still carries the
    /// ingestion and its per-record errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
}

/// 200 with the ingestion's result, or 422 (same body, plus `detail` and `code`) when records
/// were rejected and none was stored or matched: a client checking only the status must not
/// take a wholly refused batch for a success.
pub(super) fn batch_response(r: &BatchResult) -> HttpResponse {
    let i = &r.ingestion;
    let failed = (i.status == IngestionStatus::Failed).then(|| {
        let first = r.errors.first().map_or(String::new(), |e| {
            format!(" (first, row {}: {})", e.row, e.message)
        });
        ApiError::Validation(format!(
            "No record was stored: all {} were rejected{first}. Per-record errors are in `errors`.",
            i.rejected
        ))
    });
    let mut res = match &failed {
        Some(e) => HttpResponse::build(actix_web::ResponseError::status_code(e)),
        None => HttpResponse::Ok(),
    };
    res.json(BatchResponse {
        ingestion_id: i.id,
        status: i.status,
        record_count: i.record_count,
        accepted: i.accepted,
        rejected: i.rejected,
        duplicate_count: i.duplicate_count,
        created: i.created,
        updated: i.updated,
        detail: failed.as_ref().map(ToString::to_string),
        code: failed.as_ref().map(ApiError::code),
        entity_ids: &i.entity_ids,
        errors: r
            .errors
            .iter()
            .map(|e| ErrorView {
                row: e.row,
                field: e.field.as_deref(),
                error_type: &e.error_type,
                message: &e.message,
            })
            .collect(),
    })
}

/// The request's media type, lower-cased, without parameters.
pub(super) fn mime(req: &HttpRequest) -> String {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let mime = mime(req);
    if mime == "application/json" || mime.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/json.".into(),
        ))
    }
}

/// Who writes where: the caller's tenant with its quota, and the path's vertical and type.
pub(super) fn writer(
    state: &AppState,
    caller: &Caller,
    path: &(String, String),
) -> Result<(WriteQuota, String, (String, String)), ApiError> {
    let tenant = caller.tenant()?;
    Ok((
        WriteQuota::for_tenant(state, tenant)?,
        tenant.id.clone(),
        super::path::target(path)?,
    ))
}

/// Parses a batch body (see [`BatchBody`]); shared by the batch and webhook routes.
pub fn parse_records(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    // A bare array is the records dialect's batch body (API-RECORDS.md §2); both dialects
    // share this parser. Told apart by the first byte, so the body is parsed once.
    let bare = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let parsed = if bare {
        serde_json::from_slice::<Vec<Value>>(body)
    } else {
        serde_json::from_slice::<BatchBody>(body).map(|b| b.records)
    };
    let records = parsed.map_err(|e| {
        if e.is_data() {
            ApiError::Validation(format!(
                r#"The body must be {{"records": [...]}} or a JSON array of records: {e}"#
            ))
        } else {
            ApiError::malformed_json(&e)
        }
    })?;
    if records.len() > MAX_RECORDS {
        return Err(ApiError::PayloadTooLarge(format!(
            "A batch holds at most {MAX_RECORDS} records; this one has {}.",
            records.len()
        )));
    }
    if records.is_empty() {
        return Err(ApiError::validation(
            "records must hold at least one record",
        ));
    }
    Ok(records)
}

/// Runs a batch through the store, durably, and answers with its result.
pub async fn ingest(
    state: &AppState,
    src: BatchSource,
    records: Vec<Value>,
    quota: WriteQuota,
) -> Result<HttpResponse, ApiError> {
    let result = state
        .write(move |store| Ok(batch::ingest(store, &src, records, &quota)?))
        .await?;
    Ok(batch_response(&result))
}

/// A JSON batch body ingested into the path's vertical and type (both dialects' batch).
pub(super) async fn batch_result(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    path: &(String, String),
    payload: web::Payload,
    dialect: Dialect,
) -> Result<BatchResult, ApiError> {
    require_json(req)?;
    let body = super::read_body(req, payload, INGEST_BODY_LIMIT).await?;
    let (quota, tenant, target) = writer(state, caller, path)?;
    let records: Vec<Value> = parse_records(&body)?
        .into_iter()
        .map(|r| dialect.record(r))
        .collect();
    let src = BatchSource::for_body(tenant, target, "batch", None, &body);
    state
        .write(move |store| Ok(batch::ingest(store, &src, records, &quota)?))
        .await
}

#[utoipa::path(
    post,
    path = "/api/v1/ingest/{vertical}/{entity_type}/batch",
    tag = "ingestion",
    summary = "Ingest a batch of up to 10,000 records.",
    description = "Upsert by `source_id` within the vertical and type; duplicates by content are skipped (`duplicate_count`). A bad record is rejected, the rest stored.",
    params(crate::openapi::schemas::VerticalTypePath),
    request_body = crate::openapi::schemas::BatchRecords,
    responses(crate::openapi::schemas::BatchAnswers),
    security(("api_key" = ["ingest"])),
)]
async fn batch_route(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let result = batch_result(&state, &caller, &req, &path, payload, Dialect::Entities).await?;
    Ok(batch_response(&result))
}

#[derive(Serialize, utoipa::ToSchema)]
struct IngestionView<'a> {
    id: Uuid,
    tenant_id: &'a str,
    vertical: &'a str,
    entity_type: &'a str,
    source_type: &'a str,
    file_name: Option<&'a str>,
    file_size: u64,
    content_hash: &'a str,
    record_count: usize,
    accepted: usize,
    rejected: usize,
    duplicate_count: usize,
    created: Option<usize>,
    updated: Option<usize>,
    status: IngestionStatus,
    #[serde(with = "serde_rfc3339::millis")]
    #[schema(value_type = String, format = DateTime)]
    created_at: i64,
    #[serde(with = "crate::timestamp::serde_rfc3339::millis_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    completed_at: Option<i64>,
    /// Why the ingestion failed as a whole (a connector's pull), if it did.
    error: Option<&'a str>,
}

fn view(i: &Ingestion) -> IngestionView<'_> {
    IngestionView {
        id: i.id,
        tenant_id: &i.tenant_id,
        vertical: &i.vertical,
        entity_type: &i.entity_type,
        source_type: &i.source_type,
        file_name: i.file_name.as_deref(),
        file_size: i.file_size,
        content_hash: &i.content_hash,
        record_count: i.record_count,
        accepted: i.accepted,
        rejected: i.rejected,
        duplicate_count: i.duplicate_count,
        created: i.created,
        updated: i.updated,
        status: i.status,
        created_at: i.created_at,
        completed_at: i.completed_at,
        error: i.error.as_deref(),
    }
}

/// The tenant's ingestion with this id (a malformed or foreign id is not found).
pub(super) fn load(state: &AppState, tenant: &str, raw: &str) -> Result<Ingestion, ApiError> {
    let id = Uuid::parse_str(raw).map_err(|_| ApiError::not_found("Ingestion"))?;
    state
        .store
        .ingestions
        .get(tenant, id)?
        .ok_or_else(|| ApiError::not_found("Ingestion"))
}

#[utoipa::path(
    get,
    path = "/api/v1/ingestions/{id}",
    tag = "ingestion",
    summary = "One ingestion: counts, status and times.",
    params(("id" = uuid::Uuid, Path, description = "The ingestion's id (a UUID).")),
    responses((status = 200, description = "The ingestion.", body = IngestionView), (status = 404, description = "No such ingestion in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["ingest"])),
)]
async fn get_ingestion(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let i = load(&state, &caller.tenant()?.id, &id)?;
    Ok(HttpResponse::Ok().json(view(&i)))
}

#[utoipa::path(
    get,
    path = "/api/v1/ingestions/{id}/errors",
    tag = "ingestion",
    summary = "An ingestion's rejected records with their raw input.",
    params(("id" = uuid::Uuid, Path, description = "The ingestion's id (a UUID).")),
    responses((status = 200, description = "The rejected records.", body = crate::openapi::schemas::IngestionErrors), (status = 404, description = "No such ingestion in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["ingest"])),
)]
async fn get_errors(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = &caller.tenant()?.id;
    let i = load(&state, tenant, &id)?;
    let entries = state.store.ingestions.errors(tenant, i.id)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"ingestion_id": i.id, "entries": entries})))
}

/// `POST /webhooks/ingest/{vertical}/{entity_type}`: the batch body, signed when
/// `WEBHOOK_SECRET` is set (`X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>`).
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/ingest/{vertical}/{entity_type}",
    tag = "ingestion",
    summary = "Ingest a batch pushed by another system (optionally HMAC-signed).",
    description = "When the server has `WEBHOOK_SECRET`, `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>` is required (401 `invalid_signature` otherwise).",
    params(crate::openapi::schemas::VerticalTypePath, ("X-Webhook-Signature" = Option<String>, Header, description = "`sha256=<hex>`, required when the server has a webhook secret.")),
    request_body = crate::openapi::schemas::BatchRecords,
    responses(crate::openapi::schemas::BatchAnswers),
    security(("api_key" = ["ingest"])),
)]
async fn webhook_route(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload, INGEST_BODY_LIMIT).await?;
    if let Some(secret) = &state.config.webhook_secret {
        let sent = req
            .headers()
            .get("x-webhook-signature")
            .ok_or(ApiError::InvalidSignature(
                "Missing X-Webhook-Signature header.",
            ))?;
        if !crate::ingest::webhook::verify(secret.as_bytes(), &body, sent.as_bytes()) {
            return Err(ApiError::InvalidSignature("Invalid webhook signature."));
        }
    }
    require_json(&req)?;
    let (quota, tenant, (vertical, entity_type)) = writer(&state, &caller, &path)?;
    let records = parse_records(&body)?;
    let src = BatchSource::for_body(tenant, (vertical, entity_type), "webhook", None, &body);
    ingest(&state, src, records, quota).await
}

/// `POST /ingest/{vertical}/{entity_type}/stream`: NDJSON, one record per line. Lines that are
/// not JSON, or not valid records, are skipped and counted in `parse_errors`.
#[utoipa::path(
    post,
    path = "/api/v1/ingest/{vertical}/{entity_type}/stream",
    tag = "ingestion",
    summary = "Ingest an NDJSON stream (one record per line).",
    description = "Bad lines are rejected and counted; at most 50 MB.",
    params(crate::openapi::schemas::VerticalTypePath),
    request_body(content = String, content_type = "application/x-ndjson", description = "One JSON record per line.", example = json!("{\"name\": \"Hex nut M8\"}\n{\"name\": \"Hex nut M10\"}\n")),
    responses((status = 200, description = "Stored; bad lines rejected and counted.", body = crate::openapi::schemas::StreamResult), (status = 402, description = "A monthly cap of the tenant's plan is reached (`quota_exceeded`).", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["ingest"])),
)]
async fn stream_route(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let result = stream_result(&state, &caller, &req, &path, payload, Dialect::Entities).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "ingestion_id": result.ingestion.id,
        "accepted": result.ingestion.accepted,
        "duplicate_count": result.ingestion.duplicate_count,
        "created": result.ingestion.created,
        "updated": result.ingestion.updated,
        // Lines that are not JSON and invalid records, all in the dead-letter entries.
        "parse_errors": result.ingestion.rejected,
        // Lines that were JSON.
        "buffer_size": result.ingestion.record_count
            - result.errors.iter().filter(|e| e.error_type == "invalid_json").count(),
        "flushed": true,
    })))
}

/// An NDJSON body ingested into the path's vertical and type (both dialects' stream).
pub(super) async fn stream_result(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    path: &(String, String),
    payload: web::Payload,
    dialect: Dialect,
) -> Result<BatchResult, ApiError> {
    if !matches!(
        mime(req).as_str(),
        "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
    ) {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/x-ndjson.".into(),
        ));
    }
    let (quota, tenant, target) = writer(state, caller, path)?;
    let body = super::read_body(req, payload, INGEST_BODY_LIMIT).await?;
    let src = BatchSource::for_body(tenant, target, "stream", None, &body);
    state
        .write(move |store| {
            let rows = crate::ingest::ndjson::rows(&body).map(|r| r.map(|v| dialect.record(v)));
            Ok(batch::ingest_rows(store, &src, rows, &quota)?)
        })
        .await
}

/// `GET /pipeline/status/{ingestion_id}`: where the ingestion's entities are in indexing.
#[utoipa::path(
    get,
    path = "/api/v1/pipeline/status/{id}",
    tag = "ingestion",
    summary = "Where an ingestion's entities are in indexing.",
    params(("id" = uuid::Uuid, Path, description = "The ingestion's id (a UUID).")),
    responses((status = 200, description = "Counts by indexing state.", body = crate::openapi::schemas::PipelineStatus), (status = 404, description = "No such ingestion in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["ingest"])),
)]
async fn pipeline_status(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let i = load(&state, &tenant, &id)?;
    let (mut pending, mut completed, mut failed) = (0, 0, 0);
    let ids = i.distinct_entity_ids();
    for eid in &ids {
        match state.store.entities.embedding_status(&tenant, *eid)? {
            crate::store::EmbeddingStatus::Pending => pending += 1,
            crate::store::EmbeddingStatus::Completed => completed += 1,
            crate::store::EmbeddingStatus::Failed => failed += 1,
        }
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "ingestion_id": i.id,
        "total": ids.len(),
        "pending": pending,
        // Indexing is one commit per round: an entity is pending until the round commits.
        "processing": 0,
        "completed": completed,
        "failed": failed,
    })))
}

/// `POST /pipeline/trigger/{ingestion_id}`: queues the ingestion's pending and failed entities
/// for indexing again.
#[utoipa::path(
    post,
    path = "/api/v1/pipeline/trigger/{id}",
    tag = "ingestion",
    summary = "Queue an ingestion's pending and failed entities for indexing again.",
    params(("id" = uuid::Uuid, Path, description = "The ingestion's id (a UUID).")),
    responses((status = 200, description = "How many were queued.", body = crate::openapi::schemas::PipelineTrigger), (status = 404, description = "No such ingestion in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["ingest"])),
)]
async fn pipeline_trigger(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let i = load(&state, &tenant, &id)?;
    let triggered = state
        .write(move |store| {
            let mut changes = store.entities.changes();
            let mut n = 0usize;
            for eid in i.distinct_entity_ids() {
                let status = store.entities.embedding_status(&tenant, eid)?;
                let exists = store.entities.get(&tenant, eid)?.is_some();
                if exists && status != crate::store::EmbeddingStatus::Completed {
                    changes.enqueue(&tenant, eid)?;
                    n += 1;
                }
            }
            store.entities.apply(changes)?;
            Ok(n)
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "triggered": triggered,
        "message": format!("{triggered} entities queued for indexing."),
    })))
}
