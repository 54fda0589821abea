//! The build-time name check: every filter, test and function a template uses must exist, so a
//! typo or a forgotten `add_filter` fails `TemplatesBuilder::build` instead of a request.
//!
//! Each template is parsed with minijinja's parser (`unstable_machinery`, as `blocks.rs` does)
//! and its syntax tree walked once, collecting the names it uses and the names it binds. Then,
//! against the environment as `build` leaves it (minijinja's builtins, kiln's registrations,
//! every `configure` callback):
//! - a filter (`x|name`, `{% filter name %}`) must be a filter of the environment;
//! - a test (`x is name`) must be a test of the environment;
//! - a function call `name(...)` must name a global of the environment (`add_function`,
//!   `add_global`, and minijinja's `range`, `dict`, `namespace`, `debug`), a name some template
//!   binds, a name the template machinery provides ([`TEMPLATE_NAMES`]), or one the app declared
//!   with `TemplatesBuilder::context_functions`. (kiln's request-scoped `csrf_token`,
//!   `url_for` and `flash_messages` are globals, `globals.rs`.)
//!
//! "Some template binds" is deliberately not scoped to the template making the call: in
//! minijinja an included template sees the macros and variables of the one including it, and
//! a child's blocks see what its parent defines at the top level (`{% from %}`, `{% macro %}`,
//! `{% set %}`), so any binding anywhere (macro, macro argument, `set`, `import`, `from ...
//! import`, `for` target, `with`) counts. So a call that a binding resolves at render is never
//! refused; the price is that a call to a name only some unrelated template binds is missed.
//!
//! Calls on attributes (`loop.cycle()`, `x.items()`, `self.block()`) and on other values are
//! never checked, nor are plain variable lookups. A template that does not parse is skipped:
//! its syntax error is reported elsewhere (by `kiln::templates!` at compile time, by
//! `add_template` at build, or at render in development mode).
//!
//! What this module does not do: check templates that appear on disk after the build in
//! development mode (they fail at render, as before), or follow `{% if "x" is filter %}`
//! guards (a guarded use of a missing filter is still refused).
//! Tests: `template/check_tests.rs`.

use super::TemplateError;
use minijinja::machinery::ast::{Call, CallArg, Expr, Macro, Spanned, Stmt};
use minijinja::machinery::{Span, parse};
use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind, State};
use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;

/// Names the template machinery provides without a binding the walk can see: `caller` in a
/// macro called from a call block, `super` and `self` in blocks, `loop` in `for` bodies, and
/// Jinja2's `varargs`/`kwargs` in macros (minijinja has no such names; a call to one fails at
/// render all the same, so accepting them hides nothing worse than before).
const TEMPLATE_NAMES: &[&str] = &["caller", "super", "self", "loop", "varargs", "kwargs"];

/// How many further unknown names the error lists after the first one.
const UNKNOWN_NAMES_LISTED_MAX: usize = 10;

/// Development mode: how deep the template directory is walked (a symlink loop ends here).
const DIRECTORY_DEPTH_MAX: usize = 32;

/// Development mode: how many files of the template directory are checked.
const FILE_COUNT_MAX: usize = 10_000;

