//! Template functions registered on every kiln environment: `asset`, `csrf_token`,
//! `htmx_script` and `htmx_sse_script`.
//!
//! - `{{ asset("app.css") }}` → the content-hashed URL of an embedded asset (configured with
//!   `TemplatesBuilder::assets`); an unknown name is a render error, so a typo cannot ship a
//!   broken link.
//! - `{{ csrf_token() }}` → the CSRF token of the request being rendered. The app layer puts it
//!   into the render context under the name `csrf_token` as [`csrf_token_value`], an object
//!   that prints as the token and, called, returns it; so `{{ csrf_token }}` and
//!   `{{ csrf_token() }}` both work. (A context variable shadows a global of the same name in
//!   minijinja, so a plain string under `csrf_token` would make `csrf_token()` fail with "not
//!   callable".) Without one in the context, this global returns an empty string.
//! - `{{ htmx_script() }}`, `{{ htmx_script(version=4) }}` → the `<script>` tag for the htmx
//!   that kiln serves under `/_kiln` (major 2 by default; 2 and 4 exist). `{{ htmx_sse_script()
//!   }}` → the tag for the htmx 2.x SSE extension.
//!
//! `url_for` is not provided: routes have no names in kiln's router. Tests: `template/tests.rs`.

use crate::assets::{StaticAssets, htmx_script_tag, htmx_sse_script_tag};
use minijinja::value::{Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error, ErrorKind, State};
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
    env.add_function("csrf_token", csrf_token);
    env.add_function("htmx_script", htmx_script);
    env.add_function("htmx_sse_script", || {
        Value::from_safe_string(htmx_sse_script_tag())
    });
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

/// Reached only when the render context has no `csrf_token` of its own (see the module docs).
fn csrf_token(state: &State) -> String {
    match state.lookup("csrf_token") {
        Some(value) if value.kind() == minijinja::value::ValueKind::String => value.to_string(),
        _ => String::new(),
    }
}

fn htmx_script(version: Option<u32>, kwargs: Kwargs) -> Result<Value, Error> {
    let keyword: Option<u32> = kwargs.get("version")?;
    kwargs.assert_all_used()?;
    let version = version.or(keyword).unwrap_or(HTMX_DEFAULT_MAJOR_VERSION);
    let tag = htmx_script_tag(version).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("htmx_script: kiln ships htmx 2 and 4, not {version}"),
        )
    })?;
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
