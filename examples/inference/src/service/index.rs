//! The in-memory vector index behind `POST /v1/search`: every stored document's unit
//! vector, searched exactly (`domain::search::exact`, the reference) while the store is
//! small, and through an HNSW graph (the `instant-distance` crate) once it holds
//! `threshold_docs` documents. The graph is built over the documents present at build
//! time; documents added later form a tail searched exactly beside it and merged, and when
//! the tail passes `tail_docs_max` the graph is rebuilt with them (instant-distance builds
//! a graph at once; it has no insert).
//!
//! No I/O: the service fills it from the store at start and after each write. `add`
//! builds at once; the service instead adds with `add_vectors` and builds from a
//! `graph_plan` without holding the index, so searches go on (exact over the tail) while a
//! graph is built, which takes seconds at the demo corpus's size. Tests at the bottom
//! (recall floor of the graph against exact search on seeded vectors).

use crate::domain::bandit::SplitRng;
use crate::domain::search::{Scored, exact, normalised, recall, top_k};
use instant_distance::{Builder, HnswMap, Search};

/// The index's settings (the defaults come from `limits.rs`).
#[derive(Clone, Debug)]
pub struct IndexSettings {
    /// From this many documents on, the HNSW graph is used.
    pub threshold_docs: usize,
    /// Documents searched exactly beside the graph before it is rebuilt.
    pub tail_docs_max: usize,
    /// Candidates kept while searching the graph (HNSW's `ef`); at least `k`.
    pub ef_search: usize,
    /// Candidates kept while building the graph (`efConstruction`).
    pub ef_construction: usize,
    /// Seed of the graph's layer assignment.
    pub seed: u64,
}

impl Default for IndexSettings {
    fn default() -> IndexSettings {
        IndexSettings {
            threshold_docs: crate::limits::HNSW_THRESHOLD_DOCS,
            tail_docs_max: crate::limits::HNSW_TAIL_DOCS_MAX,
            ef_search: 128,
            ef_construction: 40,
            seed: 13,
        }
    }
}

/// A unit vector as an HNSW point; distance `1 - cosine`.
#[derive(Clone, Debug)]
struct Unit(Vec<f32>);

impl instant_distance::Point for Unit {
    fn distance(&self, other: &Self) -> f32 {
        (1.0 - crate::domain::search::dot(&self.0, &other.0)).max(0.0)
    }
}

/// Which way a search went (reported with the results).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Exact,
    Hnsw,
}

/// The input of a graph build, copied out of the index.
pub struct GraphPlan {
    points: Vec<Unit>,
    ids: Vec<i64>,
    settings: IndexSettings,
}

/// A built HNSW graph over the first `len` documents of an index.
pub struct Graph {
    map: HnswMap<Unit, i64>,
    len: usize,
}

impl GraphPlan {
    /// Builds the graph (slow: seconds for thousands of documents in a release build).
    pub fn build(self) -> Graph {
        let len = self.ids.len();
        let map = Builder::default()
            .seed(self.settings.seed)
            .ef_construction(self.settings.ef_construction)
            .ef_search(self.settings.ef_search)
            .build(self.points, self.ids);
        Graph { map, len }
    }
}

pub struct VectorIndex {
    settings: IndexSettings,
    dimensions: Option<usize>,
    ids: Vec<i64>,
    /// `ids.len() * dimensions` components, row by row.
    vectors: Vec<f32>,
    /// The graph over the first `graph_len` documents.
    graph: Option<HnswMap<Unit, i64>>,
    graph_len: usize,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("documents", &self.ids.len())
            .field("graph_len", &self.graph_len)
            .finish()
    }
}

