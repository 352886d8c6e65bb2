//! The records dialect's routes (API-RECORDS.md §2): `/records`, batch and file uploads under
//! `/ingest/batch|upload/…` and `/upload/…`, `/uploads/{id}`, `/admin/reindex/record/{id}` and
//! `/chat`.
//!
//! Each handler renames its input into the entities dialect, runs the operation the entities
//! dialect's twin runs (same scopes, metering, quotas, durability), and renames the result
//! back (see [`super::dialect`]).
//!
//! One difference in behaviour: a write answers only once it is searchable (API-RECORDS.md §3;
//! see [`searchable`]), where the entities dialect keeps API.md's "within a second".

use crate::auth::access;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::dialect::{self, record_view, records_error, rename_text, upload_status, Dialect};
use super::entities::{self, CreateEntity, DeleteQuery, ListQuery};
use super::{ingest, upload};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ingest::batch::BatchResult;
use crate::state::AppState;
use crate::store::Ingestion;
use crate::timestamp::ms_to_rfc3339;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/records", access::ENTITIES)
            .post(create)
            .get(list),
    )
    .service(super::resource("/records/bulk", access::ENTITIES).patch(bulk_update))
    .service(super::resource("/records/bulk-delete", access::ENTITIES).post(bulk_delete))
    .service(super::resource("/records/bulk-visibility", access::ENTITIES).post(bulk_visibility))
    .service(
        super::resource("/records/{id}", access::ENTITIES)
            .get(get)
            .patch(update)
            .delete(delete),
    )
    .service(super::resource("/records/{id}/visibility", access::ENTITIES).patch(set_visibility))
    // Registered after the entities dialect's `/ingest/{v}/{t}/batch|upload`, which win where
    // both match (a record type named `batch` or `upload`): `/upload/{c}/{t}/…` reaches those.
    .service(
        super::resource("/ingest/batch/{collection}/{record_type}", access::INGEST).post(batch),
    )
    .service(
        super::resource("/upload/{collection}/{record_type}/batch", access::INGEST).post(batch),
    )
    .service(
        super::resource("/ingest/upload/{collection}/{record_type}", access::INGEST)
            .post(upload_file),
    )
    .service(
        super::resource("/upload/{collection}/{record_type}/upload", access::INGEST)
            .post(upload_file),
    )
    .service(
        super::resource("/upload/{collection}/{record_type}/file", access::INGEST)
            .post(upload_file),
    )
    .service(
        super::resource("/upload/{collection}/{record_type}/pdf", access::INGEST).post(upload_pdf),
    )
    .service(
        super::resource("/upload/{collection}/{record_type}/stream", access::INGEST)
            .post(upload_stream),
    )
    .service(super::resource("/uploads/{id}", access::INGEST).get(get_upload))
    .service(super::resource("/uploads/{id}/dlq", access::INGEST).get(get_dlq))
    .service(super::resource("/chat", access::SEARCH_READ).post(chat))
    .service(super::resource("/admin/reindex/record/{id}", access::ADMIN).post(reindex_record));
}

/// Waits until the request's write is searchable, so that the client's next search sees it
/// (the SDK searches right after `ingest.batch`). The write is durable already: this holds no
/// thread, and is bounded (see [`crate::search::indexer::Indexer::searchable`]).
async fn searchable(state: &AppState) {
    state.indexer.searchable().await;
}

/// A records-dialect create or PATCH body in the entities dialect's field names.
fn entity_body(body: web::Json<Map<String, Value>>) -> Result<Map<String, Value>, ApiError> {
    dialect::entity_fields(body.into_inner()).map_err(records_error)
}

