//! Reading a policy file and loading it: one function for every command, so that
//! `validate`, `eval`, `serve`, `diff` and `replay` read, name and report a policy the
//! same way.

use crate::{exit, signing};
use ed25519_dalek::VerifyingKey;
use policygate_core::{LoadOptions, Policy, Report};
use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

/// The default of `--max-policy-bytes`: policy files larger than this are refused
/// before parsing (the 10,000-rule benchmark policy is about 3 MB).
pub const DEFAULT_MAX_POLICY_BYTES: u64 = 16 * 1024 * 1024;

static MAX_POLICY_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_POLICY_BYTES);

/// Sets the size limit every later policy read applies (`serve --max-policy-bytes`).
pub fn set_max_policy_bytes(limit: u64) {
    MAX_POLICY_BYTES.store(limit, Ordering::Relaxed);
}

/// Reads a policy file, refusing one larger than the limit before parsing anything
/// (reading at most one byte past the limit, whatever the file's size says).
fn read_policy(path: &Path) -> std::io::Result<Vec<u8>> {
    let limit = MAX_POLICY_BYTES.load(Ordering::Relaxed);
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the file is larger than the policy size limit of {limit} bytes (raise it with --max-policy-bytes if this is intended)"
            ),
        ));
    }
    Ok(bytes)
}

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
    let bytes = read_policy(path)?;
    Ok(from_bytes(path, &bytes, strict))
}

fn from_bytes(path: &Path, bytes: &[u8], strict: bool) -> Loaded {
    let name = path.display().to_string();
    let (policy, report) = policygate_core::load(&name, bytes, &LoadOptions { strict });
    Loaded {
        name,
        policy,
        report,
    }
}

/// Why a policy's bytes were not read.
enum Unread {
    Io(std::io::Error),
    /// The signature is missing or does not verify (with `--verify-key`).
    Signature(String),
}

/// Reads `path`'s bytes once and, with a verify key, checks its signature file
/// (`PATH.sig`) against exactly those bytes.
fn read_verified(path: &Path, key: Option<&VerifyingKey>) -> Result<Vec<u8>, Unread> {
    let bytes = read_policy(path).map_err(Unread::Io)?;
    if let Some(key) = key {
        let sig_path = signing::signature_path(path);
        let signature = std::fs::read_to_string(&sig_path).map_err(|e| {
            Unread::Signature(format!(
                "cannot read the signature `{}` ({e}); a verify key is set, so only a signed policy is loaded: run `policygate sign --key KEY {}`",
                sig_path.display(),
                path.display()
            ))
        })?;
        signing::verify(key, &bytes, &signature)
            .map_err(|e| Unread::Signature(format!("policy `{}` refused: {e}", path.display())))?;
    }
    Ok(bytes)
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
    require_verified(path, strict, None, flag_hint, refused)
}

/// [`require`], and with a verify key (`serve --verify-key`) the policy must carry a
/// valid signature (`PATH.sig`); an unsigned or wrongly signed one is refused as
/// invalid.
pub fn require_verified(
    path: &Path,
    strict: bool,
    key: Option<&VerifyingKey>,
    flag_hint: &str,
    refused: &str,
) -> Result<Policy, ExitCode> {
    let bytes = read_verified(path, key).map_err(|e| match e {
        Unread::Io(e) => unreadable(path, &e, flag_hint),
        Unread::Signature(message) => {
            eprintln!("error: {message}; {refused}");
            exit::code(exit::INVALID)
        }
    })?;
    require_bytes(path, &bytes, strict, exit::INVALID, refused)
}

/// The usage exit code for a policy file that cannot be read, after saying why.
fn unreadable(path: &Path, e: &std::io::Error, flag_hint: &str) -> ExitCode {
    exit::usage_error(&format!(
        "cannot read policy file `{}`: {e}\n  help: pass an existing policy file with {flag_hint}",
        path.display()
    ))
}

/// The bytes of a policy file, or the usage exit code after saying why it cannot be read.
pub fn read_bytes(path: &Path, flag_hint: &str) -> Result<Vec<u8>, ExitCode> {
    read_policy(path).map_err(|e| unreadable(path, &e, flag_hint))
}

