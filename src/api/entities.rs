//! `/entities` (API.md §5): CRUD, cursor listing, soft and permanent delete, bulk operations.
//! Ids of other tenants behave exactly like ids that do not exist.

use crate::auth::access;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::Caller;
use crate::entity_input::{self, FieldError, MAX_SOURCE_CHARS, MAX_TEXT_CHARS};
use crate::error::ApiError;
use crate::quota::WriteQuota;
use crate::state::AppState;
use crate::store::{
    EmbeddingStatus, Entity, EntityStatus, SourceKey, Store, StoreError, Visibility,
};
use crate::timestamp::{self, serde_rfc3339};
use crate::webhooks::{emit_records as emit, RecordEvent};

pub const MAX_BULK: usize = 1_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/entities", access::ENTITIES)
            .post(create)
            .get(list),
    )
    .service(super::resource("/entities/bulk", access::ENTITIES).patch(bulk_update))
    .service(super::resource("/entities/bulk-delete", access::ENTITIES).post(bulk_delete))
    .service(
        super::resource("/entities/{id}", access::ENTITIES)
            .get(get)
            .patch(update)
            .delete(delete),
    );
}

/// An entity as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EntityView {
    id: Uuid,
    tenant_id: String,
    vertical: String,
    entity_type: String,
    name: String,
    description: Option<String>,
    source_id: Option<String>,
    source_type: Option<String>,
    source_name: Option<String>,
    source_url: Option<String>,
    status: EntityStatus,
    #[schema(value_type = Object)]
    vertical_data: Map<String, Value>,
    embedding_status: EmbeddingStatus,
    visibility: Visibility,
    #[serde(with = "serde_rfc3339::millis")]
    #[schema(value_type = String, format = DateTime)]
    created_at: i64,
    #[serde(with = "serde_rfc3339::millis")]
    #[schema(value_type = String, format = DateTime)]
    updated_at: i64,
}

pub fn view(store: &Store, e: Entity) -> Result<EntityView, ApiError> {
    let embedding_status = store.entities.embedding_status(&e.tenant_id, e.id)?;
    Ok(EntityView {
        id: e.id,
        tenant_id: e.tenant_id,
        vertical: e.vertical,
        entity_type: e.entity_type,
        name: e.name,
        description: e.description,
        source_id: e.source_id,
        source_type: e.source_type,
        source_name: e.source_name,
        source_url: e.source_url,
        status: e.status,
        vertical_data: e.vertical_data,
        embedding_status,
        visibility: e.visibility,
        created_at: e.created_at,
        updated_at: e.updated_at,
    })
}

fn invalid(e: FieldError) -> ApiError {
    ApiError::Validation(e.to_string())
}

pub(crate) fn parse_visibility(raw: &str) -> Result<Visibility, FieldError> {
    Visibility::parse(raw)
        .ok_or_else(|| FieldError::new("visibility", "invalid_value", "must be public or private"))
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found("Entity"))
}

fn parse_status(raw: &str) -> Result<EntityStatus, FieldError> {
    EntityStatus::parse(raw).ok_or_else(|| {
        FieldError::new(
            "status",
            "invalid_value",
            "must be active, draft or archived",
        )
    })
}

/// The body of a create, in the entities dialect (the records dialect renames into it).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Hex bolt M8x40 A2", "vertical": "parts", "entity_type": "bolt", "description": "Hex bolt, metric thread M8, length 40 mm, stainless steel A2-70, to DIN 933.", "source_id": "SKU-1001", "vertical_data": {"part_number": "DIN933-M8x40-A2", "material": "stainless steel", "thread": "M8", "price_eur": 0.31}}))]
pub(crate) struct CreateEntity {
    pub name: String,
    pub vertical: String,
    pub entity_type: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub vertical_data: Option<Map<String, Value>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source_id: Option<Value>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub source_name: Option<String>,
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// Unset: the collection's default visibility, else private.
    #[serde(default)]
    pub visibility: Option<String>,
}

