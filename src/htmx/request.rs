//! The `Htmx` extractor: what htmx 2.x and 4.x say about a request in their `HX-*` headers,
//! and the page-versus-fragment decision that follows from it.
//!
//! Header values are decoded the way htmx encoded them: htmx 2 retries a header that the
//! browser refused (a character above U+00FF) with `encodeURIComponent` and adds
//! `<name>-URI-AutoEncoded: true`; htmx 4 always writes element ids in `HX-Target`/`HX-Source`
//! (`tag#id`) and the `HX-Prompt` answer with `encodeURI`. A raw value that is not UTF-8 is
//! read as ISO-8859-1, since that is what `setRequestHeader` sends for U+0080..U+00FF.
//!
//! This module only reads; response headers are in `response.rs`, SSE in `sse.rs`, tests in
//! `tests.rs`. Extraction never rejects and never panics, whatever the headers hold.

use super::{VARY_HEADER_NAMES, merge_vary};
use crate::app::{FromRequest, RequestContext};
use crate::http::{Request, Response, StatusCode};
use bytes::Bytes;
use std::borrow::Cow;

/// What htmx 4 says it wants back (`HX-Request-Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestType {
    /// The response replaces one element: render a fragment.
    Partial,
    /// The response replaces the body (boosted links, history restore, `hx-select`): render
    /// the whole page.
    Full,
}

impl RequestType {
    fn parse(value: &[u8]) -> Option<RequestType> {
        let value = value.trim_ascii();
        if value.eq_ignore_ascii_case(b"partial") {
            Some(RequestType::Partial)
        } else if value.eq_ignore_ascii_case(b"full") {
            Some(RequestType::Full)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Partial => "partial",
            RequestType::Full => "full",
        }
    }
}

/// An element named by a request header: htmx 4 sends `tag#id` (`div#rows`, or `body` when the
/// element has no id); htmx 2 sends the bare id, so `tag` is `None` there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Element<'a> {
    /// Lower-case tag name (htmx 4 only).
    pub tag: Option<&'a str>,
    /// The element id, percent-decoded; `None` when the element has none.
    pub id: Option<&'a str>,
}

/// A piece of `Htmx::text`: `start..start + len`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

/// A parsed element: the raw header value and its parts, all spans into `Htmx::text`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ElementSpans {
    raw: Span,
    tag: Option<Span>,
    id: Option<Span>,
}

/// The htmx request headers, decoded. An extractor that never rejects: a request without
/// htmx headers yields an `Htmx` whose `is_htmx()` is false.
///
/// ```
/// use kiln::htmx::Htmx;
///
/// async fn rows(htmx: Htmx) -> String {
///     match htmx.target_id() {
///         Some("rows") => "<tr>...</tr>".to_owned(),
///         _ => "<html>...</html>".to_owned(),
///     }
/// }
/// ```
///
/// All decoded values live in one string, so extraction allocates at most once, and not at all
/// for a request that is not from htmx.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Htmx {
    request: bool,
    boosted: bool,
    history_restore: bool,
    request_type: Option<RequestType>,
    major: Option<u8>,
    /// Every decoded value below, back to back.
    text: String,
    current_url: Option<Span>,
    prompt: Option<Span>,
    trigger: Option<Span>,
    trigger_name: Option<Span>,
    target: Option<ElementSpans>,
    source: Option<ElementSpans>,
}

/// How a header value was encoded by the client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// Raw, unless the `-URI-AutoEncoded: true` companion says otherwise (htmx 2).
    AutoEncoded,
    /// Always percent-encoded (`encodeURI`, htmx 4).
    Percent,
}

/// The htmx 2 headers that may come with a `-URI-AutoEncoded` companion, and that companion.
const HX_CURRENT_URL: (&str, &str) = ("hx-current-url", "hx-current-url-uri-autoencoded");
const HX_PROMPT: (&str, &str) = ("hx-prompt", "hx-prompt-uri-autoencoded");
const HX_TARGET: (&str, &str) = ("hx-target", "hx-target-uri-autoencoded");
const HX_TRIGGER: (&str, &str) = ("hx-trigger", "hx-trigger-uri-autoencoded");
const HX_TRIGGER_NAME: (&str, &str) = ("hx-trigger-name", "hx-trigger-name-uri-autoencoded");
const HX_SOURCE: (&str, &str) = ("hx-source", "hx-source-uri-autoencoded");