impl VectorIndex {
    pub fn new(settings: IndexSettings) -> VectorIndex {
        VectorIndex {
            settings,
            dimensions: None,
            ids: Vec::new(),
            vectors: Vec::new(),
            graph: None,
            graph_len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn dimensions(&self) -> Option<usize> {
        self.dimensions
    }

    /// Documents the graph covers (0 without a graph).
    pub fn graph_len(&self) -> usize {
        self.graph_len
    }

    /// Adds documents (normalised here) and builds or rebuilds the graph at once when the
    /// rules above say so. Nothing is added on error.
    pub fn add(&mut self, documents: &[(i64, Vec<f32>)]) -> Result<(), String> {
        self.add_vectors(documents)?;
        if let Some(plan) = self.graph_plan() {
            self.install(plan.build());
        }
        Ok(())
    }

    /// Adds documents (normalised here) without touching the graph; every vector must
    /// have the index's dimensions. Nothing is added on error.
    pub fn add_vectors(&mut self, documents: &[(i64, Vec<f32>)]) -> Result<(), String> {
        let mut units = Vec::with_capacity(documents.len());
        let mut dimensions = self.dimensions;
        for (id, vector) in documents {
            let want = *dimensions.get_or_insert(vector.len());
            if vector.len() != want || want == 0 {
                return Err(format!(
                    "document {id} has {} dimensions, the index {want}",
                    vector.len()
                ));
            }
            let unit = normalised(vector).ok_or_else(|| format!("document {id}: a zero vector"))?;
            units.push((*id, unit));
        }
        self.dimensions = dimensions;
        for (id, unit) in units {
            self.ids.push(id);
            self.vectors.extend_from_slice(&unit);
        }
        Ok(())
    }

    fn row(&self, index: usize) -> &[f32] {
        let width = self.dimensions.unwrap_or(0);
        &self.vectors[index * width..(index + 1) * width]
    }

    fn rows(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = (i64, &[f32])> {
        range.map(|i| (self.ids[i], self.row(i)))
    }

    /// What a graph build needs (a copy of the documents), when one is due: the store
    /// reached `threshold_docs` without a graph, or the tail passed `tail_docs_max`. The
    /// build can then run without holding the index (`GraphPlan::build`, `install`).
    pub fn graph_plan(&self) -> Option<GraphPlan> {
        let len = self.ids.len();
        let due = len >= self.settings.threshold_docs
            && (self.graph.is_none() || len - self.graph_len > self.settings.tail_docs_max);
        due.then(|| GraphPlan {
            points: (0..len).map(|i| Unit(self.row(i).to_vec())).collect(),
            ids: self.ids[..len].to_vec(),
            settings: self.settings.clone(),
        })
    }

    /// Puts a built graph in place (the documents it covers are the first it holds, which
    /// the index never reorders).
    pub fn install(&mut self, graph: Graph) {
        if graph.len >= self.graph_len && graph.len <= self.ids.len() {
            self.graph_len = graph.len;
            self.graph = Some(graph.map);
        }
    }

    /// The `k` nearest documents to `query` (any length > 0 vector of the index's
    /// dimensions): through the graph plus the tail when there is a graph, exactly
    /// otherwise. An empty index answers nothing.
    pub fn search(&self, query: &[f32], k: usize) -> Result<(Vec<Scored>, Method), String> {
        let query = self.unit_query(query)?;
        let Some(query) = query else {
            return Ok((Vec::new(), Method::Exact));
        };
        match &self.graph {
            None => Ok((exact(&query, self.rows(0..self.len()), k), Method::Exact)),
            Some(graph) => {
                let mut search = Search::default();
                let from_graph =
                    graph
                        .search(&Unit(query.clone()), &mut search)
                        .take(k)
                        .map(|item| Scored {
                            id: *item.value,
                            score: 1.0 - item.distance,
                        });
                let tail = exact(&query, self.rows(self.graph_len..self.len()), k);
                Ok((top_k(from_graph.chain(tail), k), Method::Hnsw))
            }
        }
    }

    /// Exact search over every document (the reference), whatever the size.
    pub fn search_exact(&self, query: &[f32], k: usize) -> Result<Vec<Scored>, String> {
        Ok(match self.unit_query(query)? {
            Some(query) => exact(&query, self.rows(0..self.len()), k),
            None => Vec::new(),
        })
    }

    fn unit_query(&self, query: &[f32]) -> Result<Option<Vec<f32>>, String> {
        let Some(width) = self.dimensions else {
            return Ok(None);
        };
        if query.len() != width {
            return Err(format!(
                "the query has {} dimensions, the index {width}",
                query.len()
            ));
        }
        normalised(query)
            .map(Some)
            .ok_or_else(|| "the query is a zero vector".to_owned())
    }

    /// Mean recall@k of the search (graph when built) against exact search, over `queries`.
    pub fn recall_at(&self, queries: &[Vec<f32>], k: usize) -> Result<f64, String> {
        let mut total = 0.0;
        for query in queries {
            let truth = self.search_exact(query, k)?;
            let (found, _) = self.search(query, k)?;
            total += recall(&truth, &found);
        }
        Ok(total / queries.len().max(1) as f64)
    }
}

/// `count` seeded vectors of `dimensions` around `clusters` random centres (embeddings of
/// real texts cluster by topic; uniform random vectors in high dimensions are the
/// worst case for any graph index and unlike them). For tests and `inference recall`.
pub fn clustered_vectors(
    count: usize,
    dimensions: usize,
    clusters: usize,
    seed: u64,
) -> Vec<Vec<f32>> {
    let mut rng = SplitRng::new(seed);
    let mut uniform = move || (rng.next_f64() * 2.0 - 1.0) as f32;
    let centres: Vec<Vec<f32>> = (0..clusters.max(1))
        .map(|_| (0..dimensions).map(|_| uniform()).collect())
        .collect();
    (0..count)
        .map(|i| {
            let centre = &centres[i % centres.len()];
            centre.iter().map(|c| c + 0.6 * uniform()).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(threshold_docs: usize, tail_docs_max: usize) -> IndexSettings {
        IndexSettings {
            threshold_docs,
            tail_docs_max,
            ..IndexSettings::default()
        }
    }

    fn with_ids(vectors: Vec<Vec<f32>>, first_id: i64) -> Vec<(i64, Vec<f32>)> {
        vectors
            .into_iter()
            .enumerate()
            .map(|(i, v)| (first_id + i as i64, v))
            .collect()
    }

    #[test]
    fn below_the_threshold_search_is_exact() {
        let mut index = VectorIndex::new(small(100, 10));
        assert_eq!(
            index.search(&[1.0, 0.0], 3).unwrap(),
            (vec![], Method::Exact)
        );
        index
            .add(&[
                (1, vec![1.0, 0.0]),
                (2, vec![0.0, 2.0]),
                (3, vec![1.0, 1.0]),
            ])
            .unwrap();
        let (found, method) = index.search(&[2.0, 0.1], 2).unwrap();
        assert_eq!(method, Method::Exact);
        assert_eq!(found.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1, 3]);
        assert!((found[0].score - 0.99875).abs() < 1e-3);
    }

    #[test]
    fn bad_vectors_are_refused_and_nothing_is_added() {
        let mut index = VectorIndex::new(small(100, 10));
        index.add(&[(1, vec![1.0, 0.0])]).unwrap();
        let error = index
            .add(&[(2, vec![1.0, 0.0]), (3, vec![1.0])])
            .unwrap_err();
        assert!(error.contains("document 3 has 1 dimensions"), "{error}");
        assert_eq!(index.len(), 1);
        assert!(
            index
                .add(&[(4, vec![0.0, 0.0])])
                .unwrap_err()
                .contains("zero")
        );
        assert!(
            index
                .search(&[1.0, 0.0, 0.0], 1)
                .unwrap_err()
                .contains("3 dimensions")
        );
        assert!(index.search(&[0.0, 0.0], 1).unwrap_err().contains("zero"));
    }

    /// The named threshold switches to the graph; recall@10 against exact search stays
    /// above a floor on seeded clustered vectors, and the tail of later documents is found.
    #[test]
    fn hnsw_recall_at_10_beats_the_floor_and_the_tail_is_searched() {
        const RECALL_FLOOR: f64 = 0.9;
        let vectors = clustered_vectors(1_200, 24, 12, 5);
        let mut index = VectorIndex::new(small(1_000, 300));
        index.add(&with_ids(vectors[..999].to_vec(), 1)).unwrap();
        assert_eq!(index.graph_len(), 0, "below the threshold");
        index
            .add(&with_ids(vectors[999..1_000].to_vec(), 1_000))
            .unwrap();
        assert_eq!(index.graph_len(), 1_000, "built at the threshold");
        let queries = clustered_vectors(100, 24, 12, 99);
        let recall = index.recall_at(&queries, 10).unwrap();
        assert!(recall >= RECALL_FLOOR, "recall@10 {recall}");
        let (_, method) = index.search(&queries[0], 10).unwrap();
        assert_eq!(method, Method::Hnsw);

        // A later document, in the tail: its own vector finds it first.
        index
            .add(&with_ids(vectors[1_000..1_200].to_vec(), 1_001))
            .unwrap();
        assert_eq!(index.graph_len(), 1_000, "the tail is below tail_docs_max");
        let (found, _) = index.search(&vectors[1_100], 1).unwrap();
        assert_eq!(found[0].id, 1_101);
        assert!(index.recall_at(&queries, 10).unwrap() >= RECALL_FLOOR);
    }

    #[test]
    fn a_long_tail_rebuilds_the_graph() {
        let vectors = clustered_vectors(130, 8, 4, 1);
        let mut index = VectorIndex::new(small(100, 20));
        index.add(&with_ids(vectors[..100].to_vec(), 1)).unwrap();
        index
            .add(&with_ids(vectors[100..120].to_vec(), 101))
            .unwrap();
        assert_eq!(
            index.graph_len(),
            100,
            "a tail of exactly tail_docs_max is kept"
        );
        index.add(&with_ids(vectors[120..].to_vec(), 121)).unwrap();
        assert_eq!(index.graph_len(), 130, "one more rebuilds");
    }

    #[test]
    fn clustered_vectors_are_seeded() {
        assert_eq!(clustered_vectors(5, 3, 2, 7), clustered_vectors(5, 3, 2, 7));
        assert_ne!(clustered_vectors(5, 3, 2, 7), clustered_vectors(5, 3, 2, 8));
    }
}
