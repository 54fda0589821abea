//! The live dashboard, server-rendered with kiln templates (`templates/inference/`) and its
//! own stylesheet (`assets/inference/`), in the same app as the KServe API.
//!
//! - `GET /`: the models in the registry, each with its state and last minute's figures;
//!   `GET /events` (SSE) re-renders that table after each sample, so states, loads, unloads
//!   and figures change on the open page.
//! - `GET /models/{name}`: one model's charts (requests/s, latency p50/p95/p99, queue depth,
//!   errors and shed per second over `limits::SERIES_SECONDS_MAX` seconds; the batch-size
//!   histogram of that window), drawn as SVG on the server (`domain/svg.rs`), and its batching
//!   controls.
//! - `GET /models/{name}/events`: SSE (`kiln::htmx::sse`, the htmx SSE extension served by
//!   kiln): the charts block re-rendered after each sample. At most
//!   `limits::DASHBOARD_STREAMS_MAX` streams (503 beyond), each queueing at most
//!   `limits::DASHBOARD_STREAM_EVENTS_QUEUED_MAX` events.
//! - `POST /models/{name}/batching`: max batch, max queue delay, latency objective, adaptive
//!   on/off, checked (`controls.rs`, 422 with the reason), applied to the running batchers and
//!   saved in the store, so a reload or a restart keeps them (`service/saved.rs`);
//!   `POST /models/{name}/batching/reset` goes back to `config.json`'s.
//!   Works with htmx (the form is swapped) and without JavaScript (303 back to the page).
//!   Like the repository API it has no authentication; a cross-site form post is refused (403).
//! - `POST /models/{name}/load`, `/unload`: the model list's buttons (the repository API's
//!   load and unload, for a person), back to the list.
//! - `GET /metrics`: the Prometheus text (`metrics.rs`).
//! - The model page also shows the traffic split between the model's versions (fixed or
//!   Exp3) with each version's approval rate (`Inference::split_status`).
//! - `/playground`: try the models and give feedback (`playground.rs`).
//!
//! Not here: the sampling thread (`sampler.rs`), chart geometry (`domain/svg.rs`), the
//! series arithmetic (`domain/series.rs`). Tests: `tests/cli/dashboard.rs` over HTTP,
//! `tests/cli/browser.rs` with `tests/browser.mjs` in Chromium.

pub mod controls;
pub mod playground;
pub mod sampler;

use crate::domain::series::{BATCH_SIZE_BOUNDS, Sample, Window};
use crate::domain::svg::{Chart, Series, Unit, bar_chart, line_chart, short_number};
use crate::limits::{
    DASHBOARD_STREAM_EVENTS_QUEUED_MAX, DASHBOARD_STREAMS_MAX, SERIES_SECONDS_MAX,
};
use crate::service::observe::tuning;
use crate::service::registry::LoadedModel;
use crate::service::saved::TuningSource;
use crate::service::{Inference, ServiceError};
use controls::BatchingForm;
use kiln::app::{App, Form, FromRef, Headers, IntoResponse, Path, Redirect, State, get, post};
use kiln::assets::EmbeddedAssets;
use kiln::htmx::Htmx;
use kiln::htmx::sse::{self, Event};
use kiln::http::{HeaderValue, Response, StatusCode};
use kiln::template::{EmbeddedTemplates, Templates};
use sampler::Dashboard;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static TEMPLATES: EmbeddedTemplates = kiln::templates!("templates/inference");
static ASSETS: EmbeddedAssets = kiln::assets!("assets/inference", prefix = "/static");

/// How often an event stream looks for a new sample.
const STREAM_POLL_MS: u64 = 200;

/// The state of the whole app: the service, the dashboard's series, the templates.
#[derive(Clone, Debug)]
pub struct WebState {
    pub service: Inference,
    pub dashboard: Dashboard,
    pub templates: Templates,
    streams: Arc<AtomicUsize>,
}

impl FromRef<WebState> for Inference {
    fn from_ref(state: &WebState) -> Inference {
        state.service.clone()
    }
}

impl WebState {
    /// Builds the templates and starts the sampler on `service`.
    pub fn new(service: Inference) -> Result<WebState, String> {
        let templates = Templates::builder(TEMPLATES)
            .assets(&ASSETS)
            .build()
            .map_err(|e| format!("the templates failed to load: {e}"))?;
        let dashboard = Dashboard::start(service.clone())
            .map_err(|e| format!("the dashboard sampler did not start: {e}"))?;
        Ok(WebState {
            service,
            dashboard,
            templates,
            streams: Arc::new(AtomicUsize::new(0)),
        })
    }
}

