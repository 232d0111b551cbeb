//! A small client of the reference service: asks for summaries and prints the answers.
//!
//! Run with: `cargo run -p policygate-reference --bin reference-client -- handbook roadmap incident-42 payroll`

use clap::Parser;
use policygate_reference::client::ServiceClient;
use std::process::ExitCode;

/// Ask the reference service to summarise documents and print what it answers.
#[derive(Debug, Parser)]
#[command(name = "reference-client", version, about)]
struct Args {
    /// Base url of the reference service.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The `max_tokens` to ask for.
    #[arg(long)]
    max_tokens: Option<u32>,
    /// The user to call as (sent as `x-user-id`).
    #[arg(long)]
    user: Option<String>,
    /// Read the documents (`GET /documents/{id}`) instead of summarising them.
    #[arg(long)]
    read: bool,
    /// Document ids (the sample store has handbook, roadmap, incident-42, payroll).
    #[arg(required = true)]
    documents: Vec<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let client = ServiceClient::new(args.url.as_str());
    for id in &args.documents {
        let answer = if args.read {
            client.read(id).await
        } else {
            client
                .summarise(id, args.max_tokens, args.user.as_deref())
                .await
        };
        match answer {
            Ok(answer) => {
                let body = serde_json::to_string_pretty(&answer.body).unwrap_or_default();
                println!("{id}: HTTP {}\n{body}\n", answer.status);
            }
            Err(e) => {
                eprintln!("reference-client: {e}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}
