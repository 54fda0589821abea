//! `templates!`: reads every template under a directory, parses each with minijinja, checks
//! literal `extends`/`include`/`import`/`from` references, and expands to an
//! `EmbeddedTemplates` constant.
//!
//! What it does not check: undefined variables, unknown filters or functions, and block names
//! (all of them are only known at render time). Tests: the unit tests at the bottom and the
//! trybuild cases in `macros/tests/`.

use crate::input::{self, MacroInput};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use std::path::Path;

pub fn expand(input: &MacroInput, call_file: Option<&Path>) -> syn::Result<TokenStream> {
    let span = input.path.span();
    if let Some(prefix) = &input.prefix {
        return Err(syn::Error::new(
            prefix.span(),
            "`prefix` is for `assets!`: templates have no URL",
        ));
    }
    let written = input.path.value();
    let dir = input::resolve_dir(&written, call_file, span)?;
    let files = input::list_files(&dir, span)?;
    let mut sources = Vec::with_capacity(files.len());
    for file in &files {
        let source = std::fs::read_to_string(&file.absolute).map_err(|error| {
            let shown = input::display_path(&written, &file.name);
            syn::Error::new(span, format!("cannot read template {shown}: {error}"))
        })?;
        sources.push(source);
    }
    check_all(&written, &files, &sources, span)?;

    let krate = &input.krate;
    let dir_str = input::path_str(&dir, span)?;
    let names = files.iter().map(|file| file.name.as_str());
    let paths = files
        .iter()
        .map(|file| input::path_str(&file.absolute, span))
        .collect::<syn::Result<Vec<_>>>()?;
    Ok(quote! {{
        const __KILN_EMBEDDED_TEMPLATES: #krate::template::EmbeddedTemplates =
            #krate::template::EmbeddedTemplates {
                dir: #dir_str,
                files: &[ #( (#names, ::core::include_str!(#paths)), )* ],
            };
        __KILN_EMBEDDED_TEMPLATES
    }})
}

/// Parses every template and checks references; all problems are reported, not just the first.
fn check_all(
    written: &str,
    files: &[input::FoundFile],
    sources: &[String],
    span: Span,
) -> syn::Result<()> {
    let mut env = minijinja::Environment::new();
    let mut errors: Option<syn::Error> = None;
    let mut report = |message: String| {
        let error = syn::Error::new(span, message);
        match &mut errors {
            Some(errors) => errors.combine(error),
            None => errors = Some(error),
        }
    };
    for (file, source) in files.iter().zip(sources) {
        if let Err(error) = env.add_template(&file.name, source) {
            let shown = input::display_path(written, &file.name);
            report(syntax_message(&shown, source, &error));
        }
    }
    for (file, source) in files.iter().zip(sources) {
        for reference in literal_references(source) {
            if files.iter().any(|f| f.name == reference.name) {
                continue;
            }
            let (line, column) = line_column(source, reference.offset);
            let shown = input::display_path(written, &file.name);
            report(format!(
                "missing template referenced in {shown}:{line}:{column}: `{}` names \"{}\", \
                 which does not exist in {written}",
                reference.keyword, reference.name
            ));
        }
    }
    match errors {
        Some(errors) => Err(errors),
        None => Ok(()),
    }
}

/// `template syntax error in <file>:<line>:<column>: <minijinja's message>`.
fn syntax_message(shown: &str, source: &str, error: &minijinja::Error) -> String {
    let cause = match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    };
    let location = match (error.range(), error.line()) {
        (Some(range), _) => {
            let (line, column) = line_column(source, range.start);
            format!("{line}:{column}")
        }
        (None, Some(line)) => line.to_string(),
        (None, None) => "?".to_owned(),
    };
    format!("template syntax error in {shown}:{location}: {cause}")
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// A literal template name in an `extends`, `include`, `import` or `from` tag.
#[derive(Debug, PartialEq, Eq)]
struct Reference {
    keyword: &'static str,
    name: String,
    /// Byte offset of the tag's `{%`.
    offset: usize,
}

