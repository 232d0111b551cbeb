//! `policygate validate PATH...`: every problem of every file, human or JSON (`api`'s
//! `ValidationReport`).

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
}

/// Runs the command: exit 0 when every file is valid, 1 when any is not, 2 when a
/// file cannot be read.
pub fn run(args: &ValidateArgs) -> ExitCode {
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
