//! `contacts`: serves the Contact.app example (`GET /contacts`) on kiln.
//!
//! Sessions and CSRF tokens are signed with `CONTACTS_SECRET` (at least 32 bytes); without it a
//! random secret is made at start-up, so sessions end when the server restarts.

use clap::Parser;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(about = "The Contact.app example on kiln")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Worker threads (one io_uring each); default: one per core.
    #[arg(long)]
    workers: Option<usize>,
    /// Send cookies without `Secure`, for plain HTTP on another host than localhost.
    #[arg(long)]
    plain_http_cookies: bool,
}

fn secret() -> anyhow::Result<Vec<u8>> {
    if let Ok(secret) = std::env::var("CONTACTS_SECRET") {
        return Ok(secret.into_bytes());
    }
    tracing::warn!("CONTACTS_SECRET is not set: using a random secret (sessions end on restart)");
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    Ok(secret)
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let cookies = if args.plain_http_cookies {
        contacts::Cookies::PlainHttp
    } else {
        contacts::Cookies::Secure
    };
    let app = contacts::app(&secret()?, Arc::new(contacts::Store::default()), cookies)?;
    let mut server = kiln::Server::bind(args.addr.as_str());
    if let Some(workers) = args.workers {
        server = server.workers(workers);
    }
    server.serve(app)?;
    Ok(())
}
