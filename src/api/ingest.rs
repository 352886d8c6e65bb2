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
    .service(
        super::resource("/ingest/{vertical}/{entity_type}/stream")
            .route(web::post().to(stream_route)),
    )
    .service(
        super::resource("/ingest/{vertical}/{entity_type}/upload")
            .route(web::post().to(upload_route)),
    )
    .service(
        super::resource("/webhooks/ingest/{vertical}/{entity_type}")
            .route(web::post().to(webhook_route)),
    )
    .service(super::resource("/pipeline/status/{id}").route(web::get().to(pipeline_status)))
    .service(super::resource("/pipeline/trigger/{id}").route(web::post().to(pipeline_trigger)))
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

/// The request's media type, lower-cased, without parameters.
fn mime(req: &HttpRequest) -> String {
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
        .write(move |store| Ok(batch::ingest(store, &src, records)?))
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
    let src = BatchSource::for_body(tenant, (vertical, entity_type), "batch", None, &body);
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

/// `POST /webhooks/ingest/{vertical}/{entity_type}`: the batch body, signed when
/// `WEBHOOK_SECRET` is set (`X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>`).
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
    let tenant = caller.tenant()?.id.clone();
    let (vertical, entity_type) = target(&path)?;
    let records = parse_records(&body)?;
    let src = BatchSource::for_body(tenant, (vertical, entity_type), "webhook", None, &body);
    ingest(&state, src, records).await
}

/// `POST /ingest/{vertical}/{entity_type}/stream`: NDJSON, one record per line. Lines that are
/// not JSON, or not valid records, are skipped and counted in `parse_errors`.
async fn stream_route(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !matches!(
        mime(&req).as_str(),
        "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
    ) {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/x-ndjson.".into(),
        ));
    }
    let tenant = caller.tenant()?.id.clone();
    let (vertical, entity_type) = target(&path)?;
    let body = super::read_body(&req, payload, INGEST_BODY_LIMIT).await?;
    let rows = crate::ingest::ndjson::parse(&body);
    let buffered = rows.iter().filter(|r| r.is_ok()).count();
    let src = BatchSource::for_body(tenant, (vertical, entity_type), "stream", None, &body);
    let result = state
        .write(move |store| Ok(batch::ingest_rows(store, &src, rows.into_iter())?))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "ingestion_id": result.ingestion.id,
        "accepted": result.ingestion.accepted,
        "duplicate_count": result.ingestion.duplicate_count,
        // Lines that are not JSON and invalid records, all in the dead-letter entries.
        "parse_errors": result.ingestion.rejected,
        "buffer_size": buffered,
        "flushed": true,
    })))
}

/// `GET /pipeline/status/{ingestion_id}`: where the ingestion's entities are in indexing.
async fn pipeline_status(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let i = load(&state, &tenant, &id)?;
    let (mut pending, mut completed, mut failed) = (0, 0, 0);
    let mut ids = i.entity_ids.clone();
    ids.sort_unstable();
    ids.dedup();
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
            let mut ids = i.entity_ids;
            ids.sort_unstable();
            ids.dedup();
            for eid in ids {
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

/// File formats the upload route reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileKind {
    Csv,
    Json,
    Ndjson,
    Xml,
}

impl FileKind {
    /// By extension first, then by the part's content type.
    fn detect(file_name: Option<&str>, content_type: Option<&str>) -> Result<FileKind, ApiError> {
        let ext = file_name
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e.to_ascii_lowercase());
        let kind = match (ext.as_deref(), content_type) {
            (Some("csv" | "tsv"), _) | (_, Some("text/csv" | "text/tab-separated-values")) => FileKind::Csv,
            (Some("ndjson" | "jsonl"), _) | (_, Some("application/x-ndjson" | "application/ndjson" | "application/jsonl")) => {
                FileKind::Ndjson
            }
            (Some("json"), _) | (_, Some("application/json")) => FileKind::Json,
            (Some("xml"), _) | (_, Some("application/xml" | "text/xml")) => FileKind::Xml,
            _ => {
                return Err(ApiError::UnsupportedMediaType(
                    "Cannot tell the file type: use a .csv, .json, .ndjson or .xml file name or content type.".into(),
                ))
            }
        };
        Ok(kind)
    }
}

/// Ingests `rows`, refusing a file that holds none.
fn ingest_file(
    store: &crate::store::Store,
    src: &BatchSource,
    rows: impl Iterator<Item = batch::Row>,
) -> Result<BatchResult, ApiError> {
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        return Err(ApiError::validation("the file holds no records"));
    }
    Ok(batch::ingest_rows(store, src, rows)?)
}

