//! Document search: documents are embedded by the default text model (`minilm`) through
//! its batcher, stored with their embeddings (`store/`) and kept in the in-memory
//! `VectorIndex` (exact below `HNSW_THRESHOLD_DOCS`, HNSW from there on); a search embeds
//! the query with the same model version, ranks, and is remembered so that opening a
//! result can be recorded (`open_result`, which also counts as passive approval of the
//! model version that embedded it).
//!
//! `Loop` is the state retrieval, feedback and splits share inside `Inference`: the store
//! (absent when the service was opened without one: these use cases then answer
//! `LoopError::NoStore`), the index and the live splits (`feedback.rs`). Store calls and
//! index rebuilds run on kiln's blocking pool; model calls on the batcher. Not here: HTTP
//! (`api/retrieval.rs`), ranking rules (`domain/search.rs`). Tests: `tests/cli/retrieval.rs`
//! (with MiniLM) and the unit tests of `index.rs` and `store/`.

use super::index::{IndexSettings, Method, VectorIndex};
use super::{Inference, ServiceError};
use crate::domain::bandit::Split;
use crate::domain::feedback::{Feedback, Label, Source};
use crate::domain::search::Scored;
use crate::limits::{
    DOCUMENT_BYTES_MAX, DOCUMENTS_MAX, DOCUMENTS_PER_REQUEST_MAX, QUERY_BYTES_MAX,
    SEARCH_RESULTS_MAX, SEARCHES_KEPT_MAX,
};
use crate::store::{Document, EmbeddingModel, NewDocument, SearchRecord, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

/// The text model documents and queries are embedded with.
pub const SEARCH_MODEL: &str = "minilm";

/// Embeddings read from the store per query when the index is filled at start.
const INDEX_LOAD_PAGE: usize = 1_000;

/// Why a retrieval or feedback request was not answered.
#[derive(Clone, Debug, PartialEq)]
pub enum LoopError {
    /// From the model side (unknown model, overload, ...): its own status.
    Service(ServiceError),
    /// The request is malformed or breaks a limit. HTTP 400.
    BadInput(String),
    /// No such search or document. HTTP 404.
    NotFound(String),
    /// The store is at `DOCUMENTS_MAX`. HTTP 507.
    Full,
    /// Not enough feedback for a recalibration. HTTP 409.
    NotEnough(String),
    /// The service runs without a store. HTTP 503.
    NoStore,
    /// The blocking pool is full. HTTP 503 with Retry-After.
    Busy,
    /// The store failed (details in the log). HTTP 500.
    Store(String),
}

impl std::fmt::Display for LoopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoopError::Service(error) => error.fmt(f),
            LoopError::BadInput(reason) | LoopError::NotFound(reason) => f.write_str(reason),
            LoopError::NotEnough(reason) => f.write_str(reason),
            LoopError::Full => write!(
                f,
                "the store would pass its maximum of {DOCUMENTS_MAX} documents"
            ),
            LoopError::NoStore => f.write_str("this server runs without a document store"),
            LoopError::Busy => f.write_str("the server is busy; retry later"),
            LoopError::Store(_) => f.write_str("the store failed"),
        }
    }
}

impl From<ServiceError> for LoopError {
    fn from(error: ServiceError) -> LoopError {
        LoopError::Service(error)
    }
}

impl From<StoreError> for LoopError {
    fn from(error: StoreError) -> LoopError {
        tracing::warn!(%error, "store call failed");
        LoopError::Store(error.0)
    }
}

/// Retrieval and feedback state inside `Inference`.
pub struct Loop {
    pub(super) store: Option<Arc<dyn Store>>,
    pub(super) index: Arc<RwLock<VectorIndex>>,
    /// Live traffic splits by model name (`feedback.rs`).
    pub(super) splits: Mutex<BTreeMap<String, Split>>,
    /// Serialises document writes so the index adds ids in the store's order.
    writes: Mutex<()>,
}