/// [`require`] for a policy already read (`diff` compares the bytes of two files
/// first): stops with exit code `invalid` when the policy has errors.
pub fn require_bytes(
    path: &Path,
    bytes: &[u8],
    strict: bool,
    invalid: u8,
    refused: &str,
) -> Result<Policy, ExitCode> {
    let loaded = from_bytes(path, bytes, strict);
    let color = std::io::stderr().is_terminal();
    let Some(policy) = loaded.policy else {
        eprint!("{}", loaded.report.render_human(color));
        eprintln!("error: policy `{}` is invalid; {refused}", loaded.name);
        return Err(exit::code(invalid));
    };
    if !loaded.report.warnings().is_empty() {
        eprint!("{}", loaded.report.render_human(color));
    }
    Ok(policy)
}

/// For `serve`'s reloads: reads and loads `path` as [`require`] does at start, and on
/// failure returns what the server logs and reports (the diagnostics exactly as
/// `validate` prints them, without colour).
pub fn candidate(
    path: &Path,
    strict: bool,
    key: Option<&VerifyingKey>,
) -> Result<Policy, policygate_server::Rejected> {
    let bytes = read_verified(path, key).map_err(|e| match e {
        Unread::Io(e) => policygate_server::Rejected {
            summary: format!("cannot read policy file `{}`: {e}", path.display()),
            diagnostics: format!(
                "error: cannot read policy file `{}`: {e}\n  help: write the new policy to a temporary file and rename it over the old one",
                path.display()
            ),
            error_codes: Vec::new(),
            candidate_sha256: None,
        },
        Unread::Signature(message) => policygate_server::Rejected {
            summary: message.clone(),
            diagnostics: format!("error: {message}"),
            error_codes: vec!["policygate::signature".to_owned()],
            // Unknown on purpose: the same bytes with a new signature must be loaded
            // again, not skipped as an unchanged file.
            candidate_sha256: None,
        },
    })?;
    let Loaded { policy, report, .. } = from_bytes(path, &bytes, strict);
    match policy {
        Some(policy) => Ok(policy),
        None => {
            let error_codes: Vec<String> = report
                .errors()
                .iter()
                .map(|d| d.code().as_str().to_owned())
                .collect();
            Err(policygate_server::Rejected {
                summary: match report.errors().first() {
                    Some(first) => format!(
                        "{}; first: {} {}",
                        report.summary(),
                        first.code().as_str(),
                        first.message()
                    ),
                    None => report.summary(),
                },
                diagnostics: report.render_human(false),
                error_codes,
                candidate_sha256: Some(policygate_core::fingerprint(&bytes)),
            })
        }
    }
}

/// A gateway mapping file (`serve --gateway-mapping`, `validate --mapping`) as the
/// server keeps it: its name and bytes, read once (within the policy size limit).
pub fn read_mapping(path: &Path) -> std::io::Result<policygate_server::MappingSource> {
    Ok(policygate_server::MappingSource {
        name: path.display().to_string(),
        bytes: read_policy(path)?.into(),
    })
}

/// For `serve`: the mapping must fit the policy (its report, warnings too, on
/// stderr); else the exit code `invalid` after saying so.
pub fn require_mapping(
    source: &policygate_server::MappingSource,
    policy: &Policy,
    refused: &str,
) -> Result<(), ExitCode> {
    let color = std::io::stderr().is_terminal();
    match source.bind(policy) {
        Ok(_) => Ok(()),
        Err(report) => {
            eprint!("{}", report.render_human(color));
            eprintln!(
                "error: gateway mapping `{}` does not fit policy `{}`; {refused}",
                source.name,
                policy.identity().policy_id
            );
            Err(exit::code(exit::INVALID))
        }
    }
}

/// [`candidate`] for a service with a gateway mapping: a candidate policy the mapping
/// does not fit is refused like an invalid one (the last valid policy, and its
/// mapping, stay active).
pub fn candidate_with_mapping(
    path: &Path,
    strict: bool,
    key: Option<&VerifyingKey>,
    mapping: &policygate_server::MappingSource,
) -> Result<Policy, policygate_server::Rejected> {
    let policy = candidate(path, strict, key)?;
    match mapping.bind(&policy) {
        Ok(_) => Ok(policy),
        Err(report) => Err(policygate_server::Rejected {
            summary: format!(
                "the gateway mapping `{}` does not fit the new policy: {}",
                mapping.name,
                report.summary()
            ),
            diagnostics: report.render_human(false),
            error_codes: report
                .errors()
                .iter()
                .map(|d| d.code().as_str().to_owned())
                .collect(),
            candidate_sha256: Some(policy.identity().policy_sha256.clone()),
        }),
    }
}
