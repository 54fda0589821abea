//! Reader connections: the server's reads run on connections of their own (WAL readers never
//! wait for the writer). A small pool: a read takes an idle connection or opens one, and puts
//! it back afterwards (up to `READER_CONNECTIONS_IDLE_MAX` are kept). A read runs to completion
//! on its worker thread without yielding, so no more connections are in use at once than
//! there are workers. Not here: writes (`writer.rs`).

use crate::limits::READER_CONNECTIONS_IDLE_MAX;
use crate::store::{SqliteStore, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The pool of reader connections to one database file.
#[derive(Debug)]
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<SqliteStore>>,
}

impl Readers {
    pub fn new(path: &Path) -> Readers {
        Readers {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on a reader connection.
    pub fn with<T>(
        &self,
        read: impl FnOnce(&mut dyn Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.lock().pop();
        let mut store = match idle {
            Some(store) => store,
            None => SqliteStore::open_reader(&self.path)?,
        };
        let result = read(&mut store);
        let mut idle = self.lock();
        if idle.len() < READER_CONNECTIONS_IDLE_MAX {
            idle.push(store);
        }
        result
    }

    /// Idle connections kept (for tests).
    pub fn idle_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SqliteStore>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{TempDb, seed};

    #[test]
    fn readers_are_reused_read_only_and_bounded() {
        let db = TempDb::new("readers");
        let mut writer = db.open();
        let tenant = seed(&mut writer, "acme");
        let readers = Readers::new(&db.path);
        let accounts = readers.with(|store| store.accounts(tenant)).expect("read");
        assert_eq!(accounts.len(), 5);
        assert_eq!(readers.idle_count(), 1);
        // Nested reads (as many as workers at once) open more; at most the cap is kept.
        fn nest(readers: &Readers, depth: usize) -> Result<(), StoreError> {
            readers.with(|_| {
                if depth > 0 {
                    nest(readers, depth - 1)
                } else {
                    Ok(())
                }
            })
        }
        nest(&readers, READER_CONNECTIONS_IDLE_MAX + 3).expect("nested reads");
        assert_eq!(readers.idle_count(), READER_CONNECTIONS_IDLE_MAX);
        // A reader cannot write.
        let slug = crate::domain::TenantSlug::new("other").expect("slug");
        let refused = readers.with(|store| store.create_tenant(&slug));
        assert_eq!(refused.expect_err("read only").code(), "backend");
    }

    #[test]
    fn a_missing_database_is_an_error_not_a_new_file() {
        let db = TempDb::new("readers-missing");
        let readers = Readers::new(&db.path);
        assert!(readers.with(|store| store.tenants()).is_err());
        assert!(!db.path.exists());
    }
}
