//! MCP resources (API-RECORDS.md §4): `entity://{id}`, a record as YAML (what `qanatix_lookup`
//! answers), and `schema://{vertical}/{entity_type}`, a record type's JSON Schema: the registered
//! one, else one inferred from its records.

use std::sync::{Arc, LazyLock};

use actix_web::web;
use rmcp::model::{
    ErrorData, ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use serde_json::json;

use super::tools;
use super::{Audience, Context};
use crate::api::verticals;
use crate::error::ApiError;
use crate::inferred_schema::Profile;

const YAML: &str = "application/yaml";
const JSON: &str = "application/json";

fn internal(e: ApiError) -> ErrorData {
    let message = match e {
        ApiError::Internal(cause) => {
            log::error!("internal error in an MCP resource: {cause}");
            "Internal error.".to_owned()
        }
        other => other.to_string(),
    };
    ErrorData::internal_error(message, None)
}

fn not_found(uri: &str, why: String) -> ErrorData {
    ErrorData::resource_not_found(why, Some(json!({ "uri": uri })))
}

static TEMPLATES: LazyLock<Vec<ResourceTemplate>> = LazyLock::new(|| {
    vec![
        ResourceTemplate::new("entity://{id}", "record")
            .with_title("A catalog record")
            .with_description(
                "One record of the catalog as YAML (the same as the qanatix_lookup tool); id is \
                 a Record ID from qanatix_search.",
            )
            .with_mime_type(YAML),
        ResourceTemplate::new("schema://{vertical}/{entity_type}", "schema")
            .with_title("A record type's JSON Schema")
            .with_description(
                "The JSON Schema of a collection's record type: the registered one, or one \
                 inferred from its most recently updated records when none is registered.",
            )
            .with_mime_type(JSON),
    ]
});

pub fn templates() -> ListResourceTemplatesResult {
    let mut r = ListResourceTemplatesResult::with_all_items(TEMPLATES.clone());
    r.result_type = None;
    r
}

/// One `schema://` resource per record type the tenant has (records or a registered schema):
/// records are too many to list, types are few. From the entity counts, like `GET /verticals`.
pub async fn list(ctx: &Context<'_>) -> Result<ListResourcesResult, ErrorData> {
    let store = Arc::clone(&ctx.state.store);
    let tenant = ctx.tenant.id.clone();
    let audience = ctx.audience;
    let pairs = web::block(move || -> Result<Vec<(String, String)>, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let admitted =
            |h: &crate::store::entity_counts::Group| audience.admits(h.status, h.visibility);
        for (vertical, s) in verticals::summaries(&store, &tenant, admitted)? {
            pairs.extend(s.entity_types.into_iter().map(|t| (vertical.clone(), t)));
        }
        // Registered schemas of types without public records stay the tenant's own.
        if audience == Audience::Tenant {
            for r in store.schemas.list_latest(&tenant, None)? {
                pairs.push((r.vertical, r.entity_type));
            }
        }
        pairs.sort();
        pairs.dedup();
        Ok(pairs)
    })
    .await
    .map_err(|e| internal(ApiError::Internal(e.to_string())))?
    .map_err(internal)?;
    let resources = pairs
        .into_iter()
        .map(|(v, t)| {
            Resource::new(format!("schema://{v}/{t}"), format!("{v}/{t} schema"))
                .with_title(format!("JSON Schema of '{t}' records in '{v}'"))
                .with_mime_type(JSON)
        })
        .collect();
    let mut r = ListResourcesResult::with_all_items(resources);
    r.result_type = None;
    Ok(r)
}

fn contents(uri: &str, mime: &str, text: String) -> ReadResourceResult {
    let mut r =
        ReadResourceResult::new(vec![ResourceContents::text(text, uri).with_mime_type(mime)]);
    r.result_type = None;
    r
}

/// Reads `uri`. Unknown records and types are -32002 (resource not found); a URI of another
/// form is -32602.
pub fn read(ctx: &Context<'_>, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    if let Some(id) = uri.strip_prefix("entity://") {
        return match tools::record_yaml(ctx, id).map_err(internal)? {
            Some(yaml) => Ok(contents(uri, YAML, yaml)),
            None => Err(not_found(uri, format!("No record with id '{id}'."))),
        };
    }
    if let Some(rest) = uri.strip_prefix("schema://") {
        let (vertical, entity_type) = rest
            .split_once('/')
            .map(|(v, t)| (v.to_owned(), t.to_owned()))
            .ok_or_else(|| {
                ErrorData::invalid_params(
                    "A schema URI is schema://{vertical}/{entity_type}.".to_owned(),
                    None,
                )
            })?;
        let (vertical, entity_type) = crate::api::path::target(&(vertical, entity_type))
            .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
        let tenant = &ctx.tenant.id;
        let registered = match ctx.audience {
            Audience::Tenant => ctx
                .state
                .store
                .schemas
                .latest(tenant, &vertical, &entity_type)
                .map_err(|e| internal(e.into()))?,
            // Open shows a registered schema only beside public records of its type.
            Audience::Public => {
                let shown = !tools::sample(ctx, &vertical, Some(&entity_type))
                    .map_err(internal)?
                    .is_empty();
                if shown {
                    ctx.state
                        .store
                        .schemas
                        .latest(tenant, &vertical, &entity_type)
                        .map_err(|e| internal(e.into()))?
                } else {
                    None
                }
            }
        };
        let schema = match registered {
            Some(r) => r.schema,
            None => {
                let records =
                    tools::sample(ctx, &vertical, Some(&entity_type)).map_err(internal)?;
                if records.is_empty() {
                    return Err(not_found(
                        uri,
                        format!(
                            "No records and no registered schema of type '{entity_type}' in '{vertical}'."
                        ),
                    ));
                }
                Profile::of(records.iter().map(|e| &e.vertical_data))
                    .json_schema(&format!("{vertical}/{entity_type}"))
            }
        };
        let text = serde_json::to_string_pretty(&schema)
            .map_err(|e| internal(ApiError::Internal(e.to_string())))?;
        return Ok(contents(uri, JSON, text));
    }
    Err(ErrorData::invalid_params(
        format!("Unknown resource URI '{uri}': this server has entity://{{id}} and schema://{{vertical}}/{{entity_type}}."),
        None,
    ))
}
