//! Routing: `App` (state, routes, nesting, fallback, app-wide middleware) and `Router`
//! (a group of routes with its own middleware, for `nest`), matched with `matchit`.
//!
//! 404 for unknown paths (or the fallback), 405 with `Allow` for known paths with another
//! method, HEAD answered by the GET handler (the server drops the body). Routes may be named
//! for `url_for` (`urls.rs`). Route conflicts and duplicate names are programmer errors and
//! panic while the app is built, never while serving. Serving a built app is `dispatch.rs`.

use super::context::RequestContext;
use super::dispatch::{Blueprint, BuiltApp};
use super::errors::{ErrorPage, ErrorPages};
use super::handler::{Endpoint, Handler};
use super::middleware::{Middleware, WorkerLayers, wrap};
use super::response::IntoResponse;
use super::urls::Urls;
use crate::assets::{EmbeddedAssets, StaticAssets};
use crate::http::{HeaderValue, Method, Response, StatusCode};
use std::sync::Arc;

/// The methods a route answers, each with its endpoint, the route's name (for `url_for`) and
/// the middleware of the routers it was nested in (applied per worker when the app starts).
pub struct MethodRouter<S> {
    endpoints: Vec<(Method, Endpoint<S>)>,
    any: Option<Endpoint<S>>,
    name: Option<String>,
    /// Outermost first.
    layers: Vec<Arc<dyn Middleware<S>>>,
}

impl<S> Clone for MethodRouter<S> {
    fn clone(&self) -> Self {
        MethodRouter {
            endpoints: self.endpoints.clone(),
            any: self.any.clone(),
            name: self.name.clone(),
            layers: self.layers.clone(),
        }
    }
}

impl<S> std::fmt::Debug for MethodRouter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let methods: Vec<&str> = self.endpoints.iter().map(|(m, _)| m.as_str()).collect();
        f.debug_struct("MethodRouter")
            .field("methods", &methods)
            .field("any", &self.any.is_some())
            .finish()
    }
}

macro_rules! method_fns {
    ($($name:ident => $method:expr,)*) => {
        $(
            #[doc = concat!("A route answering ", stringify!($name), " with `handler`.")]
            pub fn $name<H, T, S>(handler: H) -> MethodRouter<S>
            where
                H: Handler<T, S>,
                S: 'static,
            {
                MethodRouter::new().on($method, handler)
            }
        )*

        impl<S: 'static> MethodRouter<S> {
            $(
                #[doc = concat!("Also answer ", stringify!($name), " with `handler`.")]
                pub fn $name<H: Handler<T, S>, T>(self, handler: H) -> MethodRouter<S> {
                    self.on($method, handler)
                }
            )*
        }
    };
}

method_fns! {
    get => Method::Get,
    post => Method::Post,
    put => Method::Put,
    delete => Method::Delete,
    patch => Method::Patch,
    options => Method::Options,
}

/// A route answering every method with `handler`.
pub fn any<H, T, S>(handler: H) -> MethodRouter<S>
where
    H: Handler<T, S>,
    S: 'static,
{
    MethodRouter {
        endpoints: Vec::new(),
        any: Some(handler.into_endpoint()),
        name: None,
        layers: Vec::new(),
    }
}

impl<S: 'static> MethodRouter<S> {
    fn new() -> MethodRouter<S> {
        MethodRouter {
            endpoints: Vec::new(),
            any: None,
            name: None,
            layers: Vec::new(),
        }
    }

    /// Names the route, so `url_for("name", ...)` (templates) and [`Urls::url_for`] (Rust)
    /// build its URL. Names are unique in an app: a duplicate panics when the app is built.
    pub fn name(mut self, name: impl Into<String>) -> MethodRouter<S> {
        self.name = Some(name.into());
        self
    }

    /// Answer `method` with `handler`.
    pub fn on<H: Handler<T, S>, T>(mut self, method: Method, handler: H) -> MethodRouter<S> {
        self.endpoints.retain(|(m, _)| *m != method);
        self.endpoints.push((method, handler.into_endpoint()));
        self
    }

    pub(super) fn endpoint_for(&self, method: &Method) -> Option<&Endpoint<S>> {
        let exact = self.endpoints.iter().find(|(m, _)| m == method);
        let head_as_get = || {
            (*method == Method::Head)
                .then(|| self.endpoints.iter().find(|(m, _)| *m == Method::Get))
                .flatten()
        };
        exact
            .or_else(head_as_get)
            .map(|(_, endpoint)| endpoint)
            .or(self.any.as_ref())
    }

    pub(super) fn allow_header(&self) -> String {
        let mut methods: Vec<&str> = self.endpoints.iter().map(|(m, _)| m.as_str()).collect();
        if methods.contains(&"GET") && !methods.contains(&"HEAD") {
            methods.push("HEAD");
        }
        methods.join(", ")
    }

    /// Puts a router's middleware around this route's (which came from routers nested in it).
    fn layered(mut self, layers: &[Arc<dyn Middleware<S>>]) -> MethodRouter<S> {
        let inner = std::mem::take(&mut self.layers);
        self.layers = layers.iter().cloned().chain(inner).collect();
        self
    }

    /// This route for one worker: each endpoint wrapped in the worker's copies of its
    /// middleware (so a request's `Next` clones touch only this worker's reference counts).
    pub(super) fn for_worker(&self, layers: &mut WorkerLayers<S>) -> MethodRouter<S> {
        let mut wrapped = MethodRouter {
            endpoints: self.endpoints.clone(),
            any: self.any.clone(),
            name: self.name.clone(),
            layers: Vec::new(),
        };
        for layer in self.layers.iter().rev() {
            let layer = layers.copy_of(layer);
            for (_, endpoint) in &mut wrapped.endpoints {
                *endpoint = wrap(layer.clone(), endpoint.clone());
            }
            if let Some(any) = &mut wrapped.any {
                *any = wrap(layer.clone(), any.clone());
            }
        }
        wrapped
    }
}

