//! The demo corpus for document search: a few thousand short sentences generated from the
//! committed word lists in `corpus/topics.txt` (written for this repository, no outside
//! source). Each topic's sentences are every "Subject verb object setting." combination,
//! shuffled with a fixed seed; the first `TEXTS_PER_TOPIC` of each are kept, topics
//! interleaved. Pure and deterministic: the same texts on every machine and every run.
//! Not here: embedding or storing them (`service/retrieval.rs`, `inference load-corpus`).
//! Tests at the bottom.

use super::bandit::SplitRng;

/// The committed word lists.
pub const TOPICS_FILE: &str = include_str!("../../corpus/topics.txt");

/// Sentences kept per topic (12 topics: 3,000 texts).
pub const TEXTS_PER_TOPIC: usize = 250;

/// The shuffle's seed.
pub const CORPUS_SEED: u64 = 13;

/// One topic of the word lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    pub parts: [Vec<String>; 4],
}

/// Parses the word-list file: `topic | subjects | verbs | objects | settings`, items split
/// by `;`, `#` lines are comments.
pub fn parse_topics(text: &str) -> Result<Vec<Topic>, String> {
    let mut topics = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        let [name, a, b, c, d] = fields[..] else {
            return Err(format!("line {}: expected 5 fields", number + 1));
        };
        let list = |field: &str| -> Result<Vec<String>, String> {
            let items: Vec<String> = field
                .split(';')
                .map(|item| item.trim().to_owned())
                .filter(|item| !item.is_empty())
                .collect();
            if items.is_empty() {
                return Err(format!("line {}: an empty list", number + 1));
            }
            Ok(items)
        };
        topics.push(Topic {
            name: name.to_owned(),
            parts: [list(a)?, list(b)?, list(c)?, list(d)?],
        });
    }
    Ok(topics)
}

fn sentence(topic: &Topic, index: usize) -> String {
    let [subjects, verbs, objects, settings] = &topic.parts;
    let mut rest = index;
    let mut take = |list: &Vec<String>| {
        let item = &list[rest % list.len()];
        rest /= list.len();
        item.clone()
    };
    let (s, v, o, t) = (take(subjects), take(verbs), take(objects), take(settings));
    let mut chars = s.chars();
    let first: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    format!("{first}{} {v} {o} {t}.", chars.as_str())
}

/// `(topic, text)` pairs: `per_topic` sentences of each topic (fewer if it has fewer
/// combinations), interleaved topic by topic.
pub fn generate(topics: &[Topic], per_topic: usize, seed: u64) -> Vec<(String, String)> {
    let mut rng = SplitRng::new(seed);
    let mut per: Vec<Vec<String>> = Vec::with_capacity(topics.len());
    for topic in topics {
        let combinations: usize = topic.parts.iter().map(Vec::len).product();
        let mut order: Vec<usize> = (0..combinations).collect();
        for i in (1..order.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        order.truncate(per_topic);
        per.push(order.into_iter().map(|i| sentence(topic, i)).collect());
    }
    let mut out = Vec::new();
    for round in 0..per_topic {
        for (topic, texts) in topics.iter().zip(&per) {
            if let Some(text) = texts.get(round) {
                out.push((topic.name.clone(), text.clone()));
            }
        }
    }
    out
}

/// The demo corpus from the committed word lists.
pub fn demo_corpus() -> Result<Vec<(String, String)>, String> {
    Ok(generate(
        &parse_topics(TOPICS_FILE)?,
        TEXTS_PER_TOPIC,
        CORPUS_SEED,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_corpus_is_three_thousand_distinct_sentences_every_time() {
        let corpus = demo_corpus().unwrap();
        assert_eq!(corpus.len(), 12 * TEXTS_PER_TOPIC);
        let mut texts: Vec<&str> = corpus.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(demo_corpus().unwrap(), corpus, "deterministic");
        assert_eq!(corpus[0].0, "cooking");
        assert_eq!(corpus[1].0, "weather");
        assert!(corpus[0].1.starts_with(char::is_uppercase) && corpus[0].1.ends_with('.'));
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), corpus.len(), "no duplicates");
        assert!(corpus.iter().all(|(_, t)| t.len() < 200));
    }

    #[test]
    fn parse_refuses_malformed_lines() {
        assert!(parse_topics("a | b | c").unwrap_err().contains("line 1"));
        assert!(
            parse_topics("# c\nt | a | b | ; | d")
                .unwrap_err()
                .contains("line 2")
        );
        let topics = parse_topics("t | a; b | c | d | e; f\n").unwrap();
        assert_eq!(generate(&topics, 10, 1).len(), 4, "only 4 combinations");
    }
}