fn is_true(value: Option<&[u8]>) -> bool {
    value.is_some_and(|value| value.trim_ascii().eq_ignore_ascii_case(b"true"))
}

impl Htmx {
    /// Reads the htmx headers of `request`.
    pub fn from_headers(request: &Request) -> Htmx {
        let mut htmx = Htmx {
            request: is_true(request.header("hx-request")),
            boosted: is_true(request.header("hx-boosted")),
            history_restore: is_true(request.header("hx-history-restore-request")),
            request_type: request
                .header("hx-request-type")
                .and_then(RequestType::parse),
            ..Htmx::default()
        };
        let from_htmx = htmx.request || htmx.history_restore || htmx.request_type.is_some();
        if !from_htmx {
            return htmx;
        }
        let htmx4 = htmx.request_type.is_some() || request.header(HX_SOURCE.0).is_some();
        htmx.major = Some(if htmx4 { 4 } else { 2 });
        htmx.text.reserve(htmx_header_bytes(request));
        htmx.current_url = htmx.decode(request, HX_CURRENT_URL, Encoding::AutoEncoded);
        let prompt_encoding = if htmx4 {
            Encoding::Percent
        } else {
            Encoding::AutoEncoded
        };
        htmx.prompt = htmx.decode(request, HX_PROMPT, prompt_encoding);
        htmx.trigger = htmx.decode(request, HX_TRIGGER, Encoding::AutoEncoded);
        htmx.trigger_name = htmx.decode(request, HX_TRIGGER_NAME, Encoding::AutoEncoded);
        htmx.target = htmx.element(request, HX_TARGET, htmx4);
        htmx.source = htmx.element(request, HX_SOURCE, true);
        htmx
    }

    /// `HX-Request: true`: the request was made by htmx (2.x or 4.x).
    pub fn is_htmx(&self) -> bool {
        self.request
    }

    /// `HX-Boosted: true`: a boosted link or form (`hx-boost`); wants a whole page.
    pub fn boosted(&self) -> bool {
        self.boosted
    }

    /// `HX-History-Restore-Request: true`: htmx restores a page missing from its history cache
    /// and wants the whole page.
    pub fn history_restore(&self) -> bool {
        self.history_restore
    }

    /// `HX-Request-Type` (htmx 4 only).
    pub fn request_type(&self) -> Option<RequestType> {
        self.request_type
    }

    /// Which htmx major sent the request, as far as the headers tell: `Some(4)` when
    /// `HX-Request-Type` or `HX-Source` is present, `Some(2)` for other htmx requests, `None`
    /// for requests that do not come from htmx.
    pub fn major(&self) -> Option<u8> {
        self.major
    }

    /// `HX-Current-URL`: the browser's URL when the request was made.
    pub fn current_url(&self) -> Option<&str> {
        self.span(self.current_url)
    }

    /// `HX-Prompt`: the user's answer to `hx-prompt`.
    pub fn prompt(&self) -> Option<&str> {
        self.span(self.prompt)
    }

    /// `HX-Trigger` (htmx 2): the id of the element that triggered the request.
    pub fn trigger(&self) -> Option<&str> {
        self.span(self.trigger)
    }

    /// `HX-Trigger-Name` (htmx 2): the `name` of the element that triggered the request.
    pub fn trigger_name(&self) -> Option<&str> {
        self.span(self.trigger_name)
    }

    /// `HX-Target` as sent: the target's id (htmx 2) or `tag#id` (htmx 4).
    pub fn target(&self) -> Option<&str> {
        self.target.map(|spans| self.slice(spans.raw))
    }

