//! Typed htmx response headers: the `HxResponse` builder and `HxLocation`.
//!
//! A builder, not methods on `Response`, because events must be collected before they are
//! written: every `HX-Trigger` (and `-After-Swap`, `-After-Settle`) event, with or without a
//! JSON payload, ends up in ONE JSON object per header (`{"saved":null,"toast":{"n":1}}`), in
//! the order the events were added; never a comma-joined list. Use it either way:
//!
//! ```
//! use kiln::app::Html;
//! use kiln::htmx::HxResponse;
//!
//! async fn save() -> (HxResponse, Html<&'static str>) {
//!     (HxResponse::new().trigger("saved").push_url("/accounts/7"), Html("<p>Saved</p>"))
//! }
//! ```
//!
//! or `hx.apply(&mut response)?`. Values that may come from users (URLs, selectors) are checked
//! with `HeaderValue`: a CR, LF or NUL never reaches the head; the builder keeps the first
//! such error and `apply` returns it (returned with a body, it becomes a 500). Builder methods
//! never panic. This module does not read the request (`request.rs` does).

use super::json::JsonObject;
use crate::app::IntoResponse;
use crate::http::{HeaderValue, Response, StatusCode};
use percent_encoding::{CONTROLS, utf8_percent_encode};
use serde::Serialize;
use std::borrow::Cow;

/// 286: htmx 2 stops polling an element (`hx-trigger="every 2s"`) that gets this status.
pub const STOP_POLLING: StatusCode = match StatusCode::from_u16(286) {
    Some(status) => status,
    None => panic!("286 is a valid status code"),
};

/// What went wrong while building htmx response headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HxErrorKind {
    /// The value holds CR, LF or NUL (a header-injection attempt, or a bug).
    InvalidHeaderValue,
    /// A payload could not be serialised as JSON.
    Json,
}

/// A header value `HxResponse` refused. Returned by `HxResponse::apply`; as a response it is a
/// 500 (and is logged), since the handler built a bad value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HxError {
    kind: HxErrorKind,
    header: &'static str,
    detail: String,
}

impl HxError {
    fn invalid(header: &'static str) -> HxError {
        HxError {
            kind: HxErrorKind::InvalidHeaderValue,
            header,
            detail: String::from("value contains CR, LF or NUL"),
        }
    }

    fn json(header: &'static str, error: &sonic_rs::Error) -> HxError {
        HxError {
            kind: HxErrorKind::Json,
            header,
            detail: error.to_string(),
        }
    }

    pub fn kind(&self) -> HxErrorKind {
        self.kind
    }

    /// The header whose value was refused (`HX-Push-Url`, ...).
    pub fn header(&self) -> &'static str {
        self.header
    }
}

impl std::fmt::Display for HxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {} header: {}", self.header, self.detail)
    }
}

impl std::error::Error for HxError {}

impl IntoResponse for HxError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "htmx response header refused");
        Response::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the response could not be built",
        )
    }
}

/// A URL for a header: refused if it holds CR, LF or NUL; other control characters and
/// non-ASCII characters are percent-encoded (browsers read header bytes as ISO-8859-1).
pub(crate) fn url_header_value(header: &'static str, url: &str) -> Result<HeaderValue, HxError> {
    if url.bytes().any(|byte| matches!(byte, b'\r' | b'\n' | 0)) {
        return Err(HxError::invalid(header));
    }
    let encoded: Cow<'_, str> = utf8_percent_encode(url, CONTROLS).into();
    HeaderValue::try_from(encoded.as_ref()).map_err(|_| HxError::invalid(header))
}

/// A selector or swap spec for a header: refused if it holds CR, LF or NUL.
fn text_header_value(header: &'static str, text: &str) -> Result<HeaderValue, HxError> {
    HeaderValue::try_from(text).map_err(|_| HxError::invalid(header))
}

/// When the client fires an event: on response, after the swap, after settling.
#[derive(Clone, Copy, Debug)]
enum Phase {
    Received = 0,
    AfterSwap = 1,
    AfterSettle = 2,
}

const TRIGGER_HEADERS: [&str; 3] = [
    "HX-Trigger",
    "HX-Trigger-After-Swap",
    "HX-Trigger-After-Settle",
];

/// An event for the client: its name and its payload as serialised JSON (`None`: `null`).
type TriggerEvent = (String, Option<String>);

