//! The `policygate` command: one binary, several subcommands. The whole command line
//! lives in this crate: arguments and environment variables (clap), what each command
//! prints, and the exit codes (see [`exit`]); the server crate is called with plain
//! configuration.

mod command;
mod exit;
mod load;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    Serve(command::serve::ServeArgs),
    /// Validate policy files: every problem, with locations and fix hints.
    Validate(command::validate::ValidateArgs),
    /// Evaluate one request against a policy and print the decision as the contract's response JSON.
    Eval(command::eval::EvalArgs),
    /// Probe a running PDP's /health (for container health checks).
    Healthcheck(command::healthcheck::HealthcheckArgs),
    /// Work with audit trails (`audit verify FILE...`).
    #[command(subcommand)]
    Audit(command::audit::AuditCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => command::serve::run(args),
        Command::Validate(args) => command::validate::run(&args),
        Command::Eval(args) => command::eval::run(&args),
        Command::Healthcheck(args) => command::healthcheck::run(&args),
        Command::Audit(command) => command::audit::run(&command),
    }
}
