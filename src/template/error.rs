//! `TemplateError`: the one error type of the template module, wrapping minijinja's error with
//! the template name and line, and turning itself into a 500 response.
//!
//! It does not decide whether a response shows details: the caller passes `dev_mode`.
//! Tests: `template/tests.rs`.

use crate::http::{Response, StatusCode};
use std::fmt;

/// What went wrong, broadly.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateErrorKind {
    /// No template (or no block in it) with that name.
    NotFound,
    /// The template does not parse (only in development mode: embedded templates are checked
    /// at compile time).
    Syntax,
    /// The render context could not be converted (a `Serialize` impl failed).
    Context,
    /// Evaluating the template failed: a filter or function error, a bad operation, a failed
    /// write, an undefined value under strict settings...
    Render,
    /// The template uses a filter, test or function the environment does not have. Found by
    /// `TemplatesBuilder::build` (`check.rs`), or at render for what the check cannot see (a
    /// template loaded in development mode after the build, an undeclared context function).
    UnknownName,
}

/// A template could not be loaded or rendered.
///
/// `Display` gives the template name, the line and minijinja's message:
/// ``template `page.html` line 3: invalid operation: ...``.
#[derive(Debug)]
pub struct TemplateError {
    kind: TemplateErrorKind,
    /// The template being rendered (minijinja's name for where it failed wins).
    template: Option<String>,
    line: Option<usize>,
    source: minijinja::Error,
}

impl TemplateError {
    pub(crate) fn from_minijinja(error: minijinja::Error, rendering: &str) -> TemplateError {
        use minijinja::ErrorKind;
        let kind = match error.kind() {
            ErrorKind::TemplateNotFound | ErrorKind::UnknownBlock => TemplateErrorKind::NotFound,
            ErrorKind::SyntaxError => TemplateErrorKind::Syntax,
            ErrorKind::BadSerialization => TemplateErrorKind::Context,
            ErrorKind::UnknownFilter | ErrorKind::UnknownTest | ErrorKind::UnknownFunction => {
                TemplateErrorKind::UnknownName
            }
            _ => TemplateErrorKind::Render,
        };
        TemplateError {
            kind,
            template: Some(error.name().unwrap_or(rendering).to_owned()),
            line: error.line(),
            source: error,
        }
    }

    /// An error found in a template's source without rendering it (`check.rs`): minijinja
    /// knows no line for it, so the caller gives it.
    pub(crate) fn in_source(error: minijinja::Error, template: &str, line: usize) -> TemplateError {
        TemplateError {
            line: Some(line),
            ..TemplateError::from_minijinja(error, template)
        }
    }

    pub fn kind(&self) -> TemplateErrorKind {
        self.kind
    }

    /// The template where the error happened, when known.
    pub fn template_name(&self) -> Option<&str> {
        self.template.as_deref()
    }

    /// The 1-based line in that template, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// A 500 response. In development mode its plain-text body is the whole error with
    /// minijinja's debug information (the source lines around the failure and the variables
    /// in scope); otherwise a generic text that leaks nothing. The error is logged either way.
    pub fn to_response(&self, dev_mode: bool) -> Response {
        tracing::error!(error = %self, "template error");
        if !dev_mode {
            return Response::error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
        let mut text = format!("500 Internal Server Error\n\n{self}\n");
        text.push_str(&format!("\n{:#}\n", self.source));
        let mut cause = std::error::Error::source(&self.source);
        while let Some(error) = cause {
            text.push_str(&format!("\ncaused by: {error:#}\n"));
            cause = error.source();
        }
        Response::error(StatusCode::INTERNAL_SERVER_ERROR, &text)
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.template, self.line) {
            (Some(name), Some(line)) => write!(f, "template `{name}` line {line}: ")?,
            (Some(name), None) => write!(f, "template `{name}`: ")?,
            (None, _) => f.write_str("template error: ")?,
        }
        match self.source.detail() {
            Some(detail) => write!(f, "{}: {detail}", self.source.kind()),
            None => write!(f, "{}", self.source.kind()),
        }
    }
}

impl std::error::Error for TemplateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
