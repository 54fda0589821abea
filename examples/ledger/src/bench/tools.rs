//! Running the reference tools (hledger, ledger-cli) for the bench: their version (whether one
//! is installed), and the wall time of one run, bounded by a timeout.
//!
//! A run's standard output and error go to files in the bench's scratch directory (a pipe
//! nobody reads could stall a chatty tool and distort its time). The time is taken from just
//! before the spawn to the moment the exit is seen, polling every `POLL_INTERVAL` (so it
//! includes process start-up and is at most that much late). A tool that exits non-zero is an
//! error carrying its first lines of standard error: a figure from a failed run would be
//! fake. Tests: `bench/mod.rs` (the timeout, a failing command).

use super::BenchError;
use super::scratch::ScratchDir;
use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How often a running tool is checked for exit.
const POLL_INTERVAL: Duration = Duration::from_micros(500);

/// Most bytes of a failed tool's standard error quoted in the error.
const STDERR_QUOTED_BYTES_MAX: usize = 600;

/// The first line `tool --version` prints, if the tool runs and exits 0 (`None`: not
/// installed, or broken).
pub fn version(tool: &str) -> Option<String> {
    let output = Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let first = text.lines().next().unwrap_or("").trim().to_owned();
    output.status.success().then_some(first)
}

/// Runs `tool args` once and returns its wall time; kills it after `timeout`.
pub fn time_run(
    tool: &str,
    args: &[&str],
    scratch: &ScratchDir,
    timeout: Duration,
) -> Result<Duration, BenchError> {
    let stdout = File::create(scratch.file(&format!("{tool}.stdout")))?;
    let stderr_path = scratch.file(&format!("{tool}.stderr"));
    let stderr = File::create(&stderr_path)?;
    let command = || format!("{tool} {}", args.join(" "));
    let started = Instant::now();
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::ToolTimedOut {
                command: command(),
                timeout,
            });
        }
        std::thread::sleep(POLL_INTERVAL);
    };
    let elapsed = started.elapsed();
    if !status.success() {
        let text = std::fs::read(&stderr_path).unwrap_or_default();
        let quoted = String::from_utf8_lossy(&text[..text.len().min(STDERR_QUOTED_BYTES_MAX)]);
        return Err(BenchError::ToolFailed {
            command: command(),
            status: status.to_string(),
            stderr: quoted.trim().to_owned(),
        });
    }
    Ok(elapsed)
}
