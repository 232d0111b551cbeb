//! Reading a policy file and loading it: one function for every command, so that
//! `validate`, `eval` and `serve` read, name and report a policy the same way.

use crate::exit;
use policygate_core::{LoadOptions, Policy, Report};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

/// A policy file after loading: the policy when it has no errors, and every
/// diagnostic.
#[derive(Debug)]
pub struct Loaded {
    /// The name diagnostics use: the path as given.
    pub name: String,
    /// The compiled policy; `None` when the report has errors.
    pub policy: Option<Policy>,
    /// Errors and warnings.
    pub report: Report,
}

/// Reads `path` and loads it (`strict` turns warnings into errors). The only error is
/// the file being unreadable; problems of the policy are in [`Loaded::report`].
pub fn read(path: &Path, strict: bool) -> std::io::Result<Loaded> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)?;
    let (policy, report) = policygate_core::load(&name, &bytes, &LoadOptions { strict });
    Ok(Loaded {
        name,
        policy,
        report,
    })
}

/// For a command that needs a valid policy (`eval`, `serve`): reads and loads `path`,
/// prints its diagnostics (warnings too) on stderr, and returns the policy, or the
/// exit code to stop with: usage for an unreadable file, invalid for a policy with
/// errors. `refused` says what did not happen, e.g. "the service was not started";
/// `flag_hint` names where the path came from, e.g. "--policy".
pub fn require(
    path: &Path,
    strict: bool,
    flag_hint: &str,
    refused: &str,
) -> Result<Policy, ExitCode> {
    let loaded = read(path, strict).map_err(|e| {
        exit::usage_error(&format!(
            "cannot read policy file `{}`: {e}\n  help: pass an existing policy file with {flag_hint}",
            path.display()
        ))
    })?;
    let color = std::io::stderr().is_terminal();
    let Some(policy) = loaded.policy else {
        eprint!("{}", loaded.report.render_human(color));
        eprintln!("error: policy `{}` is invalid; {refused}", loaded.name);
        return Err(exit::code(exit::INVALID));
    };
    if !loaded.report.warnings().is_empty() {
        eprint!("{}", loaded.report.render_human(color));
    }
    Ok(policy)
}
