//! `SqliteStore`: the `Store` on one SQLite file (rusqlite, bundled SQLite), WAL journal,
//! one connection behind a mutex. Retrieval and feedback writes are small and rare next to
//! model calls, so one connection on the blocking pool is enough here; the ledger's group
//! commit is the pattern to take if that changes. Not here: any rule (`domain/`). Tests:
//! `store/tests.rs`.

use super::{
    Document, EmbeddingModel, NewDocument, SearchRecord, Store, StoreError, blob_to_embedding,
    embedding_to_blob, schema,
};
use crate::domain::feedback::{Feedback, Label, Source};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

pub struct SqliteStore {
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn error(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError(format!("{}: {e}", parent.display())))?;
        }
        let connection = Connection::open(path).map_err(error)?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(error)?;
        SqliteStore::with_connection(connection)
    }

    /// A store in memory (tests).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::with_connection(Connection::open_in_memory().map_err(error)?)
    }

    fn with_connection(mut connection: Connection) -> Result<SqliteStore, StoreError> {
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(error)?;
        schema::migrate(&mut connection)?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
        })
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn feedback_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Feedback> {
    let label: String = row.get(4)?;
    let source: String = row.get(5)?;
    let bad = |what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            4,
            rusqlite::types::Type::Text,
            format!("bad {what}").into(),
        )
    };
    Ok(Feedback {
        id: row.get(0)?,
        model: row.get(1)?,
        version: row.get::<_, i64>(2)? as u64,
        subject: row.get(3)?,
        label: Label::parse(&label).ok_or_else(|| bad("label"))?,
        source: Source::parse(&source).ok_or_else(|| bad("source"))?,
        score: row.get(6)?,
        predicted: row.get::<_, Option<i64>>(7)?.map(|p| p == 1),
        at_ms: row.get(8)?,
    })
}

const FEEDBACK_COLUMNS: &str =
    "id, model, version, subject, label, source, score, predicted, at_ms";

