//! Templates: one minijinja environment per process, built from templates embedded (and
//! syntax-checked) at compile time, rendered straight into a reusable per-thread buffer.
//!
//! ```
//! use kiln::template::{EmbeddedTemplates, Templates, minijinja::context};
//!
//! // A path relative to the crate (or the workspace); each file is parsed at compile time.
//! static TEMPLATES: EmbeddedTemplates = kiln::templates!("src/template/testdata");
//!
//! # fn main() -> Result<(), kiln::template::TemplateError> {
//! // `oob.html` calls `count_evaluation()`: without it, `build` fails (see "Name check").
//! let templates = Templates::builder(TEMPLATES)
//!     .configure(|env| env.add_function("count_evaluation", || 1))
//!     .build()?;
//! let page = templates.render("page.html", context! { title => "Hi", items => ["a", "b"] })?;
//! let title = templates.render_block("page.html", "title", context! { title => "Hi" })?;
//! assert_eq!(&title[..], b"Hi");
//! let oob = templates.render_blocks("page.html", &["title", "footer"], context! { title => "Hi" })?;
//! # Ok(()) }
//! ```
//!
//! - **Rendering** writes into the thread's `BytesMut` (`buffer.rs`) through minijinja 3's
//!   `Template::render_captured_to` and splits the output off as `Bytes`: no intermediate
//!   `String`. Blocks use the captured state's `State::render_block_to_write`;
//!   `render_blocks` renders several blocks from one evaluation of the template (htmx
//!   out-of-band swaps).
//! - **Partial renders** (`render_block`, `render_blocks`): when the rest of a template cannot
//!   change a block's output, the block renders alone from a template derived at build time
//!   (the top-level declarations of the template and its parents, then the block's text), so
//!   an htmx partial request costs the block, not the page plus the block. Otherwise (a
//!   `super()` call, a `namespace`, a `set` inside top-level control flow, an inherited block,
//!   development mode, ...) the whole template is evaluated first; both give the same output
//!   (`blocks.rs` lists the rules; `TemplatesBuilder::direct_blocks(false)` turns this off).
//! - **Development mode** (`KILN_DEV=1`, or `TemplatesBuilder::dev_mode`): templates are read
//!   from the embedded directory on disk with minijinja's `path_loader` and reloaded when a
//!   file's modification time or size changes (`Environment::set_auto_reload`), new files
//!   included; errors carry minijinja's debug information. Production mode renders the
//!   embedded copies only and never touches the disk.
//! - **Globals and filters** on every environment: `asset`, `csrf_token`, `htmx_script`,
//!   `htmx_sse_script` (`globals.rs`), `thousands`, `fixed`, `decimal` (`filters.rs`), `date`
//!   (`date.rs`), on top of minijinja's builtins (`tojson` and `urlencode` included). Add your
//!   own with `TemplatesBuilder::configure`.
//! - **Name check** at `build` (`check.rs`): every filter, test and function a template uses
//!   must exist once kiln and the `configure` callbacks have set the environment up, so
//!   ``{{ x|no_such_filter }}`` fails the build (``template `page.html` line 3: unknown filter:
//!   `no_such_filter` ...``, [`TemplateErrorKind::UnknownName`]), not a request. A function
//!   call `f()` passes when `f` is a global (`add_function`, `add_global`, minijinja's `range`,
//!   `namespace`, ...), is bound by a template (macro, `set`, import, `for` target, macro
//!   argument, ...), is `caller`/`super`/`loop`, is provided by kiln's request scope
//!   (`url_for`, `flash_messages`), or is declared with `TemplatesBuilder::context_functions`.
//!   Calls on attributes (`loop.cycle()`) are not checked. In development mode the templates
//!   on disk are checked at build the same way.
//! - Autoescaping follows minijinja's default: HTML for `.html`, `.htm`, `.xml` (also under a
//!   `.j2`/`.jinja` suffix), JSON for `.json`/`.js`, none otherwise.
//!
//! What this module does not do: choose between page and fragment (that is `htmx/`), or turn
//! a `TemplateError` into a response on its own (`TemplateError::to_response`).
//! Tests: `template/tests.rs`, `template/check_tests.rs` (the name check), plus unit tests in
//! `filters.rs` and `date.rs`.