/// A group of routes with its own middleware, to `nest` under a prefix.
pub struct Router<S> {
    routes: Vec<(String, MethodRouter<S>)>,
    layers: Vec<Arc<dyn Middleware<S>>>,
}

impl<S> std::fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field(
                "routes",
                &self.routes.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<S: 'static> Default for Router<S> {
    fn default() -> Self {
        Router::new()
    }
}

impl<S: 'static> Router<S> {
    pub fn new() -> Router<S> {
        Router {
            routes: Vec::new(),
            layers: Vec::new(),
        }
    }

    /// Adds a route (`/accounts/{id}`, `/files/{*rest}`).
    pub fn route(mut self, path: &str, methods: MethodRouter<S>) -> Router<S> {
        self.routes.push((path.to_owned(), methods));
        self
    }

    /// Nests another router under `prefix` (its middleware stays with its routes).
    pub fn nest(mut self, prefix: &str, router: Router<S>) -> Router<S> {
        for (path, methods) in router.into_routes() {
            self.routes.push((join_paths(prefix, &path), methods));
        }
        self
    }

    /// Adds middleware around this router's routes (the first added is the outermost).
    pub fn around(mut self, middleware: impl Middleware<S>) -> Router<S> {
        self.layers.push(Arc::new(middleware));
        self
    }

    fn into_routes(self) -> Vec<(String, MethodRouter<S>)> {
        let layers = self.layers;
        self.routes
            .into_iter()
            .map(|(path, methods)| (path, methods.layered(&layers)))
            .collect()
    }
}

fn join_paths(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match path {
        "" | "/" if !prefix.is_empty() => prefix.to_owned(),
        _ => format!("{prefix}{path}"),
    }
}

/// Type-level stages of an [`App`], so `App::state` can only be called first.
pub mod stage {
    /// A new app: `state` may still be set.
    #[derive(Debug)]
    pub struct Fresh;
    /// Routes, middleware or settings were added: the state type is fixed.
    #[derive(Debug)]
    pub struct Routed;
}

/// An application: state, routes, fallback, app-wide middleware and error pages. Pass it to
/// `Server::serve`, or to `kiln::test::TestClient` in tests.
///
/// `App::new()` starts a stateless app; `.state(s)` (first, before anything else: the types
/// enforce it) or `App::with_state(s)` gives it a state that `State<T>` extracts.
///
/// ```
/// use kiln::app::{App, get};
/// let app = App::new().state(7u32).route("/", get(|| async { "" }));
/// ```
/// Setting the state after a route does not compile (its handler is typed by the state):
/// ```compile_fail
/// use kiln::app::{App, get};
/// let app = App::new().route("/", get(|| async { "" })).state(7u32);
/// ```
pub struct App<S = (), Stage = stage::Routed> {
    /// Makes the state: once for the app, then once per worker.
    state: StateFactory<S>,
    router: Router<S>,
    fallback: Option<Endpoint<S>>,
    layers: Vec<Arc<dyn Middleware<S>>>,
    assets: Vec<Arc<StaticAssets>>,
    errors: Option<ErrorPages<S>>,
    dev_mode: bool,
    stage: std::marker::PhantomData<Stage>,
}

impl<S, Stage> std::fmt::Debug for App<S, Stage> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("router", &self.router).finish()
    }
}