/// The entity a create makes, and the visibility it named (if it named one).
fn new_entity(tenant: &str, b: CreateEntity) -> Result<(Entity, Option<Visibility>), FieldError> {
    let now = timestamp::now_ms();
    let text = |field: &str, v: Option<String>, max| {
        v.map(|s| entity_input::text(field, &s, max)).transpose()
    };
    let visibility = b.visibility.as_deref().map(parse_visibility).transpose()?;
    let entity = Entity {
        id: Uuid::now_v7(),
        tenant_id: tenant.to_owned(),
        vertical: entity_input::slug("vertical", &b.vertical)?,
        entity_type: entity_input::slug("entity_type", &b.entity_type)?,
        name: entity_input::name(&b.name)?,
        description: text("description", b.description, MAX_TEXT_CHARS)?,
        source_id: match &b.source_id {
            Some(v) => entity_input::string_like("source_id", v)?
                .map(|s| entity_input::text("source_id", &s, MAX_SOURCE_CHARS))
                .transpose()?,
            None => None,
        },
        source_type: text("source_type", b.source_type, MAX_SOURCE_CHARS)?,
        source_name: text("source_name", b.source_name, MAX_SOURCE_CHARS)?,
        source_url: text("source_url", b.source_url, MAX_SOURCE_CHARS)?,
        status: b
            .status
            .as_deref()
            .map(parse_status)
            .transpose()?
            .unwrap_or(EntityStatus::Active),
        vertical_data: entity_input::vertical_data(b.vertical_data.unwrap_or_default())?,
        created_at: now,
        updated_at: now,
        visibility: visibility.unwrap_or_default(),
    };
    Ok((entity, visibility))
}

/// Fails when another entity of the tenant's vertical and type already has this source id
/// (a source id names one entity there: it is what ingestion upserts by).
fn check_source_free(store: &Store, e: &Entity) -> Result<(), ApiError> {
    if let Some(key) = SourceKey::of(e) {
        if let Some(owner) = store.entities.by_source_id(&key)? {
            if owner.id != e.id {
                return Err(ApiError::Conflict(format!(
                    "Another entity of {}/{} already has source_id '{}'.",
                    key.vertical, key.entity_type, key.source_id
                )));
            }
        }
    }
    Ok(())
}

/// The entity against its type's schema, if the type has one: 422 naming the field.
/// Call holding the tenant's write lock.
fn check_schema(store: &Store, e: &Entity) -> Result<(), ApiError> {
    match store
        .schemas
        .validator(&e.tenant_id, &e.vertical, &e.entity_type)?
    {
        Some(schema) => schema.check(e).map_err(invalid),
        None => Ok(()),
    }
}

/// Creates an entity (both dialects' create).
pub(crate) async fn create_entity(
    state: &AppState,
    caller: &Caller,
    body: CreateEntity,
) -> Result<Entity, ApiError> {
    let quota = WriteQuota::for_tenant(state, caller.tenant()?)?;
    let tenant = caller.tenant()?.id.clone();
    let (mut entity, visibility) = new_entity(&tenant, body).map_err(invalid)?;
    state
        .write(move |store| {
            store.entities.locked(&tenant, || {
                entity.visibility = match visibility {
                    Some(v) => v,
                    None => store
                        .collections
                        .default_visibility(&tenant, &entity.vertical)?,
                };
                check_source_free(store, &entity)?;
                check_schema(store, &entity)?;
                let stored = quota.check_vertical_and_count(store, &tenant, &entity.vertical)?;
                quota.check_totals(stored, 1, 0)?;
                let mut changes = store.entities.changes();
                changes.put(&entity, None)?;
                store.entities.apply(changes)?;
                quota.record(1, 0);
                emit(
                    store,
                    &tenant,
                    RecordEvent::Created,
                    std::slice::from_ref(&entity),
                )?;
                Ok(entity)
            })
        })
        .await
}

#[utoipa::path(
    post,
    path = "/api/v1/entities",
    tag = "entities",
    summary = "Create an entity.",
    request_body = CreateEntity,
    responses((status = 409, description = "Another entity of the same vertical and type has this `source_id`.", body = crate::openapi::schemas::Error), (status = 201, description = "The entity (`embedding_status: pending` until indexed, within a second).", body = EntityView), (status = 402, description = "A monthly cap of the tenant's plan is reached (`quota_exceeded`).", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["entities"])),
)]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateEntity>,
) -> Result<HttpResponse, ApiError> {
    let stored = create_entity(&state, &caller, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(view(&state.store, stored)?))
}

