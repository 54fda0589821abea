//! The HTTP API: KServe v2 / Open Inference Protocol over REST (health, server and model
//! metadata, readiness, infer with JSON or Triton's binary tensors), Triton's model
//! repository extension (index, load, unload), a model's `config` (as Triton has) and its
//! recent batches (`stats`, this app's own shape), and `POST /v1/embed` for sentence
//! embeddings; document search, feedback and traffic splits in `retrieval.rs`.
//!
//! Handlers are thin: they parse (`kserve.rs`), call `service::Inference` and render.
//! Loading a model runs on kiln's blocking pool; inference waits on the model's batcher;
//! nothing here runs a model. Errors are `{"error": "..."}` (`error.rs`), kiln's own
//! 404/405 included (`on_error`). Timeouts: the infer request's `timeout` parameter
//! (microseconds, Triton's) or a `Timeout-Ms` header, at most `REQUEST_TIMEOUT_MS_MAX`.
//! The dashboard and `/metrics` are mounted on the same app by `crate::web::mount`.
//! Tests: `tests/cli/` through real sockets.

pub mod error;
pub mod kserve;
pub mod retrieval;

use crate::domain::{ModelConfig, TensorSpec};
use crate::limits::REQUEST_TIMEOUT_MS_MAX;
use crate::service::Inference;
use bytes::Bytes;
use error::{ApiError, error_response};
use kiln::app::{App, Headers, IntoResponse, Json, Path, State, get, post};
use kiln::http::{HeaderValue, Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The whole app on `service`: this API and the dashboard (`crate::web`). Fails only when
/// the dashboard cannot start (its templates, its sampler thread).
pub fn app(service: Inference) -> Result<App<crate::web::WebState>, String> {
    let app = App::with_state(crate::web::WebState::new(service)?)
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(version_metadata),
        )
        .route("/v2/models/{name}/ready", get(model_ready))
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(version_ready),
        )
        .route("/v2/models/{name}/config", get(model_config))
        .route("/v2/models/{name}/stats", get(model_stats))
        .route(
            "/v2/models/{name}/versions/{version}/stats",
            get(version_stats),
        )
        .route("/v2/models/{name}/infer", post(infer))
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(version_infer),
        )
        .route("/v2/repository/index", post(repository_index))
        .route("/v2/repository/models/{name}/load", post(load))
        .route("/v2/repository/models/{name}/unload", post(unload))
        .route("/v1/embed", post(embed));
    let app = retrieval::routes(app).on_error(|page| error_response(page.status(), page.message()));
    Ok(crate::web::mount(app))
}

type Answer = Result<Response, ApiError>;

fn json<T: Serialize>(value: &T) -> Answer {
    Ok(Json(value).into_response())
}

#[derive(Serialize)]
struct ServerMetadata {
    name: &'static str,
    version: &'static str,
    extensions: [&'static str; 2],
}

async fn server_metadata() -> Answer {
    json(&ServerMetadata {
        name: "kiln-inference",
        version: env!("CARGO_PKG_VERSION"),
        extensions: ["binary_tensor_data", "model_repository"],
    })
}

#[derive(Serialize)]
struct Live {
    live: bool,
}

async fn live() -> Answer {
    json(&Live { live: true })
}

#[derive(Serialize)]
struct Ready<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    ready: bool,
}

/// Ready when at least one model is loaded (503 otherwise: nothing can be served).
async fn ready(State(service): State<Inference>) -> Answer {
    let ready = service.any_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = Json(Ready { name: None, ready }).into_response();
    response.status = status;
    Ok(response)
}

#[derive(Serialize)]
struct ModelMetadata<'a> {
    name: &'a str,
    versions: Vec<String>,
    platform: &'static str,
    inputs: &'a [TensorSpec],
    outputs: &'a [TensorSpec],
}

fn metadata(service: &Inference, name: &str, version: Option<&str>) -> Answer {
    let (model, loaded) = service.version(name, version)?;
    let versions = match version {
        Some(_) => vec![loaded.version.to_string()],
        None => model.versions.keys().map(u64::to_string).collect(),
    };
    json(&ModelMetadata {
        name: &model.config.name,
        versions,
        platform: model.config.engine.platform(),
        inputs: &model.config.inputs,
        outputs: &model.config.outputs,
    })
}

async fn model_metadata(State(service): State<Inference>, Path(name): Path<String>) -> Answer {
    metadata(&service, &name, None)
}

async fn version_metadata(
    State(service): State<Inference>,
    Path((name, version)): Path<(String, String)>,
) -> Answer {
    metadata(&service, &name, Some(&version))
}

fn readiness(service: &Inference, name: &str, version: Option<&str>) -> Answer {
    service.version(name, version)?;
    json(&Ready {
        name: Some(name),
        ready: true,
    })
}

async fn model_ready(State(service): State<Inference>, Path(name): Path<String>) -> Answer {
    readiness(&service, &name, None)
}

async fn version_ready(
    State(service): State<Inference>,
    Path((name, version)): Path<(String, String)>,
) -> Answer {
    readiness(&service, &name, Some(&version))
}

async fn model_config(State(service): State<Inference>, Path(name): Path<String>) -> Answer {
    let model = service.model(&name)?;
    let config: &ModelConfig = &model.config;
    json(config)
}

#[derive(Serialize)]
struct Stats<'a> {
    name: &'a str,
    version: String,
    recent_batches: Vec<crate::service::runner::BatchNote>,
}