impl Loop {
    /// The state for `store`, its index filled from the stored embeddings (blocking).
    pub fn open(
        store: Option<Arc<dyn Store>>,
        settings: IndexSettings,
    ) -> Result<Loop, StoreError> {
        let mut index = VectorIndex::new(settings);
        if let Some(store) = &store {
            let started = std::time::Instant::now();
            let mut after = 0;
            for _ in 0..=DOCUMENTS_MAX / INDEX_LOAD_PAGE {
                let page = store.embeddings(after, INDEX_LOAD_PAGE)?;
                let Some(last) = page.last() else { break };
                after = last.0;
                index.add_vectors(&page).map_err(StoreError)?;
            }
            // One graph over everything stored (adding page by page would build several).
            if let Some(plan) = index.graph_plan() {
                index.install(plan.build());
            }
            tracing::info!(
                documents = index.len(),
                hnsw = index.graph_len() > 0,
                ms = started.elapsed().as_millis() as u64,
                "documents indexed"
            );
        }
        Ok(Loop {
            store,
            index: Arc::new(RwLock::new(index)),
            splits: Mutex::new(BTreeMap::new()),
            writes: Mutex::new(()),
        })
    }

    pub(super) fn store(&self) -> Result<Arc<dyn Store>, LoopError> {
        self.store.clone().ok_or(LoopError::NoStore)
    }
}

/// Runs `f` on kiln's blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LoopError> + Send + 'static,
) -> Result<T, LoopError> {
    kiln::runtime::spawn_blocking(f)
        .await
        .map_err(|error| match error {
            kiln::runtime::BlockingError::Overloaded => LoopError::Busy,
            other => LoopError::Store(other.to_string()),
        })?
}

/// Milliseconds since the Unix epoch.
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A document to add through the API.
#[derive(Clone, Debug)]
pub struct DocumentInput {
    pub text: String,
    pub topic: Option<String>,
}

/// What `add_documents` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Added {
    pub ids: Vec<i64>,
    pub model: String,
    pub model_version: u64,
    /// Documents in the store now.
    pub documents: usize,
    pub method: Method,
}

/// One search hit.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Hit {
    pub rank: usize,
    pub score: f32,
    #[serde(flatten)]
    pub document: Document,
}

/// A search's answer.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Found {
    /// For `POST /v1/search/{id}/open`; `None` when the store is empty.
    pub search_id: Option<i64>,
    pub model: String,
    pub model_version: u64,
    pub method: Method,
    pub results: Vec<Hit>,
}

/// Checks the texts of an add request.
pub fn check_documents(documents: &[DocumentInput]) -> Result<(), LoopError> {
    if documents.is_empty() || documents.len() > DOCUMENTS_PER_REQUEST_MAX {
        return Err(LoopError::BadInput(format!(
            "send 1 to {DOCUMENTS_PER_REQUEST_MAX} documents, not {}",
            documents.len()
        )));
    }
    for (index, document) in documents.iter().enumerate() {
        if document.text.trim().is_empty() {
            return Err(LoopError::BadInput(format!("document {index} is empty")));
        }
        if document.text.len() > DOCUMENT_BYTES_MAX {
            return Err(LoopError::BadInput(format!(
                "document {index} is longer than {DOCUMENT_BYTES_MAX} bytes"
            )));
        }
    }
    Ok(())
}

/// Whether `adding` documents fit beside the `held` ones under `max`.
pub fn check_capacity(held: usize, adding: usize, max: usize) -> Result<(), LoopError> {
    if held.saturating_add(adding) > max {
        return Err(LoopError::Full);
    }
    Ok(())
}

impl Inference {
    /// The model version documents are (or will be) embedded with: the stored documents'
    /// when there are any, else the search model's routed default.
    fn embedding_model(&self) -> Result<Option<EmbeddingModel>, LoopError> {
        let store = self.inner.feedback_loop.store()?;
        Ok(store.embedding_model()?)
    }