/// One route of an app, as `App::route_table` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// The path pattern (`/entries/{id}`), nested prefixes included.
    pub path: String,
    /// The methods it answers, as added (HEAD is implied by GET and not listed).
    pub methods: Vec<Method>,
    /// Whether it also answers any other method (`any`).
    pub any: bool,
    pub name: Option<String>,
}

/// Makes an app's state (see `App::with_state_per_worker`).
pub(crate) type StateFactory<S> = Arc<dyn Fn() -> S + Send + Sync>;

impl App<(), stage::Fresh> {
    /// A new app without state.
    #[allow(clippy::new_ret_no_self)] // a typestate: the stage parameter differs from `Self`'s default
    pub fn new() -> App<(), stage::Fresh> {
        App::with_factory(Arc::new(|| ()))
    }

    /// Sets the state that `State<T>` extracts. Only a new app has this method, so the state
    /// is set before routes, whose handlers are typed by it. Each worker gets a clone.
    pub fn state<S: Clone + Send + Sync + 'static>(self, state: S) -> App<S> {
        App::with_state(state)
    }

    /// Like `state`, but each worker makes its own (see `App::with_state_per_worker`).
    pub fn state_per_worker<S: Send + Sync + 'static>(
        self,
        make: impl Fn() -> S + Send + Sync + 'static,
    ) -> App<S> {
        App::with_state_per_worker(make)
    }
}

impl Default for App<(), stage::Fresh> {
    fn default() -> Self {
        App::new()
    }
}

impl<S: Send + Sync + 'static> App<S> {
    /// A new app with this state; each worker gets a clone (so what the state shares through
    /// an `Arc`, it shares between the workers).
    pub fn with_state(state: S) -> App<S>
    where
        S: Clone,
    {
        App::with_factory(Arc::new(move || state.clone()))
    }

    /// A new app whose state each worker makes for itself with `make` (called once for the
    /// built app and once per worker). On a thread-per-core server that keeps the reference
    /// counts a request touches (`Templates` is an `Arc`, say) apart per worker: no worker
    /// writes a counter another writes. Use it for state that is cheap to make at start-up.
    pub fn with_state_per_worker(make: impl Fn() -> S + Send + Sync + 'static) -> App<S> {
        App::with_factory(Arc::new(make))
    }
}