/// Where `check` finds the templates' sources.
pub(crate) enum Sources<'s> {
    /// `(name, source)`: the embedded templates.
    Embedded(&'s [(&'static str, &'static str)]),
    /// The development-mode directory: every file under it, hidden names skipped, as
    /// `kiln::templates!` embeds them.
    Directory(&'s Path),
}

/// Checks the filter, test and function names of every template against `env`. The first
/// unknown name (by template name, then position) is the error; others are listed in it.
pub(crate) fn check(
    env: &Environment<'_>,
    sources: Sources<'_>,
    context_functions: &[String],
) -> Result<(), TemplateError> {
    let owned;
    let files: Vec<(&str, &str)> = match sources {
        Sources::Embedded(files) => files.to_vec(),
        Sources::Directory(dir) => {
            owned = read_directory(dir);
            owned
                .iter()
                .map(|(name, source)| (name.as_str(), source.as_str()))
                .collect()
        }
    };
    let mut walk = Walk::default();
    for (index, (name, source)) in files.iter().enumerate() {
        walk.template(index, name, source, env.syntax());
    }
    let known = Known {
        state: env.empty_state(),
        globals: env.globals().map(|(name, _)| name).collect(),
        bound: &walk.bound,
        context_functions,
    };
    let mut unknown = walk.uses.iter().filter(|found| !known.contains(found));
    match unknown.next() {
        None => Ok(()),
        Some(first) => Err(report(&files, first, unknown)),
    }
}

/// The error for the first unknown name, listing (some of) the others.
fn report<'u, 's: 'u>(
    files: &[(&str, &str)],
    first: &Use<'s>,
    mut others: impl Iterator<Item = &'u Use<'s>>,
) -> TemplateError {
    let mut detail = format!("`{}` {}", first.name(), first.kind.missing_from());
    let listed: Vec<String> = others
        .by_ref()
        .take(UNKNOWN_NAMES_LISTED_MAX)
        .map(|found| {
            let (kind, template, line) = (found.kind.noun(), files[found.template].0, found.line);
            format!("{kind} `{}` (`{template}` line {line})", found.name())
        })
        .collect();
    if !listed.is_empty() {
        detail.push_str(&format!("; also unknown: {}", listed.join(", ")));
        let more = others.count();
        if more > 0 {
            detail.push_str(&format!(" and {more} more"));
        }
    }
    let error = minijinja::Error::new(first.kind.error_kind(), detail);
    TemplateError::in_source(error, files[first.template].0, first.line)
}

/// What a use names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UseKind {
    Filter,
    Test,
    Function,
}

impl UseKind {
    fn error_kind(self) -> ErrorKind {
        match self {
            UseKind::Filter => ErrorKind::UnknownFilter,
            UseKind::Test => ErrorKind::UnknownTest,
            UseKind::Function => ErrorKind::UnknownFunction,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            UseKind::Filter => "filter",
            UseKind::Test => "test",
            UseKind::Function => "function",
        }
    }

    fn missing_from(self) -> &'static str {
        match self {
            UseKind::Filter => "is not a filter of the environment (add it in `configure`)",
            UseKind::Test => "is not a test of the environment (add it in `configure`)",
            UseKind::Function => {
                "is not a global of the environment, bound by any template, nor declared with \
                 `TemplatesBuilder::context_functions`"
            }
        }
    }
}

/// One filter, test or function name a template uses.
#[derive(Debug)]
struct Use<'s> {
    /// Index of the template in the checked list.
    template: usize,
    kind: UseKind,
    /// As written; a dotted filter or test name may hold whitespace (`a . b`).
    written: &'s str,
    /// 1-based.
    line: usize,
}

impl Use<'_> {
    /// The name as minijinja looks it up: ASCII whitespace removed (`a . b` is `a.b`).
    fn name(&self) -> Cow<'_, str> {
        if self.written.bytes().any(|b| b.is_ascii_whitespace()) {
            Cow::Owned(
                self.written
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect(),
            )
        } else {
            Cow::Borrowed(self.written)
        }
    }
}

/// The names the environment and the templates provide.
struct Known<'k> {
    /// For minijinja's `is_filter` and `is_test`, which look into the environment.
    state: State<'k, 'k>,
    globals: HashSet<&'k str>,
    bound: &'k HashSet<&'k str>,
    context_functions: &'k [String],
}

impl Known<'_> {
    fn contains(&self, found: &Use<'_>) -> bool {
        let name = found.name();
        let name = name.as_ref();
        match found.kind {
            // minijinja documents its built-in tests as not meant for Rust callers; a change
            // of signature breaks this build, it cannot go unnoticed.
            UseKind::Filter => minijinja::tests::is_filter(&self.state, name),
            UseKind::Test => minijinja::tests::is_test(&self.state, name),
            UseKind::Function => {
                self.globals.contains(name)
                    || self.bound.contains(name)
                    || TEMPLATE_NAMES.contains(&name)
                    || self
                        .context_functions
                        .iter()
                        .any(|declared| declared == name)
            }
        }
    }
}

