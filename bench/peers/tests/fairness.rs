//! The fairness check as tests: the generated policy means the same in every engine.
//! Run with `cargo test --release` in bench/peers (debug builds of the peers are slow).

use policygate_bench_peers::fairness::{self, Engines, Texts};
use policygate_bench_peers::model::{MIN_REQUESTS, Scenario};

fn check(size: usize, peers_only: bool) -> Result<fairness::Summary, String> {
    let scenario = Scenario::generate(size);
    let requests = scenario.requests()?;
    let texts = Texts::of(&scenario);
    let mut engines = if peers_only {
        Engines::load_peers_only(&texts)?
    } else {
        Engines::load(&texts)?
    };
    fairness::check(&scenario, &texts, &mut engines, &requests, 2)
}

#[test]
fn cedar_and_regorus_agree_with_the_reference() {
    for size in [10, 100] {
        let s = check(size, true).unwrap();
        assert_eq!(s.engines, ["cedar", "regorus", "regorus-rvm"]);
        assert_eq!(s.rules_covered, size);
        assert!(s.requests >= MIN_REQUESTS);
        assert_eq!(
            s.by_decision.len(),
            4,
            "all four decisions occur: {:?}",
            s.by_decision
        );
    }
}

#[test]
fn policygate_validates_cleanly_and_agrees_with_the_reference() {
    for size in [10, 100] {
        let s = check(size, false).unwrap();
        assert_eq!(s.engines, ["policygate", "cedar", "regorus", "regorus-rvm"]);
        assert_eq!(s.rules_covered, size);
    }
}

#[test]
fn a_wrong_engine_answer_is_caught() {
    // Break one rule in the Rego text only: the check must name the difference.
    let scenario = Scenario::generate(10);
    let requests = scenario.requests().unwrap();
    let mut texts = Texts::of(&scenario);
    texts.rego = texts.rego.replacen("\"BLOCK\", 0]", "\"ALLOW\", 0]", 1);
    let mut engines = Engines::load_peers_only(&texts).unwrap();
    let err = fairness::check(&scenario, &texts, &mut engines, &requests, 1).unwrap_err();
    assert!(err.contains("decisions differ"), "{err}");
    assert!(err.contains("regorus"), "{err}");
}
