//! The fairness check: before anything is timed, every engine decides every request of
//! the set and each answer (decision, deciding rule, output cap) must equal the
//! reference semantics of `Scenario::decide`. One difference aborts the benchmark.
//!
//! It also proves the request set covers every rule and the default, so that "the same
//! answers" is not vacuous.

use crate::engines::cedar::Cedar;
use crate::engines::policygate::PolicyGate;
use crate::engines::rego::{self, RegoInterp, RegoVm};
use crate::model::{Facts, Outcome, Scenario};
use policygate_api::DecisionKind;
use std::collections::{BTreeMap, BTreeSet};

/// Every engine, loaded with one scenario.
#[derive(Debug)]
pub struct Engines {
    /// PolicyGate (`None` only when loaded with [`Engines::load_peers_only`]).
    pub policygate: Option<PolicyGate>,
    /// Cedar.
    pub cedar: Cedar,
    /// regorus, interpreter.
    pub rego: RegoInterp,
    /// regorus, virtual machine; `Err` says why it could not load the policy (its
    /// compiler refuses programs over 65,535 instructions).
    pub rvm: Result<RegoVm, String>,
}

/// The policy texts of one scenario.
#[derive(Debug, Clone)]
pub struct Texts {
    /// PolicyGate YAML.
    pub yaml: String,
    /// Cedar schema.
    pub cedar_schema: String,
    /// Cedar policies.
    pub cedar: String,
    /// Rego module.
    pub rego: String,
}

impl Texts {
    /// Emits all texts of a scenario.
    pub fn of(s: &Scenario) -> Self {
        Self {
            yaml: s.policygate_yaml(),
            cedar_schema: s.cedar_schema(),
            cedar: s.cedar_policies(),
            rego: s.rego(),
        }
    }
}

impl Engines {
    /// Loads every engine; errors name the engine.
    pub fn load(t: &Texts) -> Result<Self, String> {
        let mut engines = Self::load_peers_only(t)?;
        engines.policygate =
            Some(PolicyGate::load(&t.yaml).map_err(|e| format!("policygate: {e}"))?);
        Ok(engines)
    }

    /// Loads Cedar and regorus only: a development aid for working on the peer side
    /// while PolicyGate's engine cannot load the policy.
    pub fn load_peers_only(t: &Texts) -> Result<Self, String> {
        Ok(Self {
            policygate: None,
            cedar: Cedar::load(&t.cedar_schema, &t.cedar).map_err(|e| format!("cedar: {e}"))?,
            rego: RegoInterp::load(&t.rego).map_err(|e| format!("regorus: {e}"))?,
            rvm: RegoVm::load(&t.rego),
        })
    }

    /// Loads with or without PolicyGate and the RVM (a copy for another thread, which
    /// need not try the RVM again where it already failed).
    fn load_as(t: &Texts, with_pg: bool, with_rvm: bool) -> Result<Self, String> {
        let policygate = if with_pg {
            Some(PolicyGate::load(&t.yaml).map_err(|e| format!("policygate: {e}"))?)
        } else {
            None
        };
        Ok(Self {
            policygate,
            cedar: Cedar::load(&t.cedar_schema, &t.cedar).map_err(|e| format!("cedar: {e}"))?,
            rego: RegoInterp::load(&t.rego).map_err(|e| format!("regorus: {e}"))?,
            rvm: if with_rvm {
                RegoVm::load(&t.rego)
            } else {
                Err("not loaded".to_owned())
            },
        })
    }

    /// The outcome of each loaded engine for one JSON body, named.
    pub fn outcomes(&mut self, body: &[u8]) -> Result<Vec<(&'static str, Outcome)>, String> {
        let mut out = Vec::with_capacity(4);
        if let Some(pg) = &self.policygate {
            let req = pg.prepare(body).map_err(|e| format!("policygate: {e}"))?;
            out.push(("policygate", PolicyGate::outcome(&pg.decide(&req))));
        }
        let cedar_req = self
            .cedar
            .prepare(body)
            .map_err(|e| format!("cedar: {e}"))?;
        let cedar = self
            .cedar
            .decide_checked(&cedar_req)
            .map_err(|e| format!("cedar: {e}"))?;
        let input = RegoInterp::prepare(body).map_err(|e| format!("regorus: {e}"))?;
        let rego =
            rego::outcome(&self.rego.decide(&input)?).map_err(|e| format!("regorus: {e}"))?;
        out.push(("cedar", cedar));
        out.push(("regorus", rego));
        if let Ok(vm) = &mut self.rvm {
            let rvm =
                rego::outcome(&vm.decide(&input)?).map_err(|e| format!("regorus-rvm: {e}"))?;
            out.push(("regorus-rvm", rvm));
        }
        Ok(out)
    }
}

