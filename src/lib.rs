//! Kiln: server-rendered htmx applications on an io_uring HTTP/1.1 server.
//!
//! An app is routes, extractors and templates; `kiln::Server` serves it on one io_uring (or
//! epoll) worker per core:
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
//!     .route("/hello/{name}", get(hello).name("hello"));
//! kiln::Server::bind("127.0.0.1:8080").serve(app).unwrap();
//! ```
//!
//! The folders follow a request's path: `runtime` (io_uring or epoll, executor, timers) →
//! `http` (sans-IO HTTP/1.1) → `server` (the loops that join them) → `app` (routing,
//! extractors, middleware, sessions, CSRF, flash, error pages) → `template` and `htmx`
//! (rendering, htmx headers, SSE); `batch` groups concurrent calls. Below `app`, a bare
//! `Service` (`async fn(Request) -> Response`) can be served directly. README.md is the guide;
//! ARCHITECTURE.md maps the code and its invariants.

pub mod app;
pub mod assets;
pub mod batch;
pub mod calendar;
pub mod htmx;
pub mod http;
pub mod limits;
pub mod runtime;
mod server;
pub mod template;
pub mod test;

pub use server::{IntoService, Server, ServerHandle, Service};

/// Every Rust example in README.md, compiled and run as a doctest, so the README cannot drift
/// from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The environment variable that turns development mode on (`KILN_DEV=1` or `true`).
pub const DEV_MODE_ENV_VAR: &str = "KILN_DEV";

/// Whether development mode is on (`KILN_DEV=1` or `KILN_DEV=true`): templates reload from
/// disk, error responses show details, and session and CSRF cookies are not `Secure` by
/// default. Off by default; every production-facing default assumes it is off.
pub fn dev_mode() -> bool {
    std::env::var(DEV_MODE_ENV_VAR)
        .is_ok_and(|value| value == "1" || value.eq_ignore_ascii_case("true"))
}

/// Compile-time embedding: `templates!("dir")` → `template::EmbeddedTemplates`,
/// `assets!("dir")` → `assets::EmbeddedAssets` (see the `kiln_macros` docs).
pub use kiln_macros::{assets, templates};
