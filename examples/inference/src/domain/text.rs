//! The text rules shared by the text model's batch function and its tests: which
//! padded-length bucket a text falls in (texts of one bucket share a batch), padding a
//! batch of token-id sequences to its bucket's length, and sentence-transformers' mean
//! pooling (average of the token vectors the attention mask keeps) with L2 normalisation.
//! Pure: no tokenizer (that is `engine/text.rs`) and no model. Tests at the bottom.

/// The bucket of a text of `tokens` tokens: the smallest bucket that holds it (the last
/// bucket for longer ones; the tokenizer cuts texts to the last bucket before this).
pub fn bucket_of(tokens: usize, buckets: &[usize]) -> usize {
    buckets
        .iter()
        .copied()
        .find(|&bucket| tokens <= bucket)
        .or_else(|| buckets.last().copied())
        .unwrap_or(tokens)
}

/// A batch of token ids padded to a common length, as the model's three inputs want them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaddedBatch {
    pub rows: usize,
    pub columns: usize,
    /// `rows * columns` ids, 0 (BERT's `[PAD]`) after each sequence's end.
    pub input_ids: Vec<i64>,
    /// 1 over real tokens, 0 over padding.
    pub attention_mask: Vec<i64>,
}

/// Pads every sequence to `columns` (at least the longest's length: the batch's bucket).
pub fn pad_batch(sequences: &[Vec<u32>], columns: usize) -> PaddedBatch {
    let rows = sequences.len();
    let columns = sequences.iter().map(Vec::len).fold(columns, usize::max);
    let mut input_ids = vec![0i64; rows * columns];
    let mut attention_mask = vec![0i64; rows * columns];
    for (row, sequence) in sequences.iter().enumerate() {
        let start = row * columns;
        for (column, &id) in sequence.iter().enumerate() {
            input_ids[start + column] = i64::from(id);
            attention_mask[start + column] = 1;
        }
    }
    PaddedBatch {
        rows,
        columns,
        input_ids,
        attention_mask,
    }
}

/// Mean-pools row `row` of `hidden` (`[rows, columns, width]`, row-major) over the tokens
/// `mask` keeps, then scales it to unit length (a zero vector stays zero).
pub fn mean_pool_normalised(
    hidden: &[f32],
    mask: &[i64],
    row: usize,
    columns: usize,
    width: usize,
) -> Vec<f32> {
    let mut sum = vec![0f32; width];
    let mut kept = 0usize;
    for column in 0..columns {
        if mask[row * columns + column] == 0 {
            continue;
        }
        kept += 1;
        let start = (row * columns + column) * width;
        for (total, value) in sum.iter_mut().zip(&hidden[start..start + width]) {
            *total += value;
        }
    }
    let count = kept.max(1) as f32;
    sum.iter_mut().for_each(|value| *value /= count);
    let norm = sum.iter().map(|value| value * value).sum::<f32>().sqrt();
    if norm > 0.0 {
        sum.iter_mut().for_each(|value| *value /= norm);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_the_smallest_that_fit() {
        let buckets = [16, 32, 128];
        assert_eq!(bucket_of(3, &buckets), 16);
        assert_eq!(bucket_of(16, &buckets), 16);
        assert_eq!(bucket_of(17, &buckets), 32);
        assert_eq!(bucket_of(128, &buckets), 128);
        assert_eq!(bucket_of(500, &buckets), 128);
    }

    #[test]
    fn padding_goes_to_the_bucket_length() {
        let batch = pad_batch(&[vec![101, 7, 102], vec![101, 102]], 4);
        assert_eq!((batch.rows, batch.columns), (2, 4));
        assert_eq!(batch.input_ids, vec![101, 7, 102, 0, 101, 102, 0, 0]);
        assert_eq!(batch.attention_mask, vec![1, 1, 1, 0, 1, 1, 0, 0]);
        // A sequence longer than asked widens the batch rather than being cut.
        assert_eq!(pad_batch(&[vec![1, 2, 3]], 2).columns, 3);
    }

    #[test]
    fn pooling_ignores_padding_and_normalises() {
        // Two rows, three columns, width 2; row 1's last token is padding (a huge value
        // that would dominate the mean if it were counted).
        let hidden = [
            1.0, 0.0, 3.0, 0.0, 2.0, 0.0, //
            0.0, 3.0, 0.0, 1.0, 1e6, 1e6,
        ];
        let mask = [1, 1, 1, 1, 1, 0];
        assert_eq!(
            mean_pool_normalised(&hidden, &mask, 0, 3, 2),
            vec![1.0, 0.0]
        );
        assert_eq!(
            mean_pool_normalised(&hidden, &mask, 1, 3, 2),
            vec![0.0, 1.0]
        );
        let unit = mean_pool_normalised(&[3.0, 4.0], &[1], 0, 1, 2);
        assert!((unit[0] - 0.6).abs() < 1e-6 && (unit[1] - 0.8).abs() < 1e-6);
        assert_eq!(
            mean_pool_normalised(&[0.0, 0.0], &[1], 0, 1, 2),
            vec![0.0, 0.0]
        );
    }
}