/// Engine names, PolicyGate first.
pub const ENGINE_NAMES: [&str; 4] = ["policygate", "cedar", "regorus", "regorus-rvm"];

/// What a passing check saw.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Engines compared with the reference.
    pub engines: Vec<&'static str>,
    /// Requests decided.
    pub requests: usize,
    /// Requests decided by the default.
    pub defaults: usize,
    /// Requests per decision kind.
    pub by_decision: BTreeMap<DecisionKind, usize>,
    /// Distinct rules that decided at least once.
    pub rules_covered: usize,
}

/// What one chunk of the check saw.
#[derive(Debug, Default)]
struct Partial {
    engines: Vec<&'static str>,
    by_decision: BTreeMap<DecisionKind, usize>,
    covered: BTreeSet<String>,
    defaults: usize,
}

fn check_chunk(
    scenario: &Scenario,
    engines: &mut Engines,
    requests: &[Facts],
) -> Result<Partial, String> {
    let mut p = Partial::default();
    for f in requests {
        let want = scenario.decide(f);
        let body = f.to_json();
        let got = engines
            .outcomes(&body)
            .map_err(|e| format!("request `{}`: {e}", f.request_id))?;
        for (name, o) in &got {
            if *o != want {
                return Err(format!(
                    "decisions differ at {} rules on request `{}`: {name} said {o:?}, reference says {want:?}\nrequest: {}",
                    scenario.size,
                    f.request_id,
                    String::from_utf8_lossy(&body)
                ));
            }
        }
        if p.engines.is_empty() {
            p.engines = got.iter().map(|(n, _)| *n).collect();
        }
        *p.by_decision.entry(want.decision).or_insert(0) += 1;
        match want.rule_id {
            Some(id) => {
                p.covered.insert(id);
            }
            None => p.defaults += 1,
        }
    }
    Ok(p)
}

/// Runs the check over `requests`; the first difference (or engine error) is an error
/// that says which request, which engine, what it said and what was expected.
///
/// With `threads > 1` the requests are split into that many chunks: the first is
/// decided by `engines`, each other one by a fresh load of the same engines from
/// `texts` (the peers need tens of milliseconds per decision at 10,000 rules, so the
/// check would otherwise dominate the run).
pub fn check(
    scenario: &Scenario,
    texts: &Texts,
    engines: &mut Engines,
    requests: &[Facts],
    threads: usize,
) -> Result<Summary, String> {
    let chunk = requests.len().div_ceil(threads.max(1)).max(1);
    let mut chunks = requests.chunks(chunk);
    let first = chunks.next().unwrap_or(&[]);
    let with_pg = engines.policygate.is_some();
    let with_rvm = engines.rvm.is_ok();
    let partials: Vec<Result<Partial, String>> = std::thread::scope(|scope| {
        let others: Vec<_> = chunks
            .map(|reqs| {
                scope.spawn(move || {
                    let mut own = Engines::load_as(texts, with_pg, with_rvm)?;
                    check_chunk(scenario, &mut own, reqs)
                })
            })
            .collect();
        let mut all = vec![check_chunk(scenario, engines, first)];
        for h in others {
            all.push(
                h.join()
                    .unwrap_or_else(|_| Err("a fairness-check thread panicked".to_owned())),
            );
        }
        all
    });
    let mut total = Partial::default();
    for p in partials {
        let p = p?;
        if total.engines.is_empty() {
            total.engines = p.engines;
        }
        for (k, n) in p.by_decision {
            *total.by_decision.entry(k).or_insert(0) += n;
        }
        total.covered.extend(p.covered);
        total.defaults += p.defaults;
    }
    if total.covered.len() != scenario.rules.len() || total.defaults == 0 {
        return Err(format!(
            "request set covers {} of {} rules and {} default decisions: every rule and the default must be covered",
            total.covered.len(),
            scenario.rules.len(),
            total.defaults
        ));
    }
    Ok(Summary {
        engines: total.engines,
        requests: requests.len(),
        defaults: total.defaults,
        by_decision: total.by_decision,
        rules_covered: total.covered.len(),
    })
}