#[utoipa::path(
    post,
    path = "/api/v1/records",
    tag = "records",
    summary = "Create a record.",
    description = "Answered once the write is searchable.",
    request_body = crate::openapi::schemas::CreateRecord,
    responses((status = 409, description = "Another record of the same collection and record type has this `source_id`.", body = crate::openapi::schemas::Error), (status = 201, description = "The record.", body = crate::openapi::schemas::Record), (status = 402, description = "A monthly cap of the tenant's plan is reached (`quota_exceeded`).", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["entities"])),
)]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let fields = entity_body(body)?;
    let create: CreateEntity = serde_json::from_value(Value::Object(fields))
        .map_err(|e| {
            ApiError::Validation(format!(
                "Invalid body: {}",
                crate::error::plain_serde(&e.to_string())
            ))
        })
        .map_err(records_error)?;
    let e = entities::create_entity(&state, &caller, create)
        .await
        .map_err(records_error)?;
    searchable(&state).await;
    Ok(HttpResponse::Created().json(record_view(&state.store, e)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RecordsQuery {
    collection: Option<String>,
    record_type: Option<String>,
    q: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/records",
    tag = "records",
    summary = "List records, newest first, with cursor pagination.",
    params(RecordsQuery),
    responses((status = 200, description = "A page.", body = crate::openapi::schemas::RecordPage)),
    security(("api_key" = ["entities"])),
)]
async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<RecordsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let q = ListQuery {
        vertical: q.collection,
        entity_type: q.record_type,
        q: q.q,
        status: q.status,
        limit: q.limit,
        cursor: q.cursor,
    };
    let (records, cursor, has_more) = entities::list_entities(&state, &caller, q, record_view)
        .await
        .map_err(records_error)?;
    Ok(HttpResponse::Ok().json(json!({
        "records": records,
        "cursor": cursor,
        "has_more": has_more,
    })))
}

#[utoipa::path(
    get,
    path = "/api/v1/records/{id}",
    tag = "records",
    summary = "One record.",
    params(("id" = uuid::Uuid, Path, description = "The record's id (a UUID).")),
    responses((status = 200, description = "The record.", body = crate::openapi::schemas::Record), (status = 404, description = "No such record in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["entities"])),
)]
async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let e = entities::get_entity(&state, &caller, &id).map_err(records_error)?;
    Ok(HttpResponse::Ok().json(record_view(&state.store, e)?))
}

