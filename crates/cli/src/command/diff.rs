//! `policygate diff OLD NEW`: which requests get a different answer under NEW, with
//! one witness request per change (verified by evaluating it on both policies).

use crate::command::validate::Format;
use crate::{exit, load};
use policygate_api::{DiffOutcome, DiffReport};
use policygate_core::Policy;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `policygate diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The policy in force.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The proposed policy.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Also list requests decided by another rule with an identical outcome.
    #[arg(long)]
    pub rules: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

fn outcome(o: &DiffOutcome) -> String {
    let rule = o
        .rule_id
        .as_deref()
        .map_or_else(|| "the default".to_owned(), |id| format!("rule `{id}`"));
    let mut s = format!("{rule}: {} [{}]", o.decision, o.rationale_codes.join(", "));
    for ob in &o.obligations {
        let json = serde_json::to_string(ob).unwrap_or_default();
        s.push_str(&format!(" {json}"));
    }
    s
}

fn human(report: &DiffReport) -> String {
    let mut out = String::new();
    let id = |p: &policygate_api::PolicyIdentity| {
        format!(
            "`{}` version `{}` ({})",
            p.policy_id,
            p.policy_version,
            p.policy_sha256.get(..12).unwrap_or_default()
        )
    };
    out.push_str(&format!(
        "old: {}\nnew: {}\n",
        id(&report.old_policy),
        id(&report.new_policy)
    ));
    let c = &report.changed_rules;
    let list = |ids: &[String]| {
        if ids.is_empty() {
            "none".to_owned()
        } else {
            ids.join(", ")
        }
    };
    out.push_str(&format!(
        "rules that differ: old {}; new {}{}\n",
        list(&c.old),
        list(&c.new),
        if c.default { "; the default" } else { "" }
    ));
    if !report.changed_facts.is_empty() {
        out.push_str(&format!(
            "fact declarations that differ (requests outside the common domain are refused by one policy): {}\n",
            report.changed_facts.join(", ")
        ));
    }
    for change in &report.changes {
        let what = if change.outcome_changed {
            "changed"
        } else {
            "same outcome, other rule"
        };
        out.push_str(&format!(
            "\n{what}:\n  old  {}\n  new  {}\n  e.g. {}\n",
            outcome(&change.old),
            outcome(&change.new),
            serde_json::to_string(&change.witness).unwrap_or_default()
        ));
    }
    for u in &report.undecided {
        out.push_str(&format!(
            "\nundecided:\n  old  {}\n  new  {}\n  why  {}\n",
            outcome(&u.old),
            outcome(&u.new),
            u.reason
        ));
    }
    let changed = report.changes.iter().filter(|c| c.outcome_changed).count();
    out.push_str(&format!(
        "\n{}: {changed} change{} in outcome, {} undecided\n",
        if report.equivalent {
            "equivalent"
        } else {
            "not equivalent"
        },
        if changed == 1 { "" } else { "s" },
        report.undecided.len()
    ));
    out
}

/// Runs the command: exit 0 when the policies are equivalent in outcome, 1 when some
/// request gets another outcome (or a pair is undecided), 2 when a policy cannot be
/// read or is invalid.
pub fn run(args: &DiffArgs) -> ExitCode {
    let (old_bytes, new_bytes) = match (
        load::read_bytes(&args.old, "OLD"),
        load::read_bytes(&args.new, "NEW"),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let refused = "nothing was compared";
    let require =
        |path: &Path, bytes: &[u8]| load::require_bytes(path, bytes, false, exit::USAGE, refused);
    // Identical bytes validate identically: validate once.
    if old_bytes == new_bytes {
        return match require(&args.old, &old_bytes) {
            Ok(policy) => finish(&policy, &policy, args),
            Err(code) => code,
        };
    }
    // The two validations are independent: run them side by side.
    let (old, new) = std::thread::scope(|s| {
        let old = s.spawn(|| require(&args.old, &old_bytes));
        let new = require(&args.new, &new_bytes);
        (old.join(), new)
    });
    match (old, new) {
        (Ok(Ok(old)), Ok(new)) => finish(&old, &new, args),
        (Ok(Err(code)), _) | (_, Err(code)) => code,
        (Err(_), _) => exit::code(exit::USAGE),
    }
}

/// Diffs, prints the report and picks the exit code.
fn finish(old: &Policy, new: &Policy, args: &DiffArgs) -> ExitCode {
    let report = old.diff(new, args.rules);
    let text = match args.format {
        Format::Human => human(&report),
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("error: cannot serialise the report: {e}");
                return exit::code(exit::USAGE);
            }
        },
    };
    // A closed pipe (`| head`) is not worth a panic: stop quietly.
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return exit::code(exit::USAGE);
    }
    if report.equivalent {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
