//! `ScratchDir`: a fresh directory under the system's temporary directory, removed with
//! everything in it when dropped, for the bench's databases and journals (and tests' ones).
//!
//! Its name carries the process id and a per-process counter, so concurrent benches and tests
//! never share one; creation fails rather than reuse a directory that exists. Removal on drop
//! is best effort (a failure there cannot be reported from `drop`). Tests: `bench/mod.rs`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary directory, removed on drop.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `TMP/ledger-{purpose}-{pid}-{n}`.
    pub fn new(purpose: &str) -> io::Result<ScratchDir> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "ledger-{purpose}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path)?;
        Ok(ScratchDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path for a file named `name` inside the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