#[utoipa::path(
    patch,
    path = "/api/v1/records/{id}",
    tag = "records",
    summary = "Change a record (`data` is merged as a JSON Merge Patch).",
    description = "Answered once the write is searchable.",
    params(("id" = uuid::Uuid, Path, description = "The record's id (a UUID).")),
    request_body = crate::openapi::schemas::RecordPatch,
    responses((status = 409, description = "Another record of the same collection and record type has this `source_id`.", body = crate::openapi::schemas::Error), (status = 200, description = "The record.", body = crate::openapi::schemas::Record), (status = 404, description = "No such record in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["entities"])),
)]
async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let patch = entity_body(body)?;
    let e = entities::update_entity(&state, &caller, &id, patch)
        .await
        .map_err(records_error)?;
    searchable(&state).await;
    Ok(HttpResponse::Ok().json(record_view(&state.store, e)?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/records/{id}",
    tag = "records",
    summary = "Archive a record, or delete it for good with `permanent=true`.",
    params(("id" = uuid::Uuid, Path, description = "The record's id (a UUID)."), ("permanent" = Option<bool>, Query, description = "`true`: delete for good (204).")),
    responses((status = 200, description = "Archived.", body = crate::openapi::schemas::Record), (status = 204, description = "Deleted for good."), (status = 404, description = "No such record in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["entities"])),
)]
async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let deleted = entities::delete_entity(&state, &caller, &id, query.permanent)
        .await
        .map_err(records_error)?;
    searchable(&state).await;
    match deleted {
        Some(e) => Ok(HttpResponse::Ok().json(record_view(&state.store, e)?)),
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

/// `record_ids` of a bulk body (required, an array), and the rest of the body.
fn take_ids(mut body: Map<String, Value>) -> Result<(Vec<Value>, Map<String, Value>), ApiError> {
    match body.remove("record_ids") {
        Some(Value::Array(ids)) => Ok((ids, body)),
        Some(_) => Err(ApiError::validation("record_ids must be an array of ids")),
        None => Err(ApiError::validation("record_ids is required")),
    }
}

/// `PATCH /records/bulk`: `{record_ids, <flat fields>}` → `{records}`.
#[utoipa::path(
    patch,
    path = "/api/v1/records/bulk",
    tag = "records",
    summary = "Change up to 1,000 records at once.",
    request_body = crate::openapi::schemas::BulkRecordUpdate,
    responses((status = 409, description = "Another record of the same collection and record type has this `source_id`.", body = crate::openapi::schemas::Error), (status = 200, description = "The changed records.", body = crate::openapi::schemas::RecordList)),
    security(("api_key" = ["entities"])),
)]
async fn bulk_update(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let (ids, fields) = take_ids(body.into_inner())?;
    let update = dialect::entity_fields(fields).map_err(records_error)?;
    if update.is_empty() {
        return Err(ApiError::validation(
            "name at least one field to update besides record_ids",
        ));
    }
    let updated = entities::bulk_update_entities(&state, &caller, &ids, update)
        .await
        .map_err(records_error)?;
    searchable(&state).await;
    let records = updated
        .into_iter()
        .map(|e| record_view(&state.store, e))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(json!({ "records": records })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkDelete {
    record_ids: Vec<Value>,
}

#[utoipa::path(
    post,
    path = "/api/v1/records/bulk-delete",
    tag = "records",
    summary = "Archive up to 1,000 records at once.",
    request_body = crate::openapi::schemas::RecordIds,
    responses((status = 200, description = "How many were archived.", body = crate::openapi::schemas::Archived)),
    security(("api_key" = ["entities"])),
)]
async fn bulk_delete(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<BulkDelete>,
) -> Result<HttpResponse, ApiError> {
    let archived = entities::bulk_delete_entities(&state, &caller, &body.record_ids)
        .await
        .map_err(records_error)?;
    searchable(&state).await;
    Ok(HttpResponse::Ok().json(json!({ "archived": archived })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisibilityBody {
    visibility: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkVisibility {
    record_ids: Vec<Value>,
    visibility: String,
}

fn visibility_patch(raw: &str) -> Result<Map<String, Value>, ApiError> {
    entities::parse_visibility(raw).map_err(|e| ApiError::Validation(e.to_string()))?;
    let mut patch = Map::new();
    patch.insert("visibility".into(), Value::String(raw.to_owned()));
    Ok(patch)
}

/// `PATCH /records/{id}/visibility`: `{visibility}` → the record.
#[utoipa::path(
    patch,
    path = "/api/v1/records/{id}/visibility",
    tag = "records",
    summary = "Make a record public (served by Open) or private.",
    params(("id" = uuid::Uuid, Path, description = "The record's id (a UUID).")),
    request_body = crate::openapi::schemas::VisibilityChange,
    responses((status = 200, description = "The record.", body = crate::openapi::schemas::Record), (status = 404, description = "No such record in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["entities"])),
)]
async fn set_visibility(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<VisibilityBody>,
) -> Result<HttpResponse, ApiError> {
    let patch = visibility_patch(&body.visibility)?;
    let e = entities::update_entity(&state, &caller, &id, patch)
        .await
        .map_err(records_error)?;
    searchable(&state).await;
    Ok(HttpResponse::Ok().json(record_view(&state.store, e)?))
}

/// `POST /records/bulk-visibility`: `{record_ids, visibility}` → `{updated}` (the caller's
/// records among the ids).
#[utoipa::path(
    post,
    path = "/api/v1/records/bulk-visibility",
    tag = "records",
    summary = "Set the visibility of up to 1,000 records.",
    request_body = crate::openapi::schemas::BulkVisibilityChange,
    responses((status = 200, description = "How many were changed.", body = crate::openapi::schemas::Updated)),
    security(("api_key" = ["entities"])),
)]
async fn bulk_visibility(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<BulkVisibility>,
) -> Result<HttpResponse, ApiError> {
    let BulkVisibility {
        record_ids,
        visibility,
    } = body.into_inner();
    let patch = visibility_patch(&visibility)?;
    let updated = entities::bulk_update_entities(&state, &caller, &record_ids, patch)
        .await
        .map_err(records_error)?;
    searchable(&state).await;
    Ok(HttpResponse::Ok().json(json!({ "updated": updated.len() })))
}

/// The records dialect's answer to any batch or file upload: 201 with the upload's summary
/// (API-RECORDS.md §2). Unlike the entities dialect, a wholly rejected batch is still 201,
/// with `status: "failed"` and its per-record errors: that is the contract's shape for it.
fn upload_response(r: &BatchResult) -> HttpResponse {
    let i = &r.ingestion;
    let errors: Vec<Value> = r
        .errors
        .iter()
        .map(|e| {
            json!({
                "row": e.row,
                "field": e.field.as_deref().map(|f| rename_text(f, "collection_data")),
                "error_type": e.error_type,
                "message": rename_text(&e.message, "collection_data"),
            })
        })
        .collect();
    HttpResponse::Created().json(json!({
        "upload_id": i.id,
        "status": upload_status(i.status),
        "collection": i.vertical,
        "record_type": i.entity_type,
        "summary": summary(i),
        "record_ids": i.entity_ids,
        "errors": errors,
        "metadata": {
            "processing_time_ms": i.completed_at.map(|done| (done - i.created_at).max(0)),
            "file_hash": i.content_hash,
        },
    }))
}

pub(super) fn summary(i: &Ingestion) -> Value {
    json!({
        "submitted": i.record_count,
        "accepted": i.accepted,
        "rejected": i.rejected,
        "dedup_skipped": i.duplicate_count,
        "created": i.created,
        "updated": i.updated,
    })
}

/// `POST /ingest/batch/{collection}/{record_type}`, `POST /upload/{c}/{t}/batch`: a bare JSON
/// array of records or `{records: [...]}`.
#[utoipa::path(
    post,
    path = "/api/v1/ingest/batch/{collection}/{record_type}",
    tag = "uploads",
    summary = "Upload a batch of records.",
    description = "Answered once the write is searchable. A record type named `batch`, `upload`, `stream` or `pdf` is reached through `/upload/{collection}/{record_type}/…`.",
    params(crate::openapi::schemas::CollectionTypePath),
    request_body = crate::openapi::schemas::UploadBatch,
    responses(crate::openapi::schemas::UploadAnswers),
    security(("api_key" = ["ingest"])),
)]
async fn batch(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let r = ingest::batch_result(&state, &caller, &req, &path, payload, Dialect::Records)
        .await
        .map_err(records_error)?;
    searchable(&state).await;
    Ok(upload_response(&r))
}

#[utoipa::path(
    post,
    path = "/api/v1/ingest/upload/{collection}/{record_type}",
    tag = "uploads",
    summary = "Upload a file of records (CSV, JSON, NDJSON, XML).",
    description = "Answered once the write is searchable.",
    params(crate::openapi::schemas::CollectionTypePath),
    request_body(content = crate::openapi::schemas::FileUpload, content_type = "multipart/form-data"),
    responses(crate::openapi::schemas::UploadAnswers),
    security(("api_key" = ["ingest"])),
)]
async fn upload_file(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let r = upload::upload_result(&state, &caller, &req, &path, payload, Dialect::Records)
        .await
        .map_err(records_error)?;
    searchable(&state).await;
    Ok(upload_response(&r))
}