/// htmx response headers, collected and then applied to a response at once.
///
/// Header names are written as htmx documents them (`HX-Trigger`); each replaces any header
/// of the same name already on the response. htmx 4 reads `HX-Trigger`, `HX-Location`,
/// `HX-Push-Url`, `HX-Replace-Url`, `HX-Redirect`, `HX-Refresh`, `HX-Reswap`, `HX-Retarget`,
/// `HX-Reselect`, but not `-After-Swap`/`-After-Settle` nor status 286 (htmx 2 only).
#[derive(Clone, Debug, Default)]
#[must_use = "apply it to a response, or return it with one: `(hx, body)`"]
pub struct HxResponse {
    headers: Vec<(&'static str, HeaderValue)>,
    /// One list per `Phase`, in insertion order, names unique.
    events: [Vec<TriggerEvent>; 3],
    status: Option<StatusCode>,
    /// The first refused value; `apply` returns it.
    error: Option<HxError>,
}

impl HxResponse {
    pub fn new() -> HxResponse {
        HxResponse::default()
    }

    /// `HX-Location`: a client-side navigation without a full reload (a path, or an
    /// `HxLocation` with target, swap, values...).
    pub fn location(self, location: impl Into<HxLocation>) -> HxResponse {
        let value = location.into().header_value();
        self.header("HX-Location", value)
    }

    /// `HX-Push-Url: <url>`: push this URL into the browser history.
    pub fn push_url(self, url: &str) -> HxResponse {
        self.header("HX-Push-Url", url_header_value("HX-Push-Url", url))
    }

    /// `HX-Push-Url: false`: do not push a URL, even if the element asked for it.
    pub fn no_push_url(self) -> HxResponse {
        self.header("HX-Push-Url", Ok(HeaderValue::from_static("false")))
    }

    /// `HX-Replace-Url: <url>`: replace the current history entry's URL.
    pub fn replace_url(self, url: &str) -> HxResponse {
        self.header("HX-Replace-Url", url_header_value("HX-Replace-Url", url))
    }

    /// `HX-Replace-Url: false`: do not replace the URL, even if the element asked for it.
    pub fn no_replace_url(self) -> HxResponse {
        self.header("HX-Replace-Url", Ok(HeaderValue::from_static("false")))
    }

    /// `HX-Redirect: <url>`: a full-page navigation (see also `Htmx::redirect`).
    pub fn redirect(self, url: &str) -> HxResponse {
        self.header("HX-Redirect", url_header_value("HX-Redirect", url))
    }

    /// `HX-Refresh: true`: reload the whole page.
    pub fn refresh(self) -> HxResponse {
        self.header("HX-Refresh", Ok(HeaderValue::from_static("true")))
    }

    /// `HX-Reswap`: override the swap (`outerHTML`, `beforeend swap:1s`, `none`...).
    pub fn reswap(self, swap: &str) -> HxResponse {
        self.header("HX-Reswap", text_header_value("HX-Reswap", swap))
    }

    /// `HX-Retarget`: swap into the element this CSS selector names instead.
    pub fn retarget(self, selector: &str) -> HxResponse {
        self.header("HX-Retarget", text_header_value("HX-Retarget", selector))
    }

    /// `HX-Reselect`: swap only the part of the response this CSS selector names.
    pub fn reselect(self, selector: &str) -> HxResponse {
        self.header("HX-Reselect", text_header_value("HX-Reselect", selector))
    }

    /// Fires `event` on the client as soon as the response arrives (`HX-Trigger`).
    pub fn trigger(self, event: impl Into<String>) -> HxResponse {
        self.event(Phase::Received, event.into(), Ok(None))
    }

    /// Fires `event` with a JSON payload (the event's `detail`) as the response arrives.
    pub fn trigger_with<T: Serialize + ?Sized>(
        self,
        event: impl Into<String>,
        payload: &T,
    ) -> HxResponse {
        let payload = sonic_rs::to_string(payload).map(Some);
        self.event(Phase::Received, event.into(), payload)
    }

    /// Fires `event` after the swap (`HX-Trigger-After-Swap`, htmx 2).
    pub fn trigger_after_swap(self, event: impl Into<String>) -> HxResponse {
        self.event(Phase::AfterSwap, event.into(), Ok(None))
    }