/// Finds the tags that reference other templates by a literal name.
///
/// A small scanner, not a parser: it skips comments, `{{ .. }}` expressions and `{% raw %}`
/// sections, and only looks at tags whose first word is one of the four keywords followed by a
/// quoted string. Anything fancier (a list, a variable, `ignore missing`) is left to run time.
fn literal_references(source: &str) -> Vec<Reference> {
    let mut found = Vec::new();
    let mut rest = 0;
    while let Some(start) = source[rest..].find('{').map(|i| rest + i) {
        let after = &source[start..];
        let (close, is_tag) = if after.starts_with("{#") {
            ("#}", false)
        } else if after.starts_with("{{") {
            ("}}", false)
        } else if after.starts_with("{%") {
            ("%}", true)
        } else {
            rest = start + 1;
            continue;
        };
        let Some(end) = find_close(after, close) else {
            break;
        };
        rest = start + end + 2;
        if !is_tag {
            continue;
        }
        let body = tag_body(&after[2..end]);
        if first_word(body) == "raw" {
            rest = skip_raw(source, rest);
            continue;
        }
        if let Some((keyword, name)) = reference_in(body) {
            found.push(Reference {
                keyword,
                name,
                offset: start,
            });
        }
    }
    found
}

/// Index of `close` in `text`, skipping quoted strings (which may contain `%}`).
fn find_close(text: &str, close: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 2;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            (Some(_), b'\\') => i += 1,
            (Some(q), b) if b == q => quote = None,
            (None, b'"' | b'\'') => quote = Some(bytes[i]),
            (None, _) if text[i..].starts_with(close) => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The tag's content without whitespace-control markers and surrounding space.
fn tag_body(inner: &str) -> &str {
    let inner = inner.strip_prefix(['-', '+', '~']).unwrap_or(inner);
    let inner = inner.strip_suffix(['-', '+', '~']).unwrap_or(inner);
    inner.trim()
}

fn first_word(body: &str) -> &str {
    body.split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .next()
        .unwrap_or("")
}

/// Where scanning resumes after `{% raw %}`: past the matching `{% endraw %}`.
fn skip_raw(source: &str, from: usize) -> usize {
    let mut at = from;
    while let Some(start) = source[at..].find("{%").map(|i| at + i) {
        let Some(end) = source[start..].find("%}").map(|i| start + i) else {
            return source.len();
        };
        if tag_body(&source[start + 2..end]) == "endraw" {
            return end + 2;
        }
        at = end + 2;
    }
    source.len()
}

fn reference_in(body: &str) -> Option<(&'static str, String)> {
    let keyword = match first_word(body) {
        "extends" => "extends",
        "include" => "include",
        "import" => "import",
        "from" => "from",
        _ => return None,
    };
    let rest = body[keyword.len()..].trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let literal = &rest[1..];
    let end = literal.find(quote)?;
    let name = &literal[..end];
    let after = literal[end + 1..].trim_start();
    let dynamic = name.contains('\\') || after.starts_with(['~', '+', '|', '[', '.']);
    if dynamic || (keyword == "include" && after.contains("ignore missing")) {
        return None;
    }
    Some((keyword, name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(source: &str) -> Vec<(&'static str, String)> {
        literal_references(source)
            .into_iter()
            .map(|r| (r.keyword, r.name))
            .collect()
    }

    #[test]
    fn finds_the_four_reference_tags() {
        let source = r#"{% extends "base.html" %}
{%- include 'part.html' -%}{% import "macros.html" as m %}
{% from "forms.html" import field %}{{ "{% include 'not_a_tag.html' %}" }}"#;
        assert_eq!(
            names(source),
            [
                ("extends", "base.html".to_owned()),
                ("include", "part.html".to_owned()),
                ("import", "macros.html".to_owned()),
                ("from", "forms.html".to_owned()),
            ]
        );
    }

    #[test]
    fn skips_comments_raw_dynamic_and_optional_includes() {
        let source = r#"{# {% include "commented.html" %} #}
{% raw %}{% include "raw.html" %}{% endraw %}
{% include "maybe.html" ignore missing %}{% include ["a.html", "b.html"] %}
{% include name %}{% extends "layouts/" ~ kind %}{% include "after_raw.html" %}"#;
        assert_eq!(names(source), [("include", "after_raw.html".to_owned())]);
    }

    #[test]
    fn reference_offset_points_at_the_tag() {
        let source = "line one\n  {% include \"x.html\" %}";
        let reference = &literal_references(source)[0];
        assert_eq!(line_column(source, reference.offset), (2, 3));
    }

    #[test]
    fn syntax_message_names_file_line_and_column() {
        let source = "<p>\n  {{ name }\n</p>";
        let mut env = minijinja::Environment::new();
        let error = env.add_template("page.html", source).unwrap_err();
        let message = syntax_message("templates/app/page.html", source, &error);
        assert!(
            message.starts_with("template syntax error in templates/app/page.html:2:"),
            "{message}"
        );
        assert!(message.contains("syntax error"), "{message}");
    }
}
