//! Storage for retrieval and feedback, behind the `Store` trait: documents with their
//! embeddings, the searches made (so an opened result can be traced back), feedback rows,
//! and small per-model state (a recalibrated decision threshold). `SqliteStore`
//! (`sqlite.rs`, migrations in `schema.rs`) is the implementation.
//!
//! Every method is blocking: the service calls them on kiln's blocking pool, never on an
//! I/O worker. Reads that could grow with the data take a limit. Not here: ranking, the
//! approximate index, or any rule about feedback (`domain/`, `service/`). Tests: the
//! trait-level suite in `tests.rs`, run against SQLite in memory.

pub mod schema;
pub mod sqlite;
#[cfg(test)]
mod tests;

use crate::domain::feedback::{Feedback, Label};
pub use sqlite::SqliteStore;

/// A storage failure (the database's message; the cause goes to the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// A document to add: its text, an optional topic (the demo corpus has one) and its
/// embedding (a unit vector).
#[derive(Clone, Debug, PartialEq)]
pub struct NewDocument {
    pub text: String,
    pub topic: Option<String>,
    pub embedding: Vec<f32>,
}

/// A stored document (without its embedding).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Document {
    pub id: i64,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

/// A search as remembered: the query, the model version that embedded it and the ids it
/// answered, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchRecord {
    pub id: i64,
    pub query: String,
    pub model: String,
    pub version: u64,
    pub results: Vec<i64>,
    pub at_ms: i64,
}

/// Which model version embedded the stored documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingModel {
    pub model: String,
    pub version: u64,
}

pub trait Store: Send + Sync {
    /// Adds documents embedded by `model`; answers their ids, in order. All or nothing.
    fn add_documents(
        &self,
        model: &EmbeddingModel,
        documents: &[NewDocument],
    ) -> Result<Vec<i64>, StoreError>;

    fn document_count(&self) -> Result<usize, StoreError>;

    /// The model version the stored documents were embedded with (`None`: no documents).
    fn embedding_model(&self) -> Result<Option<EmbeddingModel>, StoreError>;

    /// Documents by id, in the order asked; ids not found are left out.
    fn documents(&self, ids: &[i64]) -> Result<Vec<Document>, StoreError>;

    /// Up to `limit` `(id, embedding)` pairs with ids above `after_id`, by id.
    fn embeddings(&self, after_id: i64, limit: usize) -> Result<Vec<(i64, Vec<f32>)>, StoreError>;

    /// Remembers a search, forgetting those older than the last `kept` with their opens;
    /// answers its id.
    fn record_search(&self, search: &SearchRecord, kept: i64) -> Result<i64, StoreError>;

    fn search(&self, id: i64) -> Result<Option<SearchRecord>, StoreError>;

    /// Records that result `document_id` (at `rank`, from 0) of search `search_id` was opened.
    /// Answers `false` (and records nothing) when it was already recorded.
    fn record_open(
        &self,
        search_id: i64,
        document_id: i64,
        rank: usize,
        at_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Adds a feedback row (its `id` is ignored), forgetting rows older than the last `kept`;
    /// answers the new id.
    fn add_feedback(&self, feedback: &Feedback, kept: i64) -> Result<i64, StoreError>;

    /// Up to `limit` feedback rows with ids above `after_id`, by id.
    fn feedback_page(&self, after_id: i64, limit: usize) -> Result<Vec<Feedback>, StoreError>;

    /// Feedback counts of `model` since `since_ms`: `(version, bucket start, label, count)`
    /// per bucket of `bucket_ms`, the latest `limit` buckets.
    fn approval_counts(
        &self,
        model: &str,
        since_ms: i64,
        bucket_ms: i64,
        limit: usize,
    ) -> Result<Vec<(u64, i64, Label, u64)>, StoreError>;

    /// The latest `limit` feedback rows of `model` (all versions when `None`), oldest first.
    fn model_feedback(
        &self,
        model: &str,
        version: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Feedback>, StoreError>;

    fn state(&self, model: &str, key: &str) -> Result<Option<String>, StoreError>;

    fn set_state(&self, model: &str, key: &str, value: &str) -> Result<(), StoreError>;

    /// Forgets `key` of `model` (nothing happens if it is not set).
    fn clear_state(&self, model: &str, key: &str) -> Result<(), StoreError>;
}

/// An embedding as a blob: each f32 little-endian.
pub fn embedding_to_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A blob back to an embedding; `None` if its length is not a multiple of 4.
pub fn blob_to_embedding(blob: &[u8]) -> Option<Vec<f32>> {
    if !blob.len().is_multiple_of(4) {
        return None;
    }
    Some(
        blob.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}
