//! Feedback on answers, as pure rules: a label (thumbs up or down), approval rates per
//! model version over time buckets, and the recalibration of a binary classifier's
//! decision threshold from labelled feedback (the threshold that maximises F1, accuracy
//! breaking ties). Not here: storage (`store/`), HTTP (`api/retrieval.rs`), the bandit
//! (`bandit.rs`). Tests at the bottom.

use serde::{Deserialize, Serialize};

/// A user's verdict on one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Up,
    Down,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Up => "up",
            Label::Down => "down",
        }
    }

    pub fn parse(text: &str) -> Option<Label> {
        match text {
            "up" => Some(Label::Up),
            "down" => Some(Label::Down),
            _ => None,
        }
    }

    /// The bandit's reward: 1 for up, 0 for down.
    pub fn reward(self) -> f64 {
        match self {
            Label::Up => 1.0,
            Label::Down => 0.0,
        }
    }
}

/// Where a feedback row came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A thumbs up or down given on purpose.
    Active,
    /// Inferred from behaviour: a search result the user opened counts as up.
    Passive,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Active => "active",
            Source::Passive => "passive",
        }
    }

    pub fn parse(text: &str) -> Option<Source> {
        match text {
            "active" => Some(Source::Active),
            "passive" => Some(Source::Passive),
            _ => None,
        }
    }
}

/// One stored feedback row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub id: i64,
    pub model: String,
    pub version: u64,
    /// What the feedback is about: a request id or the digest of the input.
    pub subject: String,
    pub label: Label,
    pub source: Source,
    /// For a binary classifier: the positive-class score the answer carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// For a binary classifier: whether the answer said "positive".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted: Option<bool>,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
}

impl Feedback {
    /// The true class, when the row can tell: the prediction if approved, its opposite if not.
    pub fn truth(&self) -> Option<bool> {
        self.predicted.map(|predicted| match self.label {
            Label::Up => predicted,
            Label::Down => !predicted,
        })
    }
}

/// Up and down counts of one version in one time bucket.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Approval {
    pub version: u64,
    /// Start of the bucket, milliseconds since the Unix epoch.
    pub bucket_start_ms: i64,
    pub up: u64,
    pub down: u64,
    /// `up / (up + down)`.
    pub rate: f64,
}

/// Approval per version and time bucket of `bucket_ms`, from `(version, at_ms, label,
/// count)` rows (a store may have counted them already); sorted by version, then bucket.
pub fn approval_by_bucket(
    rows: impl IntoIterator<Item = (u64, i64, Label, u64)>,
    bucket_ms: i64,
) -> Vec<Approval> {
    use std::collections::BTreeMap;
    let bucket_ms = bucket_ms.max(1);
    let mut counts: BTreeMap<(u64, i64), (u64, u64)> = BTreeMap::new();
    for (version, at_ms, label, count) in rows {
        if count == 0 {
            continue;
        }
        let start = at_ms.div_euclid(bucket_ms) * bucket_ms;
        let entry = counts.entry((version, start)).or_default();
        match label {
            Label::Up => entry.0 += count,
            Label::Down => entry.1 += count,
        }
    }
    counts
        .into_iter()
        .map(|((version, bucket_start_ms), (up, down))| Approval {
            version,
            bucket_start_ms,
            up,
            down,
            rate: up as f64 / (up + down) as f64,
        })
        .collect()
}

/// A decision threshold chosen from labelled scores, and how it does on them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calibration {
    /// Scores at or above it are positive.
    pub threshold: f64,
    pub f1: f64,
    pub accuracy: f64,
    /// Labelled rows it was chosen on.
    pub samples: usize,
}

/// F1 and accuracy of `threshold` on `(score, truth)` pairs.
pub fn evaluate(labelled: &[(f64, bool)], threshold: f64) -> (f64, f64) {
    let (mut tp, mut fp, mut fn_, mut correct) = (0u64, 0u64, 0u64, 0u64);
    for &(score, truth) in labelled {
        let positive = score >= threshold;
        match (positive, truth) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
        if positive == truth {
            correct += 1;
        }
    }
    let f1 = if tp == 0 {
        0.0
    } else {
        2.0 * tp as f64 / (2 * tp + fp + fn_) as f64
    };
    let accuracy = correct as f64 / labelled.len().max(1) as f64;
    (f1, accuracy)
}

