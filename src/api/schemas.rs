//! Schemas (API.md §8): `POST /schemas` stores a new version of a type's JSON Schema; every
//! later write of that type is validated against it.

use crate::auth::access::{self, Policy};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::schemas::{self, MAX_SCHEMA_BYTES};
use crate::state::AppState;
use crate::store::SchemaRecord;
use crate::timestamp::{self, serde_rfc3339};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource(
            "/schemas",
            Policy::reads_and_writes(access::ANY_CALLER, access::ADMIN),
        )
        .post(create)
        .get(list),
    )
    .service(super::resource("/schemas/{vertical}/{entity_type}", access::ANY_CALLER).get(latest));
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"vertical": "parts", "entity_type": "bolt", "schema": {"type": "object", "required": ["part_number"], "properties": {"part_number": {"type": "string"}, "price_eur": {"type": "number", "minimum": 0}}}}))]
struct CreateSchema {
    vertical: String,
    entity_type: String,
    schema: Value,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct SchemaView<'a> {
    vertical: &'a str,
    entity_type: &'a str,
    version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<&'a Value>,
    #[serde(with = "serde_rfc3339::millis")]
    #[schema(value_type = String, format = DateTime)]
    created_at: i64,
}

fn view(r: &SchemaRecord, with_schema: bool) -> SchemaView<'_> {
    SchemaView {
        vertical: &r.vertical,
        entity_type: &r.entity_type,
        version: r.version,
        schema: with_schema.then_some(&r.schema),
        created_at: r.created_at,
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/schemas",
    tag = "schemas",
    summary = "Add a JSON Schema version for a vertical and type.",
    description = "Later writes of that type are validated against it (extra fields allowed): 422 on `/entities`, a per-record error on ingestion.",
    request_body = CreateSchema,
    responses((status = 201, description = "The new version.", body = SchemaView)),
    security(("api_key" = ["admin"])),
)]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload, super::BODY_LIMIT).await?;
    let parsed: CreateSchema = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            ApiError::Validation(format!("Invalid body: {e}"))
        } else {
            ApiError::BadRequest(format!("Malformed JSON: {e}"))
        }
    })?;
    let tenant = caller.tenant()?.id.clone();
    let (vertical, entity_type) = super::path::target(&(parsed.vertical, parsed.entity_type))?;
    let size = serde_json::to_vec(&parsed.schema).map_or(0, |b| b.len());
    if size > MAX_SCHEMA_BYTES {
        return Err(ApiError::validation(format!(
            "schema is {size} bytes; the limit is {MAX_SCHEMA_BYTES}"
        )));
    }
    let schema = parsed.schema;
    let record = state
        .write(move |store| {
            store.entities.locked(&tenant, || {
                let version = store
                    .schemas
                    .next_version(&tenant, &vertical, &entity_type)?;
                let compiled = schemas::compile(&schema, version).map_err(ApiError::Validation)?;
                Ok(store.schemas.put(
                    &tenant,
                    &vertical,
                    &entity_type,
                    (schema, compiled),
                    timestamp::now_ms(),
                )?)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(view(&record, false)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    vertical: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/schemas",
    tag = "schemas",
    summary = "The latest schema of each type.",
    params(ListQuery),
    responses((status = 200, description = "Schemas.", body = Vec<SchemaView>)),
    security(("api_key" = [])),
)]
async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let tenant = &caller.tenant()?.id;
    let vertical = super::path::optional("vertical", query.vertical.as_deref())?;
    let records = state
        .store
        .schemas
        .list_latest(tenant, vertical.as_deref())?;
    let views: Vec<_> = records.iter().map(|r| view(r, true)).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[utoipa::path(
    get,
    path = "/api/v1/schemas/{vertical}/{entity_type}",
    tag = "schemas",
    summary = "The latest schema of a type.",
    params(crate::openapi::schemas::VerticalTypePath),
    responses((status = 200, description = "The schema.", body = SchemaView), (status = 404, description = "No such schema in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = [])),
)]
async fn latest(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let tenant = &caller.tenant()?.id;
    let (vertical, entity_type) = super::path::target(&path)?;
    let record = state
        .store
        .schemas
        .latest(tenant, &vertical, &entity_type)?
        .ok_or_else(|| ApiError::not_found("Schema"))?;
    Ok(HttpResponse::Ok().json(view(&record, true)))
}
