//! `POST /search/{vertical}` and `GET /search/{vertical}` (API.md §6), which is also the
//! records dialect's `/search/{collection}` (API-RECORDS.md §3): one operation, whose results
//! carry both dialects' names. An empty query without filters lists the vertical.

use crate::auth::access;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::search::facets::{parse_facets, Facets};
use crate::search::format::{self, Row};
use crate::search::hybrid::Mode;
use crate::search::indexer::{Freshness, RebuildStatus};
use crate::search::query::{parse_filters, SearchParams, Sort};
use crate::search::SearchError;
use crate::state::AppState;
use crate::store::{Entity, EntityStatus, Tenant, Visibility};
use crate::timestamp::serde_rfc3339;

const MAX_QUERY_CHARS: usize = 500;
const MAX_OFFSET: usize = 10_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/search/{vertical}", access::SEARCH)
            .post(search_post)
            .get(search_get),
    );
}

/// A search request as the REST body carries it; other front ends (MCP tools) fill it too, so
/// every search is validated by [`validate`].
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"query": "stainless hex bolt M16", "filters": {"material": "stainless steel", "diameter_mm_min": 8, "brand_in": ["SKF", "ABB"]}, "sort": "-price_eur", "facets": ["material"], "limit": 5}))]
pub(crate) struct SearchBody {
    /// Words, a part number or a standard, 1–500 characters. Empty or absent: the vertical is
    /// listed (newest first, or in `sort` order).
    #[serde(default)]
    pub(crate) query: Option<String>,
    /// Results per page, 1–100 (default 20).
    #[serde(default)]
    pub(crate) limit: Option<i64>,
    /// Results to skip, 0–10,000 (default 0).
    #[serde(default)]
    pub(crate) offset: Option<i64>,
    /// `json` (default), `compact` (a markdown table `# | Name | Score | Key Data`, text/plain)
    /// or `yaml` (text/plain).
    #[serde(default)]
    pub(crate) format: Option<String>,
    /// At most 20 keys, all must match. A key is a `vertical_data` key, `entity_type` or
    /// `source_type`, with an optional suffix: none = equals (case-insensitive; a string with
    /// commas is any of its parts), `_in` = any of (array or comma string), `_min` ≥, `_max` ≤,
    /// `_gt` >, `_lt` < (numbers). A record lacking the key does not match.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub(crate) filters: Option<Map<String, Value>>,
    /// A `vertical_data` key, `name`, `created_at` or `updated_at`; `-` first for descending
    /// (`-price`).
    #[serde(default)]
    pub(crate) sort: Option<String>,
    /// `vertical_data` keys (at most 10) whose values are counted over all results, the 20 most
    /// frequent each. (Read as any JSON, so that a wrong shape is a 422 that names it.)
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub(crate) facets: Option<Value>,
    /// Accepted for compatibility; there is no reranker.
    #[serde(default)]
    #[allow(dead_code)]
    pub(crate) rerank: Option<bool>,
    /// How a text query is matched: `auto` (default: identifiers exactly, else keywords, fused
    /// with vector candidates when no entity holds every word), `keyword` (alias `fulltext`),
    /// `hybrid`, `semantic` (vectors only) or `identifier`. Anything else is a 422.
    #[serde(default)]
    #[schema(example = "hybrid")]
    pub(crate) mode: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Compact,
    Yaml,
}

pub(crate) struct Request {
    pub(crate) params: SearchParams,
    format: Format,
}

