//! Template functions and values registered on every kiln environment.
//!
//! - `{{ asset("app.css") }}` → the content-hashed URL of an embedded asset (configured with
//!   `TemplatesBuilder::assets`); an unknown name is a render error, so a typo cannot ship a
//!   broken link.
//! - `{{ htmx_script() }}`, `{{ htmx_script(version=4) }}` → the `<script>` tags for the htmx
//!   that kiln serves under `/_kiln` (major 2 by default; 2 and 4 exist). For htmx 2 a second,
//!   small kiln script follows: it lets htmx swap an error response that the server retargeted
//!   (`HX-Retarget`, see `App::error_target`), which htmx 2 would otherwise drop
//!   (`htmx_script(swap_errors=false)` leaves it out). `{{ htmx_sse_script() }}` → the tag for
//!   the htmx 2.x SSE extension.
//!
//! Request-scoped values, read from the request being served (`app/scope.rs`) without the
//! handler passing anything:
//! - `{{ csrf_token() }}` or `{{ csrf_token }}` → the request's CSRF token. With no token (the
//!   `Csrf` middleware is not installed, or the render happens outside a request) both fail
//!   the render with a message saying so, instead of printing a placeholder that would make
//!   every htmx request from the page fail with 403.
//! - `request.path`, `request.query`, `request.url` (path and query), `request.method`.
//! - `htmx.request` (an htmx request), `htmx.boosted`, `htmx.partial` (a fragment is wanted),
//!   `htmx.target`, `htmx.trigger`, `htmx.current_url`, `htmx.major`.
//! - `flash_messages()` → the messages waiting in the session (consumed: each shows once;
//!   none where the session middleware does not run).
//! - `url_for("account", id=7)` → the URL of a named route (`MethodRouter::name`); other
//!   keyword arguments become the query string.
//!
//! A render context value of the same name shadows any of these. Tests: `template/tests.rs`
//! and `app/tests.rs`.

use crate::app::scope::{Scope, with_current};
use crate::assets::{StaticAssets, htmx_errors_script_tag, htmx_script_tag, htmx_sse_script_tag};
use crate::htmx::Htmx;
use minijinja::value::{Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error, ErrorKind, Output, State};
use std::fmt;
use std::sync::Arc;

/// The htmx major version `htmx_script()` loads when none is given.
const HTMX_DEFAULT_MAJOR_VERSION: u32 = 2;

pub(crate) fn register(
    env: &mut minijinja::Environment<'static>,
    assets: Option<Arc<StaticAssets>>,
) {
    env.add_function("asset", move |name: &str| {
        asset_url(assets.as_deref(), name)
    });
    env.add_global("csrf_token", Value::from_object(CsrfTokenGlobal));
    env.add_global("request", Value::from_object(RequestGlobal));
    env.add_global("htmx", Value::from_object(HtmxGlobal));
    env.add_function("flash_messages", flash_messages);
    env.add_function("url_for", url_for);
    env.add_function("htmx_script", htmx_script);
    env.add_function("htmx_sse_script", || {
        Value::from_safe_string(htmx_sse_script_tag())
    });
    env.set_formatter(formatter);
}

/// minijinja's escaping formatter, except that printing `csrf_token` with no token in the
/// request fails the render (an object's `render` cannot fail by itself).
fn formatter(out: &mut Output<'_>, state: &mut State<'_, '_>, value: &Value) -> Result<(), Error> {
    if value.downcast_object_ref::<CsrfTokenGlobal>().is_some() {
        current_csrf_token()?;
    }
    minijinja::escape_formatter(out, state, value)
}

/// The URL as a safe string (HTML escaping would turn every `/` into `&#x2f;`) when it holds
/// only URL-safe characters, which embedded names always are; a prefix with anything else is
/// escaped as usual.
fn asset_url(assets: Option<&StaticAssets>, name: &str) -> Result<Value, Error> {
    let Some(assets) = assets else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("asset(\"{name}\"): no assets configured (TemplatesBuilder::assets)"),
        ));
    };
    let url = assets.url(name).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("asset(\"{name}\"): no embedded asset with that name"),
        )
    })?;
    let url_safe = url
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.~/:".contains(&b));
    Ok(if url_safe {
        Value::from_safe_string(url.to_owned())
    } else {
        Value::from(url)
    })
}

/// The current request's CSRF token, or an error that says why there is none.
fn current_csrf_token() -> Result<String, Error> {
    with_current(|scope| match scope {
        Some(scope) => scope.csrf_token.borrow().clone().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                "csrf_token: this request has no CSRF token; install the CSRF middleware \
                 (`App::around(Csrf::new(secret)?.layer())`) on this route",
            )
        }),
        None => Err(outside_request("csrf_token")),
    })
}

fn outside_request(name: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("{name}: only available while a request is being served"),
    )
}

/// `csrf_token`: prints as the request's token, and called returns it (see the module docs).
#[derive(Debug)]
struct CsrfTokenGlobal;

