//! Extractors: typed handler arguments built from the request (`Path`, `Query`, `Form`,
//! `Json`, `State`, `Cookies`, `Headers`, `Bytes`, `String`, `Method`, `Extension`).
//!
//! Extraction may be async (an extractor that loads the current user from a database awaits
//! it, like axum's `FromRequestParts`); the built-in ones are `async fn`s that never wait, so
//! they cost what a plain call costs. The server has already read the whole body (bounded by
//! `HttpLimits::body_bytes_max`), so any extractor may read it in any argument position.
//! Failures are `Rejection`s that render as 400/415/422 with a reason. `Option<T>` means
//! "absent" (only for extractors that say what absent is: `OptionalFromRequest`), and a
//! present but malformed value is still a rejection; `Result<T, T::Rejection>` hands the
//! rejection to the handler. The `Htmx` extractor is in `htmx/`; sessions, flash messages and
//! CSRF in their own modules.

use super::context::RequestContext;
use super::path;
use super::rejection::Rejection;
use super::response::{IntoResponse, Json};
use crate::http::{Method, Request};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::future::Future;

/// Builds a value from a request. Implement it for your own argument types, with an
/// `async fn` (it may await: a database read on the blocking pool, the batcher...).
///
/// ```
/// use kiln::app::{FromRequest, RequestContext, Rejection};
///
/// struct CurrentUser { name: String }
///
/// impl<S> FromRequest<S> for CurrentUser {
///     type Rejection = Rejection;
///     async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
///         let token = cx.request.header_str("x-user").ok_or(Rejection::InvalidHeader("x-user"))?;
///         let name = token.to_owned(); // e.g. `kiln::runtime::spawn_blocking(..).await`
///         Ok(CurrentUser { name })
///     }
/// }
/// ```
pub trait FromRequest<S>: Sized {
    type Rejection: IntoResponse;
    fn from_request(
        cx: &mut RequestContext<S>,
    ) -> impl Future<Output = Result<Self, Self::Rejection>>;
}

/// An extractor that knows when its value is absent (no query string, no body, no such
/// extension...), so `Option<T>` can tell "absent" (`None`) from "present but malformed" (a
/// rejection).
pub trait OptionalFromRequest<S>: Sized {
    type Rejection: IntoResponse;
    fn from_request_optional(
        cx: &mut RequestContext<S>,
    ) -> impl Future<Output = Result<Option<Self>, Self::Rejection>>;
}

/// `None` when the value is absent; a malformed value is still rejected.
impl<S, T: OptionalFromRequest<S>> FromRequest<S> for Option<T> {
    type Rejection = T::Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Self::Rejection> {
        T::from_request_optional(cx).await
    }
}

/// The extractor's result, rejection included, for handlers that answer rejections themselves.
impl<S, T: FromRequest<S>> FromRequest<S> for Result<T, T::Rejection> {
    type Rejection = std::convert::Infallible;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Self::Rejection> {
        Ok(T::from_request(cx).await)
    }
}

impl IntoResponse for std::convert::Infallible {
    fn into_response(self) -> crate::http::Response {
        match self {}
    }
}

/// Path parameters, deserialised: `Path<u64>`, `Path<(String, u32)>`, or a struct by name.
#[derive(Clone, Debug)]
pub struct Path<T>(pub T);

impl<S, T: DeserializeOwned> FromRequest<S> for Path<T> {
    type Rejection = Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
        path::from_params(&cx.params)
            .map(Path)
            .map_err(Rejection::InvalidPath)
    }
}

/// The query string, deserialised with `serde_html_form` (repeated keys fill a `Vec`).
#[derive(Clone, Debug)]
pub struct Query<T>(pub T);

impl<S, T: DeserializeOwned> FromRequest<S> for Query<T> {
    type Rejection = Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
        parse_query(&cx.request)
    }
}

fn parse_query<T: DeserializeOwned>(request: &Request) -> Result<Query<T>, Rejection> {
    serde_html_form::from_str(request.query().unwrap_or(""))
        .map(Query)
        .map_err(|error| Rejection::InvalidQuery(error.to_string()))
}

/// Absent: no query string, or an empty one.
impl<S, T: DeserializeOwned> OptionalFromRequest<S> for Query<T> {
    type Rejection = Rejection;
    async fn from_request_optional(cx: &mut RequestContext<S>) -> Result<Option<Self>, Rejection> {
        match cx.request.query() {
            None | Some("") => Ok(None),
            Some(_) => parse_query(&cx.request).map(Some),
        }
    }
}

/// The media type of the request body, lower-cased, without parameters.
fn media_type(request: &Request) -> Option<String> {
    let value = request.header_str("content-type")?;
    let media = value.split(';').next().unwrap_or("").trim();
    Some(media.to_ascii_lowercase())
}

/// An `application/x-www-form-urlencoded` body, deserialised (repeated keys fill a `Vec`).
/// For GET and HEAD the query string is used instead, as browsers send forms that way; so is
/// it for a DELETE with an empty body (htmx 2 sends DELETE parameters in the URL).
#[derive(Clone, Debug)]
pub struct Form<T>(pub T);

const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

/// Whether a form arrives in the query string rather than the body.
fn form_in_query(request: &Request) -> bool {
    match request.method() {
        Method::Get | Method::Head => true,
        Method::Delete => request.body().is_empty(),
        _ => false,
    }
}

fn parse_form<T: DeserializeOwned>(request: &Request) -> Result<Form<T>, Rejection> {
    if form_in_query(request) {
        return serde_html_form::from_str(request.query().unwrap_or(""))
            .map(Form)
            .map_err(|error| Rejection::InvalidForm(error.to_string()));
    }
    if media_type(request).as_deref() != Some(FORM_MEDIA_TYPE) {
        return Err(Rejection::UnsupportedMediaType {
            expected: FORM_MEDIA_TYPE,
        });
    }
    serde_html_form::from_bytes(request.body())
        .map(Form)
        .map_err(|error| Rejection::InvalidForm(error.to_string()))
}

