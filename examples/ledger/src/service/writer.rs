//! The group-commit writer: every write of the running server goes through one thread that
//! owns the database's write connection. Requests from any worker are queued by `kiln::batch`;
//! while one group commits (one `fsync`), the next requests queue up, and the next group takes
//! them all (`queue_delay_max_us = 0`: no waiting for company when the writer is idle). A
//! request is answered only after its group has committed, so an acknowledged write is durable
//! (`synchronous=FULL`).
//!
//! A group is cut into transactions of at most `WriterConfig::group_entries_max` entries, so
//! one huge group cannot hold the write lock for long. With `group_writes_max = 1` every request
//! is its own transaction: the baseline `ledger bench` compares against. Not here: what the
//! writes mean (`crate::store::Store::write_group`), authorisation (`crate::service`).

use crate::store::{Store, StoreError, WriteOutcome, WriteRequest};
use kiln::batch::{BatchConfig, BatchError, BatchStats, Batcher};

/// The writer's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterConfig {
    /// Most requests in one group (one `kiln::batch` batch). 1: one transaction per request.
    pub group_writes_max: usize,
    /// Most entries per transaction within a group (a request's weight is its entry count);
    /// a request heavier than this is a transaction of its own.
    pub group_entries_max: usize,
    /// Requests waiting for the writer; beyond it a write is refused at once (503).
    pub queue_writes_max: usize,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig {
            group_writes_max: crate::limits::WRITER_GROUP_WRITES_MAX,
            group_entries_max: crate::limits::WRITER_GROUP_ENTRIES_MAX,
            queue_writes_max: crate::limits::WRITER_QUEUE_WRITES_MAX,
        }
    }
}

