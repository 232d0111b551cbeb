//! The `policygate` command: one binary, several subcommands. The whole command line
//! lives in this crate: arguments and environment variables (clap), what each command
//! prints, and the exit codes (see [`exit`]); the server crate is called with plain
//! configuration.

mod command;
mod exit;
mod load;
mod signing;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: the service allocates and frees small
/// buffers on every request from several threads (runtime workers, the audit writer),
/// where glibc's arenas contend on their locks (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// PolicyGate: a deterministic policy decision point for AI services.
#[derive(Debug, Parser)]
#[command(name = "policygate", version, about, long_about = None, after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the PDP HTTP service.
    Serve(Box<command::serve::ServeArgs>),
    /// Validate policy files: every problem, with locations and fix hints.
    Validate(command::validate::ValidateArgs),
    /// Evaluate one request against a policy and print the decision as the contract's response JSON.
    Eval(command::eval::EvalArgs),
    /// Compare two policies: every change in outcome, each with a witness request.
    Diff(command::diff::DiffArgs),
    /// Re-decide recorded audit events under a new policy and report what changes.
    Replay(command::replay::ReplayArgs),
    /// Run the policy test suites (`*_test.yaml`), optionally with rule coverage.
    Test(command::test::TestArgs),
    /// Explain a decision: the rules in evaluation order and why each matched or not.
    Explain(command::explain::ExplainArgs),
    /// Probe a running PDP's /health (for container health checks).
    Healthcheck(command::healthcheck::HealthcheckArgs),
    /// Create an ed25519 key pair for signed policies.
    Keygen(command::keygen::KeygenArgs),
    /// Sign a policy file (writes POLICY.sig) for `serve --verify-key`.
    Sign(command::sign::SignArgs),
    /// Work with audit trails (`audit verify FILE...`).
    #[command(subcommand)]
    Audit(command::audit::AuditCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => command::serve::run(*args),
        Command::Validate(args) => command::validate::run(&args),
        Command::Eval(args) => command::eval::run(&args),
        Command::Diff(args) => command::diff::run(&args),
        Command::Replay(args) => command::replay::run(&args),
        Command::Test(args) => command::test::run(&args),
        Command::Explain(args) => command::explain::run(&args),
        Command::Healthcheck(args) => command::healthcheck::run(&args),
        Command::Keygen(args) => command::keygen::run(&args),
        Command::Sign(args) => command::sign::run(&args),
        Command::Audit(command) => command::audit::run(&command),
    }
}