    /// Embeds texts with the search model (version pinned to the stored documents').
    pub async fn embed_for_search(
        &self,
        texts: &[String],
    ) -> Result<(EmbeddingModel, Vec<Vec<f32>>), LoopError> {
        let pinned = {
            let this = self.clone();
            blocking(move || this.embedding_model()).await?
        };
        let version = pinned.as_ref().map(|m| m.version.to_string());
        let embedded = self
            .embed(SEARCH_MODEL, version.as_deref(), texts, None)
            .await?;
        Ok((
            EmbeddingModel {
                model: embedded.model,
                version: embedded.version,
            },
            embedded.embeddings,
        ))
    }

    /// Adds documents: embeds them, stores them, indexes them.
    pub async fn add_documents(&self, documents: Vec<DocumentInput>) -> Result<Added, LoopError> {
        check_documents(&documents)?;
        let texts: Vec<String> = documents.iter().map(|d| d.text.clone()).collect();
        let (model, embeddings) = self.embed_for_search(&texts).await?;
        let this = self.clone();
        blocking(move || this.store_documents(&model, documents, embeddings)).await
    }

    /// Stores embedded documents and adds them to the index (blocking; `inference
    /// load-corpus` calls it directly).
    pub fn store_documents(
        &self,
        model: &EmbeddingModel,
        documents: Vec<DocumentInput>,
        embeddings: Vec<Vec<f32>>,
    ) -> Result<Added, LoopError> {
        let state = &self.inner.feedback_loop;
        let store = state.store()?;
        let _write = state.writes.lock().unwrap_or_else(|e| e.into_inner());
        check_capacity(store.document_count()?, documents.len(), DOCUMENTS_MAX)?;
        if let Some(pinned) = store.embedding_model()?
            && pinned != *model
        {
            return Err(LoopError::BadInput(format!(
                "the store holds embeddings of {} version {}, not {} version {}",
                pinned.model, pinned.version, model.model, model.version
            )));
        }
        let new: Vec<NewDocument> = documents
            .into_iter()
            .zip(embeddings)
            .map(|(document, embedding)| NewDocument {
                text: document.text,
                topic: document.topic,
                embedding,
            })
            .collect();
        let ids = store.add_documents(model, &new)?;
        let pairs: Vec<(i64, Vec<f32>)> = ids
            .iter()
            .copied()
            .zip(new.into_iter().map(|d| d.embedding))
            .collect();
        let (plan, documents) = {
            let mut index = state.index.write().unwrap_or_else(|e| e.into_inner());
            index.add_vectors(&pairs).map_err(|reason| {
                tracing::warn!(%reason, "stored documents not indexed");
                LoopError::Store(reason)
            })?;
            (index.graph_plan(), index.len())
        };
        // Built without the index lock (searches go on); writes wait, holding `_write`.
        if let Some(plan) = plan {
            let started = std::time::Instant::now();
            let graph = plan.build();
            tracing::info!(
                documents,
                build_ms = started.elapsed().as_millis() as u64,
                "HNSW index built"
            );
            state
                .index
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .install(graph);
        }
        let index = state.index.read().unwrap_or_else(|e| e.into_inner());
        let method = if index.graph_len() > 0 {
            Method::Hnsw
        } else {
            Method::Exact
        };
        Ok(Added {
            ids,
            model: model.model.clone(),
            model_version: model.version,
            documents: index.len(),
            method,
        })
    }

    /// The `k` stored documents nearest to `query`.
    pub async fn search_documents(&self, query: String, k: usize) -> Result<Found, LoopError> {
        if query.trim().is_empty() || query.len() > QUERY_BYTES_MAX {
            return Err(LoopError::BadInput(format!(
                "the query must be 1 to {QUERY_BYTES_MAX} bytes"
            )));
        }
        if k == 0 || k > SEARCH_RESULTS_MAX {
            return Err(LoopError::BadInput(format!(
                "k must be 1 to {SEARCH_RESULTS_MAX}, not {k}"
            )));
        }
        let (model, mut embeddings) = self.embed_for_search(std::slice::from_ref(&query)).await?;
        let vector = embeddings.pop().unwrap_or_default();
        let this = self.clone();
        blocking(move || this.rank(query, model, &vector, k)).await
    }