impl<S, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
        parse_form(&cx.request)
    }
}

/// Absent: no fields at all (an empty body, or an empty query string where the form is read
/// from it).
impl<S, T: DeserializeOwned> OptionalFromRequest<S> for Form<T> {
    type Rejection = Rejection;
    async fn from_request_optional(cx: &mut RequestContext<S>) -> Result<Option<Self>, Rejection> {
        let absent = if form_in_query(&cx.request) {
            cx.request.query().is_none_or(str::is_empty)
        } else {
            cx.request.body().is_empty()
        };
        if absent {
            return Ok(None);
        }
        parse_form(&cx.request).map(Some)
    }
}

/// A JSON body (`application/json` or `*/*+json`), deserialised with sonic-rs.
impl<S, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
        parse_json(&cx.request)
    }
}

fn parse_json<T: DeserializeOwned>(request: &Request) -> Result<Json<T>, Rejection> {
    let is_json = media_type(request)
        .is_some_and(|media| media == "application/json" || media.ends_with("+json"));
    if !is_json {
        return Err(Rejection::UnsupportedMediaType {
            expected: "application/json",
        });
    }
    sonic_rs::from_slice(request.body())
        .map(Json)
        .map_err(|error| {
            if error.is_syntax() || error.is_eof() {
                Rejection::InvalidJsonSyntax(error.to_string())
            } else {
                Rejection::InvalidJsonData(error.to_string())
            }
        })
}

/// Absent: an empty body.
impl<S, T: DeserializeOwned> OptionalFromRequest<S> for Json<T> {
    type Rejection = Rejection;
    async fn from_request_optional(cx: &mut RequestContext<S>) -> Result<Option<Self>, Rejection> {
        if cx.request.body().is_empty() {
            return Ok(None);
        }
        parse_json(&cx.request).map(Some)
    }
}

/// Builds a part of the app state from the whole (`State<DbPool>` from `AppState`).
pub trait FromRef<S> {
    fn from_ref(state: &S) -> Self;
}

impl<T: Clone> FromRef<T> for T {
    fn from_ref(state: &T) -> T {
        state.clone()
    }
}

/// The app state, or a part of it (see `FromRef`).
#[derive(Clone, Debug)]
pub struct State<T>(pub T);

impl<S, T: FromRef<S>> FromRequest<S> for State<T> {
    type Rejection = std::convert::Infallible;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Self::Rejection> {
        Ok(State(T::from_ref(&cx.state)))
    }
}

/// The request's cookies (all `Cookie` headers), percent-decoded values.
#[derive(Clone, Debug, Default)]
pub struct Cookies {
    pairs: Vec<(String, String)>,
}

impl Cookies {
    pub fn from_request_headers(request: &Request) -> Cookies {
        let mut pairs = Vec::new();
        for header in request.headers_named("cookie") {
            let Ok(header) = std::str::from_utf8(header) else {
                continue;
            };
            for cookie in cookie::Cookie::split_parse_encoded(header).flatten() {
                pairs.push((cookie.name().to_owned(), cookie.value().to_owned()));
            }
        }
        Cookies { pairs }
    }

    /// The first cookie with this name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<S> FromRequest<S> for Cookies {
    type Rejection = std::convert::Infallible;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Self::Rejection> {
        Ok(Cookies::from_request_headers(&cx.request))
    }
}

/// The request's headers (a cheap view: the head bytes are shared, not copied).
#[derive(Clone, Debug)]
pub struct Headers(Request);

impl Headers {
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.header(name)
    }

    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.0.header_str(name)
    }

    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0.headers_named(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.headers()
    }
}

impl<S> FromRequest<S> for Headers {
    type Rejection = std::convert::Infallible;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Self::Rejection> {
        let mut view = cx.request.clone();
        view.take_body();
        Ok(Headers(view))
    }
}

/// The raw body.
impl<S> FromRequest<S> for Bytes {
    type Rejection = std::convert::Infallible;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Self::Rejection> {
        Ok(cx.request.body().clone())
    }
}

/// The body as UTF-8 text.
impl<S> FromRequest<S> for String {
    type Rejection = Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
        String::from_utf8(cx.request.body().to_vec()).map_err(|_| Rejection::InvalidUtf8)
    }
}

impl<S> FromRequest<S> for Method {
    type Rejection = std::convert::Infallible;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Self::Rejection> {
        Ok(cx.request.method().clone())
    }
}

/// A value that middleware put in the request's extensions (cloned out).
#[derive(Clone, Debug)]
pub struct Extension<T>(pub T);

impl<S, T: Clone + 'static> FromRequest<S> for Extension<T> {
    type Rejection = Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
        cx.extensions
            .get::<T>()
            .cloned()
            .map(Extension)
            .ok_or(Rejection::MissingMiddleware(std::any::type_name::<T>()))
    }
}

/// Absent: no middleware put a `T` in the request's extensions.
impl<S, T: Clone + 'static> OptionalFromRequest<S> for Extension<T> {
    type Rejection = std::convert::Infallible;
    async fn from_request_optional(
        cx: &mut RequestContext<S>,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(cx.extensions.get::<T>().cloned().map(Extension))
    }
}

/// Values for every template render in this request (see `TemplateValues`).
impl<S> FromRequest<S> for super::scope::TemplateValues {
    type Rejection = std::convert::Infallible;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Self::Rejection> {
        Ok(cx.template_values())
    }
}