    /// `HX-Target` parsed into tag (htmx 4 only) and id.
    pub fn target_element(&self) -> Option<Element<'_>> {
        self.target.map(|spans| self.element_ref(spans))
    }

    /// The id of the target element, for either major.
    pub fn target_id(&self) -> Option<&str> {
        self.target_element().and_then(|element| element.id)
    }

    /// `HX-Source` as sent (htmx 4): the element that issued the request, `tag#id`.
    pub fn source(&self) -> Option<&str> {
        self.source.map(|spans| self.slice(spans.raw))
    }

    /// `HX-Source` parsed into tag and id.
    pub fn source_element(&self) -> Option<Element<'_>> {
        self.source.map(|spans| self.element_ref(spans))
    }

    /// The id of the element that made the request, for either major: `HX-Trigger` (htmx 2)
    /// or the id in `HX-Source` (htmx 4).
    pub fn trigger_id(&self) -> Option<&str> {
        self.trigger()
            .or_else(|| self.source_element().and_then(|element| element.id))
    }

    /// Whether the response should be a fragment rather than the whole page.
    ///
    /// htmx 4 says so itself: `HX-Request-Type: partial` (and `full` means the page). For
    /// htmx 2 the rule is `HX-Request` and neither boosted nor a history restore.
    pub fn wants_fragment(&self) -> bool {
        match self.request_type {
            Some(request_type) => request_type == RequestType::Partial,
            None => self.request && !self.boosted && !self.history_restore,
        }
    }

    /// The opposite of `wants_fragment`.
    pub fn wants_page(&self) -> bool {
        !self.wants_fragment()
    }

    /// The `Vary` value for a response chosen by `wants_fragment`: every header that choice
    /// reads (`VARY_HEADER_NAMES`). It is the same for every request, so a cache never stores a
    /// page and a fragment under one key, whichever htmx major asked first.
    pub fn vary_header(&self) -> &'static str {
        VARY_HEADER_NAMES
    }

    /// Adds `vary_header()` to `response`'s `Vary`, keeping the names already there.
    pub fn add_vary(&self, response: &mut Response) {
        merge_vary(response, VARY_HEADER_NAMES);
    }

    /// Renders the whole page or only the fragment, as `wants_fragment` decides, into a
    /// `text/html` response with `Vary` set. Only the chosen closure runs.
    ///
    /// ```
    /// # use kiln::htmx::Htmx;
    /// # use kiln::http::Response;
    /// fn show(htmx: &Htmx) -> Result<Response, std::fmt::Error> {
    ///     htmx.page_or_fragment(
    ///         || Ok("<html><body><ul id=\"rows\"><li>1</li></ul></body></html>"),
    ///         || Ok("<li>1</li>"),
    ///     )
    /// }
    /// ```
    pub fn page_or_fragment<P, F, E>(
        &self,
        page: impl FnOnce() -> Result<P, E>,
        fragment: impl FnOnce() -> Result<F, E>,
    ) -> Result<Response, E>
    where
        P: Into<Bytes>,
        F: Into<Bytes>,
    {
        let body: Bytes = if self.wants_fragment() {
            fragment()?.into()
        } else {
            page()?.into()
        };
        let mut response =
            Response::ok(body).with_static_header("content-type", "text/html; charset=utf-8");
        self.add_vary(&mut response);
        Ok(response)
    }

    /// A redirect that works for both kinds of request: htmx requests get `200` with
    /// `HX-Redirect` (htmx then navigates the whole window), others `303 See Other` with
    /// `Location`. `Vary: HX-Request` is added. A URL with a line break is refused with 500;
    /// non-ASCII characters are percent-encoded.
    pub fn redirect(&self, url: &str) -> Response {
        let value = match super::response::url_header_value("HX-Redirect", url) {
            Ok(value) => value,
            Err(error) => return crate::app::IntoResponse::into_response(error),
        };
        let (status, name) = if self.request {
            (StatusCode::OK, "hx-redirect")
        } else {
            (StatusCode::SEE_OTHER, "location")
        };
        let mut response = Response::new(status);
        response.headers.push((Cow::Borrowed(name), value));
        merge_vary(&mut response, "HX-Request");
        response
    }

    fn span(&self, span: Option<Span>) -> Option<&str> {
        span.map(|span| self.slice(span))
    }

    fn slice(&self, span: Span) -> &str {
        let start = span.start as usize;
        self.text
            .get(start..start + span.len as usize)
            .unwrap_or("")
    }

    fn element_ref(&self, spans: ElementSpans) -> Element<'_> {
        Element {
            tag: self.span(spans.tag),
            id: self.span(spans.id),
        }
    }

    /// Decodes header `names.0` into `text`.
    fn decode(
        &mut self,
        request: &Request,
        names: (&str, &str),
        encoding: Encoding,
    ) -> Option<Span> {
        let raw = request.header(names.0)?;
        let percent = encoding == Encoding::Percent || is_true(request.header(names.1));
        Some(self.push(raw, percent))
    }

    /// Decodes an element header: `tag#id` when `tag_form` (htmx 4, the id `encodeURI`d),
    /// else a bare id (htmx 2).
    fn element(
        &mut self,
        request: &Request,
        names: (&str, &str),
        tag_form: bool,
    ) -> Option<ElementSpans> {
        let raw = self.decode(request, names, Encoding::AutoEncoded)?;
        if !tag_form {
            let id = (raw.len > 0).then_some(raw);
            return Some(ElementSpans { raw, tag: None, id });
        }
        let value = self.slice(raw);
        let (tag_len, id) = match value.split_once('#') {
            Some((tag, id)) => (tag.len(), Some((tag.len() + 1, id))),
            None => (value.len(), None),
        };
        let id = match id {
            Some((_, "")) | None => None,
            // Nothing to decode: the id is a piece of the raw value.
            Some((offset, id)) if !id.contains('%') => Some(Span {
                start: raw.start + offset as u32,
                len: id.len() as u32,
            }),
            Some((_, id)) => {
                let id = id.to_owned();
                Some(self.push(id.as_bytes(), true))
            }
        };
        let tag = (tag_len > 0).then_some(Span {
            start: raw.start,
            len: tag_len as u32,
        });
        Some(ElementSpans { raw, tag, id })
    }

    /// Appends a decoded value to `text` and returns where it is.
    fn push(&mut self, raw: &[u8], percent: bool) -> Span {
        let start = self.text.len();
        if percent {
            let decoded = percent_encoding::percent_decode(raw).decode_utf8_lossy();
            self.text.push_str(&decoded);
        } else {
            push_header_text(&mut self.text, raw);
        }
        let len = self.text.len() - start;
        match (u32::try_from(start), u32::try_from(len)) {
            (Ok(start), Ok(len)) => Span { start, len },
            // Unreachable within any header-size limit; an empty value is a safe answer.
            _ => Span::default(),
        }
    }
}