/// The walk over every template's syntax tree.
#[derive(Default)]
struct Walk<'s> {
    /// Names bound anywhere, in any template.
    bound: HashSet<&'s str>,
    /// Uses, by template, then in source order.
    uses: Vec<Use<'s>>,
    /// The template being walked.
    template: usize,
}

impl<'s> Walk<'s> {
    fn template(&mut self, index: usize, name: &'s str, source: &'s str, syntax: &SyntaxConfig) {
        // The parser bounds the nesting depth, so the recursion below is bounded too.
        let Ok(tree) = parse(source, name, syntax.clone()) else {
            return;
        };
        self.template = index;
        let first = self.uses.len();
        self.stmt(&tree);
        // The walk visits a filter's operand first, so this only settles odd orders.
        self.uses[first..].sort_by_key(|found| found.line);
    }

    fn used(&mut self, kind: UseKind, written: &'s str, span: Span) {
        self.uses.push(Use {
            template: self.template,
            kind,
            written,
            line: usize::from(span.start_line),
        });
    }

    /// An assignment target: `x`, `(a, b)`, `[a, b]`; `ns.x` binds nothing.
    fn bind(&mut self, target: &Expr<'s>) {
        match target {
            Expr::Var(var) => {
                self.bound.insert(var.id);
            }
            Expr::List(list) => list.items.iter().for_each(|item| self.bind(item)),
            Expr::Tuple(tuple) => tuple.items.iter().for_each(|item| self.bind(item)),
            other => self.expr(other),
        }
    }

