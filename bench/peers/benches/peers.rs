//! The timed comparison (issue 5): for each policy size, first the fairness check (every
//! engine must give the reference answer on every generated request, else the run
//! aborts), then criterion timings:
//!
//! - `decide_json/<engine>/<size>`: one decision from the request's JSON body (parse,
//!   build the engine's input, evaluate), the work a server does per request;
//! - `decide/<engine>/<size>`: pure evaluation of a prepared input;
//! - `decide_fixed_mix/policygate/<size>`: pure evaluation of the 10-rule policy's
//!   request sample at every size (the effect of policy size alone);
//! - `load/<engine>/<size>`: load + validate + compile the policy text.
//!
//! Each decision iteration takes the next request of a fixed 1,024-request sample of the
//! fairness set, so the figures are means over a realistic mix of outcomes.
//!
//! Environment: `PEERS_QUICK=1` for short measurements (a smoke run, not for
//! publishing); `PEERS_SIZES=10,100` to restrict the sizes;
//! `PEERS_WITHOUT_POLICYGATE=1` to run the peers alone (development aid only).

use criterion::{BenchmarkId, Criterion, SamplingMode};
use policygate_bench_peers::engines::cedar::Cedar;
use policygate_bench_peers::engines::policygate::PolicyGate;
use policygate_bench_peers::engines::rego::{RegoInterp, RegoVm};
use policygate_bench_peers::fairness::{self, Engines, Texts};
use policygate_bench_peers::model::{Facts, SIZES, Scenario};
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Requests in the timing sample.
const SAMPLE: usize = 1_024;

struct Settings {
    quick: bool,
    sizes: Vec<usize>,
    with_policygate: bool,
}