/// Parameters of a listing, in the entities dialect.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    pub vertical: Option<String>,
    pub entity_type: Option<String>,
    pub q: Option<String>,
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// One page of a listing: items shown by the dialect's view, the next cursor, whether more follow.
pub(crate) type Page<V> = (Vec<V>, Option<String>, bool);

#[derive(Serialize, utoipa::ToSchema)]
struct ListPage {
    items: Vec<EntityView>,
    cursor: Option<String>,
    has_more: bool,
}

/// Lists entities (both dialects' listing), each shown by `show` (which reads the store, so it
/// runs on the blocking pool with the scan).
pub(crate) async fn list_entities<V: Send + 'static>(
    state: &AppState,
    caller: &Caller,
    q: ListQuery,
    show: fn(&Store, Entity) -> Result<V, ApiError>,
) -> Result<Page<V>, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("limit must be between 1 and 100"));
    }
    let status = match q.status.as_deref() {
        None => Some(EntityStatus::Active),
        Some("all") => None,
        Some(s) => Some(parse_status(s).map_err(invalid)?),
    };
    let vertical = super::path::optional("vertical", q.vertical.as_deref())?;
    let entity_type = super::path::optional("entity_type", q.entity_type.as_deref())?;
    let words: Vec<String> =
        q.q.unwrap_or_default()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
    let after = q
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            Uuid::parse_str(&c).map_err(|_| ApiError::BadRequest("cursor is not valid".into()))
        })
        .transpose()?;
    let limit = limit as usize;
    let store = std::sync::Arc::clone(&state.store);
    web::block(move || -> Result<_, ApiError> {
        let mut items = Vec::with_capacity(limit + 1);
        for e in store.entities.scan(&tenant, after) {
            let e = e?;
            let keep = status.is_none_or(|s| s == e.status)
                && vertical.as_ref().is_none_or(|v| *v == e.vertical)
                && entity_type.as_ref().is_none_or(|t| *t == e.entity_type)
                && (words.is_empty() || {
                    let name = e.name.to_lowercase();
                    words.iter().all(|w| name.contains(w.as_str()))
                });
            if keep {
                items.push(e);
                if items.len() > limit {
                    break;
                }
            }
        }
        let has_more = items.len() > limit;
        items.truncate(limit);
        let cursor = has_more
            .then(|| items.last().map(|e| e.id.to_string()))
            .flatten();
        let views = items
            .into_iter()
            .map(|e| show(&store, e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((views, cursor, has_more))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

#[utoipa::path(
    get,
    path = "/api/v1/entities",
    tag = "entities",
    summary = "List entities, newest first, with cursor pagination.",
    params(ListQuery),
    responses((status = 200, description = "A page.", body = ListPage)),
    security(("api_key" = ["entities"])),
)]
async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (items, cursor, has_more) =
        list_entities(&state, &caller, query.into_inner(), view).await?;
    Ok(HttpResponse::Ok().json(ListPage {
        items,
        cursor,
        has_more,
    }))
}

fn load(store: &Store, tenant: &str, id: Uuid) -> Result<Entity, ApiError> {
    store
        .entities
        .get(tenant, id)?
        .ok_or_else(|| ApiError::not_found("Entity"))
}

/// The caller's entity with this id (a malformed or foreign id is not found).
pub(crate) fn get_entity(state: &AppState, caller: &Caller, id: &str) -> Result<Entity, ApiError> {
    load(&state.store, &caller.tenant()?.id, parse_id(id)?)
}

#[utoipa::path(
    get,
    path = "/api/v1/entities/{id}",
    tag = "entities",
    summary = "One entity.",
    params(("id" = uuid::Uuid, Path, description = "The entity's id (a UUID).")),
    responses((status = 200, description = "The entity.", body = EntityView), (status = 404, description = "No such entity in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["entities"])),
)]
async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let e = get_entity(&state, &caller, &id)?;
    Ok(HttpResponse::Ok().json(view(&state.store, e)?))
}

