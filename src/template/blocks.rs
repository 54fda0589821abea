//! Direct block rendering: render one block of a template (an htmx partial) without evaluating
//! the rest of the template first.
//!
//! minijinja renders a block from the state a whole evaluation leaves behind, so a partial
//! request costs the full page plus the block. For most templates the block's output cannot
//! depend on that evaluation: it sees the root context, plus the top-level declarations
//! (`set`, `import`, `from`, `macro`) of the template and of every template it extends. For
//! such a block, [`derive`] builds a small template from the source: those declarations in
//! the order the full evaluation runs them (the template's own, then its parent's, ...),
//! followed by the block's own `{% block %}...{% endblock %}` text. Rendering that template
//! gives the same output as evaluate-then-render-block, at the cost of the block alone.
//!
//! The analysis is conservative; a block is rendered the full way when any of these holds:
//! - a top-level `do`, or a `set`/`import`/`macro` nested inside a top-level `if`/`for`/`with`/
//!   `filter`/`autoescape` (its effect depends on control flow the derived template skips);
//! - a top-level `set` that mentions `namespace` (other blocks may mutate it meanwhile);
//! - the block's text mentions `super` or `self` (they need the inheritance chain);
//! - an `extends` whose target is not a string literal, or names a template not embedded;
//! - the template does not define the block itself (it is inherited from a parent);
//! - the template does not parse with the environment's syntax.
//!
//! Derived templates are named `<dir>/@block:<block>:<file>` so that the directory (for a
//! path-join callback) and the file suffix (for autoescaping) stay the template's own.
//! What this module does not do: render (that is `Templates::render_blocks`), or analyse
//! templates loaded from disk in development mode (they render the full way).
//! Tests: `template/tests.rs` (direct and full renders compared on many shapes).

use minijinja::machinery::ast::{Expr, Stmt};
use minijinja::machinery::{Span, parse};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::ValueKind;
use std::collections::HashMap;

/// How deep an `extends` chain the analysis follows before giving up (cycles end here too).
const EXTENDS_DEPTH_MAX: usize = 16;

/// The blocks of one template that render directly.
#[derive(Debug, Default)]
pub(crate) struct DirectBlocks {
    /// Block name to the derived template's name.
    pub(crate) blocks: HashMap<String, String>,
    /// Whether the derived templates start with declarations. Several blocks rendered
    /// together then go the full way, so the declarations run once, as documented.
    pub(crate) has_declarations: bool,
}

/// One derived template to add to the environment.
#[derive(Debug)]
pub(crate) struct Derived {
    pub(crate) template: String,
    pub(crate) block: String,
    pub(crate) name: String,
    pub(crate) source: String,
    pub(crate) has_declarations: bool,
}

/// What the top level of one template contributes.
struct TopLevel {
    /// Source text of each top-level declaration, in order.
    declarations: Vec<String>,
    /// The parent template, for `{% extends "name" %}`.
    parent: Option<String>,
    /// `(name, source text)` of every block the template defines, nested ones included.
    blocks: Vec<(String, String)>,
}

/// Derives the direct templates for every eligible block of `files` (`(name, source)`).
pub(crate) fn derive(files: &[(&str, &str)], syntax: &SyntaxConfig) -> Vec<Derived> {
    let sources: HashMap<&str, &str> = files.iter().copied().collect();
    let mut analysed: HashMap<&str, Option<TopLevel>> = HashMap::new();
    for (name, source) in files {
        analysed.insert(name, analyse(name, source, syntax));
    }
    let mut derived = Vec::new();
    for (name, _) in files {
        let Some(Some(top)) = analysed.get(name) else {
            continue;
        };
        let Some(declarations) = chain_declarations(name, &analysed, &sources) else {
            continue;
        };
        for (block, text) in &top.blocks {
            if mentions_inheritance(text) {
                continue;
            }
            let derived_name = derived_name(name, block);
            if sources.contains_key(derived_name.as_str()) {
                continue;
            }
            let mut source = declarations.concat();
            source.push_str(text);
            derived.push(Derived {
                template: (*name).to_owned(),
                block: block.clone(),
                name: derived_name,
                source,
                has_declarations: !declarations.is_empty(),
            });
        }
    }
    derived
}

/// Groups derived templates by template, for lookups at render time.
pub(crate) fn index(derived: &[Derived]) -> HashMap<String, DirectBlocks> {
    let mut index: HashMap<String, DirectBlocks> = HashMap::new();
    for item in derived {
        let entry = index.entry(item.template.clone()).or_default();
        entry.blocks.insert(item.block.clone(), item.name.clone());
        entry.has_declarations |= item.has_declarations;
    }
    index
}

/// `<dir>/@block:<block>:<file>`: same directory and suffix as the template.
pub(crate) fn derived_name(template: &str, block: &str) -> String {
    match template.rsplit_once('/') {
        Some((dir, file)) => format!("{dir}/@block:{block}:{file}"),
        None => format!("@block:{block}:{template}"),
    }
}

/// The declarations the full evaluation runs before a block of `name` renders: the
/// template's own, then each ancestor's. `None` if any template of the chain is ineligible.
fn chain_declarations(
    name: &str,
    analysed: &HashMap<&str, Option<TopLevel>>,
    sources: &HashMap<&str, &str>,
) -> Option<Vec<String>> {
    let mut declarations = Vec::new();
    let mut current = name.to_owned();
    for _ in 0..EXTENDS_DEPTH_MAX {
        let top = analysed.get(current.as_str())?.as_ref()?;
        declarations.extend(top.declarations.iter().cloned());
        match &top.parent {
            None => return Some(declarations),
            Some(parent) if sources.contains_key(parent.as_str()) => current = parent.clone(),
            Some(_) => return None,
        }
    }
    None
}