/// Adds the dashboard's routes and assets to the app.
pub fn mount(app: App<WebState>) -> App<WebState> {
    app.assets(&ASSETS)
        .route("/", get(index))
        .route("/events", get(index_events))
        .route("/metrics", get(metrics))
        .route("/models/{name}", get(model_page))
        .route("/models/{name}/events", get(events))
        .route("/models/{name}/batching", post(batching))
        .route("/models/{name}/batching/reset", post(reset_batching))
        .route("/models/{name}/load", post(load_model))
        .route("/models/{name}/unload", post(unload_model))
        .route("/playground", get(playground::show))
        .route("/playground/risk", post(playground::risk))
        .route("/playground/search", post(playground::search))
        .route("/playground/open", post(playground::open))
        .route("/playground/feedback", post(playground::feedback))
}

async fn metrics(State(state): State<WebState>) -> Response {
    Response::ok(state.service.metrics_text().into_bytes())
        .with_static_header("content-type", "text/plain; version=0.0.4; charset=utf-8")
}

#[derive(Serialize)]
struct ModelLine {
    name: String,
    state: &'static str,
    versions: Vec<String>,
    reason: String,
    window: Option<Window>,
}

#[derive(Serialize)]
struct IndexPage {
    models: Vec<ModelLine>,
    seconds: usize,
}

/// The model list: one line per model, versions merged, last minute's figures when ready.
fn index_page(state: &WebState) -> IndexPage {
    let mut models: Vec<ModelLine> = Vec::new();
    for entry in state.service.index() {
        if let Some(line) = models.iter_mut().find(|line| line.name == entry.name) {
            line.versions.extend(entry.version);
            continue;
        }
        let window = (entry.state == "READY").then(|| {
            let samples = state.dashboard.samples(&entry.name);
            let skip = samples.len().saturating_sub(60);
            Window::of(samples[skip..].iter())
        });
        models.push(ModelLine {
            name: entry.name,
            state: entry.state,
            versions: entry.version.into_iter().collect(),
            reason: entry.reason,
            window,
        });
    }
    IndexPage {
        models,
        seconds: 60,
    }
}

async fn index(State(state): State<WebState>) -> Response {
    render(&state.templates, "index.html", index_page(&state))
}

/// The model list's table, re-rendered after each sample (event `models`).
async fn index_events(State(state): State<WebState>) -> Response {
    open_stream(state, "models", |state| {
        let html = state
            .templates
            .render_block("index.html", "models", index_page(state));
        Some(html.map(Vec::from).map_err(|error| error.to_string()))
    })
}

fn render(templates: &Templates, name: &str, context: impl Serialize) -> Response {
    match templates.render(name, context) {
        Ok(body) => kiln::app::Html(body).into_response(),
        Err(error) => {
            tracing::warn!(%error, "dashboard render failed");
            Response::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
        }
    }
}

/// The settings in force, as shown on the page.
#[derive(Serialize)]
struct InForce {
    max_batch: usize,
    limit: usize,
    max_queue_delay_us: u64,
    adaptive: bool,
    latency_objective_us: Option<u64>,
}

#[derive(Serialize)]
struct Charts {
    requests: Chart,
    latency: Chart,
    queue: Chart,
    problems: Chart,
    batches: Chart,
}

/// One model's panel: figures, charts, settings in force.
#[derive(Serialize)]
struct Panel {
    name: String,
    kind: &'static str,
    versions: Vec<u64>,
    window: Window,
    charts: Charts,
    in_force: Option<InForce>,
    seconds: usize,
    sampled: usize,
}

#[derive(Serialize)]
struct ModelPage<'a> {
    model: Panel,
    form: &'a BatchingForm,
    adaptive_on: bool,
    error: Option<&'a str>,
    saved: bool,
    /// Where the settings in force come from: `config.json`, or the dashboard (when).
    source: Source,
    /// The traffic split and each version's approval rate (`None` without a store).
    split: Option<crate::service::feedback::SplitStatus>,
}

/// `TuningSource` as the page shows it.
#[derive(Serialize)]
struct Source {
    /// `config`, `saved` or `unsaved`.
    kind: &'static str,
    /// When it was saved (UTC clock), for `saved`.
    at: Option<String>,
}

