//! htmx helpers for htmx 2.x and 4.x: the `Htmx` request extractor with the
//! page-versus-fragment decision, typed response headers (`HxResponse`), and server-sent event
//! streams (`sse`).
//!
//! ```
//! use kiln::app::Html;
//! use kiln::htmx::{Htmx, HxResponse};
//! use kiln::http::Response;
//!
//! // One handler for the whole page and for the fragment htmx asks for; `Vary` is set.
//! async fn accounts(htmx: Htmx) -> Result<Response, std::convert::Infallible> {
//!     htmx.page_or_fragment(
//!         || Ok("<html><body><table id=\"rows\">...</table></body></html>"),
//!         || Ok("<tr>...</tr>"),
//!     )
//! }
//!
//! // Events for the client, merged into one `HX-Trigger` JSON object.
//! async fn save() -> (HxResponse, Html<&'static str>) {
//!     let hx = HxResponse::new()
//!         .trigger("saved")
//!         .trigger_with("toast", &["Account saved"]);
//!     (hx, Html("<p>Saved</p>"))
//! }
//! ```
//!
//! With templates, `Htmx::render` and `Htmx::render_with_oob` (in `render.rs`) pick and render
//! in one call. What this module does not do: implement template rendering (`template/`) or
//! serve the htmx script (`assets`). Tests are in `tests.rs`.

mod json;
mod render;
mod request;
mod response;
pub mod sse;

#[cfg(test)]
mod render_tests;
#[cfg(test)]
mod sse_tests;
#[cfg(test)]
mod tests;

pub use render::oob_blocks;
pub use request::{Element, Htmx, RequestType};
pub use response::{HxError, HxErrorKind, HxLocation, HxResponse, STOP_POLLING};

use crate::http::{HeaderValue, Response};
use std::borrow::Cow;

/// The `Vary` names of every response chosen by `Htmx::wants_fragment`: each header that the
/// choice reads. `HX-Request` alone is not enough: htmx 4 sends `HX-Request: true` with both
/// `HX-Request-Type: partial` and `full`, and htmx 2 sends it with boosted and history-restore
/// requests, which want the page. Listing the same names on every response (whether or not
/// the request carried them) keeps a cache from storing a page and a fragment under one key.
pub const VARY_HEADER_NAMES: &str =
    "HX-Request, HX-Request-Type, HX-Boosted, HX-History-Restore-Request";

/// Adds the comma-separated header `names` to `response`'s `Vary`, merging with the values
/// already there (several `Vary` headers become one), without duplicates (names compare
/// case-insensitively). `Vary: *` stays `*`.
pub fn merge_vary(response: &mut Response, names: &str) {
    let mut merged: Vec<&str> = Vec::new();
    let existing: Vec<HeaderValue> = response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("vary"))
        .map(|(_, value)| value.clone())
        .collect();
    for value in &existing {
        let Ok(value) = std::str::from_utf8(value.as_bytes()) else {
            continue;
        };
        add_names(&mut merged, value);
    }
    if merged.contains(&"*") {
        return;
    }
    add_names(&mut merged, names);
    let Ok(value) = HeaderValue::try_from(merged.join(", ")) else {
        return;
    };
    response
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case("vary"));
    response.headers.push((Cow::Borrowed("vary"), value));
}

fn add_names<'a>(merged: &mut Vec<&'a str>, list: &'a str) {
    for name in list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        if !merged.iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
            merged.push(name);
        }
    }
}
