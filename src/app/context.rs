//! `RequestContext`: a request on its way through middleware to a handler, with what routing
//! found (path parameters, the matched route), the app state and typed extensions that
//! middleware leaves for extractors (session, CSRF token, request id).
//!
//! Plain data; the routing that fills it is in `routing.rs`, the extraction in `extract.rs`.

use super::scope::{Scope, TemplateValues};
use crate::http::Request;
use std::any::{Any, TypeId};
use std::rc::Rc;
use std::sync::Arc;

/// Path parameters, percent-decoded, in the order of the route pattern.
pub type PathParams = Vec<(Arc<str>, String)>;

/// Values middleware attaches to a request, one per type.
#[derive(Default)]
pub struct Extensions {
    values: Vec<(TypeId, Box<dyn Any>)>,
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extensions")
            .field("count", &self.values.len())
            .finish()
    }
}

impl Extensions {
    /// Inserts a value, replacing any earlier value of the same type.
    pub fn insert<T: 'static>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        match self.values.iter_mut().find(|(key, _)| *key == id) {
            Some((_, slot)) => *slot = Box::new(value),
            None => self.values.push((id, Box::new(value))),
        }
    }

    pub fn get<T: 'static>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.values
            .iter()
            .find(|(key, _)| *key == id)
            .and_then(|(_, value)| value.downcast_ref())
    }

    pub fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        let id = TypeId::of::<T>();
        self.values
            .iter_mut()
            .find(|(key, _)| *key == id)
            .and_then(|(_, value)| value.downcast_mut())
    }

    pub fn remove<T: 'static>(&mut self) -> Option<T> {
        let id = TypeId::of::<T>();
        let index = self.values.iter().position(|(key, _)| *key == id)?;
        let (_, value) = self.values.swap_remove(index);
        value.downcast().ok().map(|boxed| *boxed)
    }
}

/// What routing found for a request (routing runs before any middleware).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// A route matched and answers this method (the index of the route).
    Matched(usize),
    /// A route matched the path but not the method: the answer is 405.
    MethodNotAllowed(usize),
    /// No route matched and the app has a fallback handler.
    Fallback,
    /// No route matched and there is no fallback: the answer is 404.
    NotFound,
}

impl Routing {
    /// Whether a handler (a route's or the fallback) will see the request; `false` when the
    /// router itself answers 404 or 405.
    pub fn reaches_handler(self) -> bool {
        matches!(self, Routing::Matched(_) | Routing::Fallback)
    }
}

/// A request plus what the app knows about it so far.
#[derive(Debug)]
pub struct RequestContext<S> {
    pub request: Request,
    pub(crate) params: PathParams,
    pub(crate) route: Option<Arc<str>>,
    pub(crate) routing: Routing,
    pub(crate) state: Arc<S>,
    pub(crate) scope: Rc<Scope>,
    pub(crate) dev_mode: bool,
    pub extensions: Extensions,
}

impl<S> RequestContext<S> {
    pub(crate) fn new(request: Request, state: Arc<S>, scope: Rc<Scope>) -> RequestContext<S> {
        RequestContext {
            request,
            params: Vec::new(),
            route: None,
            routing: Routing::NotFound,
            state,
            scope,
            dev_mode: false,
            extensions: Extensions::default(),
        }
    }

    /// The route pattern that matched (`/accounts/{id}`); `None` for unknown paths.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// What routing found (known before any middleware runs).
    pub fn routing(&self) -> Routing {
        self.routing
    }

    pub fn state(&self) -> &S {
        &self.state
    }

    /// Whether the app runs in development mode (error pages show details).
    pub fn dev_mode(&self) -> bool {
        self.dev_mode
    }

    /// A path parameter by name, percent-decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| &**key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Values every template render in this request sees (middleware adds the logged-in user,
    /// the tenant...): see `kiln::app::TemplateValues`.
    pub fn template_values(&self) -> TemplateValues {
        TemplateValues::new(self.scope.clone())
    }
}
