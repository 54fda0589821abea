//! The retrieval and feedback routes: documents and search (`/v1/documents`,
//! `/v1/search`, `/v1/search/{id}/open`), feedback (`/v1/feedback`, the JSONL export
//! `/v1/feedback.jsonl`), and per model: approval over time, the traffic split, threshold
//! recalibration and thresholded decisions (`/v1/models/{name}/...`).
//!
//! Handlers are thin: parse the JSON body or query, call one `Inference` use case
//! (`service/retrieval.rs`, `service/feedback.rs`), render JSON. Errors are the API's
//! `{"error": "..."}` with the status `LoopError` maps to. Tests: `tests/cli/retrieval.rs`,
//! `tests/cli/feedback.rs`.

use super::error::ApiError;
use crate::domain::feedback::Label;
use crate::domain::{Data, Tensor};
use crate::limits::{FEEDBACK_EXPORT_ROWS_MAX, ROWS_PER_REQUEST_MAX};
use crate::service::Inference;
use crate::service::feedback::FeedbackInput;
use crate::service::retrieval::{DocumentInput, LoopError};
use bytes::Bytes;
use kiln::app::{App, IntoResponse, Json, Path, Query, State, get, post};
use kiln::http::{HeaderValue, Response, StatusCode};
use serde::{Deserialize, de::DeserializeOwned};

type Answer = Result<Response, ApiError>;

/// Adds the routes of this module to `app`.
pub fn routes(app: App<crate::web::WebState>) -> App<crate::web::WebState> {
    app.route("/v1/documents", post(add_documents))
        .route("/v1/search", post(search))
        .route("/v1/search/{id}/open", post(open_result))
        .route("/v1/feedback", post(feedback))
        .route("/v1/feedback.jsonl", get(export))
        .route("/v1/models/{name}/approval", get(approval))
        .route("/v1/models/{name}/split", get(split))
        .route("/v1/models/{name}/recalibrate", post(recalibrate))
        .route("/v1/models/{name}/decide", post(decide))
}