    fn rank(
        &self,
        query: String,
        model: EmbeddingModel,
        vector: &[f32],
        k: usize,
    ) -> Result<Found, LoopError> {
        let state = &self.inner.feedback_loop;
        let store = state.store()?;
        let (hits, method) = {
            let index = state.index.read().unwrap_or_else(|e| e.into_inner());
            index.search(vector, k).map_err(LoopError::BadInput)?
        };
        let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
        let documents = store.documents(&ids)?;
        let search_id = if hits.is_empty() {
            None
        } else {
            Some(store.record_search(
                &SearchRecord {
                    id: 0,
                    query,
                    model: model.model.clone(),
                    version: model.version,
                    results: ids,
                    at_ms: now_ms(),
                },
                SEARCHES_KEPT_MAX,
            )?)
        };
        let results = hits
            .iter()
            .zip(documents)
            .enumerate()
            .map(|(rank, (Scored { score, .. }, document))| Hit {
                rank,
                score: *score,
                document,
            })
            .collect();
        Ok(Found {
            search_id,
            model: model.model,
            model_version: model.version,
            method,
            results,
        })
    }

    /// Records that the user opened `document_id` from search `search_id`: stored, and
    /// counted as passive approval of the embedding model's version, once per result of a
    /// search (opening it again answers the same rank and adds nothing).
    pub async fn open_result(&self, search_id: i64, document_id: i64) -> Result<usize, LoopError> {
        let this = self.clone();
        let (record, rank, first_open) = blocking(move || {
            let store = this.inner.feedback_loop.store()?;
            let record = store
                .search(search_id)?
                .ok_or_else(|| LoopError::NotFound(format!("no search {search_id}")))?;
            let rank = record
                .results
                .iter()
                .position(|&id| id == document_id)
                .ok_or_else(|| {
                    LoopError::BadInput(format!(
                        "document {document_id} is not a result of search {search_id}"
                    ))
                })?;
            let first_open = store.record_open(search_id, document_id, rank, now_ms())?;
            Ok((record, rank, first_open))
        })
        .await?;
        if !first_open {
            return Ok(rank);
        }
        let feedback = Feedback {
            id: 0,
            model: record.model,
            version: record.version,
            subject: format!("search:{search_id}:{document_id}"),
            label: Label::Up,
            source: Source::Passive,
            score: None,
            predicted: None,
            at_ms: now_ms(),
        };
        self.add_feedback_row(feedback).await?;
        Ok(rank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_max_is_enforced_at_the_limit() {
        assert_eq!(check_capacity(DOCUMENTS_MAX - 2, 2, DOCUMENTS_MAX), Ok(()));
        assert_eq!(
            check_capacity(DOCUMENTS_MAX - 1, 2, DOCUMENTS_MAX),
            Err(LoopError::Full)
        );
        assert_eq!(
            check_capacity(usize::MAX, 1, DOCUMENTS_MAX),
            Err(LoopError::Full)
        );
    }

    #[test]
    fn document_checks_name_the_limit() {
        let text = |t: &str| DocumentInput {
            text: t.to_owned(),
            topic: None,
        };
        assert!(check_documents(&[]).is_err());
        let at: Vec<_> = (0..DOCUMENTS_PER_REQUEST_MAX).map(|_| text("x")).collect();
        assert!(check_documents(&at).is_ok());
        let over: Vec<_> = (0..=DOCUMENTS_PER_REQUEST_MAX).map(|_| text("x")).collect();
        assert!(check_documents(&over).is_err());
        let long = "a".repeat(DOCUMENT_BYTES_MAX + 1);
        let error = check_documents(&[text("fine"), text(&long)]).unwrap_err();
        assert!(
            error.to_string().contains("document 1 is longer"),
            "{error}"
        );
        assert!(
            check_documents(&[text("  ")])
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[test]
    fn without_a_store_the_use_cases_say_so() {
        let state = Loop::open(None, IndexSettings::default()).unwrap();
        assert_eq!(state.store().err(), Some(LoopError::NoStore));
    }
}
