//! The htmx scripts kiln ships (`assets/htmx/`, vendored from npm; see its README.md), served
//! under [`HTMX_PREFIX`] with content-hashed URLs, and the `<script>` tags that load them.
//!
//! What it does not do: mount the route (the app layer sends `GET /_kiln/...` to
//! `htmx().respond(&request)`). Tests: `assets/tests.rs`.

use super::{EmbeddedAssets, StaticAssets};
use std::sync::OnceLock;

/// The `htmx.org` 2.x release in `assets/htmx/htmx-2.min.js`.
pub const HTMX2_VERSION: &str = "2.0.11";
/// The `htmx.org` 4.x release in `assets/htmx/htmx-4.min.js`.
pub const HTMX4_VERSION: &str = "4.0.1";
/// The `htmx-ext-sse` release (for htmx 2.x) in `assets/htmx/htmx-ext-sse-2.min.js`.
pub const HTMX_EXT_SSE_VERSION: &str = "2.2.4";
/// Where [`htmx()`] serves the scripts.
pub const HTMX_PREFIX: &str = "/_kiln";

pub(super) const HTMX2_FILE: &str = "htmx-2.min.js";
pub(super) const HTMX4_FILE: &str = "htmx-4.min.js";
pub(super) const HTMX_EXT_SSE_FILE: &str = "htmx-ext-sse-2.min.js";
/// kiln's own script for htmx 2: swap error responses that carry `HX-Retarget`.
pub(super) const HTMX2_ERRORS_FILE: &str = "kiln-htmx2-errors.js";

static EMBEDDED: EmbeddedAssets = kiln_macros::assets!("assets/htmx", crate = crate);

/// The htmx scripts and their licences, served under [`HTMX_PREFIX`].
pub fn htmx() -> &'static StaticAssets {
    static ASSETS: OnceLock<StaticAssets> = OnceLock::new();
    ASSETS.get_or_init(|| StaticAssets::new(&EMBEDDED, HTMX_PREFIX))
}

/// The same, owned, for an app to mount.
pub(crate) fn htmx_assets() -> std::sync::Arc<StaticAssets> {
    std::sync::Arc::new(StaticAssets::new(&EMBEDDED, HTMX_PREFIX))
}

/// The `<script>` tag of kiln's htmx 2 error-swap script (see `App::error_target`).
pub fn htmx_errors_script_tag() -> String {
    script_tag(HTMX2_ERRORS_FILE).unwrap_or_default()
}

/// `<script src="/_kiln/htmx-2.min.<hash>.js" integrity="sha384-..."></script>` for htmx major
/// version 2 or 4; `None` for any other version.
pub fn htmx_script_tag(major_version: u32) -> Option<String> {
    let file = match major_version {
        2 => HTMX2_FILE,
        4 => HTMX4_FILE,
        _ => return None,
    };
    script_tag(file)
}

/// The `<script>` tag for the htmx 2.x SSE extension (load it after htmx 2).
pub fn htmx_sse_script_tag() -> String {
    script_tag(HTMX_EXT_SSE_FILE).unwrap_or_default()
}

fn script_tag(file: &str) -> Option<String> {
    let assets = htmx();
    let url = assets.url(file)?;
    let integrity = assets.get(file)?.integrity;
    Some(format!(
        "<script src=\"{url}\" integrity=\"{integrity}\"></script>"
    ))
}
