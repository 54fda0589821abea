//! Every limit of the inference app, in one place; units last in the names. Each is enforced
//! where the input is read (`api/`, `domain/config.rs`, `service/`) and hit by a test
//! (`tests/cli/limits.rs` through HTTP, or a unit test beside the rule). A model's own
//! batching settings (`config.json`) are checked against the `*_MAX` values here at load.

/// Largest request body, in bytes (JSON header plus binary tensor data). Beyond it the
/// server answers 413 before the handler runs (`kiln::limits::HttpLimits::body_bytes_max`).
pub const REQUEST_BODY_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Most texts in one `/v1/embed` request or one BYTES input of a text model.
pub const TEXTS_PER_REQUEST_MAX: usize = 64;

/// Longest text, in bytes (UTF-8), before tokenizing. Tokens beyond the model's
/// `max_tokens` are cut (as sentence-transformers does); this bounds the tokenizer's work.
pub const TEXT_BYTES_MAX: usize = 8 * 1024;

/// Text bytes of one request tokenized on the I/O worker that parsed it; a request with
/// more is tokenized on kiln's blocking pool (`service::tokenize`), so one long request
/// does not hold up the worker's other connections. Not a refusal: both ways answer.
pub const TOKENIZE_INLINE_BYTES_MAX: usize = 4 * 1024;

/// Most rows (first dimension) of one tabular infer request.
pub const ROWS_PER_REQUEST_MAX: usize = 1_024;

/// Most elements in one input tensor of a request.
pub const TENSOR_ELEMENTS_MAX: usize = 1 << 20;

/// Most inputs, and most requested outputs, in one infer request.
pub const TENSORS_PER_REQUEST_MAX: usize = 16;

/// Deepest nesting of a JSON `data` array (a tensor of rank 8 nests 8 deep).
pub const DATA_NESTING_MAX: usize = 8;

/// Largest `max_batch` a model's config may ask for.
pub const BATCH_SIZE_MAX: usize = 256;

/// Largest queue (items waiting) a model's config may ask for; also the default's ceiling.
pub const QUEUE_ITEMS_MAX: usize = 16_384;

/// Most model instances (batcher threads) per model version.
pub const INSTANCES_PER_MODEL_MAX: usize = 8;

/// Longest `max_queue_delay_us` a config may set, in microseconds.
pub const QUEUE_DELAY_US_MAX: u64 = 1_000_000;

/// Longest request timeout (`timeout` parameter in microseconds, or `Timeout-Ms` header).
pub const REQUEST_TIMEOUT_MS_MAX: u64 = 60_000;

/// Longest model name, in bytes (`[A-Za-z0-9_.-]`, the directory's name).
pub const MODEL_NAME_BYTES_MAX: usize = 64;

/// Most models in the registry directory (more are ignored, with a log line).
pub const MODELS_MAX: usize = 64;

/// Largest `config.json`, in bytes.
pub const CONFIG_FILE_BYTES_MAX: u64 = 64 * 1024;

/// Most tokens a text model's config may allow per text (`max_tokens`).
pub const TOKENS_PER_TEXT_MAX: usize = 512;

/// Batches remembered per model version for `GET /v2/models/{name}/stats`.
pub const RECENT_BATCHES_MAX: usize = 128;

/// Most padded-length buckets a text model may have. The tract engine keeps one optimised
/// plan per bucket (`engine::tract::PLANS_PER_ENGINE_MAX` is this).
pub const LENGTH_BUCKETS_MAX: usize = 8;

/// Seconds of history the dashboard keeps per model (one sample a second, in a ring).
pub const SERIES_SECONDS_MAX: usize = 300;

/// Dashboard event streams (SSE) open at once; one more is refused with 503.
pub const DASHBOARD_STREAMS_MAX: usize = 32;

/// Events queued per dashboard stream before the sender waits (a slow client holds at most
/// this many rendered updates).
pub const DASHBOARD_STREAM_EVENTS_QUEUED_MAX: usize = 4;

/// Largest `latency_objective_us` the dashboard's controls accept, in microseconds.
pub const LATENCY_OBJECTIVE_US_MAX: u64 = 10_000_000;

// Retrieval, feedback and traffic splits (`api/retrieval.rs`, `service/retrieval.rs`,
// `service/feedback.rs`); hit by `tests/cli/retrieval.rs`, `tests/cli/feedback.rs` or a
// unit test beside the rule.

/// Most documents in one `POST /v1/documents`.
pub const DOCUMENTS_PER_REQUEST_MAX: usize = 64;

/// Longest document text, in bytes (UTF-8).
pub const DOCUMENT_BYTES_MAX: usize = 2 * 1024;

/// Most documents the store holds; beyond it, adding answers 507.
pub const DOCUMENTS_MAX: usize = 100_000;

/// Longest search query, in bytes.
pub const QUERY_BYTES_MAX: usize = 1_024;

/// Most results one search may ask for (`k`).
pub const SEARCH_RESULTS_MAX: usize = 100;

/// Searches remembered for `POST /v1/search/{id}/open`; older ones are forgotten (404).
pub const SEARCHES_KEPT_MAX: i64 = 10_000;

/// From this many documents on, search uses the HNSW index (below it: exact search).
pub const HNSW_THRESHOLD_DOCS: usize = 2_000;

/// Documents added since the HNSW index was built that are searched exactly beside it;
/// one more and the index is rebuilt with them.
pub const HNSW_TAIL_DOCS_MAX: usize = 512;

/// Longest feedback subject (a request id or an input digest), in bytes.
pub const FEEDBACK_SUBJECT_BYTES_MAX: usize = 128;

/// Most rows in one page of `GET /v1/feedback.jsonl` (the next page: `?after=LAST_ID`).
pub const FEEDBACK_EXPORT_ROWS_MAX: usize = 10_000;

/// Most (version, time bucket) rows `GET /v1/models/{name}/approval` answers.
pub const APPROVAL_BUCKETS_MAX: usize = 1_000;

/// Fewest labelled rows a threshold recalibration needs.
pub const RECALIBRATION_SAMPLES_MIN: usize = 20;

/// Most recent labelled rows a recalibration, or a bandit's replay at start, reads.
pub const FEEDBACK_READ_ROWS_MAX: usize = 100_000;

/// Feedback rows kept (active and passive, all models); each new row beyond it forgets the
/// oldest. The JSONL export, approval rates, recalibration and the bandit's replay at start
/// see only these. About 150 bytes a row: at most ~150 MB of feedback.
pub const FEEDBACK_ROWS_KEPT_MAX: i64 = 1_000_000;

/// Most versions in one traffic split.
pub const SPLIT_VERSIONS_MAX: usize = 8;

/// onnxruntime's intra-op threads per session, by default (`--ort-threads`): one, like tract
/// (one thread per model instance) and the benchmark's Python peers; the model then runs on
/// the batcher's own instance thread.
pub const ORT_INTRA_THREADS_DEFAULT: usize = 1;

/// Most intra-op threads per onnxruntime session (`--ort-threads`).
pub const ORT_INTRA_THREADS_MAX: usize = 64;