mod blocks;
mod buffer;
mod check;
#[cfg(test)]
mod check_tests;
mod date;
mod error;
mod filters;
mod globals;
#[cfg(test)]
mod tests;

pub use buffer::{RENDER_BUFFER_BYTES_MIN, RENDER_BUFFER_SPARE_BYTES_MIN};
pub use error::{TemplateError, TemplateErrorKind};
pub use globals::csrf_token_value;
/// The minijinja version kiln renders with, for `configure` callbacks and context values.
pub use minijinja;

use crate::assets::{EmbeddedAssets, StaticAssets};
use bytes::{BufMut, Bytes};
use minijinja::Environment;
use minijinja::value::{Serde, Value};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The environment variable that turns development mode on (see `kiln::dev_mode`).
pub use crate::DEV_MODE_ENV_VAR;

/// Templates embedded by `kiln::templates!`. The fields are public so the expansion can be a
/// constant.
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedTemplates {
    /// Absolute path of the source directory at build time (read in development mode only).
    pub dir: &'static str,
    /// `(name, source)`, sorted by name; names are relative to `dir` with `/` separators.
    pub files: &'static [(&'static str, &'static str)],
}

impl EmbeddedTemplates {
    /// The embedded source of a template.
    pub fn get(&self, name: &str) -> Option<&'static str> {
        let files: &'static [(&'static str, &'static str)] = self.files;
        files
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, source)| *source)
    }
}

type Configure = Box<dyn FnOnce(&mut Environment<'static>)>;

/// Options for [`Templates`]; start with [`Templates::builder`].
pub struct TemplatesBuilder {
    embedded: EmbeddedTemplates,
    dev_mode: bool,
    assets: Option<Arc<StaticAssets>>,
    configure: Vec<Configure>,
    direct_blocks: bool,
    /// Names the render context provides as callables (`context_functions`).
    context_functions: Vec<String>,
}

impl std::fmt::Debug for TemplatesBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplatesBuilder")
            .field("dir", &self.embedded.dir)
            .field("dev_mode", &self.dev_mode)
            .field("direct_blocks", &self.direct_blocks)
            .field("context_functions", &self.context_functions)
            .finish_non_exhaustive()
    }
}

impl TemplatesBuilder {
    /// Development mode: load from `EmbeddedTemplates::dir` and reload on change. The default
    /// is on when the environment variable `KILN_DEV` is `1` or `true`.
    pub fn dev_mode(mut self, yes: bool) -> TemplatesBuilder {
        self.dev_mode = yes;
        self
    }

    /// Whether a block can render without evaluating the rest of its template first, when
    /// the output cannot differ (on by default; see "Partial renders" in the module docs).
    /// Off, every block render evaluates the whole template first, as minijinja does.
    pub fn direct_blocks(mut self, yes: bool) -> TemplatesBuilder {
        self.direct_blocks = yes;
        self
    }

    /// The assets `asset("name")` resolves to content-hashed URLs under the prefix written in
    /// the `kiln::assets!` call (give the same `static` to `App::assets` to serve them).
    pub fn assets(mut self, assets: &'static EmbeddedAssets) -> TemplatesBuilder {
        self.assets = Some(Arc::new(StaticAssets::new(assets, assets.prefix)));
        self
    }

