//! The request scope: what every template render during a request sees without the handler
//! passing it (the way Flask and Django context processors work).
//!
//! `App` opens one scope per request and makes it current while the request's future is
//! polled (a thread-local, saved and restored around each poll, so interleaved requests on one
//! worker never see each other's scope). Middleware fills it: the CSRF layer stores the token,
//! the session layer the session, and apps add their own values (the logged-in user, the
//! tenant) with `RequestContext::template_values().insert(..)`. `template/` reads it through
//! [`with_current`] when rendering: the `request`, `htmx` and `csrf_token` globals, the
//! `flash_messages()` and `url_for()` functions, and the app values merged into the context.
//!
//! What it does not do: render anything, or outlive its request. Code running outside a
//! request (a background job rendering an e-mail) sees no scope. Tests: `app/tests.rs`
//! (`scope` section) and `template/tests.rs`.

use super::session::Session;
use super::urls::Urls;
use crate::http::Request;
use minijinja::Value;
use std::cell::RefCell;
use std::rc::Rc;

/// Most values an app may add to one request's template context; one more is a programmer
/// error reported in the log and ignored (a loop adding values per item is a bug).
pub const TEMPLATE_VALUES_MAX: usize = 64;

/// What a request's templates see. Shared (`Rc`) between the request's context, the
/// middleware that fill it and the current-scope slot.
#[derive(Debug)]
pub(crate) struct Scope {
    /// The request, its body detached (the head is shared, not copied).
    pub(crate) request: Request,
    /// `None` when the app has no named routes.
    pub(crate) urls: Option<Urls>,
    pub(crate) csrf_token: RefCell<Option<String>>,
    pub(crate) session: RefCell<Option<Session>>,
    values: RefCell<Vec<(String, Value)>>,
}

impl Scope {
    pub(crate) fn new(request: &Request, urls: Option<Urls>) -> Rc<Scope> {
        let mut request = request.clone();
        request.take_body();
        Rc::new(Scope {
            request,
            urls,
            csrf_token: RefCell::new(None),
            session: RefCell::new(None),
            values: RefCell::new(Vec::new()),
        })
    }

    /// The app's values as one map value, or `None` when there are none.
    pub(crate) fn values(&self) -> Option<Value> {
        let values = self.values.borrow();
        if values.is_empty() {
            return None;
        }
        let map: std::collections::BTreeMap<String, Value> = values.iter().cloned().collect();
        Some(Value::from(map))
    }
}

/// Values an app adds to every template render of the current request (see the module docs).
/// A render's own context wins over a value of the same name.
#[derive(Clone, Debug)]
pub struct TemplateValues {
    scope: Rc<Scope>,
}

impl TemplateValues {
    pub(crate) fn new(scope: Rc<Scope>) -> TemplateValues {
        TemplateValues { scope }
    }

    /// Sets `name` to `value` (anything `Serialize`, or a `minijinja::Value`) for every render
    /// in this request, replacing an earlier value of that name.
    pub fn insert(&self, name: impl Into<String>, value: impl serde::Serialize) {
        let name = name.into();
        let value = Value::from(minijinja::value::Serde(value));
        let mut values = self.scope.values.borrow_mut();
        if let Some(slot) = values.iter_mut().find(|(key, _)| *key == name) {
            slot.1 = value;
        } else if values.len() < TEMPLATE_VALUES_MAX {
            values.push((name, value));
        } else {
            tracing::error!(
                name,
                max = TEMPLATE_VALUES_MAX,
                "too many template values in one request; value ignored"
            );
        }
    }

    /// The value set under `name`, if any.
    pub fn get(&self, name: &str) -> Option<Value> {
        let values = self.scope.values.borrow();
        values
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Scope>>> = const { RefCell::new(None) };
}

/// Runs `f` with the current request's scope (`None` outside a request).
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Scope>) -> R) -> R {
    CURRENT.with(|current| match current.try_borrow() {
        Ok(scope) => f(scope.as_deref()),
        // Only reachable if a render happened inside `enter`'s own swap, which it never does.
        Err(_) => f(None),
    })
}

/// Makes `scope` current until the guard is dropped (also on unwind), then restores the
/// scope that was current before.
pub(crate) fn enter(scope: &Rc<Scope>) -> ScopeGuard {
    let previous = CURRENT.with(|current| current.replace(Some(scope.clone())));
    ScopeGuard { previous }
}

pub(crate) struct ScopeGuard {
    previous: Option<Rc<Scope>>,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}
