//! Named routes: `get(show).name("account")` on `/accounts/{id}` lets code build
//! `/accounts/7` with `urls.url_for("account", &[("id", &7)])`, and templates with
//! `{{ url_for("account", id=7) }}`.
//!
//! Parameter values are percent-encoded for a path segment (a catch-all `{*rest}` keeps its
//! `/`s); parameters the pattern does not name become the query string, in the order given.
//! An unknown name or a missing parameter is an error that says which (and lists the known
//! names). Duplicate names are refused when the app is built.
//!
//! What it does not do: match requests (that is `matchit`, in `dispatch.rs`).

use super::context::RequestContext;
use super::extract::FromRequest;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use std::fmt;
use std::sync::Arc;

/// Bytes escaped in a path parameter: everything but RFC 3986 `pchar` (unreserved, sub-delims,
/// `:` and `@`), and `'` too, so a URL is safe in any HTML attribute.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'\'')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The same for a catch-all parameter (`{*rest}`), which may span segments.
const CATCH_ALL: &AsciiSet = &SEGMENT.remove(b'/');

/// Why a URL could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// No route has this name.
    UnknownRoute { name: String, known: Vec<String> },
    /// The route's pattern names a parameter that was not given.
    MissingParameter { route: String, parameter: String },
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::UnknownRoute { name, known } => write!(
                f,
                "url_for: no route is named `{name}` (named routes: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
            UrlError::MissingParameter { route, parameter } => write!(
                f,
                "url_for: route `{route}` needs the parameter `{parameter}`"
            ),
        }
    }
}

impl std::error::Error for UrlError {}

#[derive(Debug, Default)]
struct Table {
    /// `(name, pattern)`, sorted by name.
    routes: Vec<(String, String)>,
}

/// The app's named routes (cheap to clone). An extractor in handlers; `BuiltApp::urls` outside
/// requests.
#[derive(Clone, Debug, Default)]
pub struct Urls {
    table: Arc<Table>,
}

/// A piece of a route pattern.
enum Piece<'a> {
    Literal(&'a str),
    Param { name: &'a str, catch_all: bool },
}

fn pieces(pattern: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = pattern;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        // matchit escapes a literal brace by doubling it.
        if let Some(tail) = rest.strip_prefix("{{") {
            rest = tail;
            return Some(Piece::Literal("{"));
        }
        if let Some(tail) = rest.strip_prefix("}}") {
            rest = tail;
            return Some(Piece::Literal("}"));
        }
        if rest.starts_with('{')
            && let Some(close) = rest.find('}')
        {
            let inner = &rest[1..close];
            rest = &rest[close + 1..];
            let catch_all = inner.starts_with('*');
            return Some(Piece::Param {
                name: inner.trim_start_matches('*'),
                catch_all,
            });
        }
        let end = rest[1..]
            .find(['{', '}'])
            .map_or(rest.len(), |index| index + 1);
        let (literal, tail) = rest.split_at(end);
        rest = tail;
        Some(Piece::Literal(literal))
    })
}

impl Urls {
    /// Adds a named route; panics on a duplicate name (a programmer error found at start-up).
    pub(super) fn insert(&mut self, name: &str, pattern: &str) {
        let table = Arc::get_mut(&mut self.table).expect("Urls is built before it is shared");
        match table
            .routes
            .binary_search_by(|(known, _)| known.as_str().cmp(name))
        {
            Ok(_) => panic!("two routes are named {name:?}; route names must be unique"),
            Err(index) => table
                .routes
                .insert(index, (name.to_owned(), pattern.to_owned())),
        }
    }

    /// A copy with a table of its own (one per worker).
    pub(super) fn copy(&self) -> Urls {
        Urls {
            table: Arc::new(Table {
                routes: self.table.routes.clone(),
            }),
        }
    }

    /// `None` when no route has a name.
    pub(super) fn into_shared(self) -> Option<Urls> {
        (!self.table.routes.is_empty()).then_some(self)
    }

    /// The pattern of the route with this name.
    pub fn pattern(&self, name: &str) -> Option<&str> {
        self.table
            .routes
            .binary_search_by(|(known, _)| known.as_str().cmp(name))
            .ok()
            .map(|index| self.table.routes[index].1.as_str())
    }

