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
//!     kiln::Server::bind("127.0.0.1:8080".parse().unwrap())
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

pub use server::{Handler, IntoHandler, Server, ServerHandle};

/// Compile-time embedding: `templates!("dir")` → `template::EmbeddedTemplates`,
/// `assets!("dir")` → `assets::EmbeddedAssets` (see the `kiln_macros` docs).
pub use kiln_macros::{assets, templates};
