//! `policygate eval --policy PATH --request PATH|-`: one decision, printed as the
//! EvaluateResponse JSON of the contract.

use crate::{exit, load};
use policygate_api::{EvaluateRequest, Problem, RequestError};
use policygate_core::Policy;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `policygate eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Policy file.
    #[arg(long, value_name = "PATH")]
    pub policy: PathBuf,
    /// Request JSON file (an evaluate request of the contract); `-` reads standard input.
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
    eprintln!("error: the request in `{source}` breaks the request contract:");
    for p in problems {
        eprintln!("  {p}");
    }
}

/// For `eval` and `explain`: reads the request from `source` (a path, or `-` for
/// stdin) and checks it against the request contract and `policy`'s declarations; on
/// failure says why on stderr and returns the exit code (usage for an unreadable
/// source, invalid for a request that is not one). Also returns the body's bytes.
pub(crate) fn read_checked_request(
    source: &str,
    policy: &Policy,
) -> Result<(EvaluateRequest, Vec<u8>), ExitCode> {
    let body = read_request(source).map_err(|e| {
        eprintln!("error: cannot read request `{source}`: {e}");
        exit::code(exit::USAGE)
    })?;
    let request = match EvaluateRequest::from_json(&body) {
        Ok(r) => r,
        Err(RequestError::Malformed(m)) => {
            eprintln!("error: the request in `{source}` is not valid JSON: {m}");
            return Err(exit::code(exit::INVALID));
        }
        Err(RequestError::Invalid(problems)) => {
            print_problems(source, &problems);
            return Err(exit::code(exit::INVALID));
        }
    };
    if let Err(problems) = policy.check_request(&request) {
        print_problems(source, &problems);
        return Err(exit::code(exit::INVALID));
    }
    Ok((request, body))
}

/// Runs the command: exit 0 with the response on stdout; 1 for an invalid policy or
/// request; 2 when a file cannot be read.
pub fn run(args: &EvalArgs) -> ExitCode {
    let policy = match load::require(
        &args.policy,
        args.strict,
        "--policy",
        "nothing was evaluated",
    ) {
        Ok(policy) => policy,
        Err(code) => return code,
    };
    let (request, _) = match read_checked_request(&args.request, &policy) {
        Ok(read) => read,
        Err(code) => return code,
    };
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
            exit::code(exit::USAGE)
        }
    }
}