pub(crate) fn validate(
    tenant: &str,
    public_only: bool,
    vertical: &str,
    b: SearchBody,
) -> Result<Request, ApiError> {
    let vertical = super::path::vertical(vertical)?;
    let query = b.query.filter(|q| !q.trim().is_empty());
    if let Some(q) = &query {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::validation(format!(
                "query must be at most {MAX_QUERY_CHARS} characters"
            )));
        }
    }
    let filters = parse_filters(&b.filters.unwrap_or_default()).map_err(ApiError::Validation)?;
    let limit = b.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("limit must be between 1 and 100"));
    }
    let offset = b.offset.unwrap_or(0);
    if !(0..=MAX_OFFSET as i64).contains(&offset) {
        return Err(ApiError::validation(format!(
            "offset must be between 0 and {MAX_OFFSET}"
        )));
    }
    let format = match b.format.as_deref().unwrap_or("json") {
        "json" => Format::Json,
        "compact" => Format::Compact,
        "yaml" => Format::Yaml,
        other => {
            return Err(ApiError::validation(format!(
                "format '{other}' is not json, compact or yaml"
            )))
        }
    };
    let facets = match &b.facets {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_facets(v).map_err(ApiError::Validation)?,
    };
    let sort = b
        .sort
        .as_deref()
        .map(Sort::parse)
        .transpose()
        .map_err(ApiError::Validation)?;
    let mode = b
        .mode
        .as_deref()
        .map(Mode::parse)
        .transpose()
        .map_err(ApiError::Validation)?
        .unwrap_or_default();
    Ok(Request {
        params: SearchParams {
            tenant: tenant.to_owned(),
            vertical,
            query,
            filters,
            sort,
            limit: limit as usize,
            offset: offset as usize,
            public_only,
            facets,
            mode,
        },
        format,
    })
}

/// Whose records a search reads: a caller's tenant, or Open's readers of the published
/// tenant's public records.
pub(super) struct Reader<'a> {
    pub tenant: &'a Tenant,
    pub public_only: bool,
}

impl<'a> Reader<'a> {
    fn of(caller: &'a Caller) -> Result<Reader<'a>, ApiError> {
        Ok(Reader {
            tenant: caller.tenant()?,
            public_only: false,
        })
    }
}

/// Validates, counts and runs one search for `reader`.
pub(super) async fn search(
    state: web::Data<AppState>,
    reader: Reader<'_>,
    vertical: &str,
    body: SearchBody,
) -> Result<HttpResponse, ApiError> {
    let req = validate(&reader.tenant.id, reader.public_only, vertical, body)?;
    crate::quota::count_search(&state, reader.tenant)?;
    run_inline(state, req).await
}

#[utoipa::path(
    post,
    path = "/api/v1/search/{vertical}",
    tag = "search",
    summary = "Search a vertical.",
    description = "Only active entities of the caller's tenant in the vertical. Part numbers, SKUs, EAN/GTIN, CAS numbers and standards (`DIN 933`) are matched exactly and rank first (score 1.0); otherwise BM25 over name, description and data values, fused with the nearest vectors of the built-in embedding model when no entity holds every word (`mode`, `metadata.search_mode`), scores in [0, 1]. Zero results retry typo-tolerantly (1–3 words) or by meaning (4+ words), then without filters (`metadata.zero_result_fallback_used`). An unknown vertical answers 200 with no results (`metadata.unknown_vertical`).",
    params(crate::openapi::schemas::VerticalPath),
    request_body = SearchBody,
    responses((status = 200, description = "Results, best first (or in `sort` order). `format=compact` (a markdown table) and `format=yaml` answer `text/plain`.", content(
        (crate::api::search::SearchResponse = "application/json"),
        (String = "text/plain", example = json!("# | Name | Score | Key Data\n1 | Hex bolt M8x40 A2 | 0.93 | part_number: DIN933-M8x40-A2\n")),
    )), (status = 402, description = "A monthly cap of the tenant's plan is reached (`quota_exceeded`).", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["search"])),
)]
async fn search_post(
    state: web::Data<AppState>,
    caller: Caller,
    vertical: web::Path<String>,
    body: web::Json<SearchBody>,
) -> Result<HttpResponse, ApiError> {
    search(state, Reader::of(&caller)?, &vertical, body.into_inner()).await
}

