//! `policygate sign --key KEY POLICY`: writes `POLICY.sig`, a detached ed25519
//! signature over the policy file's exact bytes with the key's id. The policy is
//! validated first: an invalid policy is not signed.

use crate::{exit, load, signing};
use std::path::PathBuf;
use std::process::ExitCode;

/// `policygate sign` arguments.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Private key file from `policygate keygen`.
    #[arg(long)]
    pub key: PathBuf,
    /// Policy file to sign; the signature goes to POLICY.sig.
    pub policy: PathBuf,
}

/// Runs `policygate sign`.
pub fn run(args: &SignArgs) -> ExitCode {
    let key = match std::fs::read_to_string(&args.key)
        .map_err(|e| e.to_string())
        .and_then(|text| signing::parse_private(&text))
    {
        Ok(key) => key,
        Err(e) => {
            return exit::usage_error(&format!(
                "cannot use `{}` as a private key: {e}\n  help: create one with `policygate keygen --out PREFIX`",
                args.key.display()
            ));
        }
    };
    if let Err(code) = load::require(
        &args.policy,
        false,
        "the POLICY argument",
        "it was not signed",
    ) {
        return code;
    }
    // The bytes signed are read again after validation; if the file changed in
    // between, the signature simply will not match what the server reads.
    let bytes = match std::fs::read(&args.policy) {
        Ok(b) => b,
        Err(e) => {
            return exit::usage_error(&format!("cannot read `{}`: {e}", args.policy.display()));
        }
    };
    let sig_path = signing::signature_path(&args.policy);
    if let Err(e) = std::fs::write(&sig_path, signing::sign(&key, &bytes)) {
        return exit::usage_error(&format!("cannot write `{}`: {e}", sig_path.display()));
    }
    println!(
        "wrote {} (key {})",
        sig_path.display(),
        signing::key_id(&key.verifying_key())
    );
    ExitCode::SUCCESS
}
