//! `GET /collections` and `PATCH /collections/{c}` (API-RECORDS.md §2): the records dialect's
//! `/verticals`, plus metadata an admin sets per collection (description, category, and the
//! visibility new records get), kept per tenant in the `collections` tree.

use crate::auth::access;
use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use super::dialect::records_error;
use super::verticals::{self, VerticalSummary};
use crate::auth::Caller;
use crate::entity_input::{self, FieldError, MAX_TEXT_CHARS};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{CollectionMeta, Store, Visibility};

/// Categories are labels, not prose.
const MAX_CATEGORY_CHARS: usize = 200;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/collections", access::SEARCH_READ).get(list))
        .service(super::resource("/collections/{collection}", access::ADMIN).patch(update))
        .service(
            super::resource(
                "/collections/{collection}/default-visibility",
                access::ADMIN,
            )
            .patch(update_default_visibility),
        );
}

fn view(name: &str, s: &VerticalSummary, meta: Option<&CollectionMeta>) -> Value {
    json!({
        "collection": name,
        "description": meta.and_then(|m| m.description.as_deref()),
        "category": meta.and_then(|m| m.category.as_deref()),
        "record_types": s.entity_types,
        "record_count": s.entity_count,
        "has_schema": s.has_schema,
        "default_visibility": meta.and_then(|m| m.default_visibility).unwrap_or_default(),
    })
}

/// The tenant's collections: those with records or a schema (as `/verticals` finds them, a
/// scan of its entities) and those with metadata only (their records since deleted).
#[utoipa::path(
    get,
    path = "/api/v1/collections",
    tag = "collections",
    summary = "List collections with record counts, record types and metadata.",
    responses((status = 200, description = "Collections.", body = crate::openapi::schemas::Collections)),
    security(("api_key" = ["search"])),
)]
async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let store = std::sync::Arc::clone(&state.store);
    let body = web::block(move || -> Result<_, ApiError> {
        let mut summaries = verticals::summaries(&store, &tenant, |_| true)?;
        let metas: std::collections::BTreeMap<_, _> =
            store.collections.list(&tenant)?.into_iter().collect();
        for name in metas.keys() {
            summaries.entry(name.clone()).or_default();
        }
        Ok(summaries
            .iter()
            .map(|(name, s)| view(name, s, metas.get(name)))
            .collect::<Vec<_>>())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(json!({ "collections": body })))
}

/// A change to a collection's metadata: for each field, `None` leaves it, `Some(None)` clears it.
#[derive(Default)]
struct MetaPatch {
    description: Option<Option<String>>,
    category: Option<Option<String>>,
    default_visibility: Option<Option<Visibility>>,
}

impl MetaPatch {
    fn parse(body: &Map<String, Value>) -> Result<MetaPatch, FieldError> {
        let mut p = MetaPatch::default();
        for (k, v) in body {
            match k.as_str() {
                "description" => {
                    p.description = Some(entity_input::optional_text(k, v, MAX_TEXT_CHARS)?)
                }
                "category" => {
                    p.category = Some(entity_input::optional_text(k, v, MAX_CATEGORY_CHARS)?)
                }
                "default_visibility" => {
                    let parsed = match v {
                        Value::Null => None,
                        Value::String(s) => Some(Visibility::parse(s).ok_or_else(|| {
                            FieldError::new(k, "invalid_value", "must be public or private")
                        })?),
                        _ => {
                            return Err(FieldError::new(
                                k,
                                "invalid_type",
                                "must be public or private",
                            ))
                        }
                    };
                    p.default_visibility = Some(parsed);
                }
                other => {
                    return Err(FieldError::new(
                        other,
                        "unknown_field",
                        "is not a collection field (description, category, default_visibility)",
                    ))
                }
            }
        }
        if body.is_empty() {
            return Err(FieldError {
                field: None,
                error_type: "missing",
                message: "name at least one of description, category, default_visibility".into(),
            });
        }
        Ok(p)
    }

    fn apply(self, meta: &mut CollectionMeta) {
        if let Some(d) = self.description {
            meta.description = d;
        }
        if let Some(c) = self.category {
            meta.category = c;
        }
        if let Some(v) = self.default_visibility {
            meta.default_visibility = v;
        }
    }
}

/// What the tenant's records say about one collection, from the entity counts.
fn summary_of(store: &Store, tenant: &str, collection: &str) -> Result<VerticalSummary, ApiError> {
    Ok(
        verticals::summaries(store, tenant, |e| e.vertical == collection)?
            .remove(collection)
            .unwrap_or_default(),
    )
}

async fn patch(
    state: &AppState,
    caller: &Caller,
    collection: &str,
    body: Map<String, Value>,
) -> Result<HttpResponse, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let name = super::path::slug("collection", collection)?;
    let change = MetaPatch::parse(&body).map_err(|e| ApiError::Validation(e.to_string()))?;
    let view = state
        .write(move |store| {
            // Under the tenant's write lock: two PATCHes of one collection must not each
            // start from the metadata the other is replacing.
            store.entities.locked(&tenant, || {
                let summary = summary_of(store, &tenant, &name)?;
                let found = store.collections.get(&tenant, &name)?;
                let exists = found.is_some() || summary.entity_count > 0 || summary.has_schema;
                if !exists {
                    return Err(ApiError::NotFound(format!(
                        "Collection '{name}' not found: it has no records, schema or metadata."
                    )));
                }
                let mut meta = found.unwrap_or_default();
                change.apply(&mut meta);
                meta.updated_at = crate::timestamp::now_ms();
                store.collections.put(&tenant, &name, &meta)?;
                Ok(view(&name, &summary, Some(&meta)))
            })
        })
        .await
        .map_err(records_error)?;
    Ok(HttpResponse::Ok().json(view))
}

/// `PATCH /collections/{c}`: `{description?, category?, default_visibility?}` (null clears).
#[utoipa::path(
    patch,
    path = "/api/v1/collections/{collection}",
    tag = "collections",
    summary = "Change a collection's description, category or default visibility.",
    params(crate::openapi::schemas::CollectionPath),
    request_body = crate::openapi::schemas::CollectionPatch,
    responses((status = 200, description = "The collection.", body = crate::openapi::schemas::Collection), (status = 404, description = "The collection has no records and no metadata.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    collection: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    patch(&state, &caller, &collection, body.into_inner()).await
}

/// `PATCH /collections/{c}/default-visibility`: `{default_visibility}`.
#[utoipa::path(
    patch,
    path = "/api/v1/collections/{collection}/default-visibility",
    tag = "collections",
    summary = "Set the visibility new records of a collection get.",
    params(crate::openapi::schemas::CollectionPath),
    request_body = crate::openapi::schemas::DefaultVisibility,
    responses((status = 200, description = "The collection.", body = crate::openapi::schemas::Collection), (status = 404, description = "The collection has no records and no metadata.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["admin"])),
)]
async fn update_default_visibility(
    state: web::Data<AppState>,
    caller: Caller,
    collection: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.len() != 1 || !body.contains_key("default_visibility") {
        return Err(ApiError::validation(
            "the body must be {\"default_visibility\": \"public\" | \"private\"}",
        ));
    }
    patch(&state, &caller, &collection, body).await
}
