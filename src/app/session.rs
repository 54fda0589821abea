//! Signed-cookie sessions: a small string map kept in one HMAC-signed cookie, so tampering
//! is detected (a tampered cookie reads as an empty session) and the server stores nothing.
//!
//! `SessionLayer::new(secret)` is the middleware; `Session` is the extractor handlers use to
//! read and change the map. Values are JSON-encoded inside the cookie; the whole cookie must
//! stay under `SESSION_COOKIE_BYTES_MAX`. Not encrypted: do not store secrets in it.

use super::context::RequestContext;
use super::extract::{Cookies, FromRequest, OptionalFromRequest};
use super::middleware::{Middleware, WithSettings};
use super::rejection::Rejection;
use crate::http::{Response, StatusCode};
use cookie::{Cookie, CookieJar, Key, SameSite};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

/// Browsers refuse cookies above about 4 KiB; a larger session is an error, not silently lost.
pub const SESSION_COOKIE_BYTES_MAX: usize = 4000;
/// Shortest secret accepted (the signing key is derived from it).
pub const SESSION_SECRET_BYTES_MIN: usize = 32;

#[derive(Default, Debug)]
struct SessionState {
    data: BTreeMap<String, String>,
    changed: bool,
}

/// The current request's session. Cheap to clone; changes are written back as a cookie when
/// the response leaves the session middleware.
#[derive(Clone, Debug, Default)]
pub struct Session {
    state: Rc<RefCell<SessionState>>,
}

impl Session {
    pub fn get(&self, key: &str) -> Option<String> {
        self.state.borrow().data.get(key).cloned()
    }

    pub fn insert(&self, key: impl Into<String>, value: impl Into<String>) {
        let mut state = self.state.borrow_mut();
        state.data.insert(key.into(), value.into());
        state.changed = true;
    }

    pub fn remove(&self, key: &str) -> Option<String> {
        let mut state = self.state.borrow_mut();
        let removed = state.data.remove(key);
        state.changed |= removed.is_some();
        removed
    }

    /// Empties the session (log out).
    pub fn clear(&self) {
        let mut state = self.state.borrow_mut();
        state.changed |= !state.data.is_empty();
        state.data.clear();
    }
}

impl<S> FromRequest<S> for Session {
    type Rejection = Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
        cx.extensions
            .get::<Session>()
            .cloned()
            .ok_or(Rejection::MissingMiddleware("SessionLayer"))
    }
}

/// Absent: the session middleware is not installed on this route.
impl<S> OptionalFromRequest<S> for Session {
    type Rejection = std::convert::Infallible;
    async fn from_request_optional(
        cx: &mut RequestContext<S>,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(cx.extensions.get::<Session>().cloned())
    }
}

/// Why a session secret was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WeakSecret;

impl std::fmt::Display for WeakSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "session secret must be at least {SESSION_SECRET_BYTES_MIN} bytes"
        )
    }
}

impl std::error::Error for WeakSecret {}

/// When the `Secure` attribute is set on the cookies kiln's middleware writes (sessions,
/// CSRF): the browser then sends them over HTTPS only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieSecurity {
    /// Always (the default outside development mode): right behind TLS, and on `localhost`,
    /// where browsers accept `Secure` cookies over plain HTTP.
    Always,
    /// Never: an app served over plain HTTP on another host (a local tool on a LAN).
    Never,
    /// When the request says it reached the proxy over HTTPS (`X-Forwarded-Proto: https`, or
    /// `proto=https` in `Forwarded`, RFC 7239): for an app reached both through a TLS proxy
    /// and directly. A client that fakes the header only makes its own cookies stricter.
    WhenForwardedHttps,
}

impl CookieSecurity {
    /// Whether a cookie written in answer to `request` is `Secure`.
    pub fn secure_for(self, request: &crate::http::Request) -> bool {
        match self {
            CookieSecurity::Always => true,
            CookieSecurity::Never => false,
            CookieSecurity::WhenForwardedHttps => forwarded_https(request),
        }
    }
}

/// Whether the request's proxy says the client came over HTTPS: the first (client-side)
/// value of `X-Forwarded-Proto`, else the first `proto=` of `Forwarded`.
pub(crate) fn forwarded_https(request: &crate::http::Request) -> bool {
    if let Some(value) = request.header_str("x-forwarded-proto") {
        let first = value.split(',').next().unwrap_or("").trim();
        return first.eq_ignore_ascii_case("https");
    }
    let Some(value) = request.header_str("forwarded") else {
        return false;
    };
    let first_hop = value.split(',').next().unwrap_or("");
    first_hop
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("proto"))
        .is_some_and(|(_, proto)| proto.trim().trim_matches('"').eq_ignore_ascii_case("https"))
}