fn mentions_inheritance(text: &str) -> bool {
    text.contains("super") || text.contains("self")
}

/// The source text of a statement, tags included: the parser's span of a statement starts
/// after the opening delimiter (and any `-`/`+` marker) and ends before the closing one of
/// its last tag. `None` when the surroundings are not exactly that.
fn slice<'s>(source: &'s str, span: Span, (open, close): (&str, &str)) -> Option<&'s str> {
    let (start, end) = (span.start_offset as usize, span.end_offset as usize);
    let before = source.get(..start)?;
    let tag_start = before.rfind(open)?;
    let after = source.get(end..)?;
    let close_at = after.find(close)?;
    let only_marks = |text: &str| {
        text.chars()
            .all(|c| c == '-' || c == '+' || c.is_whitespace())
    };
    if !only_marks(&before[tag_start + open.len()..]) || !only_marks(&after[..close_at]) {
        return None;
    }
    source.get(tag_start..end + close_at + close.len())
}

/// The top level of one template, or `None` when it is ineligible.
fn analyse(name: &str, source: &str, syntax: &SyntaxConfig) -> Option<TopLevel> {
    // Line statements would make a statement's text end without a closing delimiter.
    if syntax.line_statement_prefix().is_some() {
        return None;
    }
    let tags = syntax.block_delimiters();
    let Ok(Stmt::Template(template)) = parse(source, name, syntax.clone()) else {
        return None;
    };
    let mut top = TopLevel {
        declarations: Vec::new(),
        parent: None,
        blocks: Vec::new(),
    };
    for stmt in &template.children {
        let declaration = match stmt {
            Stmt::EmitRaw(_)
            | Stmt::EmitExpr(_)
            | Stmt::Include(_)
            | Stmt::CallBlock(_)
            | Stmt::Block(_) => None,
            Stmt::Set(set) => Some(set.span()),
            Stmt::SetBlock(set) => Some(set.span()),
            Stmt::Import(import) => Some(import.span()),
            Stmt::FromImport(import) => Some(import.span()),
            Stmt::Macro(definition) => Some(definition.span()),
            Stmt::Extends(extends) => {
                let Expr::Const(constant) = &extends.name else {
                    return None;
                };
                if constant.value.kind() != ValueKind::String || top.parent.is_some() {
                    return None;
                }
                top.parent = Some(constant.value.as_str()?.to_owned());
                None
            }
            // Control flow at the top: fine as long as nothing inside declares anything.
            Stmt::IfCond(_)
            | Stmt::ForLoop(_)
            | Stmt::WithBlock(_)
            | Stmt::AutoEscape(_)
            | Stmt::FilterBlock(_) => {
                if !inert(std::slice::from_ref(stmt)) {
                    return None;
                }
                None
            }
            Stmt::Do(_) | Stmt::Template(_) | Stmt::Continue(_) | Stmt::Break(_) => return None,
        };
        if let Some(span) = declaration {
            let text = slice(source, span, tags)?;
            // Other blocks may mutate a namespace between this `set` and the block.
            if matches!(stmt, Stmt::Set(_)) && text.contains("namespace") {
                return None;
            }
            top.declarations.push(text.to_owned());
        }
    }
    collect_blocks(&template.children, source, tags, &mut top.blocks)?;
    Some(top)
}

/// True when these statements (nested in top-level control flow) declare nothing and have
/// no side effect a block could see. Block bodies are not looked into.
fn inert(stmts: &[Stmt<'_>]) -> bool {
    stmts.iter().all(|stmt| match stmt {
        Stmt::EmitRaw(_)
        | Stmt::EmitExpr(_)
        | Stmt::Include(_)
        | Stmt::CallBlock(_)
        | Stmt::Block(_)
        | Stmt::Continue(_)
        | Stmt::Break(_) => true,
        Stmt::IfCond(cond) => inert(&cond.true_body) && inert(&cond.false_body),
        Stmt::ForLoop(for_loop) => inert(&for_loop.body) && inert(&for_loop.else_body),
        Stmt::WithBlock(with) => inert(&with.body),
        Stmt::AutoEscape(auto) => inert(&auto.body),
        Stmt::FilterBlock(filter) => inert(&filter.body),
        Stmt::Set(_)
        | Stmt::SetBlock(_)
        | Stmt::Import(_)
        | Stmt::FromImport(_)
        | Stmt::Macro(_)
        | Stmt::Extends(_)
        | Stmt::Do(_)
        | Stmt::Template(_) => false,
    })
}

/// Every block defined anywhere in `stmts` (outside macro bodies), with its source text.
fn collect_blocks(
    stmts: &[Stmt<'_>],
    source: &str,
    tags: (&str, &str),
    out: &mut Vec<(String, String)>,
) -> Option<()> {
    for stmt in stmts {
        match stmt {
            Stmt::Block(block) => {
                out.push((
                    block.name.to_owned(),
                    slice(source, block.span(), tags)?.to_owned(),
                ));
                collect_blocks(&block.body, source, tags, out)?;
            }
            Stmt::IfCond(cond) => {
                collect_blocks(&cond.true_body, source, tags, out)?;
                collect_blocks(&cond.false_body, source, tags, out)?;
            }
            Stmt::ForLoop(for_loop) => {
                collect_blocks(&for_loop.body, source, tags, out)?;
                collect_blocks(&for_loop.else_body, source, tags, out)?;
            }
            Stmt::WithBlock(with) => collect_blocks(&with.body, source, tags, out)?,
            Stmt::AutoEscape(auto) => collect_blocks(&auto.body, source, tags, out)?,
            Stmt::FilterBlock(filter) => collect_blocks(&filter.body, source, tags, out)?,
            _ => {}
        }
    }
    Some(())
}
