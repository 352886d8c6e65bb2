//! Routes. Each resource has its own module. Every route is registered through [`resource`], which
//! takes the route's access [`Policy`] and guards it with [`crate::auth::middleware::guard`]; the
//! crate's clippy configuration forbids registering a route any other way, so no route can exist
//! without a declared access rule. A path no route matches is a 404 for every caller.

pub mod admin;
pub mod body;
pub mod collections;
pub mod connectors;
pub mod dialect;
pub mod entities;
pub mod export;
pub mod health;
pub mod ingest;
pub mod keys;
pub mod mcp;
pub mod open;
pub mod path;
pub mod portal_webhooks;
pub mod records;
pub mod schemas;
pub mod search;
pub mod snapshots;
pub mod tenants;
pub mod upload;
pub mod usage;
pub mod verticals;

mod route_table;

use actix_web::body::MessageBody;
use actix_web::dev::{
    AppService, HttpServiceFactory, ServiceFactory, ServiceRequest, ServiceResponse,
};
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{web, FromRequest, Handler, HttpResponse, Resource, Responder};

use crate::auth::access::Policy;
use crate::auth::middleware::guard;
use crate::error::{self, ApiError};

/// Body limit outside ingestion routes (API.md §2).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A resource guarded by its access policy, whose unmatched methods answer 405 in the API's
/// error shape (after authentication, so a 405 tells an anonymous caller nothing a 401 hides).
///
/// Handlers are attached with [`Endpoint::get`], [`Endpoint::post`], [`Endpoint::patch`] and
/// [`Endpoint::delete`], which also note the route in [`routes`]' table: the OpenAPI document is
/// checked against that table, so a route cannot exist undocumented.
#[allow(clippy::disallowed_methods)] // The one place a resource is made.
pub(crate) fn resource(
    path: &str,
    policy: impl Into<Policy>,
) -> Endpoint<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let policy = policy.into();
    let resource = web::resource(path)
        .wrap(from_fn(move |req, next| guard(policy, req, next)))
        .default_service(web::to(|| async {
            HttpResponse::MethodNotAllowed().json(serde_json::json!({
                "detail": "Method not allowed on this route.",
                "code": "method_not_allowed"
            }))
        }));
    Endpoint {
        resource,
        path: route_table::full_path(path),
    }
}

/// A guarded resource being given its handlers, one per method.
pub(crate) struct Endpoint<T> {
    resource: Resource<T>,
    /// The path as a client sees it (with its scope's prefix), for the route table.
    path: String,
}

macro_rules! endpoint_methods {
    ($($name:ident => $method:ident),* $(,)?) => {
        $(
            #[doc = concat!("Answers `", stringify!($method), "` with `handler`.")]
            #[allow(clippy::disallowed_methods)] // Routes are attached here, and noted.
            pub fn $name<F, Args>(self, handler: F) -> Self
            where
                F: Handler<Args>,
                Args: FromRequest + 'static,
                F::Output: Responder + 'static,
            {
                route_table::note(&self.path, Method::$method);
                Endpoint {
                    resource: self.resource.route(web::$name().to(handler)),
                    path: self.path,
                }
            }
        )*
    };
}

impl<T> Endpoint<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    endpoint_methods!(get => GET, head => HEAD, post => POST, patch => PATCH, delete => DELETE);

    /// Wraps the resource's routes in a middleware (as [`Resource::wrap`]).
    pub fn wrap<M, B>(
        self,
        mw: M,
    ) -> Endpoint<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >
    where
        M: actix_web::dev::Transform<
                T::Service,
                ServiceRequest,
                Response = ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: MessageBody,
    {
        Endpoint {
            resource: self.resource.wrap(mw),
            path: self.path,
        }
    }
}

impl<T> HttpServiceFactory for Endpoint<T>
where
    Resource<T>: HttpServiceFactory,
{
    fn register(self, config: &mut AppService) {
        self.resource.register(config)
    }
}

/// A scope whose routes the route table records under `prefix`.
fn scope(prefix: &'static str, routes: impl FnOnce(&mut web::ServiceConfig)) -> actix_web::Scope {
    route_table::within(prefix, || web::scope(prefix).configure(routes))
}

/// Every route the server answers, as `(path, method)` in the OpenAPI path syntax, sorted.
pub fn routes() -> Vec<(String, Method)> {
    route_table::collect(|| {
        let _ = actix_web::App::new().configure(configure);
    })
}

pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("Request body exceeds the limit of {limit} bytes."))
}

/// The declared Content-Length, or 413 when it is over `limit` (refused before reading).
pub(crate) fn declared_length(
    req: &actix_web::HttpRequest,
    limit: usize,
) -> Result<Option<usize>, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(n) if n > limit => Err(too_large(limit)),
        other => Ok(other),
    }
}

/// Reads a request body up to `limit` bytes, answering 413 in the API's shape beyond it (a
/// declared Content-Length over the limit is refused before reading anything).
pub async fn read_body(
    req: &actix_web::HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt;
    let declared = declared_length(req, limit)?;
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(body::payload_error)?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("Not found.".into()))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(BODY_LIMIT)
            .error_handler(|e, _| error::json_error(e).into()),
    )
    .app_data(web::PayloadConfig::default().limit(BODY_LIMIT))
    .app_data(web::QueryConfig::default().error_handler(|e, _| error::query_error(e).into()))
    .app_data(web::PathConfig::default().error_handler(|e, _| error::path_error(e).into()))
    .configure(health::routes)
    .configure(crate::openapi::routes)
    .configure(mcp::routes)
    .configure(crate::web::routes)
    .service(
        scope("/api/v1", |cfg| {
            cfg.configure(keys::routes)
                .configure(tenants::routes)
                .configure(admin::routes)
                .configure(snapshots::routes)
                .configure(entities::routes)
                .configure(search::routes)
                .configure(ingest::routes)
                // After `ingest`: where both dialects' ingestion paths match, API.md's wins.
                .configure(records::routes)
                .configure(collections::routes)
                .configure(schemas::routes)
                .configure(verticals::routes)
                .configure(usage::routes)
                .configure(export::routes)
                .configure(portal_webhooks::routes)
                .configure(connectors::routes);
        })
        .default_service(web::to(not_found)),
    )
    .service(scope("/open/v1", open::routes).default_service(web::to(not_found)))
    .default_service(web::to(not_found));
}