    /// Fires `event` with a JSON payload after the swap (htmx 2).
    pub fn trigger_after_swap_with<T: Serialize + ?Sized>(
        self,
        event: impl Into<String>,
        payload: &T,
    ) -> HxResponse {
        let payload = sonic_rs::to_string(payload).map(Some);
        self.event(Phase::AfterSwap, event.into(), payload)
    }

    /// Fires `event` after settling (`HX-Trigger-After-Settle`, htmx 2).
    pub fn trigger_after_settle(self, event: impl Into<String>) -> HxResponse {
        self.event(Phase::AfterSettle, event.into(), Ok(None))
    }

    /// Fires `event` with a JSON payload after settling (htmx 2).
    pub fn trigger_after_settle_with<T: Serialize + ?Sized>(
        self,
        event: impl Into<String>,
        payload: &T,
    ) -> HxResponse {
        let payload = sonic_rs::to_string(payload).map(Some);
        self.event(Phase::AfterSettle, event.into(), payload)
    }

    /// Status 286: htmx 2 stops polling the element (the body is still swapped).
    pub fn stop_polling(mut self) -> HxResponse {
        self.status = Some(STOP_POLLING);
        self
    }

    /// The first value this builder refused, if any.
    pub fn error(&self) -> Option<&HxError> {
        self.error.as_ref()
    }

    /// Writes the headers (and the 286 status, if asked) onto `response`. On error the
    /// response is left unchanged.
    pub fn apply(self, response: &mut Response) -> Result<(), HxError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut headers = self.headers;
        for (events, name) in self.events.iter().zip(TRIGGER_HEADERS) {
            if !events.is_empty() {
                headers.push((name, trigger_header_value(name, events)?));
            }
        }
        for (name, value) in headers {
            // The names are constants of this module, valid tokens.
            let _ = response.set_header(name, value);
        }
        if let Some(status) = self.status {
            response.status = status;
        }
        Ok(())
    }

