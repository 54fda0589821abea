//! Exact nearest-neighbour search over sentence embeddings, the reference the approximate
//! index (`service/index.rs`) is measured against: L2 normalisation, cosine similarity as
//! a dot product of unit vectors, a bounded top-k, and recall@k of one ranking against
//! another. Pure: no I/O, no index structure, no threads. Tests at the bottom.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One search hit: a document id and its cosine similarity to the query (-1..=1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    pub id: i64,
    pub score: f32,
}

/// `vector` scaled to unit length; `None` for a zero, NaN or infinite vector (nothing to
/// compare it with).
pub fn normalised(vector: &[f32]) -> Option<Vec<f32>> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return None;
    }
    Some(vector.iter().map(|x| x / norm).collect())
}

/// The dot product; the cosine similarity when both are unit vectors. Vectors of different
/// lengths compare over the shorter (callers check dimensions first).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A heap entry ordered so the heap's top is the *worst* hit kept (lowest score, then the
/// highest id), which the next better hit replaces.
struct Worst(Scored);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        // Better = higher score, then lower id; the heap's max is the worst.
        other
            .0
            .score
            .total_cmp(&self.0.score)
            .then(self.0.id.cmp(&other.0.id))
    }
}

/// The `k` best of `hits` (highest score first; equal scores by ascending id), in
/// O(n log k) time and O(k) memory.
pub fn top_k(hits: impl IntoIterator<Item = Scored>, k: usize) -> Vec<Scored> {
    if k == 0 {
        return Vec::new();
    }
    let mut heap = BinaryHeap::with_capacity(k + 1);
    for hit in hits {
        if hit.score.is_nan() {
            continue;
        }
        heap.push(Worst(hit));
        if heap.len() > k {
            heap.pop();
        }
    }
    let mut best: Vec<Scored> = heap.into_iter().map(|w| w.0).collect();
    best.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    best
}

/// Exact search: every `(id, unit vector)` scored against the unit `query`, the `k` best.
pub fn exact<'a>(
    query: &[f32],
    documents: impl IntoIterator<Item = (i64, &'a [f32])>,
    k: usize,
) -> Vec<Scored> {
    top_k(
        documents.into_iter().map(|(id, vector)| Scored {
            id,
            score: dot(query, vector),
        }),
        k,
    )
}

/// Recall@k of `approximate` against the `exact` answer: the share of the exact top-k ids
/// the approximate answer also found (1.0 when `exact` is empty).
pub fn recall(exact: &[Scored], approximate: &[Scored]) -> f64 {
    if exact.is_empty() {
        return 1.0;
    }
    let found = exact
        .iter()
        .filter(|hit| approximate.iter().any(|other| other.id == hit.id))
        .count();
    found as f64 / exact.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: i64, score: f32) -> Scored {
        Scored { id, score }
    }

    #[test]
    fn normalised_has_unit_length_and_refuses_zero() {
        let unit = normalised(&[3.0, 4.0]).unwrap();
        assert_eq!(unit, vec![0.6, 0.8]);
        assert!((dot(&unit, &unit) - 1.0).abs() < 1e-6);
        assert_eq!(normalised(&[0.0, 0.0]), None);
        assert_eq!(normalised(&[f32::NAN, 1.0]), None);
    }

    #[test]
    fn top_k_keeps_the_best_in_order_with_ties_by_id() {
        let hits = [
            hit(1, 0.1),
            hit(2, 0.9),
            hit(3, 0.5),
            hit(4, 0.9),
            hit(5, -0.3),
            hit(6, f32::NAN),
        ];
        assert_eq!(top_k(hits, 3), vec![hit(2, 0.9), hit(4, 0.9), hit(3, 0.5)]);
        assert_eq!(top_k(hits, 0), vec![]);
        assert_eq!(top_k(hits, 10).len(), 5, "NaN scores are dropped");
    }

    #[test]
    fn exact_ranks_by_cosine() {
        let docs = [
            (10, normalised(&[1.0, 0.0]).unwrap()),
            (11, normalised(&[1.0, 1.0]).unwrap()),
            (12, normalised(&[-1.0, 0.2]).unwrap()),
        ];
        let query = normalised(&[0.9, 0.1]).unwrap();
        let found = exact(&query, docs.iter().map(|(id, v)| (*id, v.as_slice())), 2);
        assert_eq!(found.iter().map(|h| h.id).collect::<Vec<_>>(), vec![10, 11]);
        assert!(found[0].score > 0.99 && found[0].score <= 1.0001);
    }

    #[test]
    fn recall_counts_shared_ids() {
        let truth = [hit(1, 0.9), hit(2, 0.8), hit(3, 0.7), hit(4, 0.6)];
        let approx = [hit(1, 0.9), hit(3, 0.7), hit(9, 0.65)];
        assert_eq!(recall(&truth, &approx), 0.5);
        assert_eq!(recall(&[], &approx), 1.0);
        assert_eq!(recall(&truth, &[]), 0.0);
    }
}