impl Source {
    fn of(source: TuningSource) -> Source {
        match source {
            TuningSource::Config => Source {
                kind: "config",
                at: None,
            },
            TuningSource::Saved { at_ms } => Source {
                kind: "saved",
                at: Some(clock(u64::try_from(at_ms / 1000).unwrap_or(0))),
            },
            TuningSource::Unsaved => Source {
                kind: "unsaved",
                at: None,
            },
        }
    }
}

fn clock(unix_s: u64) -> String {
    let day = unix_s % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}

fn micros(value: Option<u64>) -> String {
    value.map_or("-".to_owned(), |us| Unit::Micros.label(us as f64))
}

fn tooltip(sample: &Sample) -> String {
    format!(
        "{}: {}/s, p50 {}, p95 {}, p99 {}, queue {}, errors {}, shed {}, expired {}",
        clock(sample.at_unix_s),
        short_number(sample.requests_per_s),
        micros(sample.p50_us),
        micros(sample.p95_us),
        micros(sample.p99_us),
        sample.queue_depth,
        sample.errors,
        sample.shed,
        sample.expired
    )
}

fn batch_labels() -> Vec<String> {
    let mut labels = Vec::with_capacity(BATCH_SIZE_BOUNDS.len());
    let mut lower = 1;
    for &bound in &BATCH_SIZE_BOUNDS {
        labels.push(if bound == lower {
            bound.to_string()
        } else {
            format!("{lower}-{bound}")
        });
        lower = bound + 1;
    }
    labels
}

fn charts(samples: &[Sample], window: &Window) -> Charts {
    let titles: Vec<String> = samples.iter().map(tooltip).collect();
    let values = |f: &dyn Fn(&Sample) -> Option<f64>| samples.iter().map(f).collect::<Vec<_>>();
    let line =
        |series: Vec<Series<'_>>, unit| line_chart(SERIES_SECONDS_MAX, &series, &titles, unit);
    let us = |v: Option<u64>| v.map(|v| v as f64);
    Charts {
        requests: line(
            vec![Series {
                name: "requests/s",
                class: "s1",
                values: values(&|s| Some(s.requests_per_s)),
            }],
            Unit::PerSecond,
        ),
        latency: line(
            vec![
                Series {
                    name: "p50",
                    class: "s1",
                    values: values(&|s| us(s.p50_us)),
                },
                Series {
                    name: "p95",
                    class: "s2",
                    values: values(&|s| us(s.p95_us)),
                },
                Series {
                    name: "p99",
                    class: "s3",
                    values: values(&|s| us(s.p99_us)),
                },
            ],
            Unit::Micros,
        ),
        queue: line(
            vec![Series {
                name: "queue depth",
                class: "s1",
                values: values(&|s| Some(s.queue_depth as f64)),
            }],
            Unit::Count,
        ),
        problems: line(
            vec![
                Series {
                    name: "errors",
                    class: "s3",
                    values: values(&|s| Some(s.errors as f64)),
                },
                Series {
                    name: "shed",
                    class: "s2",
                    values: values(&|s| Some(s.shed as f64)),
                },
                Series {
                    name: "expired",
                    class: "s4",
                    values: values(&|s| Some(s.expired as f64)),
                },
            ],
            Unit::Count,
        ),
        batches: bar_chart(
            &batch_labels(),
            &window.batch_buckets[..BATCH_SIZE_BOUNDS.len()],
            Unit::Count,
            "batches",
        ),
    }
}

fn panel(state: &WebState, model: &LoadedModel) -> Panel {
    let name = model.config.name.clone();
    let samples = state.dashboard.samples(&name);
    let window = Window::of(samples.iter());
    let in_force = tuning(model).map(|(tuning, limit)| InForce {
        max_batch: tuning.batch_size_max,
        limit,
        max_queue_delay_us: tuning.queue_delay_max_us,
        adaptive: tuning.adaptive.is_some(),
        latency_objective_us: tuning.adaptive.as_ref().map(|a| a.latency_objective_us),
    });
    Panel {
        kind: match model.config.kind {
            crate::domain::ModelKind::Tabular => "tabular",
            crate::domain::ModelKind::Text => "text",
        },
        versions: model.versions.keys().copied().collect(),
        charts: charts(&samples, &window),
        window,
        in_force,
        seconds: SERIES_SECONDS_MAX,
        sampled: samples.len(),
        name,
    }
}