    fn stmts(&mut self, stmts: &[Stmt<'s>]) {
        stmts.iter().for_each(|stmt| self.stmt(stmt));
    }

    fn stmt(&mut self, stmt: &Stmt<'s>) {
        match stmt {
            Stmt::Template(template) => self.stmts(&template.children),
            Stmt::EmitExpr(emit) => self.expr(&emit.expr),
            Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
            Stmt::ForLoop(for_loop) => {
                self.bind(&for_loop.target);
                self.expr(&for_loop.iter);
                self.exprs(for_loop.filter_expr.as_slice());
                self.stmts(&for_loop.body);
                self.stmts(&for_loop.else_body);
            }
            Stmt::IfCond(cond) => {
                self.expr(&cond.expr);
                self.stmts(&cond.true_body);
                self.stmts(&cond.false_body);
            }
            Stmt::WithBlock(with) => {
                for (target, value) in &with.assignments {
                    self.bind(target);
                    self.expr(value);
                }
                self.stmts(&with.body);
            }
            Stmt::Set(set) => {
                self.bind(&set.target);
                self.expr(&set.expr);
            }
            Stmt::SetBlock(set) => {
                self.bind(&set.target);
                self.exprs(set.filter.as_slice());
                self.stmts(&set.body);
            }
            Stmt::AutoEscape(auto) => {
                self.expr(&auto.enabled);
                self.stmts(&auto.body);
            }
            Stmt::FilterBlock(filter) => {
                self.expr(&filter.filter);
                self.stmts(&filter.body);
            }
            Stmt::Block(block) => self.stmts(&block.body),
            Stmt::Extends(extends) => self.expr(&extends.name),
            Stmt::Include(include) => self.expr(&include.name),
            Stmt::Import(import) => {
                self.expr(&import.expr);
                self.bind(&import.name);
            }
            Stmt::FromImport(import) => {
                self.expr(&import.expr);
                for (name, alias) in &import.names {
                    self.bind(alias.as_ref().unwrap_or(name));
                }
            }
            Stmt::Macro(definition) => {
                self.bound.insert(definition.name);
                self.macro_definition(definition);
            }
            Stmt::CallBlock(call) => {
                self.call(&call.call);
                self.macro_definition(&call.macro_decl);
            }
            Stmt::Do(call) => self.call(&call.call),
        }
    }

    fn macro_definition(&mut self, definition: &Macro<'s>) {
        definition.args.iter().for_each(|arg| self.bind(arg));
        self.exprs(&definition.defaults);
        self.stmts(&definition.body);
    }

    fn exprs(&mut self, exprs: &[Expr<'s>]) {
        exprs.iter().for_each(|expr| self.expr(expr));
    }

    fn expr(&mut self, expr: &Expr<'s>) {
        match expr {
            Expr::Var(_) | Expr::Const(_) => {}
            Expr::Slice(slice) => {
                self.expr(&slice.expr);
                self.exprs(slice.start.as_slice());
                self.exprs(slice.stop.as_slice());
                self.exprs(slice.step.as_slice());
            }
            Expr::UnaryOp(op) => self.expr(&op.expr),
            Expr::BinOp(op) => {
                self.expr(&op.left);
                self.expr(&op.right);
            }
            Expr::Compare(compare) => {
                self.expr(&compare.expr);
                compare.ops.iter().for_each(|op| self.expr(&op.expr));
            }
            Expr::IfExpr(if_expr) => {
                self.expr(&if_expr.test_expr);
                self.expr(&if_expr.true_expr);
                self.exprs(if_expr.false_expr.as_slice());
            }
            Expr::Filter(filter) => {
                self.exprs(filter.expr.as_slice());
                self.used(UseKind::Filter, filter.name, filter.span());
                self.args(&filter.args);
            }
            Expr::Test(test) => {
                self.expr(&test.expr);
                self.used(UseKind::Test, test.name, test.span());
                self.args(&test.args);
            }
            Expr::GetAttr(attr) => self.expr(&attr.expr),
            Expr::GetItem(item) => {
                self.expr(&item.expr);
                self.expr(&item.subscript_expr);
            }
            Expr::Call(call) => self.call(call),
            Expr::List(list) => self.exprs(&list.items),
            Expr::Tuple(tuple) => self.exprs(&tuple.items),
            Expr::Map(map) => {
                self.exprs(&map.keys);
                self.exprs(&map.values);
            }
        }
    }

    /// `name(...)` is a function use; `x.name(...)` and `(expr)(...)` are not checked.
    fn call(&mut self, call: &Spanned<Call<'s>>) {
        match &call.expr {
            Expr::Var(var) => self.used(UseKind::Function, var.id, var.span()),
            callee => self.expr(callee),
        }
        self.args(&call.args);
    }

    fn args(&mut self, args: &[CallArg<'s>]) {
        for arg in args {
            match arg {
                CallArg::Pos(expr)
                | CallArg::Kwarg(_, expr)
                | CallArg::PosSplat(expr)
                | CallArg::KwargSplat(expr) => self.expr(expr),
            }
        }
    }
}

/// Every readable UTF-8 file under `dir`, named as `kiln::templates!` names them. Unreadable
/// entries are skipped with a warning: in development mode they fail at render, as before.
fn read_directory(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    read_directory_into(dir, "", 0, &mut files);
    files.sort();
    files
}

fn read_directory_into(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<(String, String)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) if depth <= DIRECTORY_DEPTH_MAX => entries,
        Ok(_) => {
            tracing::warn!(dir = %dir.display(), "template check: directory nests too deep");
            return;
        }
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "template check: cannot list");
            return;
        }
    };
    for entry in entries.flatten() {
        let Ok(file_name) = entry.file_name().into_string() else {
            continue;
        };
        if file_name.starts_with('.') {
            continue;
        }
        if out.len() == FILE_COUNT_MAX {
            tracing::warn!(dir = %dir.display(), "template check: too many files, rest skipped");
            return;
        }
        let name = format!("{prefix}{file_name}");
        let path = entry.path();
        // `metadata` follows symlinks, as the macro does.
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            read_directory_into(&path, &format!("{name}/"), depth + 1, out);
        } else if metadata.is_file() {
            match std::fs::read_to_string(&path) {
                Ok(source) => out.push((name, source)),
                Err(error) => {
                    tracing::warn!(file = %path.display(), %error, "template check: cannot read");
                }
            }
        }
    }
}
