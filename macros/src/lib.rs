//! `kiln-macros`: compile-time embedding of templates and static assets for kiln.
//!
//! - [`templates!`] embeds every file under a directory as a minijinja template and parses each
//!   one while the crate compiles, so a syntax error (or an `{% extends %}`, `{% include %}` or
//!   `{% import %}` of a template that does not exist) fails `cargo build` with the file, line
//!   and column.
//! - [`assets!`] embeds every file under a directory as a static asset, with its content hash,
//!   its SRI digest, its content type, and gzip and brotli variants computed at compile time.
//!
//! Use them through the `kiln` crate (`kiln::templates!`, `kiln::assets!`): the expansions name
//! types of `kiln` (`::kiln::template::EmbeddedTemplates`, `::kiln::assets::EmbeddedAssets`).
//!
//! What this crate does not do: render anything, or serve anything. It never runs at run time.
//! Its tests are trybuild cases in `macros/tests/` (a compile-pass and a compile-fail) plus unit
//! tests beside the pure helpers.
//!
//! ## Paths
//!
//! The path argument is a string literal, resolved in this order, the first directory that
//! exists winning:
//! 1. relative to the invoking crate's `CARGO_MANIFEST_DIR`, then to each of its parents (so an
//!    example crate in `examples/ledger/` can name the workspace's `templates/ledger`);
//! 2. relative to the directory of the source file that invokes the macro, then its parents.
//!
//! Files and folders whose names start with `.` are skipped. Files are listed in sorted order,
//! so the expansion is deterministic.
//!
//! ## Picking up new files
//!
//! Each embedded file is named by `include_str!`/`include_bytes!` in the expansion, so cargo
//! recompiles the crate (and re-runs the macro) when an existing file changes. Cargo cannot see a
//! *new* file by itself; add a one-line `build.rs` to the crate that invokes the macro (paths
//! relative to that crate's `Cargo.toml`):
//!
//! ```text
//! fn main() { println!("cargo:rerun-if-changed=../../templates/ledger"); }
//! ```
//!
//! Cargo re-runs a build script when any file under a `rerun-if-changed` directory changes,
//! which recompiles the crate and re-expands the macro.

use proc_macro::TokenStream;

mod assets;
mod input;
mod templates;

/// Embeds and checks every template under a directory.
///
/// ```
/// // Typically "templates/<app>"; here the fixture of this crate's trybuild tests.
/// static TEMPLATES: kiln::template::EmbeddedTemplates = kiln::templates!("tests/ui/templates/ok");
///
/// # fn main() -> Result<(), kiln::template::TemplateError> {
/// let templates = kiln::template::Templates::new(TEMPLATES)?;
/// assert!(templates.contains("partials/greeting.html"));
/// # Ok(()) }
/// ```
///
/// Expands to a constant expression of type `kiln::template::EmbeddedTemplates`. Each file is
/// parsed with minijinja; a syntax error becomes a compile error naming the template's path,
/// line and column. `{% extends %}`, `{% include %}`, `{% import %}` and `{% from .. import %}`
/// with a literal template name must name a template of the same directory (names are relative
/// to it, with `/` separators); `include .. ignore missing` and computed names are not checked.
/// See the crate docs for how the path is resolved and how new files are picked up.
#[proc_macro]
pub fn templates(input: TokenStream) -> TokenStream {
    let call_file = input::call_site_file();
    let input = syn::parse_macro_input!(input as input::MacroInput);
    templates::expand(&input, call_file.as_deref())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Embeds every file under a directory as a static asset.
///
/// ```
/// // Typically "assets/<app>"; here the fixture of this crate's trybuild tests.
/// static ASSETS: kiln::assets::EmbeddedAssets = kiln::assets!("tests/ui/assets");
///
/// let css = ASSETS.get("app.css").unwrap();
/// assert_eq!(css.content_type, "text/css; charset=utf-8");
/// assert!(css.gzip.is_some() && css.brotli.is_some());
/// ```
///
/// Expands to a constant expression of type `kiln::assets::EmbeddedAssets`: for each file its
/// name (relative, `/` separators), the first 16 hex digits of its SHA-256, its SRI digest
/// (`sha384-...`), its content type, its bytes (`include_bytes!`), and gzip and brotli variants
/// for compressible types when they are smaller than the original. File names must be URL-safe
/// (ASCII letters, digits, `-`, `_`, `.`, `~`, `/`); anything else is a compile error, because
/// assets are served by exact match on the raw request path.
#[proc_macro]
pub fn assets(input: TokenStream) -> TokenStream {
    let call_file = input::call_site_file();
    let input = syn::parse_macro_input!(input as input::MacroInput);
    assets::expand(&input, call_file.as_deref())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
