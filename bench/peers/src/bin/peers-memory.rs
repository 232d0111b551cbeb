//! Memory of each engine's loaded policy at each size: bytes the loaded policy keeps
//! (retained) and the high-water mark while loading (peak), both above the level before
//! the load. Runs on a counting global allocator, which is why it is a binary of its own
//! and not part of the timed benchmark.
//!
//! Prints a markdown table and writes `target/peers/memory-<size>.json` for `peers-summary`.
//! Environment: `PEERS_SIZES`, `PEERS_WITHOUT_POLICYGATE` as for the benchmark.

use policygate_bench_peers::alloc::{Counting, Usage, measure};
use policygate_bench_peers::engines::cedar::Cedar;
use policygate_bench_peers::engines::policygate::PolicyGate;
use policygate_bench_peers::engines::rego::{RegoInterp, RegoVm};
use policygate_bench_peers::fairness::Texts;
use policygate_bench_peers::model::{SIZES, Scenario};
use serde_json::json;
use std::process::ExitCode;

#[global_allocator]
static ALLOC: Counting = Counting;

fn mib(b: usize) -> String {
    #[expect(clippy::cast_precision_loss, reason = "display only")]
    let m = b as f64 / (1024.0 * 1024.0);
    format!("{m:.2} MiB")
}

fn one<T, E: std::fmt::Display>(
    name: &str,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<Usage, String> {
    let started = std::time::Instant::now();
    let (loaded, usage) = measure(f);
    eprintln!("{name}: loaded in {:.2} s", started.elapsed().as_secs_f64());
    let loaded = loaded.map_err(|e| format!("{name}: {e}"))?;
    drop(loaded);
    Ok(usage)
}

fn run() -> Result<(), String> {
    let sizes: Vec<usize> = match std::env::var("PEERS_SIZES") {
        Ok(s) if !s.trim().is_empty() => s
            .split(',')
            .map(|x| {
                x.trim()
                    .replace('_', "")
                    .parse()
                    .map_err(|e| format!("PEERS_SIZES: `{x}`: {e}"))
            })
            .collect::<Result<_, _>>()?,
        _ => SIZES.to_vec(),
    };
    let with_pg =
        !std::env::var("PEERS_WITHOUT_POLICYGATE").is_ok_and(|v| !v.is_empty() && v != "0");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers");
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    println!("| rules | engine | policy text | retained after load | peak during load |");
    println!("|---:|---|---:|---:|---:|");
    for size in sizes {
        let texts = Texts::of(&Scenario::generate(size));
        let mut results: Vec<(&str, usize, Usage)> = Vec::new();
        if with_pg {
            results.push((
                "policygate",
                texts.yaml.len(),
                one("policygate", || PolicyGate::load(&texts.yaml))?,
            ));
        }
        results.push((
            "cedar",
            texts.cedar.len() + texts.cedar_schema.len(),
            one("cedar", || Cedar::load(&texts.cedar_schema, &texts.cedar))?,
        ));
        results.push((
            "regorus",
            texts.rego.len(),
            one("regorus", || RegoInterp::load(&texts.rego))?,
        ));
        match one("regorus-rvm", || RegoVm::load(&texts.rego)) {
            Ok(u) => results.push(("regorus-rvm", texts.rego.len(), u)),
            Err(e) => eprintln!("{size} rules: {e} (not measured)"),
        }
        let mut rows = Vec::new();
        for (engine, text, u) in results {
            println!(
                "| {size} | {engine} | {} | {} | {} |",
                mib(text),
                mib(u.retained),
                mib(u.peak)
            );
            rows.push(json!({
                "size": size, "engine": engine, "text_bytes": text,
                "retained_bytes": u.retained, "peak_bytes": u.peak,
            }));
        }
        let path = dir.join(format!("memory-{size}.json"));
        let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peers-memory failed: {e}");
            ExitCode::FAILURE
        }
    }
}
