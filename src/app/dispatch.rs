//! Serving a built app: `BuiltApp::call` routes the request first (so middleware knows the
//! route, and CSRF can leave 404 and 405 to the router), opens the request's template scope,
//! runs the middleware chain down to the endpoint, and on the way out catches a panic as a 500
//! and hands error responses to the app's error pages (`errors.rs`).
//!
//! What it does not do: build the table (`routing.rs`) or read sockets (`server/`).

use super::context::{PathParams, RequestContext, Routing};
use super::errors::ErrorPages;
use super::handler::{Endpoint, ResponseFuture};
use super::middleware::{Middleware, WorkerLayers, wrap};
use super::routing::{MethodRouter, param_names};
use super::scope::{self, Scope};
use super::urls::Urls;
use crate::http::{HeaderValue, Request, Response, StatusCode};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

pub(super) struct Route<S> {
    pub(super) pattern: Arc<str>,
    pub(super) names: Vec<Arc<str>>,
    pub(super) methods: MethodRouter<S>,
}

pub(super) struct RouteTable<S> {
    pub(super) table: matchit::Router<usize>,
    pub(super) routes: Vec<Route<S>>,
    pub(super) fallback: Option<Endpoint<S>>,
}

impl<S: 'static> RouteTable<S> {
    /// Matches the path and fills the context's parameters, route and routing outcome.
    /// A parameter that is not UTF-8 once decoded answers 400 at once.
    fn route(&self, cx: &mut RequestContext<S>) -> Result<(), Response> {
        let Ok(matched) = self.table.at(cx.request.path()) else {
            cx.routing = match self.fallback {
                Some(_) => Routing::Fallback,
                None => Routing::NotFound,
            };
            return Ok(());
        };
        let index = *matched.value;
        let route = &self.routes[index];
        cx.params = decode_params(&matched.params, &route.names)
            .map_err(|reason| Response::error(StatusCode::BAD_REQUEST, reason))?;
        cx.route = Some(route.pattern.clone());
        cx.routing = match route.methods.endpoint_for(cx.request.method()) {
            Some(_) => Routing::Matched(index),
            None => Routing::MethodNotAllowed(index),
        };
        Ok(())
    }

    /// The innermost endpoint of the app-wide middleware chain: runs what routing found.
    pub(super) fn dispatch(&self, cx: RequestContext<S>) -> ResponseFuture {
        match cx.routing {
            Routing::Matched(index) => {
                let methods = &self.routes[index].methods;
                match methods.endpoint_for(cx.request.method()) {
                    Some(endpoint) => endpoint(cx),
                    None => ready(method_not_allowed(methods)),
                }
            }
            Routing::MethodNotAllowed(index) => {
                ready(method_not_allowed(&self.routes[index].methods))
            }
            Routing::Fallback => match &self.fallback {
                Some(fallback) => fallback(cx),
                None => ready(not_found()),
            },
            Routing::NotFound => ready(not_found()),
        }
    }
}

fn ready(response: Response) -> ResponseFuture {
    Box::pin(std::future::ready(response))
}

fn not_found() -> Response {
    Response::error(StatusCode::NOT_FOUND, "not found")
}

fn method_not_allowed<S: 'static>(methods: &MethodRouter<S>) -> Response {
    let mut response = Response::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    if let Ok(allow) = HeaderValue::try_from(methods.allow_header()) {
        let _ = response.set_header("allow", allow);
    }
    response
}

/// Percent-decodes matched parameters; a value that is not UTF-8 once decoded is refused.
fn decode_params(
    params: &matchit::Params<'_, '_>,
    names: &[Arc<str>],
) -> Result<PathParams, &'static str> {
    let mut decoded = Vec::with_capacity(params.len());
    for (index, (name, value)) in params.iter().enumerate() {
        let text = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| "path parameter is not valid UTF-8 once percent-decoded")?;
        let key = names
            .get(index)
            .filter(|known| &***known == name)
            .cloned()
            .unwrap_or_else(|| Arc::from(name));
        decoded.push((key, text.into_owned()));
    }
    Ok(decoded)
}

