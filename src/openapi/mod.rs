//! The API's OpenAPI 3.1 document, generated from the handlers' own `#[utoipa::path]`
//! attributes and the request and response types they use, served at `GET /openapi.json` and
//! rendered for people at `/docs` (an embedded, offline page: [`docs`]).
//!
//! What every route shares (the error shape, the statuses the guard answers before a handler
//! runs, rate-limit headers, the three ways to authenticate) is added once by
//! [`conventions::apply`] rather than repeated on each handler. The document is checked against
//! the routes the server registers ([`crate::api::routes`]) in this module's tests, both ways.

mod aliases;
mod conventions;
mod docs;
pub(crate) mod schemas;

use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

use crate::api;
use crate::auth::access;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "QANATIX API",
        description = "Multi-tenant store and search for structured catalog data. Two dialects \
            over one store: entities in verticals (`/api/v1/entities`) and records in \
            collections (`/api/v1/records`, the official SDK's names). Errors are \
            `{\"detail\", \"code\"}`; every answer carries `X-Request-Id`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        api::health::health,
        api::health::ready,
        api::health::metrics,
        openapi_json,
        api::keys::create,
        api::keys::list,
        api::keys::rotate,
        api::keys::revoke,
        api::keys::me,
        api::tenants::list,
        api::tenants::create,
        api::tenants::get,
        api::tenants::update,
        api::tenants::delete,
        api::admin::stats,
        api::admin::reindex_vertical,
        api::admin::reindex_entity,
        api::snapshots::start,
        api::snapshots::list,
        api::entities::create,
        api::entities::list,
        api::entities::get,
        api::entities::update,
        api::entities::delete,
        api::entities::bulk_update,
        api::entities::bulk_delete,
        api::search::search_post,
        api::search::search_get,
        api::ingest::batch_route,
        api::ingest::stream_route,
        api::upload::upload_route,
        api::upload::pdf_route,
        api::ingest::webhook_route,
        api::ingest::get_ingestion,
        api::ingest::get_errors,
        api::ingest::pipeline_status,
        api::ingest::pipeline_trigger,
        api::records::create,
        api::records::list,
        api::records::get,
        api::records::update,
        api::records::delete,
        api::records::bulk_update,
        api::records::bulk_delete,
        api::records::set_visibility,
        api::records::bulk_visibility,
        api::records::batch,
        aliases::upload_batch,
        api::records::upload_file,
        aliases::upload_upload,
        aliases::upload_file,
        api::records::upload_pdf,
        api::records::upload_stream,
        api::records::get_upload,
        api::records::get_dlq,
        api::records::reindex_record,
        api::records::chat,
        api::collections::list,
        api::collections::update,
        api::collections::update_default_visibility,
        api::schemas::create,
        api::schemas::list,
        api::schemas::latest,
        api::verticals::list,
        api::usage::usage,
        api::export::export_route,
        api::portal_webhooks::create,
        api::portal_webhooks::list,
        api::portal_webhooks::get,
        api::portal_webhooks::update,
        api::portal_webhooks::delete,
        api::portal_webhooks::test,
        api::portal_webhooks::deliveries,
        api::connectors::create,
        api::connectors::list,
        api::connectors::get,
        api::connectors::delete,
        api::connectors::pull,
        aliases::mcp_post,
        aliases::mcp_get,
        aliases::mcp_delete,
        aliases::mcp_post_slash,
        aliases::mcp_get_slash,
        aliases::mcp_delete_slash,
        aliases::open_mcp_post,
        aliases::open_mcp_get,
        aliases::open_mcp_delete,
        aliases::open_mcp_post_slash,
        aliases::open_mcp_get_slash,
        aliases::open_mcp_delete_slash,
        api::open::collections,
        api::open::record,
        api::open::search_post,
        api::open::search_get,
    ),
    // The schemas `IntoResponses` types answer with, which the derive does not collect.
    components(schemas(schemas::Error, schemas::UploadResult, api::ingest::BatchResponse)),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this reference: no authentication."),
        (name = "keys", description = "API keys (`sk_live_…`) of a tenant, and who a key is."),
        (name = "tenants", description = "Tenants: tenant keys see their own, the master key all; only the master key creates, changes or deletes them."),
        (name = "admin", description = "Statistics, reindexing and snapshots."),
        (name = "entities", description = "The entities dialect: entities in verticals."),
        (name = "search", description = "Search a vertical (collection): words, part numbers, filters, sort, facets."),
        (name = "ingestion", description = "The entities dialect's batches, files, PDFs, NDJSON streams and signed webhooks, and their ingestions."),
        (name = "records", description = "The records dialect: records in collections (the official SDK's names)."),
        (name = "uploads", description = "The records dialect's batches and files, and their uploads."),
        (name = "collections", description = "Collections (the records dialect's verticals), their metadata, and verticals."),
        (name = "schemas", description = "JSON Schemas that validate a type's data."),
        (name = "usage", description = "Monthly usage, and streamed export of a tenant's entities."),
        (name = "webhooks", description = "Outgoing webhooks: subscriptions and their deliveries."),
        (name = "connectors", description = "Pulling records from PostgreSQL, MySQL or SQLite databases."),
        (name = "mcp", description = "The Model Context Protocol server (Streamable HTTP, JSON-RPC 2.0) for AI agents."),
        (name = "open", description = "Open: the published tenant's public records, without a key (only when `OPEN_TENANT_ID` is set; otherwise 404)."),
    )
)]
pub struct ApiDoc;

