//! The reference business service (COPY AND ADAPT): `POST /summarise` behind PolicyGate.
//!
//! Run with: `cargo run -p policygate-reference --bin reference-service -- --pdp-url http://127.0.0.1:8000`

use clap::Parser;
use policygate_reference::documents::DocumentStore;
use policygate_reference::{Config, app};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// A business service that asks PolicyGate before summarising a document.
#[derive(Debug, Parser)]
#[command(name = "reference-service", version, about)]
struct Args {
    /// Base url of the PolicyGate PDP.
    #[arg(
        long,
        env = "POLICYGATE_PDP_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    pdp_url: String,
    /// Bearer token for the PDP, if it requires one.
    #[arg(long, env = "POLICYGATE_PDP_TOKEN", hide_env_values = true)]
    pdp_token: Option<String>,
    /// Deadline of one PDP call, in milliseconds; past it the request is blocked.
    #[arg(long, default_value_t = 500)]
    pdp_deadline_ms: u64,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The `env.name` fact this service reports.
    #[arg(long, default_value = "prod")]
    env_name: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = Config {
        pdp_url: args.pdp_url,
        pdp_token: args.pdp_token,
        pdp_deadline: Duration::from_millis(args.pdp_deadline_ms),
        env_name: args.env_name,
    };
    let (router, _reviews) = match app(&config, DocumentStore::sample()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("reference-service: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("reference-service: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(3);
        }
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| args.listen.to_string(), |a| a.to_string());
    eprintln!(
        "reference-service: listening on http://{addr}, asking the PDP at {}",
        config.pdp_url
    );
    let shutdown = async {
        // If the signal handler cannot be installed, run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reference-service: {e}");
            ExitCode::from(3)
        }
    }
}