/// The threshold that maximises F1 on `labelled` (ties: higher accuracy, then the one
/// nearest `current`). Candidates are the midpoints between consecutive distinct scores
/// and one above the highest. `None` when fewer than `min_samples` rows or no row is
/// positive (F1 is undefined then).
pub fn recalibrate(
    labelled: &[(f64, bool)],
    current: f64,
    min_samples: usize,
) -> Option<Calibration> {
    let labelled: Vec<(f64, bool)> = labelled
        .iter()
        .copied()
        .filter(|(score, _)| score.is_finite())
        .collect();
    if labelled.len() < min_samples.max(1) || !labelled.iter().any(|(_, truth)| *truth) {
        return None;
    }
    let mut scores: Vec<f64> = labelled.iter().map(|(score, _)| *score).collect();
    scores.sort_by(f64::total_cmp);
    scores.dedup();
    let mut candidates: Vec<f64> = scores.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    candidates.push(scores[0]);
    candidates.push(scores[scores.len() - 1] + 1e-6);
    let mut best: Option<Calibration> = None;
    for threshold in candidates {
        let (f1, accuracy) = evaluate(&labelled, threshold);
        let better = match &best {
            None => true,
            Some(b) => {
                (f1, accuracy, -(threshold - current).abs()).partial_cmp(&(
                    b.f1,
                    b.accuracy,
                    -(b.threshold - current).abs(),
                )) == Some(std::cmp::Ordering::Greater)
            }
        };
        if better {
            best = Some(Calibration {
                threshold,
                f1,
                accuracy,
                samples: labelled.len(),
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_sources_round_trip() {
        for label in [Label::Up, Label::Down] {
            assert_eq!(Label::parse(label.as_str()), Some(label));
        }
        for source in [Source::Active, Source::Passive] {
            assert_eq!(Source::parse(source.as_str()), Some(source));
        }
        assert_eq!(Label::parse("sideways"), None);
        assert_eq!((Label::Up.reward(), Label::Down.reward()), (1.0, 0.0));
    }

    #[test]
    fn truth_follows_the_label() {
        let mut row = Feedback {
            id: 1,
            model: "risk".into(),
            version: 1,
            subject: "x".into(),
            label: Label::Down,
            source: Source::Active,
            score: Some(0.7),
            predicted: Some(true),
            at_ms: 0,
        };
        assert_eq!(row.truth(), Some(false));
        row.label = Label::Up;
        assert_eq!(row.truth(), Some(true));
        row.predicted = None;
        assert_eq!(row.truth(), None);
    }

    #[test]
    fn approval_groups_by_version_and_bucket() {
        let rows = [
            (1, 10, Label::Up, 1),
            (1, 20, Label::Down, 1),
            (1, 1_010, Label::Up, 1),
            (2, 5, Label::Up, 1),
            (1, -1, Label::Up, 1),
            (2, 999, Label::Up, 0),
        ];
        let found = approval_by_bucket(rows, 1_000);
        let summary: Vec<(u64, i64, u64, u64)> = found
            .iter()
            .map(|a| (a.version, a.bucket_start_ms, a.up, a.down))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, -1_000, 1, 0),
                (1, 0, 1, 1),
                (1, 1_000, 1, 0),
                (2, 0, 1, 0)
            ]
        );
        assert_eq!(found[1].rate, 0.5);
    }

    #[test]
    fn evaluate_counts_f1_and_accuracy() {
        let rows = [(0.9, true), (0.6, false), (0.4, true), (0.1, false)];
        let (f1, accuracy) = evaluate(&rows, 0.5);
        assert!((f1 - 0.5).abs() < 1e-12, "tp 1, fp 1, fn 1: {f1}");
        assert_eq!(accuracy, 0.5);
        assert_eq!(evaluate(&rows, 2.0), (0.0, 0.5));
    }

    #[test]
    fn recalibration_finds_the_separating_threshold() {
        // Positives score 0.3 and up, negatives below: the model's 0.5 misses positives.
        let mut rows = Vec::new();
        for i in 0..20 {
            rows.push((0.30 + i as f64 * 0.01, true));
            rows.push((0.05 + i as f64 * 0.01, false));
        }
        let found = recalibrate(&rows, 0.5, 10).unwrap();
        assert!(
            found.threshold > 0.24 && found.threshold <= 0.30,
            "{found:?}"
        );
        assert_eq!((found.f1, found.accuracy, found.samples), (1.0, 1.0, 40));
        let (f1_before, _) = evaluate(&rows, 0.5);
        assert!(f1_before < found.f1);
    }

    #[test]
    fn recalibration_needs_enough_rows_and_a_positive() {
        let rows = [(0.9, true), (0.1, false)];
        assert_eq!(recalibrate(&rows, 0.5, 3), None);
        assert!(recalibrate(&rows, 0.5, 2).is_some());
        let negatives = [(0.9, false), (0.1, false), (0.5, false)];
        assert_eq!(recalibrate(&negatives, 0.5, 1), None);
        assert_eq!(recalibrate(&[(f64::NAN, true)], 0.5, 1), None);
    }
}
