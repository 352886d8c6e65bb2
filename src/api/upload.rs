//! File routes (API.md §7): `/upload` (CSV, JSON array, NDJSON, BMEcat, IDoc) and `/pdf`.
//! Whole-file problems are answered before anything is stored; rows are then parsed one at a
//! time as they are ingested, so memory stays near the size of the upload itself.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dialect::Dialect;
use super::ingest::{batch_response, mime, writer, INGEST_BODY_LIMIT};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ingest::batch::{self, BatchResult, BatchSource};
use crate::quota::WriteQuota;
use crate::state::AppState;

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
    dialect: Dialect,
    quota: &WriteQuota,
) -> Result<BatchResult, ApiError> {
    let mut rows = rows.map(|r| r.map(|v| dialect.record(v))).peekable();
    if rows.peek().is_none() {
        return Err(ApiError::validation("the file holds no records"));
    }
    Ok(batch::ingest_rows(store, src, rows, quota)?)
}

/// Parses an uploaded file as it is ingested: whole-file problems (no header, malformed JSON
/// or XML) are found before anything is stored, then rows are read one at a time.
fn ingest_upload(
    store: &crate::store::Store,
    mut src: BatchSource,
    kind: FileKind,
    dialect: Dialect,
    bytes: &[u8],
    name_column: &str,
    quota: &WriteQuota,
) -> Result<BatchResult, ApiError> {
    use crate::ingest::{csv_file, json_array, ndjson, xml_file};
    match kind {
        FileKind::Csv => {
            src.source_type = "csv".into();
            let rows = csv_file::rows(bytes, name_column).map_err(ApiError::Validation)?;
            ingest_file(store, &src, rows, dialect, quota)
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
            ingest_file(store, &src, json_array::rows(bytes), dialect, quota)
        }
        FileKind::Ndjson => {
            src.source_type = "ndjson".into();
            ingest_file(store, &src, ndjson::rows(bytes), dialect, quota)
        }
        FileKind::Xml => {
            let text = xml_file::text(bytes).map_err(ApiError::BadRequest)?;
            let xml_kind = xml_file::inspect(&text).map_err(|e| match e {
                xml_file::XmlError::Malformed(m) => ApiError::BadRequest(m),
                xml_file::XmlError::Unsupported(m) => ApiError::Validation(m),
            })?;
            src.source_type = xml_kind.source_type().into();
            ingest_file(
                store,
                &src,
                xml_file::records(&text, xml_kind),
                dialect,
                quota,
            )
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

/// An uploaded file and the form fields sent with it.
struct Upload {
    file_name: Option<String>,
    content_type: Option<String>,
    bytes: web::Bytes,
    name_column: String,
}

impl Upload {
    /// The ingestion source of this upload: the file's cleaned name, its size and hash.
    fn source(&self, tenant: String, target: (String, String), source_type: &str) -> BatchSource {
        let file_name = self.file_name.as_deref().and_then(clean_file_name);
        BatchSource::for_body(tenant, target, source_type, file_name, &self.bytes)
    }
}

/// Reads a multipart body with a `file` part (≤ 50 MB) and an optional `name_column` part.
async fn read_upload(req: &HttpRequest, payload: web::Payload) -> Result<Upload, ApiError> {
    use futures_util::TryStreamExt;

    if !mime(req).starts_with("multipart/form-data") {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be multipart/form-data with a 'file' part.".into(),
        ));
    }
    let declared = super::declared_length(req, INGEST_BODY_LIMIT)?;
    let bad_multipart = |e: actix_multipart::MultipartError| match e {
        actix_multipart::MultipartError::Payload(p) => super::body::payload_error(p),
        e => ApiError::BadRequest(format!("Malformed multipart body: {e}")),
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
                return Err(super::too_large(INGEST_BODY_LIMIT));
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
    Ok(Upload {
        file_name,
        content_type,
        bytes: bytes.freeze(),
        name_column,
    })
}

/// `POST /ingest/{vertical}/{entity_type}/upload`: multipart with a `file` part (CSV, JSON array,
/// NDJSON, BMEcat or IDoc XML; ≤ 50 MB) and an optional `name_column` part (CSV, default `name`).
#[utoipa::path(
    post,
    path = "/api/v1/ingest/{vertical}/{entity_type}/upload",
    tag = "ingestion",
    summary = "Ingest a file: CSV, JSON array, NDJSON or XML (BMEcat, SAP IDoc).",
    params(crate::openapi::schemas::VerticalTypePath),
    request_body(content = crate::openapi::schemas::FileUpload, content_type = "multipart/form-data"),
    responses(crate::openapi::schemas::BatchAnswers),
    security(("api_key" = ["ingest"])),
)]
pub async fn upload_route(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let result = upload_result(&state, &caller, &req, &path, payload, Dialect::Entities).await?;
    Ok(batch_response(&result))
}

/// A multipart file ingested into the path's vertical and type (both dialects' upload).
pub(super) async fn upload_result(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    path: &(String, String),
    payload: web::Payload,
    dialect: Dialect,
) -> Result<BatchResult, ApiError> {
    let (quota, tenant, target) = writer(state, caller, path)?;
    let up = read_upload(req, payload).await?;
    let kind = FileKind::detect(up.file_name.as_deref(), up.content_type.as_deref())?;
    let src = up.source(tenant, target, "upload");
    let (bytes, name_column) = (up.bytes, up.name_column);
    state
        .write(move |store| ingest_upload(store, src, kind, dialect, &bytes, &name_column, &quota))
        .await
}

/// `POST /ingest/{vertical}/{entity_type}/pdf`: multipart with a `file` part holding a PDF.
/// 1–3 pages become one entity, 4 or more one entity per page (at most a batch's worth).
#[utoipa::path(
    post,
    path = "/api/v1/ingest/{vertical}/{entity_type}/pdf",
    tag = "ingestion",
    summary = "Ingest a PDF: its text, one entity per document (1–3 pages) or per page.",
    params(crate::openapi::schemas::VerticalTypePath),
    request_body(content = crate::openapi::schemas::PdfUpload, content_type = "multipart/form-data"),
    responses(crate::openapi::schemas::BatchAnswers),
    security(("api_key" = ["ingest"])),
)]
pub async fn pdf_route(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let result = pdf_result(&state, &caller, &req, &path, payload).await?;
    Ok(batch_response(&result))
}

/// A multipart PDF ingested into the path's vertical and type (both dialects' PDF route; its
/// records are made here, so no dialect renames them).
pub(super) async fn pdf_result(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    path: &(String, String),
    payload: web::Payload,
) -> Result<BatchResult, ApiError> {
    use crate::ingest::pdf_file::{self, PdfError};

    let (quota, tenant, target) = writer(state, caller, path)?;
    let up = read_upload(req, payload).await?;
    let src = up.source(tenant, target, "pdf");
    let bytes = up.bytes;
    // Read before the write, so the store's blocking work does not wait on the parser.
    let pages = web::block(move || pdf_file::page_texts_within(bytes, pdf_file::PARSE_LIMIT))
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
        .map_err(|e| match e {
            PdfError::NotPdf => ApiError::UnsupportedMediaType(e.to_string()),
            PdfError::TooManyPages { .. } => ApiError::PayloadTooLarge(e.to_string()),
            _ => ApiError::Validation(e.to_string()),
        })?;
    state
        .write(move |store| {
            let records = pdf_file::records(src.file_name.as_deref(), pages);
            Ok(batch::ingest(store, &src, records, &quota)?)
        })
        .await
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
