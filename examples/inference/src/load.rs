//! The retrieval commands: `inference load-corpus` embeds the demo corpus
//! (`domain/corpus.rs`) with MiniLM through its batcher and stores it, in batches, skipping
//! what an earlier run stored; `inference recall` measures recall@10 of the HNSW index
//! against exact search, on the stored embeddings and on seeded clustered vectors, with
//! each search's time. Both run outside kiln's runtime (`block_on` below waits on the
//! batcher's futures by parking the thread). Not here: the HTTP routes (`api/retrieval.rs`).
//! Tests: `tests/cli/retrieval.rs` runs both.

use crate::domain::corpus::demo_corpus;
use crate::service::Inference;
use crate::service::index::{IndexSettings, VectorIndex, clustered_vectors};
use crate::service::retrieval::{DocumentInput, SEARCH_MODEL};
use crate::store::{SqliteStore, Store};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

/// Texts embedded per call while loading (the model's `max_batch` or less).
const LOAD_BATCH_TEXTS: usize = 32;

/// Runs `future` to completion on this thread (for commands; never on a kiln worker).
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// Embeds and stores the first `limit` texts of the demo corpus not yet stored; answers
/// how many were added and how many the store holds.
pub fn load_corpus(models: &Path, db: &Path, limit: usize) -> anyhow::Result<(usize, usize)> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(db)?);
    let held = store.document_count()?;
    let corpus = demo_corpus().map_err(anyhow::Error::msg)?;
    let wanted = corpus.len().min(limit);
    if held >= wanted {
        return Ok((0, held));
    }
    let service = Inference::open_with_store(models, Some(store.clone()), Default::default())?;
    let mut added = 0;
    for chunk in corpus[held..wanted].chunks(LOAD_BATCH_TEXTS) {
        let texts: Vec<String> = chunk.iter().map(|(_, text)| text.clone()).collect();
        let pinned = store.embedding_model()?.map(|m| m.version.to_string());
        let embedded = block_on(service.embed(SEARCH_MODEL, pinned.as_deref(), &texts, None))
            .map_err(|e| anyhow::anyhow!("embedding the corpus: {e}"))?;
        let model = crate::store::EmbeddingModel {
            model: embedded.model,
            version: embedded.version,
        };
        let documents = chunk
            .iter()
            .map(|(topic, text)| DocumentInput {
                text: text.clone(),
                topic: Some(topic.clone()),
            })
            .collect();
        service
            .store_documents(&model, documents, embedded.embeddings)
            .map_err(|e| anyhow::anyhow!("storing the corpus: {e}"))?;
        added += chunk.len();
    }
    Ok((added, store.document_count()?))
}

/// One row of the recall report.
#[derive(Clone, Debug)]
pub struct RecallRow {
    pub set: String,
    pub documents: usize,
    pub dimensions: usize,
    pub queries: usize,
    pub recall_at_10: f64,
    pub build_ms: u128,
    pub exact_us: u128,
    pub hnsw_us: u128,
}

fn measure(
    set: &str,
    vectors: Vec<Vec<f32>>,
    queries: &[Vec<f32>],
    settings: &IndexSettings,
) -> anyhow::Result<RecallRow> {
    let documents = vectors.len();
    let dimensions = vectors.first().map_or(0, Vec::len);
    let mut index = VectorIndex::new(IndexSettings {
        threshold_docs: 1,
        tail_docs_max: usize::MAX,
        ..settings.clone()
    });
    let pairs: Vec<(i64, Vec<f32>)> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i as i64 + 1, v))
        .collect();
    let started = Instant::now();
    index.add(&pairs).map_err(anyhow::Error::msg)?;
    let build_ms = started.elapsed().as_millis();
    let started = Instant::now();
    for query in queries {
        index.search_exact(query, 10).map_err(anyhow::Error::msg)?;
    }
    let exact_us = started.elapsed().as_micros() / queries.len().max(1) as u128;
    let started = Instant::now();
    for query in queries {
        index.search(query, 10).map_err(anyhow::Error::msg)?;
    }
    let hnsw_us = started.elapsed().as_micros() / queries.len().max(1) as u128;
    let recall_at_10 = index.recall_at(queries, 10).map_err(anyhow::Error::msg)?;
    Ok(RecallRow {
        set: set.to_owned(),
        documents,
        dimensions,
        queries: queries.len(),
        recall_at_10,
        build_ms,
        exact_us,
        hnsw_us,
    })
}

/// Recall@10 of HNSW against exact search: on the store's embeddings (queries: every
/// `step`-th stored vector, `queries` of them) when it has any, and on `synthetic` seeded
/// 384-dimension vectors in 12 clusters and in one (`queries` more from the same clusters).
pub fn recall(
    db: Option<&Path>,
    queries: usize,
    synthetic: usize,
    settings: &IndexSettings,
) -> anyhow::Result<Vec<RecallRow>> {
    let mut rows = Vec::new();
    if let Some(db) = db.filter(|p| p.exists()) {
        let store = SqliteStore::open(db)?;
        let mut vectors = Vec::new();
        let mut after = 0;
        for _ in 0..=crate::limits::DOCUMENTS_MAX / 1_000 {
            let page = store.embeddings(after, 1_000)?;
            let Some(last) = page.last() else { break };
            after = last.0;
            vectors.extend(page.into_iter().map(|(_, v)| v));
        }
        if !vectors.is_empty() {
            let step = (vectors.len() / queries.max(1)).max(1);
            let picked: Vec<Vec<f32>> = vectors
                .iter()
                .step_by(step)
                .take(queries)
                .cloned()
                .collect();
            rows.push(measure(
                "stored (demo corpus, MiniLM)",
                vectors,
                &picked,
                settings,
            )?);
        }
    }
    if synthetic > 0 {
        // 12 clusters (topics, like the corpus), then one: the vectors then differ only
        // by their noise, which is close to uniform random, the hard case for a graph.
        for (clusters, set) in [
            (12, "seeded vectors, 12 clusters"),
            (1, "seeded vectors, 1 cluster"),
        ] {
            let mut vectors = clustered_vectors(synthetic + queries, 384, clusters, 1);
            let picked = vectors.split_off(synthetic);
            rows.push(measure(set, vectors, &picked, settings)?);
        }
    }
    Ok(rows)
}

/// The report as a markdown table.
pub fn recall_table(rows: &[RecallRow]) -> String {
    let mut out = String::from(
        "| set | documents | dimensions | queries | recall@10 | HNSW build ms | exact µs/query | HNSW µs/query |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.4} | {} | {} | {} |\n",
            r.set,
            r.documents,
            r.dimensions,
            r.queries,
            r.recall_at_10,
            r.build_ms,
            r.exact_us,
            r.hnsw_us
        ));
    }
    out
}