impl Settings {
    fn from_env() -> Result<Self, String> {
        let flag = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0");
        let sizes = match std::env::var("PEERS_SIZES") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .map(|s| {
                    s.trim().replace('_', "").parse::<usize>().map_err(|e| {
                        format!(
                            "PEERS_SIZES: `{s}` is not a number ({e}); use e.g. PEERS_SIZES=10,100"
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => SIZES.to_vec(),
        };
        Ok(Self {
            quick: flag("PEERS_QUICK"),
            sizes,
            with_policygate: !flag("PEERS_WITHOUT_POLICYGATE"),
        })
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peers bench aborted: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let settings = Settings::from_env()?;
    let mut c = Criterion::default().configure_from_args();
    // The 10-rule policy's request sample, decided by PolicyGate at every size: the same
    // requests against a growing policy isolate the effect of size from that of the mix
    // (the larger policies' own samples are mostly witnesses of tenant rules).
    let fixed_mix = sample(&Scenario::generate(SIZES[0]).requests()?);
    for &size in &settings.sizes {
        bench_size(&mut c, &settings, size, &fixed_mix)?;
    }
    c.final_summary();
    Ok(())
}

/// Every (len / SAMPLE)-th request as a JSON body: witnesses and random requests in
/// their set ratio.
fn sample(requests: &[Facts]) -> Vec<Vec<u8>> {
    let step = (requests.len() / SAMPLE).max(1);
    requests
        .iter()
        .step_by(step)
        .take(SAMPLE)
        .map(Facts::to_json)
        .collect()
}

fn bench_size(
    c: &mut Criterion,
    settings: &Settings,
    size: usize,
    fixed_mix: &[Vec<u8>],
) -> Result<(), String> {
    let scenario = Scenario::generate(size);
    let requests = scenario.requests()?;
    let texts = Texts::of(&scenario);
    let mut engines = if settings.with_policygate {
        Engines::load(&texts)?
    } else {
        Engines::load_peers_only(&texts)?
    };

    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let summary = fairness::check(&scenario, &texts, &mut engines, &requests, threads)?;
    println!(
        "fairness check, {size} rules: {} requests, {} engines ({}) agree with the reference on every one; \
         {} rules covered, {} defaults, by decision {:?} ({:.1} s)",
        summary.requests,
        summary.engines.len(),
        summary.engines.join(", "),
        summary.rules_covered,
        summary.defaults,
        summary.by_decision,
        started.elapsed().as_secs_f64()
    );

    // Every (len / SAMPLE)-th request: witnesses and random requests in their set ratio.
    let bodies = sample(&requests);

    // Large policies make the peers slow (tens of ms per decision at 10,000 rules):
    // flat sampling with fewer samples keeps each benchmark to a few seconds.
    let (warm, measure, samples) = match (settings.quick, size >= 1_000) {
        (true, _) => (Duration::from_millis(200), Duration::from_millis(600), 10),
        (false, false) => (Duration::from_secs(1), Duration::from_secs(3), 40),
        (false, true) => (Duration::from_secs(1), Duration::from_secs(3), 20),
    };
    let mode = if size >= 1_000 {
        SamplingMode::Flat
    } else {
        SamplingMode::Auto
    };

    {
        let mut g = c.benchmark_group("decide_json");
        g.warm_up_time(warm)
            .measurement_time(measure)
            .sample_size(samples)
            .sampling_mode(mode);
        if let Some(pg) = &engines.policygate {
            g.bench_function(BenchmarkId::new("policygate", size), |b| {
                let mut i = 0;
                b.iter(|| {
                    let body = bodies.get(i % bodies.len()).map_or(&[][..], Vec::as_slice);
                    i += 1;
                    let req = pg.prepare(black_box(body));
                    black_box(req.as_ref().map(|r| pg.decide(r).decision).ok())
                });
            });
        }
        g.bench_function(BenchmarkId::new("cedar", size), |b| {
            let cedar = &engines.cedar;
            let mut i = 0;
            b.iter(|| {
                let body = bodies.get(i % bodies.len()).map_or(&[][..], Vec::as_slice);
                i += 1;
                let req = cedar.prepare(black_box(body));
                black_box(
                    req.as_ref()
                        .map(|r| cedar.decide(r).map(|m| m.priority))
                        .ok(),
                )
            });
        });
        g.bench_function(BenchmarkId::new("regorus", size), |b| {
            let rego = &mut engines.rego;
            let mut i = 0;
            b.iter(|| {
                let body = bodies.get(i % bodies.len()).map_or(&[][..], Vec::as_slice);
                i += 1;
                let input = RegoInterp::prepare(black_box(body));
                black_box(input.map(|v| rego.decide(&v)))
            });
        });
        if let Ok(rvm) = &mut engines.rvm {
            g.bench_function(BenchmarkId::new("regorus-rvm", size), |b| {
                let mut i = 0;
                b.iter(|| {
                    let body = bodies.get(i % bodies.len()).map_or(&[][..], Vec::as_slice);
                    i += 1;
                    let input = RegoInterp::prepare(black_box(body));
                    black_box(input.map(|v| rvm.decide(&v)))
                });
            });
        }
        g.finish();
    }

    {
        let mut g = c.benchmark_group("decide");
        g.warm_up_time(warm)
            .measurement_time(measure)
            .sample_size(samples)
            .sampling_mode(mode);
        if let Some(pg) = &engines.policygate {
            let prepared = bodies
                .iter()
                .map(|b| pg.prepare(b))
                .collect::<Result<Vec<_>, _>>()?;
            g.bench_function(BenchmarkId::new("policygate", size), |b| {
                let mut i = 0;
                b.iter(|| {
                    let r = prepared.get(i % prepared.len());
                    i += 1;
                    black_box(r.map(|r| pg.decide(black_box(r))))
                });
            });
        }
        let cedar = &engines.cedar;
        let prepared = bodies
            .iter()
            .map(|b| cedar.prepare(b))
            .collect::<Result<Vec<_>, _>>()?;
        g.bench_function(BenchmarkId::new("cedar", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let r = prepared.get(i % prepared.len());
                i += 1;
                black_box(r.map(|r| cedar.decide(black_box(r)).map(|m| m.priority)))
            });
        });
        let inputs = bodies
            .iter()
            .map(|b| RegoInterp::prepare(b))
            .collect::<Result<Vec<_>, _>>()?;
        g.bench_function(BenchmarkId::new("regorus", size), |b| {
            let rego = &mut engines.rego;
            let mut i = 0;
            b.iter(|| {
                let v = inputs.get(i % inputs.len());
                i += 1;
                black_box(v.map(|v| rego.decide(black_box(v))))
            });
        });
        if let Ok(rvm) = &mut engines.rvm {
            g.bench_function(BenchmarkId::new("regorus-rvm", size), |b| {
                let mut i = 0;
                b.iter(|| {
                    let v = inputs.get(i % inputs.len());
                    i += 1;
                    black_box(v.map(|v| rvm.decide(black_box(v))))
                });
            });
        }
        g.finish();
    }
    if let Some(pg) = &engines.policygate {
        let prepared = fixed_mix
            .iter()
            .map(|b| pg.prepare(b))
            .collect::<Result<Vec<_>, _>>()?;
        let mut g = c.benchmark_group("decide_fixed_mix");
        g.warm_up_time(warm)
            .measurement_time(measure)
            .sample_size(samples)
            .sampling_mode(mode);
        g.bench_function(BenchmarkId::new("policygate", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let r = prepared.get(i % prepared.len());
                i += 1;
                black_box(r.map(|r| pg.decide(black_box(r))))
            });
        });
        g.finish();
    }

    let rvm_loads = match &engines.rvm {
        Ok(_) => true,
        Err(e) => {
            println!(
                "regorus-rvm cannot run the {size}-rule policy, so it is not timed at this size: {e}"
            );
            false
        }
    };
    drop(engines);

    {
        let mut g = c.benchmark_group("load");
        g.sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(if settings.quick {
                Duration::from_millis(100)
            } else {
                Duration::from_millis(500)
            })
            .measurement_time(if settings.quick {
                Duration::from_millis(500)
            } else {
                Duration::from_secs(2)
            });
        if settings.with_policygate {
            g.bench_function(BenchmarkId::new("policygate", size), |b| {
                b.iter_with_large_drop(|| PolicyGate::load(black_box(&texts.yaml)));
            });
        }
        g.bench_function(BenchmarkId::new("cedar", size), |b| {
            b.iter_with_large_drop(|| {
                Cedar::load(black_box(&texts.cedar_schema), black_box(&texts.cedar))
            });
        });
        g.bench_function(BenchmarkId::new("regorus", size), |b| {
            b.iter_with_large_drop(|| RegoInterp::load(black_box(&texts.rego)));
        });
        if rvm_loads {
            g.bench_function(BenchmarkId::new("regorus-rvm", size), |b| {
                b.iter_with_large_drop(|| RegoVm::load(black_box(&texts.rego)));
            });
        }
        g.finish();
    }
    Ok(())
}
