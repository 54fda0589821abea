//! `kiln-bench-server`: serves the load-test endpoints (see the library docs) on kiln.
//!
//! Takes `--addr` and `--workers` like every server in the harness; it does no measuring.

use clap::Parser;
use std::net::SocketAddr;

#[derive(Parser, Debug)]
#[command(about = "Kiln's server for the load-test harness")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Worker threads (one io_uring each); default: one per core.
    #[arg(long)]
    workers: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let app = kiln_bench_server::app()?;
    let mut server = kiln::Server::bind(args.addr);
    if let Some(workers) = args.workers {
        server = server.workers(workers);
    }
    server.serve(app)?;
    Ok(())
}