fn not_found(error: ServiceError) -> Response {
    let status = match error {
        ServiceError::NotReady { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::NOT_FOUND,
    };
    Response::error(status, &error.to_string())
}

async fn model_page(State(state): State<WebState>, Path(name): Path<String>) -> Response {
    let model = match state.service.model(&name) {
        Ok(model) => model,
        Err(error) => return not_found(error),
    };
    let form = tuning(&model)
        .map(|(tuning, _)| BatchingForm::of(&tuning))
        .unwrap_or_default();
    let split = match state.service.split_status(&name).await {
        Ok(split) => Some(split),
        Err(error) => {
            tracing::debug!(%error, "no split status for the model page");
            None
        }
    };
    let source = Source::of(state.service.tuning_source(&name).await);
    let page = ModelPage {
        model: panel(&state, &model),
        adaptive_on: form.adaptive_on(),
        form: &form,
        error: None,
        saved: false,
        source,
        split,
    };
    render(&state.templates, "model.html", page)
}

/// Counts an open event stream; the count drops when the stream's task ends.
struct StreamSlot(Arc<AtomicUsize>);

impl StreamSlot {
    fn take(count: &Arc<AtomicUsize>) -> Option<StreamSlot> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < DASHBOARD_STREAMS_MAX).then_some(open + 1)
            })
            .ok()
            .map(|_| StreamSlot(count.clone()))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn events(State(state): State<WebState>, Path(name): Path<String>) -> Response {
    if let Err(error) = state.service.model(&name) {
        return not_found(error);
    }
    open_stream(state, "charts", move |state| {
        // Unloaded: the stream ends; the page keeps its last charts.
        let model = state.service.model(&name).ok()?;
        let html = state.templates.render_block(
            "model.html",
            "charts",
            PanelOnly {
                model: panel(state, &model),
            },
        );
        Some(html.map(Vec::from).map_err(|error| error.to_string()))
    })
}

/// An SSE stream sending `render`'s HTML as event `event` after each new sample, until the
/// client goes, `render` returns `None`, or rendering fails. Counted against
/// `DASHBOARD_STREAMS_MAX` (503 beyond).
fn open_stream<F>(state: WebState, event: &'static str, render: F) -> Response
where
    F: Fn(&WebState) -> Option<Result<Vec<u8>, String>> + 'static,
{
    let Some(slot) = StreamSlot::take(&state.streams) else {
        // Not `Response::error`: the reason is the app's own, shown in production too.
        let reason = format!("at most {DASHBOARD_STREAMS_MAX} dashboard streams at once\n");
        return Response::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_static_header("content-type", "text/plain; charset=utf-8")
            .with_static_header("retry-after", "5")
            .with_body(reason.into_bytes());
    };
    let (sender, response) = sse::channel(DASHBOARD_STREAM_EVENTS_QUEUED_MAX);
    kiln::runtime::spawn_local(async move {
        let _slot = slot;
        let mut seen = state.dashboard.ticks();
        while !sender.is_closed() {
            kiln::runtime::sleep(Duration::from_millis(STREAM_POLL_MS)).await;
            let ticks = state.dashboard.ticks();
            if ticks == seen {
                continue;
            }
            seen = ticks;
            let html = match render(&state) {
                None => break,
                Some(Ok(html)) => html,
                Some(Err(error)) => {
                    tracing::warn!(%error, event, "a dashboard stream failed to render");
                    break;
                }
            };
            let data = Event::new(event).data(&String::from_utf8_lossy(&html));
            if sender.send(data).await.is_err() {
                break;
            }
        }
    });
    response
}

#[derive(Serialize)]
struct PanelOnly {
    model: Panel,
}

/// Loads (or reloads) a model from the registry directory, on the blocking pool; back to the
/// list with its new state (a model that fails to load is listed with the reason).
async fn load_model(
    State(state): State<WebState>,
    Path(name): Path<String>,
    headers: Headers,
) -> Response {
    if let Err(refused) = same_site(&headers) {
        return refused;
    }
    let service = state.service.clone();
    let loaded = kiln::runtime::spawn_blocking(move || service.load(&name)).await;
    match loaded {
        Ok(Ok(())) => Redirect::to("/".to_owned()).into_response(),
        Ok(Err(error @ ServiceError::UnknownModel(_))) => not_found(error),
        Ok(Err(error)) => {
            tracing::warn!(%error, "a model did not load from the dashboard");
            Redirect::to("/".to_owned()).into_response()
        }
        Err(error) => Response::error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("cannot load now: {error}"),
        ),
    }
}

