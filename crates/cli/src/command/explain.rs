//! `policygate explain --policy PATH --request PATH|-`: the decision and the trace
//! that produced it (rules in evaluation order down to the deciding one, or all of
//! them with `--all`; for a miss, the first test that failed). Deterministic: the
//! same inputs give the same bytes (the correlation id is the request's `request_id`,
//! or derived from the request bytes).

use crate::command::validate::Format;
use crate::{exit, load};
use policygate_api::ExplainResponse;
use policygate_core::{describe_failure, fingerprint};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `policygate explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// Policy file.
    #[arg(long, value_name = "PATH")]
    pub policy: PathBuf,
    /// Request file (JSON, as for `eval`); `-` reads standard input.
    #[arg(long, value_name = "PATH")]
    pub request: String,
    /// Trace every rule, not only those down to the deciding one.
    #[arg(long)]
    pub all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Refuse a policy with warnings.
    #[arg(long)]
    pub strict: bool,
}

/// Runs the command: exit 0 with the explanation on stdout; 1 for an invalid policy
/// or request; 2 when a file cannot be read.
pub fn run(args: &ExplainArgs) -> ExitCode {
    let policy = match load::require(
        &args.policy,
        args.strict,
        "--policy",
        "nothing was explained",
    ) {
        Ok(policy) => policy,
        Err(code) => return code,
    };
    let (request, body) = match super::eval::read_checked_request(&args.request, &policy) {
        Ok(read) => read,
        Err(code) => return code,
    };
    let correlation_id = request.request_id.clone().unwrap_or_else(|| {
        let digest = fingerprint(&body);
        format!("explain-{}", digest.get(..16).unwrap_or(&digest))
    });
    let explained = policy.explain(&request, correlation_id, args.all);
    match args.format {
        Format::Human => print!("{}", render_human(&explained)),
        Format::Json => match serde_json::to_string_pretty(&explained) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: cannot serialise the explanation: {e}");
                return exit::code(exit::USAGE);
            }
        },
    }
    ExitCode::SUCCESS
}

/// The explanation for people: the decision, then one line per rule traced.
pub fn render_human(e: &ExplainResponse) -> String {
    let r = &e.response;
    let mut out = String::new();
    let by = match &r.matched_rule_id {
        Some(id) => format!("rule `{id}`"),
        None => "the default (no rule matched)".to_owned(),
    };
    out.push_str(&format!("decision: {} by {by}\n", r.decision.as_str()));
    out.push_str(&format!("rationale: {}\n", r.rationale_codes.join(", ")));
    if !r.obligations.is_empty() {
        out.push_str(&format!(
            "obligations: {}\n",
            serde_json::to_string(&r.obligations).unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "policy: {} version {}\n",
        r.policy.policy_id, r.policy.policy_version
    ));
    out.push_str("trace (evaluation order, highest priority first):\n");
    for s in &e.trace {
        let head = format!("{} (priority {}, line {})", s.rule_id, s.priority, s.line);
        if s.decided {
            out.push_str(&format!("  matched      {head}: decides\n"));
        } else if s.matched {
            out.push_str(&format!(
                "  matched      {head}: a rule above decided first\n"
            ));
        } else {
            let why = s.failed.as_ref().map(describe_failure).unwrap_or_default();
            out.push_str(&format!("  not matched  {head}: {why}\n"));
        }
    }
    if e.default_applied {
        out.push_str("  -> no rule matched: the default decides\n");
    } else if !e.complete {
        out.push_str("  (rules below the deciding one are not shown; --all shows them)\n");
    }
    out
}
