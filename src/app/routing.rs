//! Routing: `App` (state, routes, nesting, fallback, app-wide middleware) and `Router`
//! (a group of routes with its own middleware, for `nest`), matched with `matchit`.
//!
//! 404 for unknown paths (or the fallback), 405 with `Allow` for known paths with another
//! method, HEAD answered by the GET handler (the server drops the body). Route conflicts are
//! programmer errors and panic while the app is built, never while serving.

use super::context::{PathParams, RequestContext};
use super::handler::{Endpoint, Handler};
use super::middleware::{Middleware, wrap};
use super::response::IntoResponse;
use crate::assets::StaticAssets;
use crate::http::{HeaderValue, Method, Request, Response, StatusCode};
use std::sync::Arc;

/// The methods a route answers, each with its endpoint.
pub struct MethodRouter<S> {
    endpoints: Vec<(Method, Endpoint<S>)>,
    any: Option<Endpoint<S>>,
}

impl<S> Clone for MethodRouter<S> {
    fn clone(&self) -> Self {
        MethodRouter {
            endpoints: self.endpoints.clone(),
            any: self.any.clone(),
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
    }
}

impl<S: 'static> MethodRouter<S> {
    fn new() -> MethodRouter<S> {
        MethodRouter {
            endpoints: Vec::new(),
            any: None,
        }
    }

    /// Answer `method` with `handler`.
    pub fn on<H: Handler<T, S>, T>(mut self, method: Method, handler: H) -> MethodRouter<S> {
        self.endpoints.retain(|(m, _)| *m != method);
        self.endpoints.push((method, handler.into_endpoint()));
        self
    }

    fn endpoint_for(&self, method: &Method) -> Option<&Endpoint<S>> {
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

    fn allow_header(&self) -> String {
        let mut methods: Vec<&str> = self.endpoints.iter().map(|(m, _)| m.as_str()).collect();
        if methods.contains(&"GET") && !methods.contains(&"HEAD") {
            methods.push("HEAD");
        }
        methods.join(", ")
    }

    fn layered(mut self, layers: &[Arc<dyn Middleware<S>>]) -> MethodRouter<S> {
        for layer in layers.iter().rev() {
            for (_, endpoint) in &mut self.endpoints {
                *endpoint = wrap(layer.clone(), endpoint.clone());
            }
            if let Some(any) = &mut self.any {
                *any = wrap(layer.clone(), any.clone());
            }
        }
        self
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

/// An application: state, routes, fallback and app-wide middleware. Pass it to
/// `Server::serve`, or to `kiln::test::TestClient` in tests.
pub struct App<S = ()> {
    state: Arc<S>,
    router: Router<S>,
    fallback: Option<Endpoint<S>>,
    layers: Vec<Arc<dyn Middleware<S>>>,
    assets: Vec<&'static StaticAssets>,
}

impl<S> std::fmt::Debug for App<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("router", &self.router).finish()
    }
}

impl App<()> {
    pub fn new() -> App<()> {
        App::with_state(())
    }

    /// Sets the state that `State<T>` extracts. Call before adding routes (their handlers are
    /// typed by the state).
    pub fn state<S: Send + Sync + 'static>(self, state: S) -> App<S> {
        assert!(
            self.router.routes.is_empty() && self.fallback.is_none() && self.layers.is_empty(),
            "App::state must be called before routes, fallback and middleware are added"
        );
        App::with_state(state)
    }
}

impl Default for App<()> {
    fn default() -> Self {
        App::new()
    }
}

impl<S: Send + Sync + 'static> App<S> {
    pub fn with_state(state: S) -> App<S> {
        App {
            state: Arc::new(state),
            router: Router::new(),
            fallback: None,
            layers: Vec::new(),
            assets: vec![crate::assets::htmx()],
        }
    }

    pub fn route(mut self, path: &str, methods: MethodRouter<S>) -> App<S> {
        self.router = self.router.route(path, methods);
        self
    }

    pub fn nest(mut self, prefix: &str, router: Router<S>) -> App<S> {
        self.router = self.router.nest(prefix, router);
        self
    }

    /// Serves embedded static assets under their prefix (`{prefix}/{*path}`), with content
    /// hashes, ETags, 304s and precompressed variants (see `kiln::assets`). The htmx scripts
    /// (`/_kiln/...`, used by the `htmx_script()` template global) are mounted by default.
    pub fn assets(mut self, assets: &'static StaticAssets) -> App<S> {
        self.assets.push(assets);
        self
    }

    /// Answers requests no route matches (default: 404).
    pub fn fallback<H: Handler<T, S>, T>(mut self, handler: H) -> App<S> {
        self.fallback = Some(handler.into_endpoint());
        self
    }

    /// Adds middleware around everything, including 404s and 405s (the first added is the
    /// outermost).
    pub fn around(mut self, middleware: impl Middleware<S>) -> App<S> {
        self.layers.push(Arc::new(middleware));
        self
    }

    /// Builds the routing table. Panics on conflicting or malformed route patterns, which are
    /// programmer errors found at start-up.
    pub fn build(self) -> BuiltApp<S> {
        let mut table = matchit::Router::new();
        let mut routes = Vec::new();
        let mut all_routes = self.router.into_routes();
        for assets in &self.assets {
            let pattern = format!("{}/{{*path}}", assets.prefix().trim_end_matches('/'));
            if all_routes.iter().any(|(path, _)| *path == pattern) {
                continue;
            }
            let methods = MethodRouter {
                endpoints: Vec::new(),
                any: Some(serve_assets(assets)),
            };
            all_routes.push((pattern, methods));
        }
        for (path, methods) in all_routes {
            let pattern: Arc<str> = Arc::from(path.as_str());
            if let Err(error) = table.insert(path.clone(), routes.len()) {
                panic!("route {path:?} cannot be added: {error}");
            }
            let names = param_names(&path);
            routes.push(Route {
                pattern,
                names,
                methods,
            });
        }
        let table = Arc::new(RouteTable {
            table,
            routes,
            fallback: self.fallback,
        });
        let dispatch_table = table.clone();
        let mut endpoint: Endpoint<S> = Arc::new(move |cx| dispatch_table.dispatch(cx));
        for layer in self.layers.iter().rev() {
            endpoint = wrap(layer.clone(), endpoint);
        }
        BuiltApp {
            state: self.state,
            endpoint,
        }
    }
}