    /// The names of all named routes, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.table.routes.iter().map(|(name, _)| name.as_str())
    }

    /// Builds the URL of route `name`: `params` fill the pattern's parameters
    /// (percent-encoded) and the others become the query string.
    ///
    /// ```
    /// use kiln::app::{App, get};
    ///
    /// let app = App::new().route("/accounts/{id}", get(|| async { "" }).name("account")).build();
    /// let url = app.urls().url_for("account", &[("id", &7), ("tab", &"a b")]).unwrap();
    /// assert_eq!(url, "/accounts/7?tab=a+b");
    /// ```
    pub fn url_for(
        &self,
        name: &str,
        params: &[(&str, &dyn fmt::Display)],
    ) -> Result<String, UrlError> {
        self.build(
            name,
            params.iter().map(|(key, value)| (*key, value.to_string())),
        )
    }

    /// `url_for` over owned parameter values (what templates pass).
    pub(crate) fn build<'a>(
        &self,
        name: &str,
        params: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Result<String, UrlError> {
        let pattern = self.pattern(name).ok_or_else(|| UrlError::UnknownRoute {
            name: name.to_owned(),
            known: self.names().map(str::to_owned).collect(),
        })?;
        let mut params: Vec<(&str, String, bool)> = params
            .into_iter()
            .map(|(key, value)| (key, value, false))
            .collect();
        let mut url = String::with_capacity(pattern.len() + 16);
        for piece in pieces(pattern) {
            match piece {
                Piece::Literal(text) => url.push_str(text),
                Piece::Param {
                    name: parameter,
                    catch_all,
                } => {
                    let Some(slot) = params.iter_mut().find(|(key, _, _)| *key == parameter) else {
                        return Err(UrlError::MissingParameter {
                            route: name.to_owned(),
                            parameter: parameter.to_owned(),
                        });
                    };
                    slot.2 = true;
                    let set = if catch_all { CATCH_ALL } else { SEGMENT };
                    url.extend(utf8_percent_encode(&slot.1, set));
                }
            }
        }
        let query: Vec<(&str, &str)> = params
            .iter()
            .filter(|(_, _, used)| !used)
            .map(|(key, value, _)| (*key, value.as_str()))
            .collect();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&serde_html_form::to_string(&query).unwrap_or_default());
        }
        Ok(url)
    }
}

/// The app's named routes, to build URLs in a handler.
impl<S> FromRequest<S> for Urls {
    type Rejection = std::convert::Infallible;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Self::Rejection> {
        Ok(cx.scope.urls.clone().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> Urls {
        let mut urls = Urls::default();
        urls.insert("account", "/accounts/{id}");
        urls.insert("file", "/files/{*path}");
        urls.insert("pair", "/a/{x}/b/{y}");
        urls.insert("braces", "/lit/{{x}}/{id}");
        urls
    }

    #[test]
    fn parameters_are_percent_encoded_per_segment() {
        let urls = urls();
        assert_eq!(
            urls.url_for("account", &[("id", &7)]).unwrap(),
            "/accounts/7"
        );
        assert_eq!(
            urls.url_for("account", &[("id", &"a/b c?d#é")]).unwrap(),
            "/accounts/a%2Fb%20c%3Fd%23%C3%A9"
        );
        assert_eq!(
            urls.url_for("file", &[("path", &"css/app a.css")]).unwrap(),
            "/files/css/app%20a.css"
        );
        assert_eq!(
            urls.url_for("pair", &[("y", &2), ("x", &1)]).unwrap(),
            "/a/1/b/2"
        );
        assert_eq!(urls.url_for("braces", &[("id", &3)]).unwrap(), "/lit/{x}/3");
    }

    #[test]
    fn extra_parameters_become_the_query_string() {
        let url = urls()
            .url_for("account", &[("id", &7), ("q", &"x&y"), ("page", &2)])
            .unwrap();
        assert_eq!(url, "/accounts/7?q=x%26y&page=2");
    }

    #[test]
    fn unknown_names_and_missing_parameters_say_what_is_wrong() {
        let error = urls().url_for("acount", &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "url_for: no route is named `acount` (named routes: account, braces, file, pair)"
        );
        let error = urls().url_for("account", &[("ids", &1)]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "url_for: route `account` needs the parameter `id`"
        );
    }

    #[test]
    #[should_panic(expected = "two routes are named \"account\"")] // a start-up programmer error
    fn duplicate_names_are_refused() {
        let mut urls = urls();
        urls.insert("account", "/other/{id}");
    }
}
