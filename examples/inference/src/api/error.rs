//! The API's errors: `{"error": "..."}` (the Open Inference Protocol's shape) with the
//! status that fits: 400 for a request that does not parse or does not fit the model, 404
//! for an unknown model or version, 503 (with `Retry-After` when retrying helps) for a full
//! queue, a passed deadline or a model that is not ready, 500 for a model that failed to
//! run (the cause goes to the log, not to the client). Not here: kiln's own 404/405/413
//! pages, which `api::app` turns into this shape through `on_error`.

use crate::service::ServiceError;
use kiln::app::{IntoResponse, json_bytes};
use kiln::http::{Response, StatusCode};

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Answer `Retry-After: 1` (a full queue or a missed deadline).
    pub retry: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry: false,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

#[derive(serde::Serialize)]
struct Body<'a> {
    error: &'a str,
}

/// `{"error": message}` with `status`.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let body = json_bytes(&Body { error: message }).unwrap_or_default();
    Response::new(status)
        .with_body(body)
        .with_static_header("content-type", "application/json")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let response = error_response(self.status, &self.message);
        if self.retry {
            response.with_static_header("retry-after", "1")
        } else {
            response
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        let message = error.to_string();
        let (status, retry) = match &error {
            ServiceError::UnknownModel(_) | ServiceError::UnknownVersion { .. } => {
                (StatusCode::NOT_FOUND, false)
            }
            ServiceError::BadInput(_) => (StatusCode::BAD_REQUEST, false),
            ServiceError::Overloaded | ServiceError::DeadlineExpired => {
                (StatusCode::SERVICE_UNAVAILABLE, true)
            }
            ServiceError::NotReady { .. } | ServiceError::Closed => {
                (StatusCode::SERVICE_UNAVAILABLE, false)
            }
            ServiceError::Failed(_) => (StatusCode::INTERNAL_SERVER_ERROR, false),
        };
        ApiError {
            status,
            message,
            retry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fit_the_errors() {
        let cases = [
            (ServiceError::UnknownModel("x".into()), 404, false),
            (ServiceError::BadInput("no".into()), 400, false),
            (ServiceError::Overloaded, 503, true),
            (ServiceError::DeadlineExpired, 503, true),
            (ServiceError::Failed("secret path".into()), 500, false),
        ];
        for (error, status, retry) in cases {
            let api = ApiError::from(error);
            assert_eq!((api.status.as_u16(), api.retry), (status, retry));
            assert!(!api.message.contains("secret"), "{}", api.message);
        }
    }
}