/// Applies a PATCH body to an entity: top-level fields replace, `vertical_data` merges (RFC 7396).
fn apply_patch(e: &mut Entity, patch: &Map<String, Value>) -> Result<(), FieldError> {
    for (k, v) in patch {
        match k.as_str() {
            "name" => {
                let s = v
                    .as_str()
                    .ok_or_else(|| FieldError::new("name", "invalid_type", "must be a string"))?;
                e.name = entity_input::name(s)?;
            }
            "vertical" | "entity_type" => {
                let s = v
                    .as_str()
                    .ok_or_else(|| FieldError::new(k, "invalid_type", "must be a string"))?;
                let slug = entity_input::slug(k, s)?;
                if k == "vertical" {
                    e.vertical = slug;
                } else {
                    e.entity_type = slug;
                }
            }
            "description" => e.description = entity_input::optional_text(k, v, MAX_TEXT_CHARS)?,
            "source_id" => {
                e.source_id = entity_input::string_like(k, v)?
                    .map(|s| entity_input::text(k, &s, MAX_SOURCE_CHARS))
                    .transpose()?
            }
            "source_type" => e.source_type = entity_input::optional_text(k, v, MAX_SOURCE_CHARS)?,
            "source_name" => e.source_name = entity_input::optional_text(k, v, MAX_SOURCE_CHARS)?,
            "source_url" => e.source_url = entity_input::optional_text(k, v, MAX_SOURCE_CHARS)?,
            "status" => {
                let s = v
                    .as_str()
                    .ok_or_else(|| FieldError::new("status", "invalid_type", "must be a string"))?;
                e.status = parse_status(s)?;
            }
            "visibility" => {
                let s = v.as_str().ok_or_else(|| {
                    FieldError::new("visibility", "invalid_type", "must be a string")
                })?;
                e.visibility = parse_visibility(s)?;
            }
            "vertical_data" => match v {
                Value::Null => e.vertical_data.clear(),
                Value::Object(p) => entity_input::merge_patch(&mut e.vertical_data, p),
                _ => {
                    return Err(FieldError::new(
                        k,
                        "invalid_type",
                        "must be a JSON object or null",
                    ))
                }
            },
            other => {
                return Err(FieldError::new(
                    other,
                    "unknown_field",
                    "is not a field that can be set",
                ));
            }
        }
    }
    e.vertical_data = entity_input::vertical_data(std::mem::take(&mut e.vertical_data))?;
    e.updated_at = timestamp::now_ms().max(e.updated_at + 1);
    Ok(())
}

/// Applies a PATCH (entities-dialect field names) to the caller's entity.
pub(crate) async fn update_entity(
    state: &AppState,
    caller: &Caller,
    id: &str,
    patch: Map<String, Value>,
) -> Result<Entity, ApiError> {
    let quota = WriteQuota::for_tenant(state, caller.tenant()?)?;
    let tenant = caller.tenant()?.id.clone();
    let id = parse_id(id)?;
    state
        .write(move |store| {
            store.entities.locked(&tenant, || {
                let prev = load(store, &tenant, id)?;
                let mut next = prev.clone();
                apply_patch(&mut next, &patch).map_err(invalid)?;
                check_source_free(store, &next)?;
                check_schema(store, &next)?;
                if next.vertical != prev.vertical {
                    quota.check_vertical_and_count(store, &tenant, &next.vertical)?;
                }
                let mut changes = store.entities.changes();
                changes.put(&next, Some(&prev))?;
                store.entities.apply(changes)?;
                emit(
                    store,
                    &tenant,
                    RecordEvent::Updated,
                    std::slice::from_ref(&next),
                )?;
                Ok(next)
            })
        })
        .await
}

