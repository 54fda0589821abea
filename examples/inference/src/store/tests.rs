//! The `Store` contract, run against `SqliteStore` in memory (and on a file for the
//! migration checks): documents and embeddings, searches and opens, feedback pages,
//! approval counts, model state.

use super::*;
use crate::domain::feedback::Source;

fn minilm() -> EmbeddingModel {
    EmbeddingModel {
        model: "minilm".into(),
        version: 1,
    }
}

fn document(text: &str, x: f32) -> NewDocument {
    NewDocument {
        text: text.into(),
        topic: Some("t".into()),
        embedding: vec![x, 1.0 - x, -0.5],
    }
}

fn feedback(model: &str, version: u64, label: Label, at_ms: i64) -> Feedback {
    Feedback {
        id: 0,
        model: model.into(),
        version,
        subject: format!("req-{at_ms}"),
        label,
        source: Source::Active,
        score: Some(0.25),
        predicted: Some(false),
        at_ms,
    }
}

#[test]
fn documents_round_trip_with_their_embeddings() {
    let store = SqliteStore::in_memory().unwrap();
    assert_eq!(store.embedding_model().unwrap(), None);
    let ids = store
        .add_documents(&minilm(), &[document("one", 0.25), document("two", 0.5)])
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(store.document_count().unwrap(), 2);
    assert_eq!(store.embedding_model().unwrap(), Some(minilm()));
    let found = store.documents(&[ids[1], 999, ids[0]]).unwrap();
    let texts: Vec<&str> = found.iter().map(|d| d.text.as_str()).collect();
    assert_eq!(texts, vec!["two", "one"]);
    let page = store.embeddings(0, 1).unwrap();
    assert_eq!(page, vec![(ids[0], vec![0.25, 0.75, -0.5])]);
    assert_eq!(store.embeddings(ids[0], 10).unwrap().len(), 1);
}

#[test]
fn searches_are_remembered_and_the_oldest_forgotten() {
    let store = SqliteStore::in_memory().unwrap();
    let record = |query: &str| SearchRecord {
        id: 0,
        query: query.into(),
        model: "minilm".into(),
        version: 1,
        results: vec![3, 1, 2],
        at_ms: 5,
    };
    let first = store.record_search(&record("a"), 2).unwrap();
    let second = store.record_search(&record("b"), 2).unwrap();
    let found = store.search(second).unwrap().unwrap();
    assert_eq!((found.query.as_str(), found.results), ("b", vec![3, 1, 2]));
    assert!(store.search(first).unwrap().is_some());
    assert!(store.record_open(second, 1, 1, 9).unwrap(), "a first open");
    assert!(
        !store.record_open(second, 1, 1, 10).unwrap(),
        "counted once"
    );
    assert!(
        store.record_open(second, 2, 2, 11).unwrap(),
        "another result"
    );
    store.record_search(&record("c"), 2).unwrap();
    assert_eq!(store.search(first).unwrap(), None, "beyond the kept window");
    store.record_search(&record("d"), 2).unwrap();
    assert_eq!(store.search(second).unwrap(), None);
    // The forgotten search's opens went with it: the same pair is new again.
    assert!(store.record_open(second, 1, 1, 12).unwrap());
}

#[test]
fn feedback_beyond_the_kept_rows_forgets_the_oldest() {
    let store = SqliteStore::in_memory().unwrap();
    let ids: Vec<i64> = (0..5)
        .map(|at| {
            let row = feedback("risk", 1, Label::Up, at);
            store.add_feedback(&row, 3).unwrap()
        })
        .collect();
    let kept: Vec<i64> = store
        .feedback_page(0, 10)
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect();
    assert_eq!(kept, ids[2..].to_vec());
}

#[test]
fn feedback_pages_and_counts() {
    let store = SqliteStore::in_memory().unwrap();
    let rows = [
        feedback("risk", 1, Label::Up, 1_000),
        feedback("risk", 1, Label::Down, 1_500),
        feedback("risk", 2, Label::Up, 2_100),
        feedback("other", 1, Label::Up, 2_200),
        feedback("risk", 1, Label::Up, -10),
    ];
    for row in &rows {
        store.add_feedback(row, 100).unwrap();
    }
    let page = store.feedback_page(0, 2).unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].label, Label::Up);
    assert_eq!(page[0].score, Some(0.25));
    assert_eq!(page[0].predicted, Some(false));
    let rest = store.feedback_page(page[1].id, 10).unwrap();
    assert_eq!(rest.len(), 3);

    let mut counts = store.approval_counts("risk", 0, 1_000, 10).unwrap();
    counts.sort_by_key(|c| (c.0, c.1, c.2 == Label::Down));
    assert_eq!(
        counts,
        vec![
            (1, 1_000, Label::Up, 1),
            (1, 1_000, Label::Down, 1),
            (2, 2_000, Label::Up, 1)
        ]
    );
    let negative = store.approval_counts("risk", -100, 1_000, 10).unwrap();
    assert!(
        negative.contains(&(1, -1_000, Label::Up, 1)),
        "{negative:?}"
    );
    let latest = store.approval_counts("risk", 0, 1_000, 1).unwrap();
    assert_eq!(
        latest,
        vec![(2, 2_000, Label::Up, 1)],
        "only the latest bucket"
    );

    let risk = store.model_feedback("risk", None, 2).unwrap();
    assert_eq!(
        risk.iter().map(|f| f.at_ms).collect::<Vec<_>>(),
        vec![2_100, -10],
        "the latest two, oldest first"
    );
    let v1 = store.model_feedback("risk", Some(1), 10).unwrap();
    assert_eq!(v1.len(), 3);
}

#[test]
fn state_is_set_and_replaced() {
    let store = SqliteStore::in_memory().unwrap();
    assert_eq!(store.state("risk", "threshold").unwrap(), None);
    store.set_state("risk", "threshold", "0.4").unwrap();
    store.set_state("risk", "threshold", "0.3").unwrap();
    assert_eq!(
        store.state("risk", "threshold").unwrap().as_deref(),
        Some("0.3")
    );
    store.set_state("other", "threshold", "0.9").unwrap();
    store.clear_state("risk", "threshold").unwrap();
    store.clear_state("risk", "never-set").unwrap();
    assert_eq!(store.state("risk", "threshold").unwrap(), None);
    assert_eq!(
        store.state("other", "threshold").unwrap().as_deref(),
        Some("0.9"),
        "another model's state is kept"
    );
}

#[test]
fn reopening_a_file_keeps_rows_and_a_newer_schema_is_refused() {
    let dir = std::env::temp_dir().join(format!("inference-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("sub").join("store.sqlite");
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .add_documents(&minilm(), &[document("kept", 0.1)])
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.document_count().unwrap(), 1);
    drop(store);
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute("UPDATE schema_version SET version = 99", [])
        .unwrap();
    drop(connection);
    let refused = SqliteStore::open(&path).unwrap_err();
    assert!(refused.0.contains("schema version 99"), "{refused}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn blobs_round_trip() {
    let vector = vec![1.5f32, -0.0, f32::MIN_POSITIVE];
    assert_eq!(blob_to_embedding(&embedding_to_blob(&vector)), Some(vector));
    assert_eq!(blob_to_embedding(&[1, 2, 3]), None);
}
