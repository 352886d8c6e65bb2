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
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(super::resource("/records/bulk", access::ENTITIES).route(web::patch().to(bulk_update)))
    .service(
        super::resource("/records/bulk-delete", access::ENTITIES)
            .route(web::post().to(bulk_delete)),
    )
    .service(
        super::resource("/records/bulk-visibility", access::ENTITIES)
            .route(web::post().to(bulk_visibility)),
    )
    .service(
        super::resource("/records/{id}", access::ENTITIES)
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(
        super::resource("/records/{id}/visibility", access::ENTITIES)
            .route(web::patch().to(set_visibility)),
    )
    // Registered after the entities dialect's `/ingest/{v}/{t}/batch|upload`, which win where
    // both match (a record type named `batch` or `upload`): `/upload/{c}/{t}/…` reaches those.
    .service(
        super::resource("/ingest/batch/{collection}/{record_type}", access::INGEST)
            .route(web::post().to(batch)),
    )
    .service(
        super::resource("/upload/{collection}/{record_type}/batch", access::INGEST)
            .route(web::post().to(batch)),
    )
    .service(
        super::resource("/ingest/upload/{collection}/{record_type}", access::INGEST)
            .route(web::post().to(upload_file)),
    )
    .service(
        super::resource("/upload/{collection}/{record_type}/upload", access::INGEST)
            .route(web::post().to(upload_file)),
    )
    .service(
        super::resource("/upload/{collection}/{record_type}/file", access::INGEST)
            .route(web::post().to(upload_file)),
    )
    .service(
        super::resource("/upload/{collection}/{record_type}/pdf", access::INGEST)
            .route(web::post().to(upload_pdf)),
    )
    .service(
        super::resource("/upload/{collection}/{record_type}/stream", access::INGEST)
            .route(web::post().to(upload_stream)),
    )
    .service(super::resource("/uploads/{id}", access::INGEST).route(web::get().to(get_upload)))
    .service(super::resource("/uploads/{id}/dlq", access::INGEST).route(web::get().to(get_dlq)))
    .service(super::resource("/chat", access::SEARCH_READ).route(web::post().to(chat)))
    .service(
        super::resource("/admin/reindex/record/{id}", access::ADMIN)
            .route(web::post().to(reindex_record)),
    );
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

#[derive(Deserialize)]
struct RecordsQuery {
    collection: Option<String>,
    record_type: Option<String>,
    q: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

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

async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let e = entities::get_entity(&state, &caller, &id).map_err(records_error)?;
    Ok(HttpResponse::Ok().json(record_view(&state.store, e)?))
}

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
async fn chat(_caller: Caller) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotImplemented(
        "chat needs a language model; this server has none configured".into(),
    ))
}
