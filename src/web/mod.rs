//! The web console's static files (`web/console/`), compiled into the binary and served under
//! `/console`; `GET /` sends a browser there. The console holds no data of its own: every
//! page calls the API from the browser with the key the user signs in with, so these routes
//! are public and answer the same bytes to everybody.

mod assets;

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::access;
use crate::error::ApiError;
use assets::Asset;

/// No inline script or style, no plugins, no framing, and fetches only to this origin: records
/// are user data, so a value that slipped into the page as markup still could not run.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::api::resource("/", access::PUBLIC).get(to_console))
        .service(
            crate::api::resource("/console", access::PUBLIC)
                .wrap(Compress::default())
                .get(index)
                .head(index),
        )
        .service(crate::api::resource("/console/", access::PUBLIC).get(to_console))
        .service(
            crate::api::resource("/console/{file}", access::PUBLIC)
                .wrap(Compress::default())
                .get(file)
                .head(file),
        );
}

async fn to_console() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/console"))
        .finish()
}

async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, assets::index())
}

async fn file(req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let asset = assets::find(&name).ok_or_else(|| ApiError::NotFound("Not found.".into()))?;
    Ok(serve(&req, asset))
}

/// The asset, or 304 when the browser's copy is current. Assets keep their names across
/// releases, so browsers revalidate each time (`no-cache`) and the ETag, a hash of the bytes,
/// makes that a body-less answer until the binary changes.
fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let etag = asset.etag();
    let current = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, etag));
    let mut res = if current {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    if current {
        return res.finish();
    }
    res.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    ))
    .body(asset.bytes)
}

/// `If-None-Match`: `*`, or a comma-separated list of tags, compared weakly (the `W/` prefix
/// ignored on both sides), as RFC 9110 §13.1.2 asks for this header.
fn etag_matches(header: &str, etag: &str) -> bool {
    fn opaque(tag: &str) -> &str {
        tag.strip_prefix("W/").unwrap_or(tag)
    }
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || opaque(t) == opaque(etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        let tag = "W/\"abc\"";
        assert!(etag_matches("\"abc\"", tag));
        assert!(etag_matches("W/\"abc\"", tag));
        assert!(etag_matches("\"x\", W/\"abc\"", tag));
        assert!(etag_matches("*", tag));
        assert!(!etag_matches("\"abcd\"", tag));
        assert!(!etag_matches("abc", tag));
        assert!(!etag_matches("", tag));
    }
}
