//! `deny-io-uring COMMAND [ARGS...]`: runs a command under a seccomp filter that makes
//! `io_uring_setup` fail with EPERM, as Docker's default profile (25.0+) and hardened hosts do.
//!
//! It exists to show kiln's epoll fallback kicking in for real (see `tests/signals.rs`); it
//! does nothing else. The filter is inherited across exec, and `no_new_privs` is set first (the
//! kernel requires it for unprivileged filters).

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter};
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

fn filter() -> Result<BpfProgram, seccompiler::Error> {
    let rules = BTreeMap::from([(libc::SYS_io_uring_setup, Vec::new())]);
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(seccompiler::Error::Backend)?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(seccompiler::Error::Backend)?;
    filter.try_into().map_err(seccompiler::Error::Backend)
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: deny-io-uring COMMAND [ARGS...]");
        return ExitCode::from(2);
    };
    let program_filter = match filter() {
        Ok(program_filter) => program_filter,
        Err(error) => {
            eprintln!("deny-io-uring: cannot build the seccomp filter: {error}");
            return ExitCode::from(1);
        }
    };
    if let Err(error) = seccompiler::apply_filter(&program_filter) {
        eprintln!("deny-io-uring: cannot install the seccomp filter: {error}");
        return ExitCode::from(1);
    }
    let error = Command::new(&program).args(args).exec();
    eprintln!(
        "deny-io-uring: cannot run {}: {error}",
        program.to_string_lossy()
    );
    ExitCode::from(127)
}
