//! `policygate validate PATH...`: every problem of every file, human or JSON (`api`'s
//! `ValidationReport`). With `--mapping MAPPING POLICY`, the gateway mapping is checked
//! against the one policy too (offline, as `serve --gateway-mapping` does at start):
//! its report follows the policy's.

use crate::load;
use clap::ValueEnum;
use policygate_api::{FileReport, UnreadableFile, ValidationReport};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Diagnostics with source snippets, for people.
    Human,
    /// One JSON document, for machines.
    Json,
}

/// Arguments of `policygate validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Policy files to validate.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Treat warnings (shadowed rules, possible overlaps, style) as errors.
    #[arg(long)]
    pub strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also check this gateway mapping against the policy (exactly one PATH then), as `serve --gateway-mapping` does at start.
    #[arg(long, value_name = "MAPPING")]
    pub mapping: Option<PathBuf>,
}

/// Runs the command: exit 0 when every file is valid, 1 when any is not, 2 when a
/// file cannot be read.
pub fn run(args: &ValidateArgs) -> ExitCode {
    if args.mapping.is_some() && args.paths.len() != 1 {
        return crate::exit::usage_error(
            "--mapping checks a gateway mapping against one policy: pass exactly one policy PATH",
        );
    }
    let color = std::io::stdout().is_terminal();
    let mut worst = 0u8;
    let mut reports = Vec::new();
    for path in &args.paths {
        let name = path.display().to_string();
        let (policy, report) = match load::read(path, args.strict) {
            Ok(loaded) => (loaded.policy, loaded.report),
            Err(e) => {
                eprintln!("error: cannot read `{name}`: {e}");
                reports.push(FileReport::Unreadable(UnreadableFile {
                    file: name,
                    io_error: e.to_string(),
                    valid: false,
                }));
                worst = worst.max(2);
                continue;
            }
        };
        if report.has_errors() {
            worst = worst.max(1);
        }
        let mapping = args
            .mapping
            .as_ref()
            .map(|m| check_mapping(m, policy.as_ref()));
        match args.format {
            Format::Human => {
                print!("{}", report.render_human(color));
                if let Some(p) = &policy {
                    let id = p.identity();
                    println!(
                        "  policy `{}` version `{}`, {} rules, sha256 {}",
                        id.policy_id,
                        id.policy_version,
                        p.rule_count(),
                        id.policy_sha256
                    );
                }
            }
            Format::Json => {
                let mut file = report.to_file_report();
                if let Some(p) = &policy {
                    file.policy = Some(p.identity().clone());
                    file.rule_count = Some(p.rule_count());
                }
                reports.push(FileReport::Checked(file));
            }
        }
        match mapping {
            None => {}
            Some(Mapping::Unreadable(file)) => {
                eprintln!("error: cannot read `{}`: {}", file.file, file.io_error);
                reports.push(FileReport::Unreadable(file));
                worst = worst.max(2);
            }
            Some(Mapping::Unchecked(name)) => {
                eprintln!(
                    "error: gateway mapping `{name}` not checked: the policy it maps to is invalid"
                );
                worst = worst.max(1);
            }
            Some(Mapping::Checked(report)) => {
                if report.has_errors() {
                    worst = worst.max(1);
                }
                match args.format {
                    Format::Human => print!("{}", report.render_human(color)),
                    Format::Json => reports.push(FileReport::Checked(report.to_file_report())),
                }
            }
        }
    }
    if args.format == Format::Json {
        let doc = ValidationReport {
            files: reports,
            valid: worst == 0,
        };
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    ExitCode::from(worst)
}

/// The outcome of `--mapping`.
enum Mapping {
    Unreadable(UnreadableFile),
    /// The policy is invalid: there is nothing to check the mapping against.
    Unchecked(String),
    Checked(policygate_core::Report),
}

fn check_mapping(path: &std::path::Path, policy: Option<&policygate_core::Policy>) -> Mapping {
    let name = path.display().to_string();
    let source = match load::read_mapping(path) {
        Ok(s) => s,
        Err(e) => {
            return Mapping::Unreadable(UnreadableFile {
                file: name,
                io_error: e.to_string(),
                valid: false,
            });
        }
    };
    let Some(policy) = policy else {
        return Mapping::Unchecked(name);
    };
    let (_, report) = policygate_core::gateway::Mapping::load(&source.name, &source.bytes, policy);
    Mapping::Checked(report)
}