#[utoipa::path(
    post,
    path = "/api/v1/upload/{collection}/{record_type}/pdf",
    tag = "uploads",
    summary = "Upload a PDF.",
    description = "Answered once the write is searchable.",
    params(crate::openapi::schemas::CollectionTypePath),
    request_body(content = crate::openapi::schemas::PdfUpload, content_type = "multipart/form-data"),
    responses(crate::openapi::schemas::UploadAnswers),
    security(("api_key" = ["ingest"])),
)]
async fn upload_pdf(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let r = upload::pdf_result(&state, &caller, &req, &path, payload)
        .await
        .map_err(records_error)?;
    searchable(&state).await;
    Ok(upload_response(&r))
}

#[utoipa::path(
    post,
    path = "/api/v1/upload/{collection}/{record_type}/stream",
    tag = "uploads",
    summary = "Upload an NDJSON stream of records.",
    description = "Answered once the write is searchable.",
    params(crate::openapi::schemas::CollectionTypePath),
    request_body(content = String, content_type = "application/x-ndjson", description = "One JSON record per line.", example = json!("{\"name\": \"Hex nut M8\"}\n{\"name\": \"Hex nut M10\"}\n")),
    responses(crate::openapi::schemas::UploadAnswers),
    security(("api_key" = ["ingest"])),
)]
async fn upload_stream(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let r = ingest::stream_result(&state, &caller, &req, &path, payload, Dialect::Records)
        .await
        .map_err(records_error)?;
    searchable(&state).await;
    Ok(upload_response(&r))
}