/// Configuration of the session middleware.
#[derive(Clone)]
pub struct SessionLayer {
    /// By value (not shared): each worker's copy of the layer has its own.
    key: Key,
    cookie_name: &'static str,
    security: CookieSecurity,
}

impl std::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("cookie_name", &self.cookie_name)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// `secret`: at least 32 random bytes, kept private and stable across restarts.
    pub fn new(secret: &[u8]) -> Result<SessionLayer, WeakSecret> {
        if secret.len() < SESSION_SECRET_BYTES_MIN {
            return Err(WeakSecret);
        }
        Ok(SessionLayer {
            key: Key::derive_from(secret),
            cookie_name: "kiln_session",
            security: if crate::dev_mode() {
                CookieSecurity::Never
            } else {
                CookieSecurity::Always
            },
        })
    }

    /// Whether the cookie is `Secure` (sent over HTTPS only). On by default outside
    /// development mode (`KILN_DEV`); `secure(false)` is the explicit opt-out for an app served
    /// over plain HTTP (a local tool, or behind a proxy on the same host). Browsers accept
    /// `Secure` cookies from `http://localhost` and `http://127.0.0.1`.
    pub fn secure(self, secure: bool) -> SessionLayer {
        self.security(if secure {
            CookieSecurity::Always
        } else {
            CookieSecurity::Never
        })
    }

    /// When the cookie is `Secure`, per request (see `CookieSecurity`).
    pub fn security(mut self, security: CookieSecurity) -> SessionLayer {
        self.security = security;
        self
    }

    pub fn cookie_name(mut self, name: &'static str) -> SessionLayer {
        self.cookie_name = name;
        self
    }

    fn load(&self, cookies: &Cookies) -> SessionState {
        let Some(raw) = cookies.get(self.cookie_name) else {
            return SessionState::default();
        };
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(self.cookie_name, raw.to_owned()));
        let Some(verified) = jar.signed(&self.key).get(self.cookie_name) else {
            tracing::debug!("session cookie failed verification; starting empty");
            return SessionState::default();
        };
        let data = sonic_rs::from_str(verified.value()).unwrap_or_default();
        SessionState {
            data,
            changed: false,
        }
    }

    fn store(
        &self,
        state: &SessionState,
        secure: bool,
        response: &mut Response,
    ) -> Result<(), &'static str> {
        let json = sonic_rs::to_string(&state.data).map_err(|_| "session not serialisable")?;
        let mut jar = CookieJar::new();
        let mut cookie = Cookie::new(self.cookie_name, json);
        cookie.set_path("/");
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_secure(secure);
        if state.data.is_empty() {
            cookie.make_removal();
            super::set_cookie(response, &cookie);
            return Ok(());
        }
        jar.signed_mut(&self.key).add(cookie);
        let Some(signed) = jar.get(self.cookie_name) else {
            return Err("session cookie could not be signed");
        };
        let encoded = signed.encoded().to_string();
        if encoded.len() > SESSION_COOKIE_BYTES_MAX {
            return Err("session too large for a cookie");
        }
        super::set_cookie(response, signed);
        Ok(())
    }

    /// The middleware.
    pub fn layer<S: 'static>(self) -> impl Middleware<S> {
        WithSettings::new(
            self,
            |layer: Arc<SessionLayer>, mut cx: RequestContext<S>, next| {
                Box::pin(async move {
                    let session = Session {
                        state: Rc::new(RefCell::new(
                            layer.load(&Cookies::from_request_headers(&cx.request)),
                        )),
                    };
                    cx.extensions.insert(session.clone());
                    *cx.scope.session.borrow_mut() = Some(session.clone());
                    let secure = layer.security.secure_for(&cx.request);
                    let mut response = next.run(cx).await;
                    let state = session.state.borrow();
                    if state.changed
                        && let Err(reason) = layer.store(&state, secure, &mut response)
                    {
                        tracing::error!(reason, "session not saved");
                        return Response::error(StatusCode::INTERNAL_SERVER_ERROR, reason);
                    }
                    response
                })
            },
        )
    }
}