fn stats(service: &Inference, name: &str, version: Option<&str>) -> Answer {
    let (version, recent_batches) = service.batches(name, version)?;
    json(&Stats {
        name,
        version: version.to_string(),
        recent_batches,
    })
}

async fn model_stats(State(service): State<Inference>, Path(name): Path<String>) -> Answer {
    stats(&service, &name, None)
}

async fn version_stats(
    State(service): State<Inference>,
    Path((name, version)): Path<(String, String)>,
) -> Answer {
    stats(&service, &name, Some(&version))
}

/// The deadline a request asks for: its `timeout` parameter (µs) or `Timeout-Ms` header.
fn deadline(timeout_us: Option<u64>, headers: &Headers) -> Result<Option<Instant>, ApiError> {
    let header_ms = match headers.get_str("timeout-ms") {
        None => None,
        Some(text) => Some(
            text.trim()
                .parse::<u64>()
                .ok()
                .filter(|&ms| ms > 0)
                .ok_or_else(|| {
                    ApiError::bad_request("Timeout-Ms is a positive number of milliseconds")
                })?,
        ),
    };
    let timeout = match (timeout_us, header_ms) {
        (Some(us), _) => Duration::from_micros(us),
        (None, Some(ms)) => Duration::from_millis(ms),
        (None, None) => return Ok(None),
    };
    if timeout > Duration::from_millis(REQUEST_TIMEOUT_MS_MAX) {
        return Err(ApiError::bad_request(format!(
            "a timeout is at most {REQUEST_TIMEOUT_MS_MAX} ms"
        )));
    }
    Ok(Some(Instant::now() + timeout))
}

async fn infer(
    State(service): State<Inference>,
    Path(name): Path<String>,
    headers: Headers,
    body: Bytes,
) -> Answer {
    run_infer(&service, &name, None, &headers, &body).await
}

async fn version_infer(
    State(service): State<Inference>,
    Path((name, version)): Path<(String, String)>,
    headers: Headers,
    body: Bytes,
) -> Answer {
    run_infer(&service, &name, Some(&version), &headers, &body).await
}

async fn run_infer(
    service: &Inference,
    name: &str,
    version: Option<&str>,
    headers: &Headers,
    body: &Bytes,
) -> Answer {
    // Unknown model first: a 404 says more than a complaint about the body.
    service.version(name, version)?;
    let header_length = headers.get_str("inference-header-content-length");
    let mut request = kserve::parse_infer(body, header_length)?;
    let deadline = deadline(request.timeout_us, headers)?;
    let asked: Vec<String> = request.outputs.iter().map(|o| o.name.clone()).collect();
    let inputs = std::mem::take(&mut request.inputs);
    let inferred = service
        .infer_observed(name, version, inputs, &asked, deadline)
        .await?;
    let rendered = kserve::render_infer(
        &inferred.model,
        inferred.version,
        request.id.as_deref(),
        &inferred.outputs,
        |output| request.wants_binary(output),
    )
    .map_err(|error| {
        tracing::warn!(%error, "infer response not serialisable");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the response could not be serialised (a NaN or infinite output?)",
        )
    })?;
    let mut response = Response::ok(rendered.body);
    match rendered.header_length {
        Some(length) => {
            let value = HeaderValue::try_from(length.to_string())
                .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "bad header"))?;
            let _ = response.set_header("inference-header-content-length", value);
            Ok(response.with_static_header("content-type", "application/octet-stream"))
        }
        None => Ok(response.with_static_header("content-type", "application/json")),
    }
}

#[derive(Deserialize, Default)]
struct IndexRequest {
    #[serde(default)]
    ready: bool,
}

async fn repository_index(State(service): State<Inference>, body: Bytes) -> Answer {
    let request: IndexRequest = if body.iter().all(u8::is_ascii_whitespace) {
        IndexRequest::default()
    } else {
        sonic_rs::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("malformed index request: {e}")))?
    };
    let mut index = service.index();
    if request.ready {
        index.retain(|entry| entry.state == "READY");
    }
    json(&index)
}

#[derive(Serialize)]
struct Empty {}

async fn load(State(service): State<Inference>, Path(name): Path<String>) -> Answer {
    let loaded = kiln::runtime::spawn_blocking(move || service.load(&name))
        .await
        .map_err(|error| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot load now: {error}"),
            )
        })?;
    loaded?;
    json(&Empty {})
}

async fn unload(State(service): State<Inference>, Path(name): Path<String>) -> Answer {
    service.unload(&name)?;
    json(&Empty {})
}

/// The text model `/v1/embed` uses when the request names none.
pub const DEFAULT_TEXT_MODEL: &str = "minilm";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbedRequest {
    texts: Vec<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Serialize)]
struct EmbedResponse<'a> {
    model: &'a str,
    model_version: String,
    dimensions: usize,
    embeddings: &'a [Vec<f32>],
}

async fn embed(State(service): State<Inference>, headers: Headers, body: Bytes) -> Answer {
    let request: EmbedRequest = sonic_rs::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("malformed embed request: {e}")))?;
    let deadline = deadline(None, &headers)?;
    let model = request.model.as_deref().unwrap_or(DEFAULT_TEXT_MODEL);
    let embedded = service
        .embed_observed(model, request.version.as_deref(), &request.texts, deadline)
        .await?;
    json(&EmbedResponse {
        model: &embedded.model,
        model_version: embedded.version.to_string(),
        dimensions: embedded.embeddings.first().map_or(0, Vec::len),
        embeddings: &embedded.embeddings,
    })
}
