//! `policygate eval` (STUB).
use std::process::ExitCode;
/// Arguments.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Policy file.
    #[arg(long)]
    pub policy: std::path::PathBuf,
}
/// Runs.
pub fn run(_args: &EvalArgs) -> ExitCode {
    ExitCode::FAILURE
}
