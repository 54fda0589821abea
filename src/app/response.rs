//! `IntoResponse`: anything a handler may return, and the small response types that go with
//! it (`Html`, `Json`, `Redirect`, `(StatusCode, T)`, `Result<T, E>`).
//!
//! JSON is serialised with sonic-rs straight into the body buffer. This module builds
//! responses only; it never looks at the request (page-versus-fragment decisions live in
//! `htmx/`).

use crate::http::{HeaderValue, Response, StatusCode};
use bytes::{BufMut, Bytes, BytesMut};
use std::borrow::Cow;

/// Converts a value into a response. Implemented for the usual suspects; implement it for your
/// own error types to make `Result<T, YourError>` a handler return type.
pub trait IntoResponse {
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        Response::new(self)
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(StatusCode::NO_CONTENT)
    }
}

fn text(body: impl Into<Bytes>) -> Response {
    Response::ok(body).with_static_header("content-type", "text/plain; charset=utf-8")
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        text(self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        text(self)
    }
}

impl IntoResponse for Cow<'static, str> {
    fn into_response(self) -> Response {
        match self {
            Cow::Borrowed(s) => text(s),
            Cow::Owned(s) => text(s),
        }
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        Response::ok(self).with_static_header("content-type", "application/octet-stream")
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        let mut response = self.1.into_response();
        response.status = self.0;
        response
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(value) => value.into_response(),
            Err(error) => error.into_response(),
        }
    }
}

/// A full blocking pool (503, `Retry-After: 1`) or a panicked blocking job (500).
impl IntoResponse for crate::runtime::BlockingError {
    fn into_response(self) -> Response {
        match self {
            crate::runtime::BlockingError::Overloaded => {
                Response::error(StatusCode::SERVICE_UNAVAILABLE, "server busy, try again")
                    .with_static_header("retry-after", "1")
            }
            _ => {
                tracing::error!(error = %self, "blocking job failed");
                Response::error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }
}

/// A `runtime::timeout` that elapsed: the server could not finish in time (503,
/// `Retry-After: 1`).
impl IntoResponse for crate::runtime::Elapsed {
    fn into_response(self) -> Response {
        Response::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server took too long, try again",
        )
        .with_static_header("retry-after", "1")
    }
}

/// An HTML body (`text/html; charset=utf-8`).
#[derive(Clone, Debug)]
pub struct Html<T>(pub T);

impl<T: Into<Bytes>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        Response::ok(self.0).with_static_header("content-type", "text/html; charset=utf-8")
    }
}

/// A JSON body serialised with sonic-rs (`application/json`). Also an extractor (see
/// `extract.rs`).
#[derive(Clone, Debug, Default)]
pub struct Json<T>(pub T);

/// Serialises `value` as JSON into a fresh buffer.
pub fn json_bytes<T: serde::Serialize + ?Sized>(value: &T) -> Result<Bytes, sonic_rs::Error> {
    let mut writer = BytesMut::with_capacity(128).writer();
    sonic_rs::to_writer(&mut writer, value)?;
    Ok(writer.into_inner().freeze())
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match json_bytes(&self.0) {
            Ok(body) => Response::ok(body).with_static_header("content-type", "application/json"),
            Err(error) => {
                tracing::error!(%error, "JSON serialisation failed");
                Response::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "response could not be serialised",
                )
            }
        }
    }
}

/// A redirect with a `Location`. `to` answers 303 See Other (the right answer after a POST);
/// for htmx requests prefer `Htmx::redirect`, which answers with `HX-Redirect`.
#[derive(Clone, Debug)]
pub struct Redirect {
    status: StatusCode,
    location: String,
}

impl Redirect {
    /// 303 See Other.
    pub fn to(location: impl Into<String>) -> Redirect {
        Redirect {
            status: StatusCode::SEE_OTHER,
            location: location.into(),
        }
    }

    /// 307/308-style redirects and others: any 3xx.
    pub fn with_status(status: StatusCode, location: impl Into<String>) -> Redirect {
        Redirect {
            status,
            location: location.into(),
        }
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        match HeaderValue::try_from(self.location) {
            Ok(location) => {
                let mut response = Response::new(self.status);
                response.headers.push((Cow::Borrowed("location"), location));
                response
            }
            Err(_) => Response::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "redirect location contains a line break",
            ),
        }
    }
}

/// Adds headers to any response: `(Headers([("x-a", "1")]), body)`.
#[derive(Clone, Debug)]
pub struct WithHeaders<const N: usize>(pub [(&'static str, HeaderValue); N]);

impl<const N: usize, T: IntoResponse> IntoResponse for (WithHeaders<N>, T) {
    fn into_response(self) -> Response {
        let mut response = self.1.into_response();
        for (name, value) in self.0.0 {
            if response.append_header(name, value).is_err() {
                return Response::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "handler set an invalid header name",
                );
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Body;

    fn body(response: &Response) -> &[u8] {
        match &response.body {
            Body::Full(bytes) => bytes,
            _ => b"",
        }
    }

    #[test]
    fn strings_are_plain_text() {
        let response = "hi".into_response();
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(
            response.header("content-type").unwrap().as_bytes(),
            b"text/plain; charset=utf-8"
        );
    }

    #[test]
    fn status_tuple_overrides_status() {
        let response = (StatusCode::CREATED, Html("<p>x</p>")).into_response();
        assert_eq!(response.status, StatusCode::CREATED);
        assert_eq!(body(&response), b"<p>x</p>");
    }

    #[test]
    fn json_is_serialised_with_sonic() {
        #[derive(serde::Serialize)]
        struct Message {
            message: &'static str,
        }
        let response = Json(Message { message: "hi" }).into_response();
        assert_eq!(body(&response), br#"{"message":"hi"}"#);
    }

    #[test]
    fn redirect_refuses_header_injection() {
        let response = Redirect::to("/a\r\nSet-Cookie: x=1").into_response();
        assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
        let response = Redirect::to("/accounts/1").into_response();
        assert_eq!(response.status, StatusCode::SEE_OTHER);
        assert_eq!(
            response.header("location").unwrap().as_bytes(),
            b"/accounts/1"
        );
    }

    #[test]
    fn results_use_either_side() {
        let ok: Result<&'static str, StatusCode> = Ok("fine");
        assert_eq!(ok.into_response().status, StatusCode::OK);
        let err: Result<&'static str, StatusCode> = Err(StatusCode::NOT_FOUND);
        assert_eq!(err.into_response().status, StatusCode::NOT_FOUND);
    }
}