impl Object for CsrfTokenGlobal {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn is_true(self: &Arc<Self>) -> bool {
        current_csrf_token().is_ok()
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let () = from_args(args)?;
        current_csrf_token().map(Value::from)
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The formatter has already failed the render when there is no token.
        f.write_str(&current_csrf_token().unwrap_or_default())
    }
}

/// Reads an attribute of the current request; undefined outside a request.
fn from_scope(read: impl FnOnce(&Scope) -> Option<Value>) -> Option<Value> {
    with_current(|scope| scope.and_then(read))
}

/// `request`: the path, query and method of the request being served.
#[derive(Debug)]
struct RequestGlobal;

impl Object for RequestGlobal {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        from_scope(|scope| {
            let request = &scope.request;
            Some(match key {
                "path" => Value::from(request.path()),
                "query" => Value::from(request.query().unwrap_or("")),
                "url" => Value::from(match request.query() {
                    Some(query) => format!("{}?{query}", request.path()),
                    None => request.path().to_owned(),
                }),
                "method" => Value::from(request.method().as_str()),
                _ => return None,
            })
        })
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(&["path", "query", "url", "method"])
    }
}

/// `htmx`: what the request's htmx headers say.
#[derive(Debug)]
struct HtmxGlobal;

impl Object for HtmxGlobal {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        from_scope(|scope| {
            let htmx = Htmx::from_headers(&scope.request);
            Some(match key {
                "request" => Value::from(htmx.is_htmx()),
                "boosted" => Value::from(htmx.boosted()),
                "partial" => Value::from(htmx.wants_fragment()),
                "target" => Value::from(htmx.target_id()),
                "trigger" => Value::from(htmx.trigger_id()),
                "current_url" => Value::from(htmx.current_url()),
                "major" => Value::from(htmx.major()),
                _ => return None,
            })
        })
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(&[
            "request",
            "boosted",
            "partial",
            "target",
            "trigger",
            "current_url",
            "major",
        ])
    }
}

/// `flash_messages()`: takes the session's waiting messages. Without a session (a route the
/// session middleware does not cover, an error answered before it ran) there are none: a
/// message can only be set through the session (the `Flash` extractor refuses without one).
fn flash_messages() -> Result<Value, Error> {
    with_current(|scope| {
        let scope = scope.ok_or_else(|| outside_request("flash_messages()"))?;
        let session = scope.session.borrow();
        let messages = session
            .as_ref()
            .map(crate::app::take_flash_messages)
            .unwrap_or_default();
        Ok(Value::from(minijinja::value::Serde(messages)))
    })
}

/// `url_for(name, **params)`: the URL of a named route.
fn url_for(name: &str, kwargs: Kwargs) -> Result<Value, Error> {
    let mut params = Vec::new();
    for key in kwargs.args() {
        let value: Value = kwargs.get(key)?;
        if value.is_undefined() || value.is_none() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("url_for(\"{name}\"): parameter `{key}` is undefined"),
            ));
        }
        params.push((key, value.to_string()));
    }
    let url = with_current(|scope| {
        let scope = scope.ok_or_else(|| outside_request("url_for()"))?;
        let urls = scope.urls.clone().unwrap_or_default();
        urls.build(name, params)
            .map_err(|error| Error::new(ErrorKind::InvalidOperation, error.to_string()))
    })?;
    Ok(html_safe_url(url))
}

/// A URL as a safe string (minijinja's escaping would turn every `/` into `&#x2f;`): its
/// parameters are percent-encoded, so only `&` between query pairs needs escaping.
fn html_safe_url(url: String) -> Value {
    if url.contains(['<', '>', '"', '\'']) {
        return Value::from(url);
    }
    Value::from_safe_string(url.replace('&', "&amp;"))
}

fn htmx_script(version: Option<u32>, kwargs: Kwargs) -> Result<Value, Error> {
    let keyword: Option<u32> = kwargs.get("version")?;
    let swap_errors: Option<bool> = kwargs.get("swap_errors")?;
    kwargs.assert_all_used()?;
    let version = version.or(keyword).unwrap_or(HTMX_DEFAULT_MAJOR_VERSION);
    let mut tag = htmx_script_tag(version).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("htmx_script: kiln ships htmx 2 and 4, not {version}"),
        )
    })?;
    // htmx 4 swaps error responses by itself; htmx 2 needs the kiln script for it.
    if version == 2 && swap_errors.unwrap_or(true) {
        tag.push_str(&htmx_errors_script_tag());
    }
    Ok(Value::from_safe_string(tag))
}

/// The value to put into a render context as `csrf_token`: prints as the token, and calling
/// it (`csrf_token()`) returns the token too.
pub fn csrf_token_value(token: impl Into<String>) -> Value {
    Value::from_object(CsrfToken(token.into()))
}

#[derive(Debug)]
struct CsrfToken(String);

impl Object for CsrfToken {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn is_true(self: &Arc<Self>) -> bool {
        !self.0.is_empty()
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let () = from_args(args)?;
        Ok(Value::from(self.0.as_str()))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
