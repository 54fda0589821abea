//! The application layer: what an htmx app author touches every day.
//!
//! `App` holds state, routes (matched with `matchit`, optionally named for `url_for`), nested
//! routers, a fallback, middleware and the app's error pages; handlers are plain async
//! functions whose arguments are extractors (which may await) and whose result is anything
//! `IntoResponse`. Sessions (signed cookies), flash messages and CSRF protection are middleware
//! with matching extractors. Each request opens a scope (`scope.rs`) that every template
//! render in it sees: the CSRF token, flash messages, `url_for`, the request and htmx headers,
//! and values middleware adds. Files: `routing.rs` (building), `dispatch.rs` (serving),
//! `extract.rs`, `multipart.rs`, `path.rs`, `handler.rs`, `response.rs`, `rejection.rs`, `middleware.rs`,
//! `session.rs`, `csrf.rs`, `flash.rs`, `urls.rs`, `errors.rs`, `scope.rs`, `context.rs`.
//! Templates are in `template/`, htmx helpers in `htmx/`. Tests: `tests.rs` and
//! `daily_tests.rs` (through `TestClient`).
//!
//! ```no_run
//! use kiln::app::{App, Path, State, get};
//!
//! #[derive(Clone)]
//! struct AppState { greeting: &'static str }
//!
//! async fn hello(State(state): State<AppState>, Path(name): Path<String>) -> String {
//!     format!("{}, {name}!", state.greeting)
//! }
//!
//! let app = App::new()
//!     .state(AppState { greeting: "Hello" })
//!     .route("/hello/{name}", get(hello));
//! kiln::Server::bind("127.0.0.1:8080").serve(app).unwrap();
//! ```

mod context;
mod csrf;
mod dispatch;
mod errors;
mod extract;
mod flash;
mod handler;
pub mod middleware;
mod multipart;
mod path;
mod random;
mod rejection;
mod response;
mod routing;
pub(crate) mod scope;
mod session;
mod urls;

pub use context::{Extensions, PathParams, RequestContext, Routing};
pub use csrf::{CSRF_FIELD, CSRF_HEADER, Csrf, CsrfToken};
pub use dispatch::{AppFuture, BuiltApp};
pub use errors::ErrorPage;
pub use extract::{
    Cookies, Extension, Form, FromRef, FromRequest, Headers, OptionalFromRequest, Path, Query,
    State,
};
pub(crate) use flash::take as take_flash_messages;
pub use flash::{FLASH_MESSAGES_MAX, Flash, FlashMessage, Level};
pub use handler::{Endpoint, Handler, ResponseFuture};
pub use middleware::{Middleware, Next};
pub use multipart::{
    MULTIPART_BOUNDARY_BYTES_MAX, MULTIPART_PART_HEAD_BYTES_MAX, MULTIPART_PARTS_MAX, Multipart,
    Part,
};
pub use rejection::Rejection;
pub use response::{Html, IntoResponse, Json, Redirect, WithHeaders, json_bytes};
pub use routing::{
    App, MethodRouter, RouteInfo, Router, any, delete, get, options, patch, post, put, stage,
};
pub use scope::{TEMPLATE_VALUES_MAX, TemplateValues};
pub use session::{CookieSecurity, Session, SessionLayer, WeakSecret};
pub use urls::{UrlError, Urls};

/// Builds a `Set-Cookie` header value and appends it to `response`.
pub fn set_cookie(response: &mut crate::http::Response, cookie: &cookie::Cookie<'_>) {
    if let Ok(value) = crate::http::HeaderValue::try_from(cookie.encoded().to_string()) {
        response
            .headers
            .push((std::borrow::Cow::Borrowed("set-cookie"), value));
    }
}

pub use cookie::{Cookie, SameSite};

#[cfg(test)]
mod daily_tests;
#[cfg(test)]
mod tests;