/// The document as served: generated once, with the shared conventions applied, keys sorted.
pub fn document() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let generated = serde_json::to_value(ApiDoc::openapi())
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
        conventions::apply(generated)
    })
}

fn document_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| serde_json::to_vec(document()).unwrap_or_default())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(api::resource("/openapi.json", access::PUBLIC).get(openapi_json))
        .configure(docs::routes);
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this server.", content_type = "application/json", body = Object)),
)]
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_bytes())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Pages for people, not API operations: the reference itself and its assets, and the
    /// operator console (`/` redirects to it).
    fn is_page(path: &str) -> bool {
        path == "/"
            || path == "/docs"
            || path.starts_with("/docs/")
            || path == "/console"
            || path.starts_with("/console/")
    }

    fn documented() -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in document()["paths"].as_object().expect("paths") {
            for method in [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ] {
                if item.get(method).is_some() {
                    out.insert((path.clone(), method.to_uppercase()));
                }
            }
        }
        out
    }

    fn registered() -> BTreeSet<(String, String)> {
        api::routes()
            .into_iter()
            .filter(|(path, _)| !is_page(path))
            .map(|(path, method)| (path, method.as_str().to_owned()))
            .collect()
    }

    #[test]
    fn every_registered_route_is_documented() {
        let missing: Vec<_> = registered().difference(&documented()).cloned().collect();
        assert!(
            missing.is_empty(),
            "routes the document does not describe: {missing:?}"
        );
    }

    #[test]
    fn the_document_describes_no_route_that_does_not_exist() {
        let extra: Vec<_> = documented().difference(&registered()).cloned().collect();
        assert!(
            extra.is_empty(),
            "documented routes the server does not register: {extra:?}"
        );
    }

    #[test]
    fn the_route_table_holds_both_dialects_and_the_root_routes() {
        let routes = registered();
        for (path, method) in [
            ("/health", "GET"),
            ("/openapi.json", "GET"),
            ("/mcp/", "POST"),
            ("/api/v1/entities/{id}", "PATCH"),
            ("/api/v1/records/{id}", "PATCH"),
            ("/open/v1/search/{collection}", "POST"),
        ] {
            assert!(
                routes.contains(&(path.to_owned(), method.to_owned())),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_and_deterministic() {
        assert_eq!(document()["openapi"], "3.1.0");
        let again = conventions::apply(serde_json::to_value(ApiDoc::openapi()).unwrap());
        assert_eq!(&again, document());
        let paths: Vec<_> = document()["paths"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
    }

    fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(|r| r.as_str()) {
                    out.push(r.to_owned());
                }
                map.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    /// A schema, followed through its `$ref`.
    fn resolved(schema: &serde_json::Value) -> &serde_json::Value {
        match schema.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => document()
                .pointer(r.trim_start_matches('#'))
                .unwrap_or(schema),
            None => schema,
        }
    }

    fn has_example(v: &serde_json::Value) -> bool {
        v.get("example").is_some() || v.get("examples").is_some()
    }

    #[test]
    fn every_request_body_and_parameter_has_an_example() {
        let mut missing = Vec::new();
        for (path, item) in document()["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let params = op.get("parameters").and_then(|p| p.as_array());
                for p in params.into_iter().flatten() {
                    let p = resolved(p);
                    let schema = p.get("schema").map(resolved);
                    if !has_example(p) && !schema.is_some_and(has_example) {
                        missing.push(format!("{method} {path} parameter {}", p["name"]));
                    }
                }
                let content = op
                    .pointer("/requestBody/content")
                    .and_then(|c| c.as_object());
                for (media, c) in content.into_iter().flatten() {
                    let schema = c.get("schema").map(resolved);
                    if !has_example(c) && !schema.is_some_and(has_example) {
                        missing.push(format!("{method} {path} body {media}"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "no example: {missing:#?}");
    }

    #[test]
    fn every_reference_resolves() {
        let mut all = Vec::new();
        refs(document(), &mut all);
        assert!(all.len() > 100);
        for r in all {
            let pointer = r.strip_prefix('#').expect("local reference");
            assert!(
                document().pointer(pointer).is_some(),
                "{r} does not resolve"
            );
        }
    }

    #[test]
    fn every_operation_has_a_tag_a_summary_and_its_errors() {
        for (path, item) in document()["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let at = format!("{method} {path}");
                assert!(
                    op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                    "{at}: no tag"
                );
                assert!(
                    op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                    "{at}: no summary"
                );
                let responses = op["responses"].as_object().unwrap();
                if op.get("security").is_some() && path.starts_with("/api/v1") {
                    for status in ["401", "403", "429"] {
                        assert!(responses.contains_key(status), "{at}: no {status}");
                    }
                }
                if op.get("requestBody").is_some() {
                    for status in ["400", "413", "415", "422"] {
                        assert!(responses.contains_key(status), "{at}: no {status}");
                    }
                }
            }
        }
    }
}