#[utoipa::path(
    get,
    path = "/api/v1/search/{vertical}",
    tag = "search",
    summary = "Search a vertical (query string).",
    description = "Only active entities of the caller's tenant in the vertical. Part numbers, SKUs, EAN/GTIN, CAS numbers and standards (`DIN 933`) are matched exactly and rank first (score 1.0); otherwise BM25 over name, description and data values, fused with the nearest vectors of the built-in embedding model when no entity holds every word (`mode`, `metadata.search_mode`), scores in [0, 1]. Zero results retry typo-tolerantly (1–3 words) or by meaning (4+ words), then without filters (`metadata.zero_result_fallback_used`). An unknown vertical answers 200 with no results (`metadata.unknown_vertical`).",
    params(crate::openapi::schemas::VerticalPath, crate::openapi::schemas::SearchQuery),
    responses((status = 200, description = "Results, best first (or in `sort` order). `format=compact` (a markdown table) and `format=yaml` answer `text/plain`.", content(
        (crate::api::search::SearchResponse = "application/json"),
        (String = "text/plain", example = json!("# | Name | Score | Key Data\n1 | Hex bolt M8x40 A2 | 0.93 | part_number: DIN933-M8x40-A2\n")),
    )), (status = 402, description = "A monthly cap of the tenant's plan is reached (`quota_exceeded`).", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["search"])),
)]
async fn search_get(
    state: web::Data<AppState>,
    caller: Caller,
    vertical: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let body = SearchBody::from_query(query.into_inner())?;
    search(state, Reader::of(&caller)?, &vertical, body).await
}

impl SearchBody {
    /// GET takes `q`, `limit`, `offset`, `format`, `sort` and `facets` (comma-separated); any
    /// other parameter is a filter.
    pub(super) fn from_query(mut q: HashMap<String, String>) -> Result<SearchBody, ApiError> {
        let number = |v: Option<String>, name: &str| -> Result<Option<i64>, ApiError> {
            v.map(|s| {
                s.parse::<i64>()
                    .map_err(|_| ApiError::BadRequest(format!("{name} must be an integer")))
            })
            .transpose()
        };
        Ok(SearchBody {
            query: q.remove("q").or_else(|| q.remove("query")),
            limit: number(q.remove("limit"), "limit")?,
            offset: number(q.remove("offset"), "offset")?,
            format: q.remove("format"),
            sort: q.remove("sort"),
            rerank: q.remove("rerank").map(|v| v == "true"),
            mode: q.remove("mode"),
            facets: q.remove("facets").map(|v| {
                Value::Array(
                    v.split(',')
                        .map(|f| Value::String(f.trim().to_owned()))
                        .collect(),
                )
            }),
            filters: Some(q.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
        })
    }
}

/// One result in both dialects' names (API-RECORDS.md §3): `record_id`, `collection`,
/// `record_type` and `collection_data` are `entity_id`, `vertical`, `entity_type` and
/// `vertical_data` again, borrowed from the same entity.
#[derive(Serialize, utoipa::ToSchema)]
struct ResultView<'a> {
    entity_id: Uuid,
    record_id: Uuid,
    name: &'a str,
    score: f32,
    vertical: &'a str,
    collection: &'a str,
    entity_type: &'a str,
    record_type: &'a str,
    #[schema(value_type = Object)]
    vertical_data: &'a Map<String, Value>,
    #[schema(value_type = Object)]
    collection_data: &'a Map<String, Value>,
    description: Option<&'a str>,
    /// The records dialect's model-written description: there is no model, so always null
    /// (as in the record view).
    description_llm: Option<&'a str>,
    source_type: Option<&'a str>,
    #[serde(with = "serde_rfc3339::millis")]
    #[schema(value_type = String, format = DateTime)]
    updated_at: i64,
}

impl<'a> ResultView<'a> {
    fn new(score: f32, e: &'a Entity) -> Self {
        ResultView {
            entity_id: e.id,
            record_id: e.id,
            name: &e.name,
            score,
            vertical: &e.vertical,
            collection: &e.vertical,
            entity_type: &e.entity_type,
            record_type: &e.entity_type,
            vertical_data: &e.vertical_data,
            collection_data: &e.vertical_data,
            description: e.description.as_deref(),
            description_llm: None,
            source_type: e.source_type.as_deref(),
            updated_at: e.updated_at,
        }
    }
}