    fn header(mut self, name: &'static str, value: Result<HeaderValue, HxError>) -> HxResponse {
        match value {
            Ok(value) => {
                self.headers.retain(|(existing, _)| *existing != name);
                self.headers.push((name, value));
            }
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
        self
    }

    fn event(
        mut self,
        phase: Phase,
        name: String,
        payload: Result<Option<String>, sonic_rs::Error>,
    ) -> HxResponse {
        let header = TRIGGER_HEADERS[phase as usize];
        let payload = match payload {
            Ok(payload) => payload,
            Err(error) => {
                self.error.get_or_insert(HxError::json(header, &error));
                return self;
            }
        };
        let events = &mut self.events[phase as usize];
        match events.iter_mut().find(|(existing, _)| *existing == name) {
            Some(event) => event.1 = payload,
            None => events.push((name, payload)),
        }
        self
    }
}

/// `{"name":payload-or-null,...}`, ASCII only.
fn trigger_header_value(
    header: &'static str,
    events: &[TriggerEvent],
) -> Result<HeaderValue, HxError> {
    let mut object = JsonObject::new();
    for (name, payload) in events {
        object
            .raw_field(name, payload.as_deref().unwrap_or("null"))
            .map_err(|error| HxError::json(header, &error))?;
    }
    HeaderValue::try_from(object.finish()).map_err(|_| HxError::invalid(header))
}

/// An `HxResponse` alone: `204 No Content` (so htmx swaps nothing, but reads the headers),
/// or 286 after `stop_polling`.
impl IntoResponse for HxResponse {
    fn into_response(self) -> Response {
        let mut response = Response::new(StatusCode::NO_CONTENT);
        match self.apply(&mut response) {
            Ok(()) => response,
            Err(error) => error.into_response(),
        }
    }
}

/// htmx headers on any response: `(HxResponse::new().trigger("saved"), Html(body))`.
impl<T: IntoResponse> IntoResponse for (HxResponse, T) {
    fn into_response(self) -> Response {
        let mut response = self.1.into_response();
        match self.0.apply(&mut response) {
            Ok(()) => response,
            Err(error) => error.into_response(),
        }
    }
}

/// An `HX-Location` value: a plain path, or a JSON object with `path` and the `htmx.ajax`
/// options htmx 2 and 4 read (`target`, `swap`, `select`, `source`, `event`, `values`,
/// `headers`, `push`, `replace`). A path alone is sent as plain text.
///
/// ```
/// use kiln::htmx::{HxLocation, HxResponse};
///
/// let hx = HxResponse::new().location(
///     HxLocation::new("/accounts/7").target("#main").swap("outerHTML").values(&[("tab", "ledger")]),
/// );
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct HxLocation {
    path: String,
    /// Fields besides `path` and `headers`: name and serialised JSON, names unique.
    fields: Vec<(&'static str, String)>,
    /// `headers`: sent with the request htmx makes.
    headers: Vec<(String, String)>,
    error: Option<HxError>,
}

impl HxLocation {
    pub fn new(path: impl Into<String>) -> HxLocation {
        HxLocation {
            path: path.into(),
            fields: Vec::new(),
            headers: Vec::new(),
            error: None,
        }
    }

    /// The element to swap into (a CSS selector).
    pub fn target(self, selector: &str) -> HxLocation {
        self.string_field("target", selector)
    }

    /// The swap style (`innerHTML`, `outerHTML`...).
    pub fn swap(self, swap: &str) -> HxLocation {
        self.string_field("swap", swap)
    }

    /// Swap only the part of the response this CSS selector names.
    pub fn select(self, selector: &str) -> HxLocation {
        self.string_field("select", selector)
    }

    /// The element the request is made from (a CSS selector).
    pub fn source(self, selector: &str) -> HxLocation {
        self.string_field("source", selector)
    }

    /// The event name the request is made for.
    pub fn event(self, event: &str) -> HxLocation {
        self.string_field("event", event)
    }

    /// Values to send with the request (serialised as a JSON object).
    pub fn values<T: Serialize + ?Sized>(self, values: &T) -> HxLocation {
        let raw = sonic_rs::to_string(values);
        self.raw_field("values", raw)
    }

    /// A header to send with the request (repeatable; a repeated name replaces the value).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> HxLocation {
        let name = name.into();
        let value = value.into();
        match self
            .headers
            .iter_mut()
            .find(|(existing, _)| *existing == name)
        {
            Some(header) => header.1 = value,
            None => self.headers.push((name, value)),
        }
        self
    }

    /// Push this URL into the history instead of the path (htmx pushes the path by default).
    pub fn push_url(self, url: &str) -> HxLocation {
        self.string_field("push", url)
    }

    /// Do not push anything into the history.
    pub fn no_push_url(self) -> HxLocation {
        self.string_field("push", "false")
    }

    /// Replace the current history entry with this URL instead of pushing.
    pub fn replace_url(self, url: &str) -> HxLocation {
        self.string_field("replace", url)
    }

    fn string_field(self, name: &'static str, value: &str) -> HxLocation {
        let raw = sonic_rs::to_string(value);
        self.raw_field(name, raw)
    }

    fn raw_field(mut self, name: &'static str, raw: Result<String, sonic_rs::Error>) -> HxLocation {
        match raw {
            Ok(raw) => {
                self.fields.retain(|(existing, _)| *existing != name);
                self.fields.push((name, raw));
            }
            Err(error) => {
                self.error
                    .get_or_insert(HxError::json("HX-Location", &error));
            }
        }
        self
    }

    fn header_value(self) -> Result<HeaderValue, HxError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.fields.is_empty() && self.headers.is_empty() {
            return url_header_value("HX-Location", &self.path);
        }
        if self
            .path
            .bytes()
            .any(|byte| matches!(byte, b'\r' | b'\n' | 0))
        {
            return Err(HxError::invalid("HX-Location"));
        }
        let json_error = |error: sonic_rs::Error| HxError::json("HX-Location", &error);
        let mut object = JsonObject::new();
        object.field("path", &self.path).map_err(json_error)?;
        for (name, raw) in &self.fields {
            object.raw_field(name, raw).map_err(json_error)?;
        }
        if !self.headers.is_empty() {
            let mut headers = JsonObject::new();
            for (name, value) in &self.headers {
                headers.field(name, value).map_err(json_error)?;
            }
            object
                .raw_field("headers", &headers.finish())
                .map_err(json_error)?;
        }
        HeaderValue::try_from(object.finish()).map_err(|_| HxError::invalid("HX-Location"))
    }
}

impl From<&str> for HxLocation {
    fn from(path: &str) -> HxLocation {
        HxLocation::new(path)
    }
}

impl From<String> for HxLocation {
    fn from(path: String) -> HxLocation {
        HxLocation::new(path)
    }
}
