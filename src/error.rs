//! The one error type of the API: each variant maps to a status and a stable `code` (API.md §2).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// Missing, malformed, unknown, revoked or rotated-away key. The message never says which.
    #[error("{0}")]
    InvalidApiKey(&'static str),
    #[error("API key has expired.")]
    KeyExpired,
    /// Webhook body signature missing or wrong.
    #[error("{0}")]
    InvalidSignature(&'static str),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    InsufficientScope(String),
    #[error("Tenant is suspended.")]
    TenantSuspended,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The request body stopped arriving, or arrived too slowly.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Validation(String),
    /// A feature this server does not provide (as configured).
    #[error("{0}")]
    NotImplemented(String),
    #[error("Rate limit exceeded. Retry after {retry_after} seconds.")]
    RateLimited { retry_after: u64 },
    /// A bug or an I/O failure; the detail is logged, never sent.
    #[error("{0}")]
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    detail: &'a str,
    code: &'static str,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::InvalidApiKey(_) => "invalid_api_key",
            ApiError::KeyExpired => "key_expired",
            ApiError::InvalidSignature(_) => "invalid_signature",
            ApiError::QuotaExceeded(_) => "quota_exceeded",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::TenantSuspended => "tenant_suspended",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Validation(_) => "validation_error",
            ApiError::NotImplemented(_) => "not_implemented",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn validation(msg: impl Into<String>) -> Self {
        ApiError::Validation(msg.into())
    }

    /// A request body that is not JSON, or nests deeper than the parser takes (named as such).
    pub fn malformed_json(e: &serde_json::Error) -> Self {
        if crate::entity_input::is_too_deep(e) {
            ApiError::BadRequest(crate::entity_input::json_syntax_error(e))
        } else {
            ApiError::BadRequest(format!("Malformed JSON: {e}"))
        }
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found."))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidApiKey(_) | ApiError::KeyExpired | ApiError::InvalidSignature(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::QuotaExceeded(_) => StatusCode::PAYMENT_REQUIRED,
            ApiError::InsufficientScope(_) | ApiError::TenantSuspended => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let detail = match self {
            ApiError::Internal(cause) => {
                log::error!("internal error: {cause}");
                "Internal server error.".to_owned()
            }
            other => other.to_string(),
        };
        let mut res = HttpResponse::build(self.status_code());
        match self {
            ApiError::RateLimited { retry_after } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::InvalidApiKey(_) | ApiError::KeyExpired => {
                res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            _ => {}
        }
        res.json(ErrorBody {
            detail: &detail,
            code: self.code(),
        })
    }
}

impl From<crate::store::kv::Error> for ApiError {
    fn from(e: crate::store::kv::Error) -> Self {
        ApiError::Internal(format!("storage: {e}"))
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// Maps actix's body-extractor failures to the API's statuses: syntax → 400, shape → 422.
pub fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::OverflowKnownLength { limit, .. } | E::Overflow { limit } => {
            ApiError::PayloadTooLarge(format!("Request body exceeds the limit of {limit} bytes."))
        }
        E::ContentType => {
            ApiError::UnsupportedMediaType("Content-Type must be application/json.".into())
        }
        E::Deserialize(e) if e.is_data() => {
            ApiError::Validation(format!("Invalid body: {}", plain_serde(&e.to_string())))
        }
        E::Deserialize(e) => ApiError::malformed_json(&e),
        E::Payload(e) => crate::api::body::payload_error(e),
        other => ApiError::BadRequest(format!("Could not read the request body: {other}")),
    }
}

/// serde's messages name Rust types ("expected struct BatchBody with 1 element", "expected
/// i64", "a sequence"); a client knows JSON. Rewrites those words into JSON terms and leaves
/// the rest (field names, positions, allowed values) as it is.
pub fn plain_serde(message: &str) -> String {
    fn split_core(word: &str) -> (&str, &str) {
        let end = word
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(word.len());
        word.split_at(end)
    }
    /// The JSON term for a serde type word: (article, noun).
    fn json_term(core: &str) -> Option<(&'static str, &'static str)> {
        Some(match core {
            "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => ("an", "integer"),
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => ("a", "non-negative integer"),
            "f32" | "f64" => ("a", "number"),
            "sequence" => ("an", "array"),
            "map" => ("an", "object"),
            "char" => ("a", "one-character string"),
            _ => return None,
        })
    }
    let mut out: Vec<String> = Vec::new();
    let mut words = message.split(' ').peekable();
    while let Some(word) = words.next() {
        let (core, rest) = split_core(word);
        if core == "struct" {
            // "struct Name" and an optional "with N element(s)" are one JSON object.
            let mut tail = words.next().map(|n| split_core(n).1.to_owned());
            if tail.as_deref() == Some("") && words.peek() == Some(&"with") {
                words.next();
                words.next();
                tail = words.next().map(|u| {
                    let e = u
                        .find(|c: char| !c.is_ascii_alphabetic())
                        .unwrap_or(u.len());
                    u[e..].to_owned()
                });
            }
            if matches!(out.last().map(String::as_str), Some("a" | "an")) {
                out.pop();
            }
            out.push(format!("a JSON object{}", tail.unwrap_or_default()));
            continue;
        }
        let Some((article, noun)) = json_term(core) else {
            out.push(word.to_owned());
            continue;
        };
        let had_article = matches!(out.last().map(String::as_str), Some("a" | "an"));
        if had_article {
            out.pop();
        }
        // "invalid type: map" names what was sent: no article there.
        if !had_article && out.last().map(String::as_str) == Some("type:") {
            out.push(format!("{noun}{rest}"));
        } else {
            out.push(format!("{article} {noun}{rest}"));
        }
    }
    out.join(" ")
}

pub fn query_error(err: actix_web::error::QueryPayloadError) -> ApiError {
    ApiError::BadRequest(format!(
        "Bad query string: {}",
        plain_serde(&err.to_string())
    ))
}

pub fn path_error(_err: actix_web::error::PathError) -> ApiError {
    ApiError::not_found("Resource")
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn rate_limited_has_exact_detail_and_retry_after() {
        let res = ApiError::RateLimited { retry_after: 7 }.error_response();
        assert_eq!(res.status(), 429);
        assert_eq!(res.headers().get("retry-after").unwrap(), "7");
        let body = to_bytes(res.into_body()).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["detail"], "Rate limit exceeded. Retry after 7 seconds.");
        assert_eq!(v["code"], "rate_limited");
    }

    #[test]
    fn serde_messages_speak_json() {
        for (serde, plain) in [
            (
                "invalid type: sequence, expected struct BatchBody with 1 element at line 1 column 1",
                "invalid type: array, expected a JSON object at line 1 column 1",
            ),
            (
                "invalid type: string \"x\", expected i64 at line 1 column 20",
                "invalid type: string \"x\", expected an integer at line 1 column 20",
            ),
            (
                "invalid type: map, expected a sequence at line 1 column 2",
                "invalid type: object, expected an array at line 1 column 2",
            ),
            (
                "invalid value: integer `-1`, expected u32",
                "invalid value: integer `-1`, expected a non-negative integer",
            ),
            (
                "invalid type: null, expected struct Foo",
                "invalid type: null, expected a JSON object",
            ),
            (
                "missing field `name` at line 1 column 2",
                "missing field `name` at line 1 column 2",
            ),
        ] {
            assert_eq!(plain_serde(serde), plain);
        }
    }

    #[actix_web::test]
    async fn internal_hides_the_cause() {
        let res = ApiError::Internal("disk on fire at /secret/path".into()).error_response();
        let body = to_bytes(res.into_body()).await.unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("secret"));
    }
}