    /// Changes the environment after kiln's set-up (add filters, functions, globals, or change
    /// settings such as undefined behaviour). Called once, in order, at `build`.
    pub fn configure(
        mut self,
        configure: impl FnOnce(&mut Environment<'static>) + 'static,
    ) -> TemplatesBuilder {
        self.configure.push(Box::new(configure));
        self
    }

    /// Declares names the render context provides as callables (a `Value::from_function` or
    /// an object passed in `context!{..}`), so that `build` accepts calls like
    /// `{{ format_price(x) }}` to them. Adds to earlier declarations. Names kiln's request
    /// scope provides (`url_for`, `flash_messages`) are always accepted; so are globals added
    /// in `configure`, which need no declaration.
    pub fn context_functions(mut self, names: &[&str]) -> TemplatesBuilder {
        self.context_functions
            .extend(names.iter().map(|name| (*name).to_owned()));
        self
    }

    /// Builds the environment. In production mode every template is compiled now, so a broken
    /// template fails here rather than on a request. Every template's filter, test and
    /// function names are checked against the environment (after `configure`): an unknown
    /// one fails with [`TemplateErrorKind::UnknownName`], naming the template and the line
    /// (see "Name check" in the module docs).
    pub fn build(self) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_debug(self.dev_mode);
        let on_disk = self.dev_mode && Path::new(self.embedded.dir).is_dir();
        if self.dev_mode && !on_disk {
            tracing::warn!(
                dir = self.embedded.dir,
                "development mode: template directory not found; using the embedded templates"
            );
        }
        if on_disk {
            env.set_loader(minijinja::path_loader(self.embedded.dir));
            env.set_auto_reload(true);
        } else {
            for (name, source) in self.embedded.files {
                env.add_template(name, source)
                    .map_err(|error| TemplateError::from_minijinja(error, name))?;
            }
        }
        filters::register(&mut env);
        date::register(&mut env);
        globals::register(&mut env, self.assets.clone());
        for configure in self.configure {
            configure(&mut env);
        }
        let sources = if on_disk {
            check::Sources::Directory(Path::new(self.embedded.dir))
        } else {
            check::Sources::Embedded(self.embedded.files)
        };
        check::check(&env, sources, &self.context_functions)?;
        // Analysed after `configure`, with the syntax the environment ended up with.
        let mut direct = HashMap::new();
        if self.direct_blocks && !on_disk {
            let mut derived = blocks::derive(self.embedded.files, env.syntax());
            // A derived template that does not compile (it should not happen) only means
            // that block renders the full way.
            derived.retain(|item| {
                let added = env.add_template_owned(item.name.clone(), item.source.clone());
                if let Err(error) = &added {
                    tracing::debug!(template = %item.template, block = %item.block, %error,
                        "block renders the full way");
                }
                added.is_ok()
            });
            direct = blocks::index(&derived);
        }
        Ok(Templates {
            inner: Arc::new(Inner {
                env,
                dev_mode: self.dev_mode,
                assets: self.assets,
                direct,
            }),
        })
    }
}

/// The render context: the caller's, then the values the app added to the current request
/// (`TemplateValues`), which the caller's own values of the same name shadow.
fn with_request_values(context: impl Serialize) -> Value {
    let context = Value::from(Serde(context));
    match crate::app::scope::with_current(|scope| scope.and_then(|scope| scope.values())) {
        // The last source wins a name.
        Some(values) => minijinja::value::merge_maps([values, context]),
        None => context,
    }
}

/// The process's templates: cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Templates {
    inner: Arc<Inner>,
}

struct Inner {
    env: Environment<'static>,
    dev_mode: bool,
    assets: Option<Arc<StaticAssets>>,
    /// Per template, the blocks that render directly (`blocks.rs`).
    direct: HashMap<String, blocks::DirectBlocks>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("dev_mode", &self.inner.dev_mode)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// Templates with the default options (development mode from `KILN_DEV`).
    pub fn new(embedded: EmbeddedTemplates) -> Result<Templates, TemplateError> {
        Templates::builder(embedded).build()
    }

    pub fn builder(embedded: EmbeddedTemplates) -> TemplatesBuilder {
        let dev_mode = crate::dev_mode();
        TemplatesBuilder {
            embedded,
            dev_mode,
            assets: None,
            configure: Vec::new(),
            direct_blocks: true,
            context_functions: Vec::new(),
        }
    }

    /// Whether templates load from disk (and errors should show details).
    pub fn dev_mode(&self) -> bool {
        self.inner.dev_mode
    }

    /// The assets given to the builder, to serve them with the same URLs `asset()` produces.
    pub fn static_assets(&self) -> Option<&StaticAssets> {
        self.inner.assets.as_deref()
    }