/// Wraps the innermost endpoint so that its error responses get the app's pages while the
/// middleware (sessions above all) still sees the result.
pub(super) fn render_errors_inside<S: 'static>(
    errors: Arc<ErrorPages<S>>,
    inner: Endpoint<S>,
) -> Endpoint<S> {
    Arc::new(move |cx: RequestContext<S>| {
        let errors = errors.clone();
        let state = cx.state.clone();
        let scope = cx.scope.clone();
        let dev_mode = cx.dev_mode;
        let response = inner(cx);
        Box::pin(async move { errors.render(response.await, &state, &scope, dev_mode) })
    })
}

/// What `App::build` checked and keeps, to make each worker's `BuiltApp` from.
pub(crate) struct Blueprint<S> {
    pub(crate) state: super::routing::StateFactory<S>,
    /// `(pattern, methods)`, in the order they were added (the table's indices).
    pub(crate) routes: Vec<(String, MethodRouter<S>)>,
    pub(crate) fallback: Option<Endpoint<S>>,
    /// App-wide middleware, outermost first.
    pub(crate) layers: Vec<Arc<dyn Middleware<S>>>,
    pub(crate) errors: Option<ErrorPages<S>>,
    pub(crate) urls: Urls,
    pub(crate) dev_mode: bool,
}

/// A built application, ready to serve. The server gives each worker its own
/// (`for_worker`): everything a request clones (the state's `Arc`, the route pattern, the
/// middleware chain, the error pages, the named routes) is then counted per worker, so no
/// atomic reference count is written by every worker on every request. (What the state itself
/// shares is the app's choice: `App::with_state_per_worker` makes it per worker too.)
pub struct BuiltApp<S> {
    blueprint: Arc<Blueprint<S>>,
    pub(super) state: Arc<S>,
    table: Arc<RouteTable<S>>,
    endpoint: Endpoint<S>,
    /// `None` when no route has a name (then requests clone nothing for `url_for`).
    urls: Option<Urls>,
    errors: Option<Arc<ErrorPages<S>>>,
    dev_mode: bool,
}

impl<S> Clone for BuiltApp<S> {
    /// Shares this instance's parts (use `for_worker` for a copy of its own).
    fn clone(&self) -> Self {
        BuiltApp {
            blueprint: self.blueprint.clone(),
            state: self.state.clone(),
            table: self.table.clone(),
            endpoint: self.endpoint.clone(),
            urls: self.urls.clone(),
            errors: self.errors.clone(),
            dev_mode: self.dev_mode,
        }
    }
}

impl<S: Send + Sync + 'static> BuiltApp<S> {
    /// An instance with parts of its own, made from what `App::build` checked.
    pub(crate) fn from_blueprint(blueprint: Arc<Blueprint<S>>) -> BuiltApp<S> {
        let mut layers = WorkerLayers::default();
        let mut table = matchit::Router::new();
        let mut routes = Vec::with_capacity(blueprint.routes.len());
        for (index, (path, methods)) in blueprint.routes.iter().enumerate() {
            // `App::build` inserted these same patterns into a table already.
            if let Err(error) = table.insert(path.clone(), index) {
                unreachable!("route {path:?} was checked when the app was built: {error}");
            }
            routes.push(Route {
                pattern: Arc::from(path.as_str()),
                names: param_names(path),
                methods: methods.for_worker(&mut layers),
            });
        }
        let table = Arc::new(RouteTable {
            table,
            routes,
            fallback: blueprint.fallback.clone(),
        });
        let errors = blueprint.errors.clone().map(Arc::new);
        let dispatch_table = table.clone();
        let mut endpoint: Endpoint<S> = Arc::new(move |cx| dispatch_table.dispatch(cx));
        if let Some(errors) = &errors {
            // Inside the middleware, so what the page does (consume flash messages) is saved
            // by the session layer; errors that middleware itself answers are rendered by
            // `AppFuture` on the way out.
            endpoint = render_errors_inside(errors.clone(), endpoint);
        }
        for layer in blueprint.layers.iter().rev() {
            endpoint = wrap(layers.copy_of(layer), endpoint);
        }
        BuiltApp {
            state: Arc::new((blueprint.state)()),
            table,
            endpoint,
            urls: blueprint.urls.copy().into_shared(),
            errors,
            dev_mode: blueprint.dev_mode,
            blueprint,
        }
    }

    /// A copy with parts of its own, for one worker thread (see the type's docs).
    pub fn for_worker(&self) -> BuiltApp<S> {
        BuiltApp::from_blueprint(self.blueprint.clone())
    }
}