#[utoipa::path(
    patch,
    path = "/api/v1/entities/{id}",
    tag = "entities",
    summary = "Change an entity (JSON Merge Patch of `vertical_data`).",
    params(("id" = uuid::Uuid, Path, description = "The entity's id (a UUID).")),
    request_body = crate::openapi::schemas::EntityPatch,
    responses((status = 409, description = "Another entity of the same vertical and type has this `source_id`.", body = crate::openapi::schemas::Error), (status = 200, description = "The entity.", body = EntityView), (status = 404, description = "No such entity in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["entities"])),
)]
async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let updated = update_entity(&state, &caller, &id, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view(&state.store, updated)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeleteQuery {
    #[serde(default)]
    pub permanent: bool,
}

/// Archives the caller's entity (answering it), or removes it for good (answering `None`).
pub(crate) async fn delete_entity(
    state: &AppState,
    caller: &Caller,
    id: &str,
    permanent: bool,
) -> Result<Option<Entity>, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let id = parse_id(id)?;
    state
        .write(move |store| {
            store.entities.locked(&tenant, || {
                let mut changes = store.entities.changes();
                let prev = match store.entities.get(&tenant, id) {
                    // A damaged record has nothing to archive, but it can be removed.
                    Err(StoreError::Codec(_)) if permanent => {
                        changes.remove_undecodable(&tenant, id)?;
                        store.entities.apply(changes)?;
                        return Ok(None);
                    }
                    Err(StoreError::Codec(_)) => {
                        return Err(ApiError::Conflict(
                            "The stored entity cannot be read, so it cannot be archived; \
                             delete it with ?permanent=true."
                                .into(),
                        ))
                    }
                    other => other?.ok_or_else(|| ApiError::not_found("Entity"))?,
                };
                let out = if permanent {
                    changes.remove(&prev)?;
                    None
                } else {
                    let mut next = prev.clone();
                    next.status = EntityStatus::Archived;
                    next.updated_at = timestamp::now_ms().max(prev.updated_at + 1);
                    changes.put(&next, Some(&prev))?;
                    Some(next)
                };
                store.entities.apply(changes)?;
                let gone = out.as_ref().unwrap_or(&prev);
                emit(
                    store,
                    &tenant,
                    RecordEvent::Deleted { permanent },
                    std::slice::from_ref(gone),
                )?;
                Ok(out)
            })
        })
        .await
}

