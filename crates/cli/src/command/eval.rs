//! `policygate eval --policy PATH --request PATH|-`: one decision, printed as the
//! EvaluateResponse JSON of the contract.

use policygate_api::{EvaluateRequest, Problem, RequestError};
use policygate_core::{LoadOptions, load};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `policygate eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Policy file.
    #[arg(long, value_name = "PATH")]
    pub policy: PathBuf,
    /// Request file: JSON, as the body of POST /evaluate; `-` reads standard input.
    #[arg(long, value_name = "PATH")]
    pub request: String,
    /// Refuse a policy with warnings.
    #[arg(long)]
    pub strict: bool,
    /// Pretty-print the response.
    #[arg(long)]
    pub pretty: bool,
}

fn read_request(source: &str) -> std::io::Result<Vec<u8>> {
    if source == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(source)
    }
}

fn print_problems(source: &str, problems: &[Problem]) {
    eprintln!("error: the request in `{source}` breaks the EvaluateRequest contract:");
    for p in problems {
        eprintln!("  {p}");
    }
}

/// Runs the command: exit 0 with the response on stdout; 1 for an invalid policy or
/// request; 2 when a file cannot be read.
pub fn run(args: &EvalArgs) -> ExitCode {
    let name = args.policy.display().to_string();
    let bytes = match std::fs::read(&args.policy) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read policy `{name}`: {e}");
            return ExitCode::from(2);
        }
    };
    let (policy, report) = load(
        &name,
        &bytes,
        &LoadOptions {
            strict: args.strict,
        },
    );
    let Some(policy) = policy else {
        eprint!("{}", report.render_human(std::io::stderr().is_terminal()));
        return ExitCode::from(1);
    };
    if !report.warnings().is_empty() {
        eprint!("{}", report.render_human(std::io::stderr().is_terminal()));
    }
    let body = match read_request(&args.request) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read request `{}`: {e}", args.request);
            return ExitCode::from(2);
        }
    };
    let request = match EvaluateRequest::from_json(&body) {
        Ok(r) => r,
        Err(RequestError::Malformed(m)) => {
            eprintln!(
                "error: the request in `{}` is not valid JSON: {m}",
                args.request
            );
            return ExitCode::from(1);
        }
        Err(RequestError::Invalid(problems)) => {
            print_problems(&args.request, &problems);
            return ExitCode::from(1);
        }
    };
    if let Err(problems) = policy.check_request(&request) {
        print_problems(&args.request, &problems);
        return ExitCode::from(1);
    }
    let correlation_id = request
        .request_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let response = policy
        .evaluate(&request)
        .to_response(correlation_id, policy.identity());
    let out = if args.pretty {
        serde_json::to_string_pretty(&response)
    } else {
        serde_json::to_string(&response)
    };
    match out {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot serialise the response: {e}");
            ExitCode::from(2)
        }
    }
}
