//! The JSON API's errors: `{"error": {"code": "...", "message": "..."}}` with a stable code per
//! reason and the HTTP status that fits it. Every refusal of the domain and the store, every
//! malformed request and every authentication failure maps here; a 5xx says only `internal`
//! (the cause is logged), never the database's own words. Not here: the codes themselves
//! (`domain::EntryError::code`, `store::StoreError::code`).

use crate::domain::EntryError;
use crate::service::ServiceError;
use crate::store::StoreError;
use kiln::app::{IntoResponse, Rejection, json_bytes};
use kiln::http::{Response, StatusCode};
use serde::Serialize;

/// An API error response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `bad_request`: a parameter that does not parse.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

/// The error object of one entry in a batch's results: `{"code": ..., "message": ...}`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ErrorObject {
    pub code: &'static str,
    pub message: String,
}

impl From<&EntryError> for ErrorObject {
    fn from(error: &EntryError) -> ErrorObject {
        ErrorObject {
            code: error.code(),
            message: error.to_string(),
        }
    }
}

/// The status of a refusal: conflicts with what exists are 409, a missing entry 404, a batch
/// over the limit 413, everything else about the entry 422.
pub fn entry_status(error: &EntryError) -> StatusCode {
    match error {
        EntryError::IdempotencyConflict { .. }
        | EntryError::AlreadyReversed { .. }
        | EntryError::NotPending { .. }
        | EntryError::PendingExpired { .. } => StatusCode::CONFLICT,
        EntryError::EntryNotFound { .. } => StatusCode::NOT_FOUND,
        EntryError::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<EntryError> for ApiError {
    fn from(error: EntryError) -> ApiError {
        ApiError::new(entry_status(&error), error.code(), error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Refused(error) => error.into(),
            StoreError::UnknownTenant | StoreError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, error.code(), error.to_string())
            }
            StoreError::AlreadyExists { .. } => {
                ApiError::new(StatusCode::CONFLICT, error.code(), error.to_string())
            }
            StoreError::DatabaseTooNew { .. } | StoreError::Corrupt(_) | StoreError::Backend(_) => {
                tracing::error!(error = %error, cause = ?std::error::Error::source(&error), "store failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the ledger failed to complete the request; it has been logged",
                )
            }
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        match error {
            ServiceError::Unauthorized => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid API token is required: Authorization: Bearer ldg_...",
            ),
            ServiceError::Forbidden { needed } => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this token may not do this: it needs the {} scope",
                    needed.as_str()
                ),
            ),
            ServiceError::Store(error) => error.into(),
            ServiceError::Unavailable(why) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", why)
            }
            ServiceError::Failed(why) => {
                tracing::error!(why, "write failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", why)
            }
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> ApiError {
        let code = match &rejection {
            Rejection::InvalidJsonSyntax(_) => "malformed_json",
            Rejection::InvalidJsonData(_) => "invalid_body",
            Rejection::UnsupportedMediaType { .. } => "unsupported_media_type",
            Rejection::InvalidPath(_) => "bad_path",
            Rejection::InvalidQuery(_) => "bad_query",
            Rejection::InvalidUtf8 => "invalid_utf8",
            Rejection::InvalidHeader(_) => "bad_header",
            _ => "bad_request",
        };
        ApiError::new(rejection.status(), code, rejection.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &Body {
                error: Inner {
                    code: self.code,
                    message: &self.message,
                },
            },
        )
        .map(|mut response| {
            if self.status == StatusCode::UNAUTHORIZED {
                response = response.with_static_header("www-authenticate", "Bearer");
            }
            if self.status == StatusCode::SERVICE_UNAVAILABLE {
                response = response.with_static_header("retry-after", "1");
            }
            response
        })
        .unwrap_or_else(|| Response::error(self.status, &self.message))
    }
}

/// A JSON response with this status (`None` only if serialisation failed, which it cannot for
/// the API's own types).
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Option<Response> {
    let body = json_bytes(value).ok()?;
    let mut response = Response::new(status)
        .with_static_header("content-type", "application/json")
        .with_body(body);
    response.status = status;
    Some(response)
}

/// The error body for a status that kiln produced itself (404, 405, 413 from the app layer,
/// 500 from a panic), for paths under `/api/`.
pub fn for_status(status: StatusCode, message: &str) -> ApiError {
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        status if status.as_u16() >= 500 => "internal",
        _ => "bad_request",
    };
    ApiError::new(status, code, message)
}
