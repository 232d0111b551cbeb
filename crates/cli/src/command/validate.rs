//! `policygate validate` (STUB).
use std::process::ExitCode;
/// Arguments.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Policy files.
    #[arg(required = true)]
    pub paths: Vec<std::path::PathBuf>,
}
/// Runs.
pub fn run(_args: &ValidateArgs) -> ExitCode {
    ExitCode::FAILURE
}
