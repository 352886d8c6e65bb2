//! `/docs`: the API reference for people, rendered in the browser from `/openapi.json` by a
//! small embedded page (no CDN, no network: the assets are compiled into the binary). The page
//! runs no inline script or style, so it is served under a strict Content-Security-Policy.

use actix_web::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use actix_web::{web, HttpResponse};

use crate::api;
use crate::auth::access;

/// Scripts, styles and requests only from this server; no frames, forms, plugins or base URL.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/docs.js");
const STYLE: &str = include_str!("assets/docs.css");

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(api::resource("/docs", access::PUBLIC).get(index))
        .service(api::resource("/docs/docs.js", access::PUBLIC).get(script))
        .service(api::resource("/docs/docs.css", access::PUBLIC).get(style));
}

fn page(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

async fn index() -> HttpResponse {
    page("text/html; charset=utf-8", INDEX)
}

async fn script() -> HttpResponse {
    page("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> HttpResponse {
    page("text/css; charset=utf-8", STYLE)
}