/// The JSON response, serialized straight from borrowed results (no intermediate `Value`).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SearchResponse<'a> {
    results: Vec<ResultView<'a>>,
    /// Only when the search asked for facets.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    facets: Option<&'a Facets>,
    pagination: Pagination,
    metadata: Metadata,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Pagination {
    offset: usize,
    limit: usize,
    has_more: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Metadata {
    /// What ran: `identifier`, `fulltext` (keywords), `hybrid` (keywords and vectors),
    /// `semantic` (vectors) or `filter` (no query).
    search_mode: &'static str,
    query_type: Option<&'static str>,
    processing_time_ms: f64,
    total_estimate: usize,
    zero_result_fallback_used: Option<&'static str>,
    reranked: bool,
    cache_hit: bool,
    timings: Timings,
    /// The index is being rebuilt from storage: results may be missing entities until
    /// `/ready` answers 200.
    index_rebuilding: bool,
    /// The tenant has no entity in this vertical (the service's flag for a mistyped vertical).
    unknown_vertical: bool,
    /// The same, in the records dialect's words.
    unknown_collection: bool,
    /// Whether this answer saw every write acknowledged before it (see
    /// [`crate::search::indexer::Freshness`]).
    /// Not in Open's answers: it would tell anonymous readers when the tenant writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    freshness: Option<&'static str>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Timings {
    search_ms: f64,
    hydrate_ms: f64,
    /// Embedding the query (part of `search_ms`); absent when no vector was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    embed_ms: Option<f64>,
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A finished response body: `HttpResponse` cannot leave the worker thread, its bytes can.
struct Answer {
    content_type: &'static str,
    body: Vec<u8>,
}

/// Runs the search inline on the async worker. Its cost is bounded instead (vertical and type
/// validated, fuzzy expansion over the word only and for at most 10 words, filter lists capped),
/// so the worst valid search takes milliseconds; handing every search to the blocking pool cost
/// a thread wake-up per request, 13 % of search throughput and twice the p99 at 1M entities
/// (BENCHMARKS.md).
async fn run_inline(state: web::Data<AppState>, req: Request) -> Result<HttpResponse, ApiError> {
    let answer = run(&state, req)?;
    Ok(HttpResponse::Ok()
        .content_type(answer.content_type)
        .body(answer.body))
}

/// How many recent entities are read to name the sortable fields of a vertical: enough to see
/// the keys a catalog uses, bounded so an error costs little.
const SORT_KEY_SAMPLE: usize = 200;

/// 422 for a sort key no entity of the vertical has, naming the keys its recent entities have.
fn unknown_sort(state: &AppState, p: &SearchParams, key: &str) -> ApiError {
    let mut fields: BTreeSet<String> = BTreeSet::new();
    let ids = state
        .search
        .recent_ids(&p.tenant, &p.vertical, p.public_only, SORT_KEY_SAMPLE)
        .unwrap_or_default();
    for id in ids {
        if let Ok(Some(e)) = state.store.entities.get_readable(&p.tenant, id) {
            fields.extend(
                e.vertical_data
                    .iter()
                    .filter(|(_, v)| !v.is_object() && !v.is_null())
                    .map(|(k, _)| k.clone()),
            );
        }
    }
    let listed: Vec<String> = ["name", "created_at", "updated_at"]
        .into_iter()
        .map(str::to_owned)
        .chain(fields)
        .collect();
    ApiError::validation(format!(
        "sort: no entity in vertical '{}' has the field '{key}'; sortable fields: {}",
        p.vertical,
        listed.join(", ")
    ))
}

/// A search's hits, hydrated from the store, with what the index said about them.
pub(crate) struct Found {
    pub(crate) hits: Vec<(f32, Entity)>,
    pub(crate) outcome: crate::search::query::Outcome,
    /// What the search could see of the tenant's acknowledged writes (not told to Open's
    /// anonymous readers).
    pub(crate) freshness: Option<Freshness>,
    started: Instant,
    search_done: Instant,
    hydrated: Instant,
}

/// Runs a validated search and reads its hits from the store: the one search operation behind
/// every front end (REST, MCP).
pub(crate) fn find(state: &AppState, p: &SearchParams) -> Result<Found, ApiError> {
    let started = Instant::now();
    // Read before the search takes its searcher: a queue found empty here was indexed and
    // made visible before this point, so the searcher sees all of it.
    let freshness = match p.public_only {
        true => None,
        false => Some(state.indexer.freshness(&state.store, &p.tenant)?),
    };
    let outcome = state.search.search(p).map_err(|e| match e {
        SearchError::UnknownSort(key) => unknown_sort(state, p, &key),
        e => ApiError::Internal(e.to_string()),
    })?;
    let search_done = Instant::now();
    // Hydrate from the store, the source of truth: an entity archived or deleted since it was
    // indexed is dropped rather than shown stale.
    let mut hits: Vec<(f32, Entity)> = Vec::with_capacity(outcome.hits.len());
    for h in &outcome.hits {
        if let Some(e) = state.store.entities.get_readable(&p.tenant, h.id)? {
            let shown = e.status == EntityStatus::Active
                && e.vertical == p.vertical
                && (!p.public_only || e.visibility == Visibility::Public);
            if shown {
                hits.push((h.score, e));
            }
        }
    }
    Ok(Found {
        hits,
        outcome,
        freshness,
        started,
        search_done,
        hydrated: Instant::now(),
    })
}

fn run(state: &AppState, req: Request) -> Result<Answer, ApiError> {
    let index_rebuilding = state.indexer.rebuild_status() != RebuildStatus::Complete;
    let p = &req.params;
    let Found {
        hits,
        outcome,
        freshness,
        started,
        search_done,
        hydrated,
    } = find(state, p)?;
    let has_more = p.offset + outcome.hits.len() < outcome.total;
    match req.format {
        Format::Compact | Format::Yaml => {
            let rows: Vec<Row<'_>> = hits
                .iter()
                .map(|(score, e)| Row {
                    name: &e.name,
                    score: *score,
                    data: &e.vertical_data,
                })
                .collect();
            let text = if req.format == Format::Compact {
                format::compact(&rows)
            } else {
                format::yaml(&rows)
            };
            Ok(Answer {
                content_type: "text/plain; charset=utf-8",
                body: text.into_bytes(),
            })
        }
        Format::Json => {
            let results: Vec<ResultView<'_>> = hits
                .iter()
                .map(|(score, e)| ResultView::new(*score, e))
                .collect();
            let response = SearchResponse {
                results,
                facets: outcome.facets.as_ref(),
                pagination: Pagination {
                    offset: p.offset,
                    limit: p.limit,
                    has_more,
                },
                metadata: Metadata {
                    search_mode: outcome.search_mode,
                    query_type: outcome.query_type.map(|t| t.as_str()),
                    processing_time_ms: ms(started.elapsed()),
                    total_estimate: outcome.total,
                    zero_result_fallback_used: outcome.fallback,
                    reranked: false,
                    cache_hit: false,
                    timings: Timings {
                        search_ms: ms(search_done - started),
                        hydrate_ms: ms(hydrated - search_done),
                        embed_ms: outcome.embed_ms,
                    },
                    index_rebuilding,
                    unknown_vertical: outcome.unknown_vertical,
                    unknown_collection: outcome.unknown_vertical,
                    freshness: freshness.map(|f| f.as_str()),
                },
            };
            Ok(Answer {
                content_type: "application/json",
                body: serde_json::to_vec(&response)
                    .map_err(|e| ApiError::Internal(e.to_string()))?,
            })
        }
    }
}
