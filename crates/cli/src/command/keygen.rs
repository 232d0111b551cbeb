//! `policygate keygen --out PREFIX`: a new ed25519 key pair for signed policies,
//! `PREFIX.key` (private, mode 0600, never overwritten) and `PREFIX.pub`.

use crate::{exit, signing};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `policygate keygen` arguments.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Path prefix of the key files: writes PREFIX.key (private) and PREFIX.pub.
    #[arg(long)]
    pub out: PathBuf,
}

fn with_suffix(prefix: &std::path::Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Runs `policygate keygen`.
pub fn run(args: &KeygenArgs) -> ExitCode {
    let (public, private) = match signing::generate() {
        Ok(pair) => pair,
        Err(e) => return exit::usage_error(&e),
    };
    let key_path = with_suffix(&args.out, ".key");
    let pub_path = with_suffix(&args.out, ".pub");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&key_path)
        .and_then(|mut f| f.write_all(private.as_bytes()));
    if let Err(e) = written {
        return exit::usage_error(&format!(
            "cannot create `{}`: {e}\n  help: keygen never overwrites a key; pick another --out",
            key_path.display()
        ));
    }
    if let Err(e) = std::fs::write(&pub_path, public.as_bytes()) {
        return exit::usage_error(&format!("cannot write `{}`: {e}", pub_path.display()));
    }
    println!(
        "wrote {} (private: keep it secret, use it with `policygate sign`) and {} (public: `policygate serve --verify-key`)",
        key_path.display(),
        pub_path.display()
    );
    ExitCode::SUCCESS
}
