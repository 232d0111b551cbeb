//! The `policygate` command: one binary, several subcommands.
//!
//! Exit codes (stable, scripts rely on them):
//! - `0` success (policy valid; decision printed; server stopped cleanly)
//! - `1` invalid input: a policy with errors, a request that breaks the contract
//! - `2` usage error (bad flags) or an I/O error reading inputs
//! - `3` (`serve`) the server failed at runtime, e.g. could not bind or audit

mod command;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// PolicyGate: a deterministic policy decision point for AI services.
#[derive(Debug, Parser)]
#[command(name = "policygate", version, about, long_about = None, after_help = command::EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the PDP HTTP service.
    Serve(policygate_server::cli::ServeArgs),
    /// Validate policy files: every problem, with locations and fix hints.
    Validate(command::validate::ValidateArgs),
    /// Evaluate one request against a policy and print the decision as JSON (the /evaluate answer).
    Eval(command::eval::EvalArgs),
    /// Run the policy test suites (`*_test.yaml`), optionally with rule coverage.
    Test(command::test::TestArgs),
    /// Explain a decision: the rules in evaluation order and why each matched or not.
    Explain(command::explain::ExplainArgs),
    /// Probe a running PDP's /health (for container health checks).
    Healthcheck(policygate_server::cli::HealthcheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => policygate_server::cli::run_serve(args),
        Command::Validate(args) => command::validate::run(&args),
        Command::Eval(args) => command::eval::run(&args),
        Command::Test(args) => command::test::run(&args),
        Command::Explain(args) => command::explain::run(&args),
        Command::Healthcheck(args) => policygate_server::cli::run_healthcheck(args),
    }
}