/// Why a write got no answer from the store.
#[derive(Debug)]
pub enum WriteError {
    /// The store answered: a refusal or a backend failure.
    Store(StoreError),
    /// The queue is full, or the writer is shutting down: try again later (503).
    Unavailable(&'static str),
    /// The writer thread failed on this request's group (a panic): nothing was written (500).
    Failed(&'static str),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Store(error) => write!(f, "{error}"),
            WriteError::Unavailable(why) | WriteError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for WriteError {}

/// A cloneable handle to the writer thread.
#[derive(Clone, Debug)]
pub struct Writer {
    batcher: Batcher<WriteRequest, WriteOutcome, StoreError>,
}

impl Writer {
    /// Starts the writer thread, which owns `store` from then on.
    pub fn start<S: Store + Send + 'static>(
        store: S,
        config: &WriterConfig,
    ) -> std::io::Result<Writer> {
        let batch = BatchConfig {
            batch_size_max: config.group_writes_max,
            queue_delay_max_us: 0,
            queue_items_max: config.queue_writes_max,
            instances_count: 1,
            thread_name: "ledger-writer".to_owned(),
            ..BatchConfig::default()
        };
        let group_entries_max = config.group_entries_max.max(1);
        let mut store = Some(store);
        let batcher = Batcher::start_instances(batch, move |_instance| {
            let mut store = store.take();
            move |requests: Vec<WriteRequest>| match store.as_mut() {
                Some(store) => write_in_groups(
                    |group| store.write_group(group),
                    &requests,
                    group_entries_max,
                ),
                None => requests
                    .iter()
                    .map(|_| Err(backend("the writer has no store")))
                    .collect(),
            }
        })?;
        Ok(Writer { batcher })
    }

    /// Queues a write and waits until its group has committed.
    pub async fn write(&self, request: WriteRequest) -> Result<WriteOutcome, WriteError> {
        answer(self.batcher.submit(request).await)
    }

    /// `write` for a thread that is not a kiln task (the expiry sweep): blocks until the
    /// group has committed. Never call it on a server worker.
    pub fn write_blocking(&self, request: WriteRequest) -> Result<WriteOutcome, WriteError> {
        answer(self.batcher.submit(request).wait())
    }

    /// What the writer has done so far (groups, their sizes and times).
    pub fn stats(&self) -> BatchStats {
        self.batcher.stats()
    }

    /// Stops taking writes, finishes the queued ones and waits for the thread.
    pub fn shutdown(&self) {
        self.batcher.shutdown();
        self.batcher.join();
    }
}

fn answer(
    result: Result<WriteOutcome, BatchError<StoreError>>,
) -> Result<WriteOutcome, WriteError> {
    match result {
        Ok(outcome) => Ok(outcome),
        Err(BatchError::Failed(error)) => Err(WriteError::Store(error)),
        Err(BatchError::Overloaded) => Err(WriteError::Unavailable(
            "the ledger is busy: too many writes are waiting",
        )),
        Err(BatchError::Expired | BatchError::Closed) => {
            Err(WriteError::Unavailable("the ledger is shutting down"))
        }
        Err(_) => Err(WriteError::Failed("the write failed inside the writer")),
    }
}

fn backend(why: &str) -> StoreError {
    StoreError::Backend(why.to_owned().into())
}

/// Writes `requests` in consecutive transactions of at most `entries_max` entries each (a
/// heavier request alone), and returns one result per request, in order. A transaction that
/// fails as a whole answers each of its requests with the failure.
fn write_in_groups(
    mut write_group: impl FnMut(
        &[WriteRequest],
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError>,
    requests: &[WriteRequest],
    entries_max: usize,
) -> Vec<Result<WriteOutcome, StoreError>> {
    let mut results = Vec::with_capacity(requests.len());
    let mut start = 0;
    while start < requests.len() {
        let mut end = start;
        let mut weight = 0;
        while end < requests.len() {
            let next = requests[end].op.weight();
            if end > start && weight + next > entries_max {
                break;
            }
            weight += next;
            end += 1;
        }
        let group = &requests[start..end];
        match write_group(group) {
            Ok(group_results) if group_results.len() == group.len() => {
                results.extend(group_results);
            }
            Ok(_) => results.extend(group.iter().map(|_| {
                Err(StoreError::Corrupt(
                    "the store answered a group with the wrong number of results".into(),
                ))
            })),
            Err(error) => {
                tracing::error!(%error, cause = ?std::error::Error::source(&error), writes = group.len(), "a write group failed");
                let why = error.to_string();
                results.extend(group.iter().map(|_| Err(backend(&why))));
            }
        }
        start = end;
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, BatchMode, EntryId, TenantId};
    use crate::store::tests::{TempDb, seed, transfer};
    use crate::store::{EntryRequest, WriteOp};
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    fn request(tenant: TenantId, entries: usize) -> WriteRequest {
        let entry = transfer("2024-02-01", "Assets:Bank", "Income:Salary", "1.00", "USD");
        WriteRequest {
            tenant: Some(tenant),
            actor: Actor::new("test", None).expect("actor"),
            op: WriteOp::CreateEntries {
                requests: vec![EntryRequest { key: None, entry }; entries],
                mode: BatchMode::Independent,
            },
        }
    }

    #[test]
    fn a_group_is_cut_into_transactions_by_entry_weight() {
        let db = TempDb::new("writer-weights");
        let mut store = db.open();
        let tenant = seed(&mut store, "acme");
        let mut groups = Vec::new();
        let requests: Vec<_> = [3, 3, 5, 1, 1, 9]
            .iter()
            .map(|&n| request(tenant, n))
            .collect();
        let results = write_in_groups(
            |group| {
                groups.push(group.len());
                store.write_group(group)
            },
            &requests,
            6,
        );
        // 3+3 | 5+1 | 1 | 9 (heavier than the cap: alone)
        assert_eq!(groups, [2, 2, 1, 1]);
        let count = |result: &Result<WriteOutcome, StoreError>| match result {
            Ok(WriteOutcome::Entries(entries)) => entries.iter().filter(|e| e.is_ok()).count(),
            _ => 0,
        };
        assert_eq!(results.len(), 6);
        assert_eq!(results.iter().map(count).sum::<usize>(), 22);
    }

    #[test]
    fn a_failed_transaction_answers_each_of_its_requests_and_only_those() {
        let db = TempDb::new("writer-failure");
        let mut store = db.open();
        let tenant = seed(&mut store, "acme");
        let requests: Vec<_> = [2, 2, 2].iter().map(|&n| request(tenant, n)).collect();
        let mut calls = 0;
        let results = write_in_groups(
            |group| {
                calls += 1;
                if calls == 2 {
                    return Err(backend("disk full"));
                }
                store.write_group(group)
            },
            &requests,
            2,
        );
        let codes: Vec<&str> = results
            .iter()
            .map(|r| r.as_ref().map_or_else(StoreError::code, |_| "ok"))
            .collect();
        assert_eq!(codes, ["ok", "backend", "ok"]);
    }

    #[test]
    fn the_writer_answers_each_caller_after_commit() {
        let db = TempDb::new("writer-thread");
        let mut store = db.open();
        let tenant = seed(&mut store, "acme");
        let writer = Writer::start(store, &WriterConfig::default()).expect("writer");
        let outcome = writer.write_blocking(request(tenant, 2));
        let Ok(WriteOutcome::Entries(entries)) = outcome else {
            panic!("unexpected {outcome:?}");
        };
        assert_eq!(entries.len(), 2);
        // Committed: another connection sees it.
        let mut reader = db.open();
        let first = entries[0].clone().expect("written");
        assert!(reader.entry(tenant, first).expect("read").is_some());
        assert!(
            reader
                .entry(tenant, EntryId(first.0 + 100))
                .expect("read")
                .is_none()
        );
        writer.shutdown();
        let after = writer.write_blocking(request(tenant, 1));
        assert!(
            matches!(after, Err(WriteError::Unavailable(_))),
            "{after:?}"
        );
    }

    /// `queue_writes_max`: with the database locked by another connection the writer cannot
    /// finish its group, so at most one write runs and one waits; the others are refused at
    /// once with `Unavailable`.
    #[test]
    fn writes_beyond_the_queue_are_refused_at_once() {
        let db = TempDb::new("writer-queue");
        let mut store = db.open();
        let tenant = seed(&mut store, "acme");
        let config = WriterConfig {
            queue_writes_max: 1,
            ..WriterConfig::default()
        };
        let writer = Writer::start(store, &config).expect("writer");
        let blocker = rusqlite::Connection::open(&db.path).expect("second connection");
        blocker
            .execute_batch("BEGIN IMMEDIATE")
            .expect("holds the write lock");
        let submissions: Vec<_> = (0..4)
            .map(|_| writer.batcher.submit(request(tenant, 1)))
            .collect();
        let mut refused = 0;
        let mut waiting = Vec::new();
        for mut submission in submissions {
            // A refused submission is ready at once; the others wait for the lock.
            let mut cx = Context::from_waker(Waker::noop());
            match std::pin::Pin::new(&mut submission).poll(&mut cx) {
                Poll::Ready(Err(BatchError::Overloaded)) => refused += 1,
                Poll::Ready(other) => panic!("answered while locked: {other:?}"),
                Poll::Pending => waiting.push(submission),
            }
        }
        assert!(refused >= 2, "4 writes, room for 2: {refused} refused");
        blocker.execute_batch("ROLLBACK").expect("releases");
        for submission in waiting {
            assert!(submission.wait().is_ok());
        }
        writer.shutdown();
    }
}
