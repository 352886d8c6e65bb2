//! `GET /export?vertical=&entity_type=&status=&format=json|ndjson|csv` (API.md §9): every
//! matching entity of the caller's tenant, streamed with chunked encoding.
//!
//! A thread reads entities from the store one at a time and writes the format into 64 KiB chunks,
//! handed to the response through a channel of a few chunks: memory stays constant whatever
//! the export's size, and a slow client slows the reader instead of filling memory.

use crate::auth::access;
use std::io::{self, Write};
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::export::{self, Format, Selection};
use crate::state::AppState;
use crate::store::{EntityStatus, Store};

const CHUNK: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 4;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/export", access::ADMIN).get(export_route));
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    vertical: Option<String>,
    entity_type: Option<String>,
    /// The records dialect's names for `vertical` and `entity_type` (API-RECORDS.md §2).
    collection: Option<String>,
    record_type: Option<String>,
    status: Option<String>,
    format: Option<String>,
}

type Chunk = Result<web::Bytes, io::Error>;

/// Buffers writes into chunks sent to the response; fails once the client has gone.
struct ChunkWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<Chunk>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = web::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/export",
    tag = "usage",
    summary = "Download every matching entity, streamed.",
    params(ExportQuery),
    responses((status = 200, description = "A JSON array, NDJSON or CSV (`format`), streamed (chunked).", content(
        (Vec<Object> = "application/json"),
        (String = "application/x-ndjson", example = json!("{\"name\": \"Hex bolt M8x40 A2\", \"vertical\": \"parts\"}\n")),
        (String = "text/csv", example = json!("id,name,vertical\n01938a1e-7c4f-7d2a-9b1e-3f4a5b6c7d8e,Hex bolt M8x40 A2,parts\n")),
    )), (status = 422, description = "A bad parameter.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn export_route(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let q = query.into_inner();
    let format = match q.format.as_deref() {
        None => Format::Json,
        Some(f) => Format::parse(f).ok_or_else(|| {
            ApiError::validation(format!("format must be json, ndjson or csv, not '{f}'"))
        })?,
    };
    let selection = Selection {
        vertical: either(("vertical", q.vertical), ("collection", q.collection))?,
        entity_type: either(
            ("entity_type", q.entity_type),
            ("record_type", q.record_type),
        )?,
        status: q
            .status
            .map(|s| {
                EntityStatus::parse(&s)
                    .ok_or_else(|| ApiError::validation("status must be active, archived or draft"))
            })
            .transpose()?,
    };

    let (tx, mut rx) = mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let store = Arc::clone(&state.store);
    let who = tenant.clone();
    std::thread::Builder::new()
        .name("export".into())
        .spawn(move || {
            let mut out = ChunkWriter {
                buf: Vec::with_capacity(CHUNK),
                tx: tx.clone(),
            };
            let entities = || matching(&store, &who, &selection);
            match export::write(&mut out, format, entities) {
                Ok(n) => log::info!("export of {n} entities for tenant '{who}' done"),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    log::info!("export for tenant '{who}' stopped: the client went away")
                }
                Err(e) => {
                    log::error!("export for tenant '{who}' failed: {e}");
                    // Ends the response abnormally, so the client cannot take it as complete.
                    let _ = tx.blocking_send(Err(e));
                }
            }
        })
        .map_err(|e| ApiError::Internal(format!("cannot start the export: {e}")))?;

    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let file = format!(
        "attachment; filename=\"export-{tenant}-{}.{}\"",
        crate::timestamp::now(),
        format.extension()
    );
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CONTENT_DISPOSITION, file))
        .streaming(body))
}

/// A vertical or type given under either dialect's name (not both).
fn either(
    (a_name, a): (&str, Option<String>),
    (b_name, b): (&str, Option<String>),
) -> Result<Option<String>, ApiError> {
    match (a, b) {
        (Some(_), Some(_)) => Err(ApiError::validation(format!(
            "give {a_name} or {b_name}, not both: they name the same thing"
        ))),
        (Some(v), None) => super::path::optional(a_name, Some(&v)),
        (None, v) => super::path::optional(b_name, v.as_deref()),
    }
}

fn matching<'a>(
    store: &'a Store,
    tenant: &'a str,
    selection: &'a Selection,
) -> Box<dyn Iterator<Item = io::Result<crate::store::Entity>> + 'a> {
    Box::new(
        store
            .entities
            .scan(tenant, None)
            .map(|r| r.map_err(|e| io::Error::other(e.to_string())))
            .filter(move |r| r.as_ref().map_or(true, |e| selection.matches(e))),
    )
}
