//! Command-line entry points the `policygate` binary delegates to.

use std::process::ExitCode;

/// `policygate serve` arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Policy file to load.
    #[arg(long, env = "POLICYGATE_POLICY", default_value = "policy/policy.yaml")]
    pub policy: std::path::PathBuf,
}

/// Runs `policygate serve`; returns the process exit code.
pub fn run_serve(args: ServeArgs) -> ExitCode {
    let _ = args;
    ExitCode::FAILURE
}

/// `policygate healthcheck` arguments.
#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// Base URL of the PDP.
    #[arg(
        long,
        env = "POLICYGATE_HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:8000/health"
    )]
    pub url: String,
}

/// Runs `policygate healthcheck`: exit 0 when `/health` answers 200.
pub fn run_healthcheck(args: HealthcheckArgs) -> ExitCode {
    let _ = args;
    ExitCode::FAILURE
}