/// `GET /uploads/{id}`: the ingestion of that id, in the records dialect's words.
#[utoipa::path(
    get,
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    summary = "One upload.",
    params(("id" = uuid::Uuid, Path, description = "The upload's id (a UUID).")),
    responses((status = 200, description = "The upload.", body = crate::openapi::schemas::Upload), (status = 404, description = "No such upload in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["ingest"])),
)]
async fn get_upload(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let i = ingest::load(&state, &caller.tenant()?.id, &id).map_err(records_error)?;
    Ok(HttpResponse::Ok().json(upload_view(&i)))
}

/// An upload (an ingestion) in the records dialect's words.
pub(super) fn upload_view(i: &Ingestion) -> Value {
    json!({
        "upload_id": i.id,
        "status": upload_status(i.status),
        "collection": i.vertical,
        "record_type": i.entity_type,
        "source_type": i.source_type,
        "file_name": i.file_name,
        "file_size": i.file_size,
        "file_hash": i.content_hash,
        "summary": summary(i),
        "error": i.error,
        "created_at": ms_to_rfc3339(i.created_at),
        "completed_at": i.completed_at.map(ms_to_rfc3339),
    })
}

/// `GET /uploads/{id}/dlq`: the upload's rejected records with their raw input.
#[utoipa::path(
    get,
    path = "/api/v1/uploads/{id}/dlq",
    tag = "uploads",
    summary = "An upload's rejected records (dead-letter queue).",
    params(("id" = uuid::Uuid, Path, description = "The upload's id (a UUID).")),
    responses((status = 200, description = "The rejected records.", body = crate::openapi::schemas::UploadDlq), (status = 404, description = "No such upload in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["ingest"])),
)]
async fn get_dlq(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = &caller.tenant()?.id;
    let i = ingest::load(&state, tenant, &id).map_err(records_error)?;
    let entries = state.store.ingestions.errors(tenant, i.id)?;
    Ok(HttpResponse::Ok().json(json!({ "upload_id": i.id, "entries": entries })))
}

/// `POST /admin/reindex/record/{id}`: queues the record for reindexing.
#[utoipa::path(
    post,
    path = "/api/v1/admin/reindex/record/{id}",
    tag = "admin",
    summary = "Rebuild one record's search document.",
    params(("id" = uuid::Uuid, Path, description = "The record's id (a UUID).")),
    responses((status = 200, description = "Queued.", body = crate::openapi::schemas::ReindexRecord), (status = 404, description = "No such record in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn reindex_record(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = super::admin::queue_entity(&state, &caller, &id)
        .await
        .map_err(records_error)?;
    Ok(HttpResponse::Ok().json(json!({
        "record_id": id,
        "status": "pending",
        "message": "Record queued for reindexing.",
    })))
}

/// `POST /chat`: answering in prose needs a language model, and this server ships none.
#[utoipa::path(
    post,
    path = "/api/v1/chat",
    tag = "search",
    summary = "Chat over a collection (needs a language model; none is configured).",
    responses((status = 501, description = "Always: this server has no language model.", body = crate::openapi::schemas::Error, example = json!({"detail": "chat needs a language model; this server has none configured", "code": "not_implemented"}))),
    security(("api_key" = ["search"])),
)]
async fn chat(_caller: Caller) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotImplemented(
        "chat needs a language model; this server has none configured".into(),
    ))
}