/// Unloads a model (its batcher drains); back to the list.
async fn unload_model(
    State(state): State<WebState>,
    Path(name): Path<String>,
    headers: Headers,
) -> Response {
    if let Err(refused) = same_site(&headers) {
        return refused;
    }
    match state.service.unload(&name) {
        Ok(()) => Redirect::to("/".to_owned()).into_response(),
        Err(error) => not_found(error),
    }
}

/// Refuses (403) a form posted from another site (a browser says so in `Sec-Fetch-Site`).
fn same_site(headers: &Headers) -> Result<(), Response> {
    if headers.get_str("sec-fetch-site") == Some("cross-site") {
        return Err(Response::error(
            StatusCode::FORBIDDEN,
            "cross-site form posts are refused",
        ));
    }
    Ok(())
}

/// The model a batching form posts to: 403 for a cross-site post, 404 for an unknown model.
fn form_target(
    state: &WebState,
    name: &str,
    headers: &Headers,
) -> Result<Arc<LoadedModel>, Response> {
    same_site(headers)?;
    state.service.model(name).map_err(not_found)
}

async fn batching(
    State(state): State<WebState>,
    Path(name): Path<String>,
    htmx: Htmx,
    headers: Headers,
    Form(form): Form<BatchingForm>,
) -> Response {
    let model = match form_target(&state, &name, &headers) {
        Ok(model) => model,
        Err(refused) => return refused,
    };
    let Some((current, _)) = tuning(&model) else {
        return not_found(ServiceError::UnknownModel(name));
    };
    let applied = match form.check(&current) {
        Ok(tuning) => state
            .service
            .retune_and_save(&name, &tuning)
            .await
            .map_err(|e| e.to_string()),
        Err(reason) => Err(reason),
    };
    let (error, source) = match applied {
        Ok(source) => (None, source),
        Err(reason) => (Some(reason), state.service.tuning_source(&name).await),
    };
    if error.is_none() && !htmx.is_htmx() {
        return Redirect::to(format!("/models/{name}")).into_response();
    }
    let shown = match &error {
        Some(_) => form.clone(),
        None => tuning(&model)
            .map(|(tuning, _)| BatchingForm::of(&tuning))
            .unwrap_or_default(),
    };
    let mut response = render_controls(&state, &model, &htmx, &shown, error.as_deref(), source);
    if error.is_some() {
        response.status = StatusCode::UNPROCESSABLE_ENTITY;
        if htmx.is_htmx() {
            let _ = response.set_header("hx-retarget", HeaderValue::from_static("#controls"));
            let _ = response.set_header("hx-reswap", HeaderValue::from_static("outerHTML"));
        }
    }
    response
}

/// Forgets the settings saved on the dashboard and applies `config.json`'s again.
async fn reset_batching(
    State(state): State<WebState>,
    Path(name): Path<String>,
    htmx: Htmx,
    headers: Headers,
) -> Response {
    let model = match form_target(&state, &name, &headers) {
        Ok(model) => model,
        Err(refused) => return refused,
    };
    if let Err(error) = state.service.reset_tuning(&name).await {
        return match error {
            ServiceError::Failed(reason) => {
                Response::error(StatusCode::INTERNAL_SERVER_ERROR, &reason)
            }
            other => not_found(other),
        };
    }
    if !htmx.is_htmx() {
        return Redirect::to(format!("/models/{name}")).into_response();
    }
    let shown = tuning(&model)
        .map(|(tuning, _)| BatchingForm::of(&tuning))
        .unwrap_or_default();
    render_controls(&state, &model, &htmx, &shown, None, TuningSource::Config)
}

/// The controls block (htmx) or the whole page, after an apply or a reset.
fn render_controls(
    state: &WebState,
    model: &LoadedModel,
    htmx: &Htmx,
    shown: &BatchingForm,
    error: Option<&str>,
    source: TuningSource,
) -> Response {
    let page = ModelPage {
        model: panel(state, model),
        adaptive_on: shown.adaptive_on(),
        form: shown,
        error,
        saved: error.is_none(),
        source: Source::of(source),
        split: None,
    };
    htmx.render(&state.templates, "model.html", "controls", page)
}
