//! Why an extractor refused a request, as a typed value that renders as a 4xx response with a
//! readable reason (never a panic).

use super::response::IntoResponse;
use crate::http::{Response, StatusCode};

/// An extractor's refusal. Each kind maps to one status code (see `status`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// A path parameter is missing or does not parse into the wanted type (400).
    InvalidPath(String),
    /// The query string does not deserialise into the wanted type (400).
    InvalidQuery(String),
    /// The body's Content-Type is not the one the extractor reads (415).
    UnsupportedMediaType { expected: &'static str },
    /// The form body does not deserialise into the wanted type (422).
    InvalidForm(String),
    /// The body is not valid JSON (400).
    InvalidJsonSyntax(String),
    /// The body is JSON but not of the wanted shape (422).
    InvalidJsonData(String),
    /// The body is not valid UTF-8 (400).
    InvalidUtf8,
    /// The `multipart/form-data` body is malformed or over a limit (400).
    InvalidMultipart(String),
    /// A required header is missing or malformed (400).
    InvalidHeader(&'static str),
    /// Middleware the extractor needs was not installed (500; a programmer error).
    MissingMiddleware(&'static str),
}

impl Rejection {
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::InvalidPath(_)
            | Rejection::InvalidQuery(_)
            | Rejection::InvalidJsonSyntax(_)
            | Rejection::InvalidUtf8
            | Rejection::InvalidMultipart(_)
            | Rejection::InvalidHeader(_) => StatusCode::BAD_REQUEST,
            Rejection::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rejection::InvalidForm(_) | Rejection::InvalidJsonData(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Rejection::MissingMiddleware(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::InvalidPath(why) => write!(f, "invalid path parameter: {why}"),
            Rejection::InvalidQuery(why) => write!(f, "invalid query string: {why}"),
            Rejection::UnsupportedMediaType { expected } => {
                write!(
                    f,
                    "unsupported media type: expected Content-Type {expected}"
                )
            }
            Rejection::InvalidForm(why) => write!(f, "invalid form data: {why}"),
            Rejection::InvalidJsonSyntax(why) => write!(f, "malformed JSON: {why}"),
            Rejection::InvalidJsonData(why) => write!(f, "unexpected JSON: {why}"),
            Rejection::InvalidMultipart(why) => write!(f, "invalid multipart form: {why}"),
            Rejection::InvalidUtf8 => f.write_str("request body is not valid UTF-8"),
            Rejection::InvalidHeader(name) => write!(f, "missing or invalid header: {name}"),
            Rejection::MissingMiddleware(name) => {
                write!(
                    f,
                    "server misconfiguration: {name} middleware is not installed"
                )
            }
        }
    }
}

impl std::error::Error for Rejection {}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        if let Rejection::MissingMiddleware(_) = self {
            tracing::error!(rejection = %self, "extractor used without its middleware");
        }
        Response::error(self.status(), &self.to_string())
    }
}