impl From<LoopError> for ApiError {
    fn from(error: LoopError) -> ApiError {
        let message = error.to_string();
        let (status, retry) = match error {
            LoopError::Service(error) => return ApiError::from(error),
            LoopError::BadInput(_) => (StatusCode::BAD_REQUEST, false),
            LoopError::NotFound(_) => (StatusCode::NOT_FOUND, false),
            LoopError::NotEnough(_) => (StatusCode::CONFLICT, false),
            LoopError::Full => (
                StatusCode::from_u16(507).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                false,
            ),
            LoopError::NoStore => (StatusCode::SERVICE_UNAVAILABLE, false),
            LoopError::Busy => (StatusCode::SERVICE_UNAVAILABLE, true),
            LoopError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, false),
        };
        ApiError {
            status,
            message,
            retry,
        }
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, ApiError> {
    sonic_rs::from_slice(body).map_err(|e| ApiError::bad_request(format!("malformed {what}: {e}")))
}

fn json<T: serde::Serialize>(value: &T) -> Answer {
    Ok(Json(value).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddRequest {
    texts: Vec<String>,
}

async fn add_documents(State(service): State<Inference>, body: Bytes) -> Answer {
    let request: AddRequest = parse(&body, "documents request")?;
    let documents = request
        .texts
        .into_iter()
        .map(|text| DocumentInput { text, topic: None })
        .collect();
    json(&service.add_documents(documents).await?)
}

fn default_k() -> usize {
    10
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchRequest {
    query: String,
    #[serde(default = "default_k")]
    k: usize,
}

async fn search(State(service): State<Inference>, body: Bytes) -> Answer {
    let request: SearchRequest = parse(&body, "search request")?;
    json(&service.search_documents(request.query, request.k).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenRequest {
    document: i64,
}

#[derive(serde::Serialize)]
struct Opened {
    search_id: i64,
    document: i64,
    rank: usize,
}

async fn open_result(
    State(service): State<Inference>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let search_id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("search id {id:?} is not a number")))?;
    let request: OpenRequest = parse(&body, "open request")?;
    let rank = service.open_result(search_id, request.document).await?;
    json(&Opened {
        search_id,
        document: request.document,
        rank,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackRequest {
    model: String,
    /// The version that answered (`model_version` of the answer), as a string or a number.
    version: sonic_rs::Value,
    /// A request id or an input digest.
    subject: String,
    label: String,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    predicted: Option<bool>,
}

fn version_of(value: &sonic_rs::Value) -> Result<u64, ApiError> {
    use sonic_rs::JsonValueTrait;
    let parsed = match value.as_str() {
        Some(text) => text.parse::<u64>().ok(),
        None => value.as_u64(),
    };
    parsed
        .filter(|&v| v > 0)
        .ok_or_else(|| ApiError::bad_request("version must be a positive integer"))
}

#[derive(serde::Serialize)]
struct Recorded {
    id: i64,
}

async fn feedback(State(service): State<Inference>, body: Bytes) -> Answer {
    let request: FeedbackRequest = parse(&body, "feedback")?;
    let label = Label::parse(&request.label).ok_or_else(|| {
        ApiError::bad_request(format!(
            "label must be \"up\" or \"down\", not {:?}",
            request.label
        ))
    })?;
    let id = service
        .record_feedback(FeedbackInput {
            version: version_of(&request.version)?,
            model: request.model,
            subject: request.subject,
            label,
            score: request.score,
            predicted: request.predicted,
        })
        .await?;
    json(&Recorded { id })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "export_limit")]
    limit: usize,
}

fn export_limit() -> usize {
    FEEDBACK_EXPORT_ROWS_MAX
}

/// One page of feedback as JSON lines; a full page carries `X-Next-After` (the last id),
/// the `after` of the next page.
async fn export(State(service): State<Inference>, Query(query): Query<ExportQuery>) -> Answer {
    let rows = service.feedback_page(query.after, query.limit).await?;
    let mut body = Vec::with_capacity(rows.len() * 160);
    for row in &rows {
        sonic_rs::to_writer(&mut body, row)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        body.push(b'\n');
    }
    let mut response =
        Response::ok(body).with_static_header("content-type", "application/x-ndjson");
    if rows.len() == query.limit
        && let Some(last) = rows.last()
        && let Ok(value) = HeaderValue::try_from(last.id.to_string())
    {
        let _ = response.set_header("x-next-after", value);
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalQuery {
    #[serde(default)]
    since_ms: i64,
    #[serde(default = "hour_ms")]
    bucket_ms: i64,
}

fn hour_ms() -> i64 {
    3_600_000
}

#[derive(serde::Serialize)]
struct ApprovalAnswer {
    model: String,
    bucket_ms: i64,
    buckets: Vec<crate::domain::feedback::Approval>,
}

async fn approval(
    State(service): State<Inference>,
    Path(name): Path<String>,
    Query(query): Query<ApprovalQuery>,
) -> Answer {
    service.model(&name)?;
    let buckets = service
        .approval(&name, query.since_ms, query.bucket_ms)
        .await?;
    json(&ApprovalAnswer {
        model: name,
        bucket_ms: query.bucket_ms,
        buckets,
    })
}

async fn split(State(service): State<Inference>, Path(name): Path<String>) -> Answer {
    json(&service.split_status(&name).await?)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RecalibrateRequest {
    #[serde(default)]
    version: Option<u64>,
}

async fn recalibrate(
    State(service): State<Inference>,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    let request: RecalibrateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RecalibrateRequest::default()
    } else {
        parse(&body, "recalibrate request")?
    };
    json(&service.recalibrate(&name, request.version).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideRequest {
    /// Rows of features.
    features: Vec<Vec<f32>>,
    #[serde(default)]
    version: Option<String>,
}

async fn decide(State(service): State<Inference>, Path(name): Path<String>, body: Bytes) -> Answer {
    let model = service.model(&name)?;
    let request: DecideRequest = parse(&body, "decide request")?;
    let rows = request.features.len();
    if rows == 0 || rows > ROWS_PER_REQUEST_MAX {
        return Err(ApiError::bad_request(format!(
            "send 1 to {ROWS_PER_REQUEST_MAX} rows of features, not {rows}"
        )));
    }
    let width = request.features[0].len();
    if request.features.iter().any(|row| row.len() != width) {
        return Err(ApiError::bad_request(
            "every row needs the same number of features",
        ));
    }
    let input = model
        .config
        .inputs
        .first()
        .map(|spec| spec.name.clone())
        .unwrap_or_default();
    let flat: Vec<f32> = request.features.into_iter().flatten().collect();
    let tensor =
        Tensor::new(input, vec![rows, width], Data::F32(flat)).map_err(ApiError::bad_request)?;
    json(
        &service
            .decide(&name, request.version.as_deref(), tensor)
            .await?,
    )
}