/// A handler serving one set of embedded assets (404 for names it does not hold).
fn serve_assets<S: 'static>(assets: &'static StaticAssets) -> Endpoint<S> {
    Arc::new(move |cx: RequestContext<S>| {
        let response = assets
            .respond(&cx.request)
            .unwrap_or_else(|| (StatusCode::NOT_FOUND, "not found").into_response());
        Box::pin(std::future::ready(response))
    })
}

/// The parameter names of a pattern, in order (`{id}` → `id`, `{*rest}` → `rest`).
fn param_names(pattern: &str) -> Vec<Arc<str>> {
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

struct Route<S> {
    pattern: Arc<str>,
    names: Vec<Arc<str>>,
    methods: MethodRouter<S>,
}

struct RouteTable<S> {
    table: matchit::Router<usize>,
    routes: Vec<Route<S>>,
    fallback: Option<Endpoint<S>>,
}

impl<S: 'static> RouteTable<S> {
    fn dispatch(&self, mut cx: RequestContext<S>) -> super::handler::ResponseFuture {
        let matched = match self.table.at(cx.request.path()) {
            Ok(matched) => Some((
                *matched.value,
                decode_params(&matched.params, &self.routes[*matched.value].names),
            )),
            Err(_) => None,
        };
        let Some((index, params)) = matched else {
            return self.not_found(cx);
        };
        let route = &self.routes[index];
        let params = match params {
            Ok(params) => params,
            Err(reason) => {
                let response = Response::error(StatusCode::BAD_REQUEST, reason);
                return Box::pin(std::future::ready(response));
            }
        };
        cx.params = params;
        cx.route = Some(route.pattern.clone());
        match route.methods.endpoint_for(cx.request.method()) {
            Some(endpoint) => endpoint(cx),
            None => {
                let mut response =
                    Response::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
                if let Ok(allow) = HeaderValue::try_from(route.methods.allow_header()) {
                    let _ = response.set_header("allow", allow);
                }
                Box::pin(std::future::ready(response))
            }
        }
    }

    fn not_found(&self, cx: RequestContext<S>) -> super::handler::ResponseFuture {
        match &self.fallback {
            Some(fallback) => fallback(cx),
            None => Box::pin(std::future::ready(
                (StatusCode::NOT_FOUND, "not found").into_response(),
            )),
        }
    }
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

/// A built application, ready to serve: shared by every worker.
pub struct BuiltApp<S> {
    state: Arc<S>,
    endpoint: Endpoint<S>,
}

impl<S> Clone for BuiltApp<S> {
    fn clone(&self) -> Self {
        BuiltApp {
            state: self.state.clone(),
            endpoint: self.endpoint.clone(),
        }
    }
}

impl<S> std::fmt::Debug for BuiltApp<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BuiltApp")
    }
}

impl<S: Send + Sync + 'static> BuiltApp<S> {
    /// Answers one request.
    pub fn call(&self, request: Request) -> super::handler::ResponseFuture {
        let cx = RequestContext::new(request, self.state.clone());
        (self.endpoint)(cx)
    }
}

impl<S: Send + Sync + 'static> crate::server::Handler for BuiltApp<S> {
    type Future = super::handler::ResponseFuture;
    fn call(&self, request: Request) -> Self::Future {
        BuiltApp::call(self, request)
    }
}

impl<S: Send + Sync + 'static> crate::server::IntoHandler for App<S> {
    type Handler = BuiltApp<S>;
    fn into_handler(self) -> BuiltApp<S> {
        self.build()
    }
}
