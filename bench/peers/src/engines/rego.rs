//! Rego behind the benchmark's engine interface, through `regorus` in its two
//! execution modes: the tree-walking interpreter (`Engine::eval_rule`, the classic API)
//! and the Rego virtual machine (`RegoVM`, bytecode compiled from the same module).
//!
//! Each rule is one definition of the partial set rule `matched`, contributing
//! `[priority, rule_id, decision, max_tokens]` when its body holds; `best` is the
//! largest priority in `matched` and `decision` the element carrying it, with
//! `default decision` the BLOCK default. Absent input fields make a body undefined,
//! which is Rego's (and PolicyGate's) "absent facts match nothing". The input document
//! is the request JSON unchanged.
//!
//! Both modes run without their resource limits (policy length, instruction count,
//! execution timer): the 10,000-rule policy exceeds the defaults, and the other engines
//! run unlimited too.

use crate::model::Outcome;
use policygate_api::DecisionKind;
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::RegoVM;
use regorus::{Engine, PolicyLengthConfig, Value};
use std::num::{NonZeroU32, NonZeroUsize};

/// The rule every evaluation asks for.
pub const ENTRY: &str = "data.policygate.decision";

fn new_engine(rego: &str) -> Result<Engine, String> {
    let mut engine = Engine::new();
    engine.set_policy_length_config(PolicyLengthConfig {
        max_col: NonZeroU32::MAX,
        max_file_bytes: NonZeroUsize::MAX,
        max_lines: NonZeroUsize::MAX,
    });
    engine
        .add_policy("policygate.rego".to_owned(), rego.to_owned())
        .map_err(|e| format!("rego parse: {e}"))?;
    Ok(engine)
}

/// The regorus interpreter with the policy parsed, analysed and prepared.
#[derive(Debug)]
pub struct RegoInterp {
    engine: Engine,
}

impl RegoInterp {
    /// Parses the module and runs regorus' analysis (rule scheduling, hoisting) so that
    /// the first evaluation pays nothing extra.
    pub fn load(rego: &str) -> Result<Self, String> {
        let mut engine = new_engine(rego)?;
        engine
            .compile_with_entrypoint(&ENTRY.into())
            .map_err(|e| format!("rego compile: {e}"))?;
        Ok(Self { engine })
    }

    /// What an integration does per request: parse the JSON body into a regorus value.
    pub fn prepare(body: &[u8]) -> Result<Value, String> {
        let s = std::str::from_utf8(body).map_err(|e| format!("utf-8: {e}"))?;
        Value::from_json_str(s).map_err(|e| format!("json: {e}"))
    }

    /// Pure evaluation of a prepared input: set it and evaluate `decision`.
    pub fn decide(&mut self, input: &Value) -> Result<Value, String> {
        self.engine.set_input(input.clone());
        self.engine
            .eval_rule(ENTRY.to_owned())
            .map_err(|e| format!("rego eval: {e}"))
    }
}

/// The regorus virtual machine loaded with the compiled program.
#[derive(Debug)]
pub struct RegoVm {
    vm: RegoVM,
}

impl RegoVm {
    /// Parses, analyses and compiles the module to RVM bytecode, and loads it.
    pub fn load(rego: &str) -> Result<Self, String> {
        let mut engine = new_engine(rego)?;
        let compiled = engine
            .compile_with_entrypoint(&ENTRY.into())
            .map_err(|e| format!("rego compile: {e}"))?;
        let program = Compiler::compile_from_policy(&compiled, &[ENTRY])
            .map_err(|e| format!("rvm compile: {e}"))?;
        let mut vm = RegoVM::new_with_policy(compiled);
        vm.load_program(program);
        vm.set_max_instructions(usize::MAX);
        vm.set_execution_timer_config(None);
        Ok(Self { vm })
    }

    /// Pure evaluation of a prepared input.
    pub fn decide(&mut self, input: &Value) -> Result<Value, String> {
        self.vm.set_input(input.clone());
        self.vm.execute().map_err(|e| format!("rvm eval: {e}"))
    }
}

/// The `decision` object reduced to what engines must agree on.
pub fn outcome(v: &Value) -> Result<Outcome, String> {
    let field = |k: &str| &v[k];
    let decision = field("decision")
        .as_string()
        .ok()
        .and_then(|s| DecisionKind::parse(s))
        .ok_or_else(|| format!("rego: bad decision in {v}"))?;
    let rule_id = field("rule_id")
        .as_string()
        .map_err(|e| format!("rego: bad rule_id in {v}: {e}"))?;
    let max_tokens = field("max_tokens")
        .as_u32()
        .map_err(|e| format!("rego: bad max_tokens in {v}: {e}"))?;
    Ok(Outcome {
        decision,
        rule_id: (!rule_id.is_empty()).then(|| rule_id.to_string()),
        max_tokens: (max_tokens != 0).then_some(max_tokens),
    })
}