#[utoipa::path(
    delete,
    path = "/api/v1/entities/{id}",
    tag = "entities",
    summary = "Archive an entity, or delete it for good with `permanent=true`.",
    params(("id" = uuid::Uuid, Path, description = "The entity's id (a UUID)."), DeleteQuery),
    responses((status = 200, description = "Archived: the entity with `status: archived`.", body = EntityView), (status = 204, description = "Deleted for good."), (status = 404, description = "No such entity in the caller's tenant.", body = crate::openapi::schemas::Error)),
    security(("api_key" = ["entities"])),
)]
async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    match delete_entity(&state, &caller, &id, query.permanent).await? {
        Some(e) => Ok(HttpResponse::Ok().json(view(&state.store, e)?)),
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

fn parse_ids(ids: &[Value]) -> Result<Vec<Uuid>, ApiError> {
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(ApiError::validation(format!(
            "entity_ids must hold 1 to {MAX_BULK} ids"
        )));
    }
    // Malformed ids cannot exist, so like unknown ids they are simply not counted.
    let mut out: Vec<Uuid> = Vec::with_capacity(ids.len());
    for id in ids
        .iter()
        .filter_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()))
    {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkUpdate {
    entity_ids: Vec<Value>,
    update: Map<String, Value>,
}

/// Applies one PATCH (entities-dialect field names) to each of the caller's entities listed;
/// unknown and foreign ids are skipped.
pub(crate) async fn bulk_update_entities(
    state: &AppState,
    caller: &Caller,
    entity_ids: &[Value],
    update: Map<String, Value>,
) -> Result<Vec<Entity>, ApiError> {
    let quota = WriteQuota::for_tenant(state, caller.tenant()?)?;
    let tenant = caller.tenant()?.id.clone();
    let ids = parse_ids(entity_ids)?;
    if update.contains_key("source_id") {
        return Err(ApiError::validation(
            "source_id cannot be set by a bulk update: it must stay unique within its vertical and entity type",
        ));
    }
    state
        .write(move |store| {
            store.entities.locked(&tenant, || {
                let mut pairs = Vec::new();
                for id in ids {
                    if let Some(prev) = store.entities.get_readable(&tenant, id)? {
                        let mut next = prev.clone();
                        apply_patch(&mut next, &update).map_err(invalid)?;
                        check_schema(store, &next)?;
                        if next.vertical != prev.vertical {
                            quota.check_vertical_and_count(store, &tenant, &next.vertical)?;
                        }
                        if (&next.vertical, &next.entity_type)
                            != (&prev.vertical, &prev.entity_type)
                        {
                            // Moved into a vertical or type where its source id may be taken,
                            // by a stored entity or by another entity of this update.
                            check_source_free(store, &next)?;
                            if let Some(key) = SourceKey::of(&next) {
                                let moved = (key.vertical, key.entity_type, key.source_id);
                                if pairs.iter().any(|(_, other): &(Entity, Entity)| {
                                    SourceKey::of(other).is_some_and(|o| {
                                        (o.vertical, o.entity_type, o.source_id) == moved
                                    })
                                }) {
                                    return Err(ApiError::Conflict(format!(
                                        "Two of these entities would have source_id '{}' in {}/{}.",
                                        key.source_id, key.vertical, key.entity_type
                                    )));
                                }
                            }
                        }
                        pairs.push((prev, next));
                    }
                }
                let mut changes = store.entities.changes();
                for (prev, next) in &pairs {
                    changes.put(next, Some(prev))?;
                }
                store.entities.apply(changes)?;
                let updated = pairs.into_iter().map(|(_, n)| n).collect::<Vec<_>>();
                emit(store, &tenant, RecordEvent::Updated, &updated)?;
                Ok(updated)
            })
        })
        .await
}

#[utoipa::path(
    patch,
    path = "/api/v1/entities/bulk",
    tag = "entities",
    summary = "Change up to 1,000 entities at once.",
    request_body = crate::openapi::schemas::BulkEntityUpdate,
    responses((status = 409, description = "Another entity of the same vertical and type has this `source_id`.", body = crate::openapi::schemas::Error), (status = 200, description = "The changed entities (unknown ids skipped).", body = Vec<EntityView>)),
    security(("api_key" = ["entities"])),
)]
async fn bulk_update(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<BulkUpdate>,
) -> Result<HttpResponse, ApiError> {
    let BulkUpdate { entity_ids, update } = body.into_inner();
    let updated = bulk_update_entities(&state, &caller, &entity_ids, update).await?;
    let views = updated
        .into_iter()
        .map(|e| view(&state.store, e))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkDelete {
    entity_ids: Vec<Value>,
}

/// Archives the caller's listed entities; answers how many were archived by it.
pub(crate) async fn bulk_delete_entities(
    state: &AppState,
    caller: &Caller,
    entity_ids: &[Value],
) -> Result<usize, ApiError> {
    let tenant = caller.tenant()?.id.clone();
    let ids = parse_ids(entity_ids)?;
    state
        .write(move |store| {
            store.entities.locked(&tenant, || {
                let mut changes = store.entities.changes();
                let mut archived = Vec::new();
                let now = timestamp::now_ms();
                for id in ids {
                    match store.entities.get_readable(&tenant, id)? {
                        Some(prev) if prev.status != EntityStatus::Archived => {
                            let mut next = prev.clone();
                            next.status = EntityStatus::Archived;
                            next.updated_at = now.max(prev.updated_at + 1);
                            changes.put(&next, Some(&prev))?;
                            archived.push(next);
                        }
                        _ => {}
                    }
                }
                store.entities.apply(changes)?;
                let deleted = RecordEvent::Deleted { permanent: false };
                emit(store, &tenant, deleted, &archived)?;
                Ok(archived.len())
            })
        })
        .await
}

#[utoipa::path(
    post,
    path = "/api/v1/entities/bulk-delete",
    tag = "entities",
    summary = "Archive up to 1,000 entities at once.",
    request_body = crate::openapi::schemas::EntityIds,
    responses((status = 200, description = "How many were archived.", body = crate::openapi::schemas::Archived)),
    security(("api_key" = ["entities"])),
)]
async fn bulk_delete(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<BulkDelete>,
) -> Result<HttpResponse, ApiError> {
    let archived = bulk_delete_entities(&state, &caller, &body.entity_ids).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "archived": archived })))
}