/// Parses an uploaded file as it is ingested: whole-file problems (no header, malformed JSON
/// or XML) are found before anything is stored, then rows are read one at a time.
fn ingest_upload(
    store: &crate::store::Store,
    mut src: BatchSource,
    kind: FileKind,
    bytes: &[u8],
    name_column: &str,
) -> Result<BatchResult, ApiError> {
    use crate::ingest::{csv_file, json_array, ndjson, xml_file};
    match kind {
        FileKind::Csv => {
            src.source_type = "csv".into();
            let rows = csv_file::rows(bytes, name_column).map_err(ApiError::Validation)?;
            ingest_file(store, &src, rows)
        }
        FileKind::Json => {
            src.source_type = "json".into();
            json_array::check(bytes).map_err(|e| match e {
                json_array::JsonFileError::Malformed(m) => {
                    ApiError::BadRequest(format!("The file is not valid JSON: {m}"))
                }
                json_array::JsonFileError::NotAnArray => {
                    ApiError::validation("a .json upload must hold a JSON array of records")
                }
            })?;
            ingest_file(store, &src, json_array::rows(bytes))
        }
        FileKind::Ndjson => {
            src.source_type = "ndjson".into();
            ingest_file(store, &src, ndjson::rows(bytes))
        }
        FileKind::Xml => {
            let text = xml_file::text(bytes).map_err(ApiError::BadRequest)?;
            let xml_kind = xml_file::inspect(&text).map_err(|e| match e {
                xml_file::XmlError::Malformed(m) => ApiError::BadRequest(m),
                xml_file::XmlError::Unsupported(m) => ApiError::Validation(m),
            })?;
            src.source_type = xml_kind.source_type().into();
            ingest_file(store, &src, xml_file::records(&text, xml_kind))
        }
    }
}

/// The last path component of a client-supplied file name, without control characters.
fn clean_file_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty() && clean != "." && clean != "..").then_some(clean)
}

/// `POST /ingest/{vertical}/{entity_type}/upload`: multipart with a `file` part (CSV, JSON array,
/// NDJSON, BMEcat or IDoc XML; ≤ 50 MB) and an optional `name_column` part (CSV, default `name`).
async fn upload_route(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use futures_util::TryStreamExt;

    if !mime(&req).starts_with("multipart/form-data") {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be multipart/form-data with a 'file' part.".into(),
        ));
    }
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "Upload exceeds the limit of {INGEST_BODY_LIMIT} bytes."
        ))
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > INGEST_BODY_LIMIT) {
        return Err(too_large());
    }
    let tenant = caller.tenant()?.id.clone();
    let (vertical, entity_type) = target(&path)?;

    let bad_multipart = |e: actix_multipart::MultipartError| {
        ApiError::BadRequest(format!("Malformed multipart body: {e}"))
    };
    let mut parts = actix_multipart::Multipart::new(req.headers(), payload);
    let mut file: Option<(Option<String>, Option<String>, web::BytesMut)> = None;
    let mut name_column = "name".to_owned();
    let mut total = 0usize;
    while let Some(mut part) = parts.try_next().await.map_err(bad_multipart)? {
        let disposition = part.content_disposition().cloned();
        let field = disposition
            .as_ref()
            .and_then(|d| d.get_name())
            .unwrap_or("")
            .to_owned();
        let file_name = disposition
            .as_ref()
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        let content_type = part
            .content_type()
            .map(|m| m.essence_str().to_ascii_lowercase());
        // The file part is sized up front so it is not reallocated (and briefly doubled) as it
        // grows.
        let mut buf = match (field.as_str(), declared) {
            ("file", Some(n)) => web::BytesMut::with_capacity(n),
            _ => web::BytesMut::new(),
        };
        while let Some(chunk) = part.try_next().await.map_err(bad_multipart)? {
            total += chunk.len();
            if total > INGEST_BODY_LIMIT {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        match field.as_str() {
            "file" => file = Some((file_name, content_type, buf)),
            "name_column" => {
                name_column = std::str::from_utf8(&buf)
                    .map_err(|_| ApiError::validation("name_column must be UTF-8 text"))?
                    .trim()
                    .to_owned();
            }
            _ => {}
        }
    }
    let (file_name, content_type, bytes) =
        file.ok_or_else(|| ApiError::validation("the multipart body needs a 'file' part"))?;
    let kind = FileKind::detect(file_name.as_deref(), content_type.as_deref())?;
    let file_name = file_name.as_deref().and_then(clean_file_name);
    let bytes = bytes.freeze();
    let src = BatchSource::for_body(tenant, (vertical, entity_type), "upload", file_name, &bytes);
    let result = state
        .write(move |store| ingest_upload(store, src, kind, &bytes, &name_column))
        .await?;
    Ok(batch_response(&result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(
            clean_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(clean_file_name("C:\\evil\\x.csv").as_deref(), Some("x.csv"));
        assert_eq!(
            clean_file_name("a\u{0}b\nc.csv").as_deref(),
            Some("abc.csv")
        );
        assert_eq!(clean_file_name(".."), None);
        assert_eq!(clean_file_name(""), None);
    }

    #[test]
    fn kinds_by_extension_then_content_type() {
        assert_eq!(
            FileKind::detect(Some("a.CSV"), None).unwrap(),
            FileKind::Csv
        );
        assert_eq!(
            FileKind::detect(Some("a.jsonl"), None).unwrap(),
            FileKind::Ndjson
        );
        assert_eq!(
            FileKind::detect(None, Some("application/json")).unwrap(),
            FileKind::Json
        );
        assert_eq!(
            FileKind::detect(None, Some("text/xml")).unwrap(),
            FileKind::Xml
        );
        assert!(FileKind::detect(Some("a.bin"), Some("application/octet-stream")).is_err());
    }
}