impl<S: Send + Sync + 'static, Stage> App<S, Stage> {
    fn with_factory(state: StateFactory<S>) -> App<S, Stage> {
        App {
            state,
            router: Router::new(),
            fallback: None,
            layers: Vec::new(),
            assets: vec![crate::assets::htmx_assets()],
            errors: None,
            dev_mode: crate::dev_mode(),
            stage: std::marker::PhantomData,
        }
    }

    fn routed(self) -> App<S> {
        App {
            state: self.state,
            router: self.router,
            fallback: self.fallback,
            layers: self.layers,
            assets: self.assets,
            errors: self.errors,
            dev_mode: self.dev_mode,
            stage: std::marker::PhantomData,
        }
    }

    pub fn route(mut self, path: &str, methods: MethodRouter<S>) -> App<S> {
        self.router = self.router.route(path, methods);
        self.routed()
    }

    pub fn nest(mut self, prefix: &str, router: Router<S>) -> App<S> {
        self.router = self.router.nest(prefix, router);
        self.routed()
    }

    /// Serves embedded static assets (the `static` that `kiln::assets!` produces) under the
    /// prefix written in the macro call (`{prefix}/{*path}`), with content hashes, ETags, 304s
    /// and precompressed variants (see `kiln::assets`). `TemplatesBuilder::assets` takes the
    /// same `static`, so `asset("app.css")` links to exactly what is served here. The htmx
    /// scripts (`/_kiln/...`, used by the `htmx_script()` template global) are mounted by
    /// default.
    pub fn assets(mut self, assets: &'static EmbeddedAssets) -> App<S> {
        self.assets
            .push(Arc::new(StaticAssets::new(assets, assets.prefix)));
        self.routed()
    }

    /// Answers requests no route matches (default: 404).
    pub fn fallback<H: Handler<T, S>, T>(mut self, handler: H) -> App<S> {
        self.fallback = Some(handler.into_endpoint());
        self.routed()
    }

    /// Every route added so far, in the order added: for tests that walk an app's routes (a
    /// tenant-isolation test, say) and for documentation. Static asset mounts are not routes.
    pub fn route_table(&self) -> Vec<RouteInfo> {
        self.router
            .routes
            .iter()
            .map(|(path, methods)| RouteInfo {
                path: path.clone(),
                methods: methods.endpoints.iter().map(|(m, _)| m.clone()).collect(),
                any: methods.any.is_some(),
                name: methods.name.clone(),
            })
            .collect()
    }

    /// Adds middleware around everything, including 404s and 405s (the first added is the
    /// outermost). Routing has already run when middleware sees the request, so
    /// `RequestContext::route` is known.
    pub fn around(mut self, middleware: impl Middleware<S>) -> App<S> {
        self.layers.push(Arc::new(middleware));
        self.routed()
    }

    /// Renders every error response made by kiln or by `Response::error` (rejections, 404,
    /// 405, 403 from CSRF, 500 from a panic or a template error, 503 from an overloaded
    /// batcher...) with the app's own page. See [`ErrorPage`]; pair it with
    /// [`App::error_target`] so htmx requests show the error in a message area.
    pub fn on_error<F, R>(mut self, render: F) -> App<S>
    where
        F: Fn(&ErrorPage<'_, S>) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        let target = self.errors.take().and_then(|errors| errors.target);
        self.errors = Some(ErrorPages {
            render: Some(Arc::new(move |page: &ErrorPage<'_, S>| {
                render(page).into_response()
            })),
            target,
        });
        self.routed()
    }

    /// For htmx requests that fail, answer with `HX-Retarget: {selector}` and
    /// `HX-Reswap: {swap}` (for example `"#errors"`, `"innerHTML"`), so the error shows in that
    /// area instead of nowhere. Works without `on_error` too (the plain reason is swapped in).
    /// htmx 2 does not swap error responses by itself: `htmx_script()` loads a small kiln
    /// script that swaps the ones that carry `HX-Retarget`.
    pub fn error_target(mut self, selector: &str, swap: &str) -> App<S> {
        let target = match (HeaderValue::try_from(selector), HeaderValue::try_from(swap)) {
            (Ok(selector), Ok(swap)) => Some((selector, swap)),
            _ => panic!("error_target: selector and swap must not contain line breaks"),
        };
        let render = self.errors.take().and_then(|errors| errors.render);
        self.errors = Some(ErrorPages { render, target });
        self.routed()
    }

    /// Development mode: error pages show details (panic messages, template errors). The
    /// default is `kiln::dev_mode()` (the `KILN_DEV` environment variable).
    pub fn dev_mode(mut self, yes: bool) -> App<S> {
        self.dev_mode = yes;
        self.routed()
    }

    /// Builds the app. Panics on conflicting or malformed route patterns and on duplicate
    /// route names, which are programmer errors found at start-up. The server then gives each
    /// worker its own copy (`BuiltApp::for_worker`): the state cloned once per worker, the
    /// routing table, the middleware chain.
    pub fn build(self) -> BuiltApp<S> {
        let mut check = matchit::Router::new();
        let mut routes = Vec::new();
        let mut urls = Urls::default();
        let mut all_routes = self.router.into_routes();
        for assets in &self.assets {
            let pattern = format!("{}/{{*path}}", assets.prefix().trim_end_matches('/'));
            if all_routes.iter().any(|(path, _)| *path == pattern) {
                continue;
            }
            let methods = MethodRouter {
                endpoints: Vec::new(),
                any: Some(serve_assets(assets.clone())),
                name: None,
                layers: Vec::new(),
            };
            all_routes.push((pattern, methods));
        }
        for (path, methods) in all_routes {
            if let Err(error) = check.insert(path.clone(), routes.len()) {
                panic!("route {path:?} cannot be added: {error}");
            }
            if let Some(name) = &methods.name {
                urls.insert(name, &path);
            }
            routes.push((path, methods));
        }
        BuiltApp::from_blueprint(Arc::new(Blueprint {
            state: self.state,
            routes,
            fallback: self.fallback,
            layers: self.layers,
            errors: self.errors,
            urls,
            dev_mode: self.dev_mode,
        }))
    }
}

/// A handler serving one set of embedded assets (404 for names it does not hold).
fn serve_assets<S: 'static>(assets: Arc<StaticAssets>) -> Endpoint<S> {
    Arc::new(move |cx: RequestContext<S>| {
        let response = assets
            .respond(&cx.request)
            .unwrap_or_else(|| Response::error(StatusCode::NOT_FOUND, "not found"));
        Box::pin(std::future::ready(response))
    })
}

/// The parameter names of a pattern, in order (`{id}` → `id`, `{*rest}` → `rest`).
pub(crate) fn param_names(pattern: &str) -> Vec<Arc<str>> {
    let mut names = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = rest[open + 1..open + close].trim_start_matches('*');
        if !name.is_empty() && !name.starts_with('{') {
            names.push(Arc::from(name));
        }
        rest = &rest[open + close + 1..];
    }
    names
}
