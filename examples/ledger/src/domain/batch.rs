//! Linked and independent batches, as pure rules over per-entry results.
//!
//! A batch holds 1 to `ENTRIES_PER_BATCH_MAX` entries, applied in order (each sees the
//! balances the earlier ones left). Independent: every entry gets its own result and the
//! successes are kept. Linked (TigerBeetle's linked events): all or nothing; the batch stops
//! at the first failure, which keeps its own error, and every other entry reports
//! `linked_failed` naming it. Running the entries and rolling back is `store/`. Tests at the
//! bottom.

use super::error::EntryError;
use crate::limits::ENTRIES_PER_BATCH_MAX;
use serde::{Deserialize, Serialize};

/// Whether a batch's entries succeed or fail together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchMode {
    /// Each entry on its own.
    #[default]
    Independent,
    /// All or nothing.
    Linked,
}

/// The size rule: at least one entry, at most `ENTRIES_PER_BATCH_MAX`.
pub fn check_batch_size(count: usize) -> Result<(), EntryError> {
    match count {
        0 => Err(EntryError::EmptyBatch),
        count if count > ENTRIES_PER_BATCH_MAX => Err(EntryError::BatchTooLarge { count }),
        _ => Ok(()),
    }
}

/// Whether a batch should stop after this result (a linked batch stops at its first failure).
pub fn stops_after<T>(mode: BatchMode, result: &Result<T, EntryError>) -> bool {
    mode == BatchMode::Linked && result.is_err()
}

/// The final results of a batch of `count` entries from the results of the entries that ran
/// (all of them, or a linked batch's up to its first failure), and whether to commit.
pub fn settle<T>(
    mode: BatchMode,
    count: usize,
    ran: Vec<Result<T, EntryError>>,
) -> (bool, Vec<Result<T, EntryError>>) {
    let failed = ran.iter().position(Result::is_err);
    match (mode, failed) {
        (BatchMode::Linked, Some(failed)) => {
            let results = (0..count)
                .zip(
                    ran.into_iter()
                        .map(Some)
                        .chain(std::iter::repeat_with(|| None)),
                )
                .map(|(index, result)| match result {
                    Some(Err(error)) if index == failed => Err(error),
                    _ => Err(EntryError::LinkedFailed { failed }),
                })
                .collect();
            (false, results)
        }
        _ => (true, ran),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a batch the way the store does, over a running total that must stay >= 0.
    fn run(mode: BatchMode, deltas: &[i64]) -> (i64, Vec<Result<i64, EntryError>>) {
        let mut total = 10;
        let mut scratch = total;
        let mut ran = Vec::new();
        for &delta in deltas {
            let result = if scratch + delta >= 0 {
                scratch += delta;
                Ok(scratch)
            } else {
                Err(EntryError::Overflow)
            };
            let stop = stops_after(mode, &result);
            ran.push(result);
            if stop {
                break;
            }
        }
        let (commit, results) = settle(mode, deltas.len(), ran);
        if commit {
            total = scratch;
        }
        (total, results)
    }

    #[test]
    fn a_linked_batch_is_all_or_nothing() {
        let (total, results) = run(BatchMode::Linked, &[-5, -6, 3, 1]);
        assert_eq!(total, 10, "nothing applied");
        assert_eq!(
            results,
            vec![
                Err(EntryError::LinkedFailed { failed: 1 }),
                Err(EntryError::Overflow),
                Err(EntryError::LinkedFailed { failed: 1 }),
                Err(EntryError::LinkedFailed { failed: 1 }),
            ]
        );
        let (total, results) = run(BatchMode::Linked, &[-5, 3]);
        assert_eq!((total, results), (8, vec![Ok(5), Ok(8)]));
    }

    #[test]
    fn an_independent_batch_reports_per_entry() {
        let (total, results) = run(BatchMode::Independent, &[-5, -6, 3]);
        assert_eq!(total, 8);
        assert_eq!(results, vec![Ok(5), Err(EntryError::Overflow), Ok(8)]);
    }

    #[test]
    fn batch_size_limits() {
        assert_eq!(check_batch_size(0), Err(EntryError::EmptyBatch));
        assert_eq!(check_batch_size(1), Ok(()));
        assert_eq!(check_batch_size(ENTRIES_PER_BATCH_MAX), Ok(()));
        assert_eq!(
            check_batch_size(8_191),
            Err(EntryError::BatchTooLarge { count: 8_191 })
        );
    }
}
