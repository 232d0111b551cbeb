//! `policygate audit verify FILE...`: checks an audit trail (JSON, schema, `seq`
//! continuity, the hash chain within and across the files given, oldest first) and
//! prints per-file and total figures, human or JSON (`api`'s `AuditVerifyReport`).
//! The checking is the server's `audit::verify`; this module only prints.

use crate::exit;
use clap::{Subcommand, ValueEnum};
use policygate_api::{AuditVerifyReport, BreakReason, VerifiedFile};
use policygate_server::audit::verify::{parse_verify_key, verify_paths};
use std::path::PathBuf;
use std::process::ExitCode;

/// `policygate audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify audit files: schema, sequence and hash chain, across files given oldest first.
    Verify(VerifyArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Per-file and total figures, for people.
    Human,
    /// One JSON document (contracts/audit_verify_report.schema.json), for machines.
    Json,
}

/// Arguments of `policygate audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Audit files, in chain order (rotated files oldest first, the live file last).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Public key of `--audit-signing-key` (64 hex digits, as the server logs it on
    /// start, or a file holding them): checkpoint signatures are then checked.
    #[arg(long, value_name = "KEY")]
    pub verify_key: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Runs `policygate audit …`.
pub fn run(command: &AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify(args) => verify(args),
    }
}

/// Exit 0 when every file verifies (a torn final line is reported, not a failure),
/// 1 when any line breaks the trail, 2 when a file cannot be read.
fn verify(args: &VerifyArgs) -> ExitCode {
    let key = match args.verify_key.as_deref().map(parse_verify_key).transpose() {
        Ok(key) => key,
        Err(e) => return exit::usage_error(&format!("--verify-key: {e}")),
    };
    let report = verify_paths(&args.files, key.as_ref());
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => return exit::usage_error(&format!("cannot print the report: {e}")),
        },
        Format::Human => print!("{}", human(&report)),
    }
    let unreadable = report
        .files
        .iter()
        .any(|f| f.breaks.iter().any(|b| b.reason == BreakReason::Unreadable));
    if unreadable {
        exit::code(exit::USAGE)
    } else if report.ok {
        ExitCode::SUCCESS
    } else {
        exit::code(exit::INVALID)
    }
}

fn human(report: &AuditVerifyReport) -> String {
    let mut out = String::new();
    for file in &report.files {
        out.push_str(&human_file(file));
    }
    let t = report.total;
    match (t.signed_through_seq, t.last_seq) {
        (Some(signed), Some(last)) => out.push_str(&format!(
            "signed: every line up to seq {signed} is covered by a verified checkpoint; {} line(s) after it are chained but not signed\n",
            last - signed
        )),
        (None, _) if report.files.iter().any(|f| f.checkpoints > 0) => out.push_str(
            "signed: checkpoints present but not checked (give --verify-key)\n",
        ),
        _ => {}
    }
    out.push_str(&format!(
        "total: {}/{} files valid, {}/{} events valid: {}\n",
        t.valid_files,
        t.files,
        t.valid_events,
        t.events,
        if report.ok {
            "the trail verifies"
        } else {
            "the trail does NOT verify"
        }
    ));
    out
}

fn human_file(f: &VerifiedFile) -> String {
    let mut out = format!("{}: {}/{} events valid", f.path, f.valid_events, f.events);
    if let (Some(first), Some(last)) = (f.first_seq, f.last_seq) {
        out.push_str(&format!(" (seq {first}..{last})"));
    }
    out.push('\n');
    if let Some(first) = f.breaks.first() {
        out.push_str(&format!(
            "  first break at {}:{}: {}: {}\n",
            f.path,
            first.line,
            reason(first.reason),
            first.message
        ));
        if f.breaks.len() > 1 {
            out.push_str(&format!(
                "  {} more breaks (--format json lists them)\n",
                f.breaks.len() - 1
            ));
        }
    }
    if f.sealed_fragments > 0 {
        out.push_str(&format!(
            "  {} torn line(s) sealed off by a restart (recorded by the opening event after each; not tampering)\n",
            f.sealed_fragments
        ));
    }
    if let Some(bytes) = f.torn_tail_bytes {
        out.push_str(&format!(
            "  torn final line ({bytes} bytes without a newline): a write cut short by a crash or a full disk, not tampering; the next start seals it\n"
        ));
    }
    out
}

fn reason(r: BreakReason) -> &'static str {
    match r {
        BreakReason::Unreadable => "unreadable",
        BreakReason::InvalidJson => "invalid_json",
        BreakReason::InvalidSchema => "invalid_schema",
        BreakReason::MissingOpening => "missing_opening",
        BreakReason::SeqGap => "seq_gap",
        BreakReason::PrevHashMismatch => "prev_hash_mismatch",
        BreakReason::BadCheckpoint => "bad_checkpoint",
    }
}
