//! Kiln: server-rendered htmx applications on an io_uring HTTP/1.1 server.
//!
//! The crate is one library whose folders follow a request's path:
//! `runtime` (io_uring, executor, timers) → `http` (sans-IO HTTP/1.1) → `server` (the loop that
//! joins them). See ARCHITECTURE.md for the map and the invariants.
//!
//! ```no_run
//! use kiln::http::{Request, Response};
//!
//! async fn hello(_request: Request) -> Response {
//!     Response::ok("Hello, World!").with_static_header("content-type", "text/plain")
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     kiln::Server::bind("127.0.0.1:8080")
//!         .workers(2)
//!         .serve(hello)
//! }
//! ```

pub mod app;
pub mod assets;
pub mod batch;
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
