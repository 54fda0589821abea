//! Page-versus-fragment rendering with templates: one call renders the whole page for normal,
//! boosted and history-restore requests and only the named block for partial htmx requests
//! (2.x and 4.x rules in `request.rs`), optionally with out-of-band blocks, all from one
//! template evaluation, and sets `Vary`.
//!
//! This module only joins `Htmx` (which to send) and `Templates` (how to render); both are
//! tested on their own, and together in `tests.rs`.

use super::Htmx;
use crate::app::IntoResponse;
use crate::http::Response;
use crate::template::{TemplateError, Templates};
use serde::Serialize;

impl Htmx {
    /// Renders `template` whole for a page request, or only `block` for a partial htmx
    /// request, as an HTML response with `Vary` set. A template error becomes a 500 (with the
    /// error text in development mode).
    pub fn render(
        &self,
        templates: &Templates,
        template: &str,
        block: &str,
        context: impl Serialize,
    ) -> Response {
        self.render_with_oob(templates, template, block, &[], context)
    }

    /// Like `render`, and for partial requests also appends the `oob` blocks (which carry
    /// `hx-swap-oob` in the template) after `block`: one template evaluation renders them all.
    /// Page requests get the whole page, which already contains every block.
    pub fn render_with_oob(
        &self,
        templates: &Templates,
        template: &str,
        block: &str,
        oob: &[&str],
        context: impl Serialize,
    ) -> Response {
        let page = || templates.render(template, &context);
        let fragment = || {
            if oob.is_empty() {
                templates.render_block(template, block, &context)
            } else {
                let mut blocks = Vec::with_capacity(oob.len() + 1);
                blocks.push(block);
                blocks.extend_from_slice(oob);
                templates.render_blocks(template, &blocks, &context)
            }
        };
        match self.page_or_fragment(page, fragment) {
            Ok(response) => response,
            Err(error) => error.to_response(templates.dev_mode()),
        }
    }
}

/// Renders several blocks of one template for an out-of-band update (whatever kind of request
/// asked), from one evaluation, as an HTML response.
pub fn oob_blocks(
    templates: &Templates,
    template: &str,
    blocks: &[&str],
    context: impl Serialize,
) -> Response {
    match templates.render_blocks(template, blocks, context) {
        Ok(body) => crate::app::Html(body).into_response(),
        Err(error) => error.to_response(templates.dev_mode()),
    }
}

impl IntoResponse for TemplateError {
    /// 500; the error text is shown only in development mode (`KILN_DEV=1`).
    fn into_response(self) -> Response {
        self.to_response(crate::dev_mode())
    }
}