impl Store for SqliteStore {
    fn add_documents(
        &self,
        model: &EmbeddingModel,
        documents: &[NewDocument],
    ) -> Result<Vec<i64>, StoreError> {
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(error)?;
        let mut ids = Vec::with_capacity(documents.len());
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO documents (text, topic, model, version, embedding) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(error)?;
            for document in documents {
                insert
                    .execute(params![
                        document.text,
                        document.topic,
                        model.model,
                        model.version as i64,
                        embedding_to_blob(&document.embedding)
                    ])
                    .map_err(error)?;
                ids.push(transaction.last_insert_rowid());
            }
        }
        transaction.commit().map_err(error)?;
        Ok(ids)
    }

    fn document_count(&self) -> Result<usize, StoreError> {
        let count: i64 = self
            .connection()
            .query_row("SELECT count(*) FROM documents", [], |row| row.get(0))
            .map_err(error)?;
        Ok(count as usize)
    }

    fn embedding_model(&self) -> Result<Option<EmbeddingModel>, StoreError> {
        self.connection()
            .query_row(
                "SELECT model, version FROM documents ORDER BY id LIMIT 1",
                [],
                |row| {
                    Ok(EmbeddingModel {
                        model: row.get(0)?,
                        version: row.get::<_, i64>(1)? as u64,
                    })
                },
            )
            .optional()
            .map_err(error)
    }

    fn documents(&self, ids: &[i64]) -> Result<Vec<Document>, StoreError> {
        let connection = self.connection();
        let mut select = connection
            .prepare_cached("SELECT id, text, topic FROM documents WHERE id = ?1")
            .map_err(error)?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let document = select
                .query_row([id], |row| {
                    Ok(Document {
                        id: row.get(0)?,
                        text: row.get(1)?,
                        topic: row.get(2)?,
                    })
                })
                .optional()
                .map_err(error)?;
            found.extend(document);
        }
        Ok(found)
    }

    fn embeddings(&self, after_id: i64, limit: usize) -> Result<Vec<(i64, Vec<f32>)>, StoreError> {
        let connection = self.connection();
        let mut select = connection
            .prepare_cached(
                "SELECT id, embedding FROM documents WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(error)?;
        let rows = select
            .query_map(params![after_id, limit as i64], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
            })
            .map_err(error)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, blob) = row.map_err(error)?;
            let vector = blob_to_embedding(&blob)
                .ok_or_else(|| StoreError(format!("document {id}: a malformed embedding")))?;
            out.push((id, vector));
        }
        Ok(out)
    }

    fn record_search(&self, search: &SearchRecord, kept: i64) -> Result<i64, StoreError> {
        let results: Vec<String> = search.results.iter().map(i64::to_string).collect();
        let connection = self.connection();
        let transaction = connection.unchecked_transaction().map_err(error)?;
        transaction
            .execute(
                "INSERT INTO searches (query, model, version, results, at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    search.query,
                    search.model,
                    search.version as i64,
                    results.join(","),
                    search.at_ms
                ],
            )
            .map_err(error)?;
        let id = transaction.last_insert_rowid();
        transaction
            .execute("DELETE FROM searches WHERE id <= ?1", [id - kept])
            .map_err(error)?;
        transaction
            .execute("DELETE FROM opens WHERE search_id <= ?1", [id - kept])
            .map_err(error)?;
        transaction.commit().map_err(error)?;
        Ok(id)
    }

    fn search(&self, id: i64) -> Result<Option<SearchRecord>, StoreError> {
        let row = self
            .connection()
            .query_row(
                "SELECT id, query, model, version, results, at_ms FROM searches WHERE id = ?1",
                [id],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(error)?;
        let Some((id, query, model, version, results, at_ms)) = row else {
            return Ok(None);
        };
        let results = results
            .split(',')
            .filter(|part| !part.is_empty())
            .map(|part| part.parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| StoreError(format!("search {id}: malformed results")))?;
        Ok(Some(SearchRecord {
            id,
            query,
            model,
            version: version as u64,
            results,
            at_ms,
        }))
    }

    fn record_open(
        &self,
        search_id: i64,
        document_id: i64,
        rank: usize,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let inserted = self
            .connection()
            .execute(
                "INSERT OR IGNORE INTO opens (search_id, document_id, rank, at_ms) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![search_id, document_id, rank as i64, at_ms],
            )
            .map_err(error)?;
        Ok(inserted == 1)
    }

    fn add_feedback(&self, feedback: &Feedback, kept: i64) -> Result<i64, StoreError> {
        let connection = self.connection();
        let transaction = connection.unchecked_transaction().map_err(error)?;
        transaction
            .execute(
                "INSERT INTO feedback (model, version, subject, label, source, score, predicted, at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    feedback.model,
                    feedback.version as i64,
                    feedback.subject,
                    feedback.label.as_str(),
                    feedback.source.as_str(),
                    feedback.score,
                    feedback.predicted.map(i64::from),
                    feedback.at_ms
                ],
            )
            .map_err(error)?;
        let id = transaction.last_insert_rowid();
        transaction
            .execute("DELETE FROM feedback WHERE id <= ?1", [id - kept])
            .map_err(error)?;
        transaction.commit().map_err(error)?;
        Ok(id)
    }

    fn feedback_page(&self, after_id: i64, limit: usize) -> Result<Vec<Feedback>, StoreError> {
        let connection = self.connection();
        let mut select = connection
            .prepare_cached(&format!(
                "SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .map_err(error)?;
        let rows = select
            .query_map(params![after_id, limit as i64], feedback_row)
            .map_err(error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(error)
    }

    fn approval_counts(
        &self,
        model: &str,
        since_ms: i64,
        bucket_ms: i64,
        limit: usize,
    ) -> Result<Vec<(u64, i64, Label, u64)>, StoreError> {
        let connection = self.connection();
        // The latest `limit` (version, bucket) pairs, then their counts per label.
        let mut select = connection
            .prepare_cached(
                "WITH rows AS ( \
                    SELECT version, (at_ms - (((at_ms % ?3) + ?3) % ?3)) AS bucket, label \
                    FROM feedback WHERE model = ?1 AND at_ms >= ?2), \
                 kept AS ( \
                    SELECT DISTINCT version, bucket FROM rows ORDER BY bucket DESC, version LIMIT ?4) \
                 SELECT rows.version, rows.bucket, rows.label, count(*) FROM rows \
                 JOIN kept ON kept.version = rows.version AND kept.bucket = rows.bucket \
                 GROUP BY rows.version, rows.bucket, rows.label",
            )
            .map_err(error)?;
        let rows = select
            .query_map(
                params![model, since_ms, bucket_ms.max(1), limit as i64],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)? as u64,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)? as u64,
                    ))
                },
            )
            .map_err(error)?;
        let mut out = Vec::new();
        for row in rows {
            let (version, bucket, label, count) = row.map_err(error)?;
            let label =
                Label::parse(&label).ok_or_else(|| StoreError(format!("a bad label {label:?}")))?;
            out.push((version, bucket, label, count));
        }
        Ok(out)
    }

    fn model_feedback(
        &self,
        model: &str,
        version: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Feedback>, StoreError> {
        let connection = self.connection();
        let mut select = connection
            .prepare_cached(&format!(
                "SELECT * FROM (SELECT {FEEDBACK_COLUMNS} FROM feedback \
                 WHERE model = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY id DESC LIMIT ?3) \
                 ORDER BY id"
            ))
            .map_err(error)?;
        let rows = select
            .query_map(
                params![model, version.map(|v| v as i64), limit as i64],
                feedback_row,
            )
            .map_err(error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(error)
    }

    fn state(&self, model: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.connection()
            .query_row(
                "SELECT value FROM model_state WHERE model = ?1 AND key = ?2",
                [model, key],
                |row| row.get(0),
            )
            .optional()
            .map_err(error)
    }

    fn set_state(&self, model: &str, key: &str, value: &str) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "INSERT INTO model_state (model, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (model, key) DO UPDATE SET value = excluded.value",
                [model, key, value],
            )
            .map_err(error)?;
        Ok(())
    }

    fn clear_state(&self, model: &str, key: &str) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "DELETE FROM model_state WHERE model = ?1 AND key = ?2",
                [model, key],
            )
            .map_err(error)?;
        Ok(())
    }
}
