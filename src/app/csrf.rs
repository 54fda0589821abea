//! CSRF protection: a random token in a signed cookie that every unsafe request (POST, PUT,
//! PATCH, DELETE, ...) must echo in the `X-CSRF-Token` header (htmx: `hx-headers`) or the
//! `csrf_token` form field. A missing or wrong token gets 403 with a reason.
//!
//! Every template render in the request sees the token as `csrf_token` (`{{ csrf_token() }}`
//! or `{{ csrf_token }}`) without the handler passing it; handlers can also get it with the
//! `CsrfToken` extractor. Requests the router answers itself (404, 405) are not checked, so
//! they get their real status. The field is read from urlencoded and from
//! `multipart/form-data` bodies (file uploads without JavaScript).

use super::context::RequestContext;
use super::extract::{Cookies, FromRequest, OptionalFromRequest};
use super::middleware::{Middleware, WithSettings};
use super::random::{constant_time_eq, hex_token};
use super::rejection::Rejection;
use super::session::CookieSecurity;
use crate::http::{Request, Response, StatusCode};
use cookie::{Cookie, CookieJar, Key, SameSite};
use std::sync::Arc;

/// Header that carries the token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field that carries the token.
pub const CSRF_FIELD: &str = "csrf_token";
/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;

/// The current request's CSRF token, for templates (`<meta>`, `hx-headers`, hidden fields).
///
/// Templates see it without help (see the module docs). Put into a render context by hand, it
/// serialises into minijinja as a value that prints as the token and can also be called, so
/// both `{{ csrf_token }}` and `{{ csrf_token() }}` work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsrfToken(pub String);

impl CsrfToken {
    /// The token as a template value (see the type's documentation).
    pub fn template_value(&self) -> crate::template::minijinja::Value {
        crate::template::csrf_token_value(self.0.clone())
    }
}

impl serde::Serialize for CsrfToken {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.template_value().serialize(serializer)
    }
}

impl<S> FromRequest<S> for CsrfToken {
    type Rejection = Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
        cx.extensions
            .get::<CsrfToken>()
            .cloned()
            .ok_or(Rejection::MissingMiddleware("Csrf"))
    }
}

/// Absent: the CSRF middleware is not installed on this route.
impl<S> OptionalFromRequest<S> for CsrfToken {
    type Rejection = std::convert::Infallible;
    async fn from_request_optional(
        cx: &mut RequestContext<S>,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(cx.extensions.get::<CsrfToken>().cloned())
    }
}

/// Configuration of the CSRF middleware.
#[derive(Clone)]
pub struct Csrf {
    /// By value (not shared): each worker's copy of the layer has its own.
    key: Key,
    cookie_name: &'static str,
    security: CookieSecurity,
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Csrf")
            .field("cookie_name", &self.cookie_name)
            .finish()
    }
}

impl Csrf {
    /// `secret`: at least 32 random bytes (may be the session secret).
    pub fn new(secret: &[u8]) -> Result<Csrf, super::session::WeakSecret> {
        if secret.len() < super::session::SESSION_SECRET_BYTES_MIN {
            return Err(super::session::WeakSecret);
        }
        Ok(Csrf {
            key: Key::derive_from(secret),
            cookie_name: "kiln_csrf",
            security: if crate::dev_mode() {
                CookieSecurity::Never
            } else {
                CookieSecurity::Always
            },
        })
    }

    /// Whether the token cookie is `Secure`: on by default outside development mode;
    /// `secure(false)` is the explicit opt-out for plain HTTP (see `SessionLayer::secure`).
    pub fn secure(self, secure: bool) -> Csrf {
        self.security(if secure {
            CookieSecurity::Always
        } else {
            CookieSecurity::Never
        })
    }

    /// When the token cookie is `Secure`, per request (see `CookieSecurity`).
    pub fn security(mut self, security: CookieSecurity) -> Csrf {
        self.security = security;
        self
    }

    fn token_from_cookie(&self, request: &Request) -> Option<String> {
        let cookies = Cookies::from_request_headers(request);
        let raw = cookies.get(self.cookie_name)?;
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(self.cookie_name, raw.to_owned()));
        let verified = jar.signed(&self.key).get(self.cookie_name)?;
        Some(verified.value().to_owned())
    }

    fn token_cookie(&self, token: &str, secure: bool) -> Option<Cookie<'static>> {
        let mut cookie = Cookie::new(self.cookie_name, token.to_owned());
        cookie.set_path("/");
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_secure(secure);
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.key).add(cookie);
        jar.get(self.cookie_name).cloned()
    }

    /// The middleware.
    pub fn layer<S: 'static>(self) -> impl Middleware<S> {
        WithSettings::new(self, |csrf: Arc<Csrf>, mut cx: RequestContext<S>, next| {
            Box::pin(async move {
                let existing = csrf.token_from_cookie(&cx.request);
                let is_new = existing.is_none();
                let token = existing.unwrap_or_else(|| hex_token(TOKEN_BYTES));
                // Set before the check, so that an error page for a refusal can render.
                *cx.scope.csrf_token.borrow_mut() = Some(token.clone());
                // The router answers unknown paths (404) and wrong methods (405) itself; a
                // token check there would hide those answers behind a 403.
                let checked = !cx.request.method().is_safe() && cx.routing().reaches_handler();
                let secure = csrf.security.secure_for(&cx.request);
                let valid = !checked
                    || (!is_new
                        && submitted_token(&cx.request).is_some_and(|submitted| {
                            constant_time_eq(token.as_bytes(), submitted.as_bytes())
                        }));
                let mut response = if valid {
                    cx.extensions.insert(CsrfToken(token.clone()));
                    next.run(cx).await
                } else {
                    Response::error(
                        StatusCode::FORBIDDEN,
                        "CSRF token missing or invalid: send the X-CSRF-Token header or the csrf_token form field",
                    )
                };
                if is_new && let Some(cookie) = csrf.token_cookie(&token, secure) {
                    super::set_cookie(&mut response, &cookie);
                }
                response
            })
        })
    }
}

/// The token the request carries: the header, else the form field (urlencoded or multipart).
fn submitted_token(request: &Request) -> Option<String> {
    if let Some(header) = request.header_str(CSRF_HEADER) {
        return Some(header.trim().to_owned());
    }
    if super::multipart::request_is_multipart(request) {
        let form = super::multipart::from_request(request).ok()?;
        return form.text(CSRF_FIELD).ok()?.map(str::to_owned);
    }
    let is_form = request.header_str("content-type").is_some_and(|value| {
        value.split(';').next().is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    if !is_form {
        return None;
    }
    let fields: Vec<(String, String)> = serde_html_form::from_bytes(request.body()).ok()?;
    fields
        .into_iter()
        .find(|(name, _)| name == CSRF_FIELD)
        .map(|(_, value)| value)
}
