//! Texts to token ids for text models, with Hugging Face `tokenizers` on a model's
//! `tokenizer.json`. The file's own padding is turned off (the one MiniLM ships pads every
//! text to 128 tokens, which would make every batch as long as the longest bucket);
//! batches are padded to their longest text by `domain::text::pad_batch` instead.
//! Truncation is set to the model's `max_tokens`. Runs before a text is queued (its
//! padded-length bucket decides its batch group): on the I/O worker that parsed the
//! request, or on the blocking pool for a long one (`service::tokenize`).
//! Tests at the bottom (they need the fetched tokenizer and say so when it is missing).

use super::EngineError;
use std::path::Path;
use tokenizers::{Tokenizer, TruncationParams};

/// A loaded tokenizer, shareable across workers.
pub struct TextTokenizer {
    inner: Tokenizer,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextTokenizer")
    }
}

impl TextTokenizer {
    pub fn load(path: &Path, max_tokens: usize) -> Result<TextTokenizer, EngineError> {
        let fail = |error: tokenizers::Error| {
            EngineError(format!("loading tokenizer {}: {error}", path.display()))
        };
        let mut inner = Tokenizer::from_file(path).map_err(fail)?;
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(fail)?;
        Ok(TextTokenizer { inner })
    }

    /// The token ids of `text`, special tokens (`[CLS]`, `[SEP]`) included.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        self.inner
            .encode(text, true)
            .map(|encoding| encoding.get_ids().to_vec())
            .map_err(|error| EngineError(format!("tokenizing: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The fetched MiniLM tokenizer, or `None` (with the reason printed) when
    /// `inference fetch-models` has not run.
    fn minilm_tokenizer(max_tokens: usize) -> Option<TextTokenizer> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/minilm/tokenizer.json");
        if !path.exists() {
            eprintln!(
                "skipped: {} is missing (run `cargo run -p inference -- fetch-models`)",
                path.display()
            );
            return None;
        }
        Some(TextTokenizer::load(&path, max_tokens).unwrap())
    }

    #[test]
    fn padding_is_off_and_truncation_is_max_tokens() {
        let Some(tokenizer) = minilm_tokenizer(8) else {
            return;
        };
        assert_eq!(
            tokenizer.encode("A man is eating food.").unwrap(),
            vec![101, 1037, 2158, 2003, 5983, 2833, 1012, 102]
        );
        assert_eq!(tokenizer.encode("short").unwrap(), vec![101, 2460, 102]);
        let long = tokenizer.encode(&"word ".repeat(50)).unwrap();
        assert_eq!(long.len(), 8);
        assert_eq!(long.last(), Some(&102));
    }

    #[test]
    fn a_missing_tokenizer_file_is_a_clear_error() {
        let error = TextTokenizer::load(Path::new("/nonexistent/tokenizer.json"), 8).unwrap_err();
        assert!(error.0.contains("/nonexistent/tokenizer.json"), "{error}");
    }
}
