//! Turns the criterion results (`target/criterion/*/new/estimates.json`) and
//! `target/peers/memory-<size>.json` into the markdown tables of BENCHMARKS.md, with the
//! ratios and the goals marked met or missed. Measures nothing itself.

use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const ENGINES: [&str; 4] = ["policygate", "cedar", "regorus", "regorus-rvm"];
const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// Mean time in ns of one benchmark, if it was run.
fn mean_ns(group: &str, engine: &str, size: usize) -> Option<f64> {
    let p = root()
        .join("criterion")
        .join(group)
        .join(engine)
        .join(size.to_string())
        .join("new/estimates.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v.pointer("/mean/point_estimate").and_then(Value::as_f64)
}

fn fmt_time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e4 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.1}×", a / b),
        _ => "–".to_owned(),
    }
}

fn time_table(out: &mut String, group: &str, title: &str) {
    let _ = writeln!(out, "\n### {title}\n");
    let _ = writeln!(
        out,
        "| rules | PolicyGate | Cedar | regorus | regorus RVM | Cedar / PG | regorus / PG | RVM / PG |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    for size in SIZES {
        let t: Vec<Option<f64>> = ENGINES.iter().map(|e| mean_ns(group, e, size)).collect();
        if t.iter().all(Option::is_none) {
            continue;
        }
        let cell = |x: &Option<f64>| x.map_or("–".to_owned(), fmt_time);
        let pg = t.first().copied().flatten();
        let _ = writeln!(
            out,
            "| {size} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&t[0]),
            cell(&t[1]),
            cell(&t[2]),
            cell(&t[3]),
            ratio(t[1], pg),
            ratio(t[2], pg),
            ratio(t[3], pg)
        );
    }
}

fn fixed_mix_table(out: &mut String) {
    let t: Vec<(usize, f64)> = SIZES
        .iter()
        .filter_map(|&s| mean_ns("decide_fixed_mix", "policygate", s).map(|ns| (s, ns)))
        .collect();
    if t.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n### PolicyGate, pure evaluation of the same requests (the 10-rule policy's sample) at every size, mean\n"
    );
    let _ = writeln!(out, "| rules | PolicyGate | / 10 rules |");
    let _ = writeln!(out, "|---:|---:|---:|");
    let base = t.first().map(|&(_, ns)| ns);
    for (size, ns) in &t {
        let _ = writeln!(
            out,
            "| {size} | {} | {} |",
            fmt_time(*ns),
            ratio(Some(*ns), base)
        );
    }
}

fn memory_table(out: &mut String) {
    let rows: Vec<Value> = SIZES
        .iter()
        .filter_map(|size| {
            let p = root().join(format!("peers/memory-{size}.json"));
            serde_json::from_str::<Vec<Value>>(&std::fs::read_to_string(p).ok()?).ok()
        })
        .flatten()
        .collect();
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "\n(no memory figures: run `cargo run --release --bin peers-memory`)"
        );
        return;
    }
    let _ = writeln!(
        out,
        "\n### Memory of the loaded policy (counting allocator)\n"
    );
    let _ = writeln!(
        out,
        "| rules | engine | policy text | retained after load | peak during load |"
    );
    let _ = writeln!(out, "|---:|---|---:|---:|---:|");
    let mib = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_f64)
            .map_or("–".to_owned(), |b| format!("{:.2} MiB", b / 1_048_576.0))
    };
    for r in &rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            r.get("size").map_or(String::new(), ToString::to_string),
            r.get("engine").and_then(Value::as_str).unwrap_or(""),
            mib(r, "text_bytes"),
            mib(r, "retained_bytes"),
            mib(r, "peak_bytes")
        );
    }
}

fn goal(out: &mut String, name: &str, value: Option<f64>, target: f64, at_least: bool, unit: &str) {
    let line = match value {
        None => format!("- {name}: not measured"),
        Some(v) => {
            let met = if at_least { v >= target } else { v <= target };
            let verdict = if met {
                "**met**".to_owned()
            } else if at_least {
                format!(
                    "**missed** (reached {:.0}% of the target)",
                    100.0 * v / target
                )
            } else {
                format!("**missed** ({:.2}× over the limit)", v / target)
            };
            format!(
                "- {name}: {v:.2}{unit} (target {} {target}{unit}) — {verdict}",
                if at_least { "≥" } else { "≤" }
            )
        }
    };
    let _ = writeln!(out, "{line}");
}

fn goals(out: &mut String) {
    let _ = writeln!(out, "\n### Goals of issue 5\n");
    let div = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    let best_rego =
        |g: &str, s: usize| match (mean_ns(g, "regorus", s), mean_ns(g, "regorus-rvm", s)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    for (g, label) in [("decide_json", "from JSON"), ("decide", "pure evaluation")] {
        let pg = mean_ns(g, "policygate", 100);
        goal(
            out,
            &format!("100 rules, {label}: Cedar / PolicyGate"),
            div(mean_ns(g, "cedar", 100), pg),
            10.0,
            true,
            "×",
        );
        goal(
            out,
            &format!("100 rules, {label}: faster regorus mode / PolicyGate"),
            div(best_rego(g, 100), pg),
            20.0,
            true,
            "×",
        );
        goal(
            out,
            &format!("PolicyGate {label}: 10,000-rule decision / 10-rule decision"),
            div(
                mean_ns(g, "policygate", 10_000),
                mean_ns(g, "policygate", 10),
            ),
            3.0,
            false,
            "×",
        );
    }
    goal(
        out,
        "PolicyGate pure evaluation of one fixed request mix (the 10-rule policy's): 10,000-rule policy / 10-rule policy",
        div(
            mean_ns("decide_fixed_mix", "policygate", 10_000),
            mean_ns("decide_fixed_mix", "policygate", 10),
        ),
        3.0,
        false,
        "×",
    );
    goal(
        out,
        "PolicyGate load + validate (full overlap analysis) + compile, 10,000 rules",
        mean_ns("load", "policygate", 10_000).map(|ns| ns / 1e9),
        1.0,
        false,
        " s",
    );
}

fn main() -> ExitCode {
    let mut out = String::new();
    time_table(
        &mut out,
        "decide_json",
        "Per decision, from the JSON body (parse + build input + evaluate), mean",
    );
    time_table(
        &mut out,
        "decide",
        "Per decision, pure evaluation of a prepared input, mean",
    );
    time_table(
        &mut out,
        "load",
        "Load + validate + compile the policy, mean",
    );
    fixed_mix_table(&mut out);
    memory_table(&mut out);
    goals(&mut out);
    print!("{out}");
    let path = root().join("peers/summary.md");
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(&path, &out) {
        Ok(()) => {
            eprintln!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("peers-summary: cannot write {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