/// Header bytes as text: UTF-8 when valid, else ISO-8859-1 (one char per byte), which is how
/// browsers put characters up to U+00FF into a header.
fn push_header_text(text: &mut String, raw: &[u8]) {
    match std::str::from_utf8(raw) {
        Ok(value) => text.push_str(value),
        Err(_) => text.extend(raw.iter().map(|&byte| char::from(byte))),
    }
}

/// An upper bound guess for `Htmx::text`, so that it is allocated once.
fn htmx_header_bytes(request: &Request) -> usize {
    [
        HX_CURRENT_URL,
        HX_PROMPT,
        HX_TARGET,
        HX_TRIGGER,
        HX_TRIGGER_NAME,
        HX_SOURCE,
    ]
    .iter()
    .filter_map(|names| request.header(names.0))
    .map(|value| value.len() * 2)
    .sum()
}

impl<S> FromRequest<S> for Htmx {
    type Rejection = std::convert::Infallible;

    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Self::Rejection> {
        Ok(Htmx::from_headers(&cx.request))
    }
}

/// Absent: the request does not come from htmx (`HX-Request` is not `true`).
impl<S> crate::app::OptionalFromRequest<S> for Htmx {
    type Rejection = std::convert::Infallible;

    async fn from_request_optional(
        cx: &mut RequestContext<S>,
    ) -> Result<Option<Self>, Self::Rejection> {
        let htmx = Htmx::from_headers(&cx.request);
        Ok(htmx.is_htmx().then_some(htmx))
    }
}