    /// The minijinja environment, for anything this type does not wrap.
    pub fn environment(&self) -> &Environment<'static> {
        &self.inner.env
    }

    /// Renders a whole template. `context` is anything `Serialize`: a struct or a map passed
    /// as it is, `minijinja::context!{..}` (whose values must be minijinja values: wrap a
    /// plain `Serialize` value with `Value::from(Serde(&value))`, or spread a struct with
    /// `context! { extra => 1, ..Value::from(Serde(&page)) }`), a `minijinja::Value`, or
    /// `()` for none. The request's values (`csrf_token`, `request`, `htmx`, flash messages,
    /// `url_for`, and what middleware added) are there without being passed.
    pub fn render(&self, name: &str, context: impl Serialize) -> Result<Bytes, TemplateError> {
        let template = self.template(name)?;
        let context = with_request_values(context);
        buffer::render_with(|buffer| {
            template
                .render_captured_to(context, buffer.writer())
                .map(drop)
                .map_err(|error| TemplateError::from_minijinja(error, name))
        })
    }

    /// Renders one block of a template (an htmx partial).
    pub fn render_block(
        &self,
        name: &str,
        block: &str,
        context: impl Serialize,
    ) -> Result<Bytes, TemplateError> {
        self.render_blocks(name, &[block], context)
    }

    /// Renders several blocks of a template, in the order given, from one evaluation of the
    /// template (so top-level `set`s and function calls run once), concatenated.
    ///
    /// A block sees the root context and the template's top-level variables. When the rest
    /// of the template cannot change a block's output (see "Partial renders" in the module
    /// docs), the block renders alone; otherwise the whole template is evaluated with its
    /// output discarded and each block renders from the captured state.
    pub fn render_blocks(
        &self,
        name: &str,
        blocks: &[&str],
        context: impl Serialize,
    ) -> Result<Bytes, TemplateError> {
        let context = with_request_values(context);
        let error = |error| TemplateError::from_minijinja(error, name);
        if let Some(direct) = self.direct_blocks(name, blocks) {
            return buffer::render_with(|buffer| {
                blocks.iter().try_for_each(|block| {
                    // Present (`direct_blocks` checked); a miss would be a NotFound error.
                    let derived = direct.blocks.get(*block).map_or("", String::as_str);
                    self.inner
                        .env
                        .get_template(derived)
                        .and_then(|template| {
                            template.render_captured_to(context.clone(), (&mut *buffer).writer())
                        })
                        .map(drop)
                        .map_err(error)
                })
            });
        }
        let template = self.template(name)?;
        buffer::render_with(|buffer| {
            let mut captured = template
                .render_captured_to(context, std::io::sink())
                .map_err(error)?;
            captured.with_state_mut(|state| {
                blocks.iter().try_for_each(|block| {
                    state
                        .render_block_to_write(block, (&mut *buffer).writer())
                        .map_err(error)
                })
            })
        })
    }

    /// Whether `block` of template `name` renders without evaluating the rest of the template
    /// (see "Partial renders" in the module docs).
    pub fn renders_block_directly(&self, name: &str, block: &str) -> bool {
        self.direct_blocks(name, &[block]).is_some()
    }

    /// The derived templates of `name`, if every one of `blocks` renders directly (and, for
    /// several, no declarations would run more than once).
    fn direct_blocks(&self, name: &str, blocks: &[&str]) -> Option<&blocks::DirectBlocks> {
        let direct = self.inner.direct.get(name)?;
        let eligible = !blocks.is_empty()
            && (blocks.len() == 1 || !direct.has_declarations)
            && blocks
                .iter()
                .all(|block| direct.blocks.contains_key(*block));
        eligible.then_some(direct)
    }

    /// Whether a template with this name exists (in development mode: on disk now).
    pub fn contains(&self, name: &str) -> bool {
        self.inner.env.get_template(name).is_ok()
    }

    fn template(&self, name: &str) -> Result<minijinja::Template<'_, '_>, TemplateError> {
        self.inner
            .env
            .get_template(name)
            .map_err(|error| TemplateError::from_minijinja(error, name))
    }
}
