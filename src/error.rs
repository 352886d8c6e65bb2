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
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn validation(msg: impl Into<String>) -> Self {
        ApiError::Validation(msg.into())
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

impl From<sled::Error> for ApiError {
    fn from(e: sled::Error) -> Self {
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
        E::Deserialize(e) if e.is_data() => ApiError::Validation(format!("Invalid body: {e}")),
        E::Deserialize(e) => ApiError::BadRequest(format!("Malformed JSON: {e}")),
        E::Payload(e) => crate::api::body::payload_error(e),
        other => ApiError::BadRequest(format!("Could not read the request body: {other}")),
    }
}

pub fn query_error(err: actix_web::error::QueryPayloadError) -> ApiError {
    ApiError::BadRequest(format!("Bad query string: {err}"))
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

    #[actix_web::test]
    async fn internal_hides_the_cause() {
        let res = ApiError::Internal("disk on fire at /secret/path".into()).error_response();
        let body = to_bytes(res.into_body()).await.unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("secret"));
    }
}