impl<S> std::fmt::Debug for BuiltApp<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BuiltApp")
    }
}

impl<S: Send + Sync + 'static> BuiltApp<S> {
    /// Answers one request.
    pub fn call(&self, request: Request) -> AppFuture<S> {
        let scope = Scope::new(&request, self.urls.clone());
        let mut cx = RequestContext::new(request, self.state.clone(), scope.clone());
        cx.dev_mode = self.dev_mode;
        let inner = match self.table.route(&mut cx) {
            Ok(()) => {
                // Middleware may already render (and read the scope) while it is called.
                let _current = scope::enter(&scope);
                (self.endpoint)(cx)
            }
            Err(response) => ready(response),
        };
        AppFuture {
            scope,
            inner,
            errors: self
                .errors
                .as_ref()
                .map(|errors| (errors.clone(), self.state.clone())),
            dev_mode: self.dev_mode,
        }
    }

    /// The app's named routes, to build URLs outside a request (`Urls::url_for`).
    pub fn urls(&self) -> Urls {
        self.urls.clone().unwrap_or_default()
    }
}

/// The future of one request through the app: polls the handler chain with the request's
/// template scope current, turns a panic into a 500, and renders error responses with the
/// app's error pages.
pub struct AppFuture<S> {
    scope: Rc<Scope>,
    inner: ResponseFuture,
    errors: Option<(Arc<ErrorPages<S>>, Arc<S>)>,
    dev_mode: bool,
}

impl<S> std::fmt::Debug for AppFuture<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppFuture")
    }
}

impl<S: 'static> Future for AppFuture<S> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let this = self.get_mut();
        let _current = scope::enter(&this.scope);
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| this.inner.as_mut().poll(cx)));
        let response = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(response)) => response,
            Err(panic) => panic_response(panic.as_ref(), this.dev_mode),
        };
        let response = match &this.errors {
            Some((errors, state)) => errors.render(response, state, &this.scope, this.dev_mode),
            None => response,
        };
        Poll::Ready(response)
    }
}

/// A 500 for a panicking handler: the panic message in development mode only.
fn panic_response(panic: &(dyn std::any::Any + Send), dev_mode: bool) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "handler panicked");
    let reason = if dev_mode {
        format!("Internal Server Error: handler panicked: {message}")
    } else {
        "Internal Server Error".to_owned()
    };
    Response::error(StatusCode::INTERNAL_SERVER_ERROR, &reason)
}

impl<S: Send + Sync + 'static> crate::server::Service for BuiltApp<S> {
    type Future = AppFuture<S>;
    fn call(&self, request: Request) -> AppFuture<S> {
        BuiltApp::call(self, request)
    }

    fn for_worker(&self) -> Option<BuiltApp<S>> {
        Some(BuiltApp::for_worker(self))
    }
}

impl<S: Clone + Send + Sync + 'static, Stage> crate::server::IntoService for super::App<S, Stage> {
    type Service = BuiltApp<S>;
    fn into_service(self) -> BuiltApp<S> {
        self.build()
    }
}
