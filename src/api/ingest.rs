//! Ingestion routes (API.md §7): the batch endpoint and ingestion records.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Caller;
use crate::entity_input;
use crate::error::ApiError;
use crate::ingest::batch::{self, BatchResult, BatchSource, MAX_RECORDS};
use crate::state::AppState;
use crate::store::{Ingestion, IngestionStatus};
use crate::timestamp::serde_rfc3339;

/// Body limit of ingestion routes (API.md §2).
pub const INGEST_BODY_LIMIT: usize = 50 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/ingest/{vertical}/{entity_type}/batch")
            .route(web::post().to(batch_route)),
    )
    .service(super::resource("/ingestions/{id}").route(web::get().to(get_ingestion)))
    .service(super::resource("/ingestions/{id}/errors").route(web::get().to(get_errors)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    records: Vec<Value>,
}

#[derive(Serialize)]
struct ErrorView<'a> {
    row: usize,
    field: Option<&'a str>,
    error_type: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct BatchResponse<'a> {
    ingestion_id: Uuid,
    status: IngestionStatus,
    record_count: usize,
    accepted: usize,
    rejected: usize,
    duplicate_count: usize,
    entity_ids: &'a [Uuid],
    errors: Vec<ErrorView<'a>>,
}

fn batch_response(r: &BatchResult) -> HttpResponse {
    let i = &r.ingestion;
    HttpResponse::Ok().json(BatchResponse {
        ingestion_id: i.id,
        status: i.status,
        record_count: i.record_count,
        accepted: i.accepted,
        rejected: i.rejected,
        duplicate_count: i.duplicate_count,
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

fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "application/json" || mime.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/json.".into(),
        ))
    }
}

/// Path slugs, validated like the entity fields they become.
pub fn target(path: &(String, String)) -> Result<(String, String), ApiError> {
    let v =
        entity_input::slug("vertical", &path.0).map_err(|e| ApiError::Validation(e.to_string()))?;
    let t = entity_input::slug("entity_type", &path.1)
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    Ok((v, t))
}

/// Parses a `{records: [...]}` body; shared by the batch and webhook routes.
pub fn parse_records(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let parsed: BatchBody = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::Validation(format!("Invalid body: {e}"))
        } else {
            ApiError::BadRequest(format!("Malformed JSON: {e}"))
        }
    })?;
    if parsed.records.len() > MAX_RECORDS {
        return Err(ApiError::PayloadTooLarge(format!(
            "A batch holds at most {MAX_RECORDS} records; this one has {}.",
            parsed.records.len()
        )));
    }
    if parsed.records.is_empty() {
        return Err(ApiError::validation(
            "records must hold at least one record",
        ));
    }
    Ok(parsed.records)
}

/// Runs a batch through the store, durably, and answers with its result.
pub async fn ingest(
    state: &AppState,
    src: BatchSource,
    records: Vec<Value>,
) -> Result<HttpResponse, ApiError> {
    let result = state
        .write(move |store| Ok(batch::ingest(store, &src, records, None)?))
        .await?;
    Ok(batch_response(&result))
}

async fn batch_route(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_json(&req)?;
    let body = super::read_body(&req, payload, INGEST_BODY_LIMIT).await?;
    let tenant = caller.tenant()?.id.clone();
    let (vertical, entity_type) = target(&path)?;
    let records = parse_records(&body)?;
    let src = BatchSource {
        tenant,
        vertical,
        entity_type,
        source_type: "batch".into(),
        file_name: None,
        file_size: body.len() as u64,
        content_hash: blake3::hash(&body).to_hex().to_string(),
    };
    ingest(&state, src, records).await
}

#[derive(Serialize)]
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
    status: IngestionStatus,
    #[serde(with = "serde_rfc3339::millis")]
    created_at: i64,
    #[serde(with = "crate::timestamp::serde_rfc3339::millis_option")]
    completed_at: Option<i64>,
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
        status: i.status,
        created_at: i.created_at,
        completed_at: i.completed_at,
    }
}

fn load(state: &AppState, tenant: &str, raw: &str) -> Result<Ingestion, ApiError> {
    let id = Uuid::parse_str(raw).map_err(|_| ApiError::not_found("Ingestion"))?;
    state
        .store
        .ingestions
        .get(tenant, id)?
        .ok_or_else(|| ApiError::not_found("Ingestion"))
}

async fn get_ingestion(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let i = load(&state, &caller.tenant()?.id, &id)?;
    Ok(HttpResponse::Ok().json(view(&i)))
}

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
