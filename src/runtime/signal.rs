//! SIGINT/SIGTERM → graceful shutdown.
//!
//! The signals are blocked in the calling thread before any worker starts (workers inherit the
//! mask), and one small thread waits for them with sigwait(2) and runs the callback, so no code
//! runs in signal-handler context. A second signal exits the process at once.

use super::sys;
use std::io;

/// Blocks SIGINT/SIGTERM in this thread and its future children, then calls `on_signal` from a
/// dedicated thread when the first one arrives. Call before starting workers.
pub fn on_shutdown_signal(on_signal: impl FnOnce() + Send + 'static) -> io::Result<()> {
    sys::block_shutdown_signals()?;
    std::thread::Builder::new()
        .name("kiln-signals".into())
        .spawn(move || {
            let Ok(signal) = sys::wait_for_shutdown_signal() else {
                return;
            };
            tracing::info!(
                signal,
                "shutdown signal received; finishing in-flight requests"
            );
            on_signal();
            if sys::wait_for_shutdown_signal().is_ok() {
                tracing::warn!("second shutdown signal; exiting now");
                std::process::exit(130);
            }
        })?;
    Ok(())
}
