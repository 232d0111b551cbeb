//! Benchmarks PolicyGate against Cedar and Rego (regorus) on one generated AI-gateway
//! decision problem (issue 5). Kept out of the root workspace so that CI never compiles
//! the peer engines; run with `bench/peers/run.sh` (see BENCHMARKS.md at the repo root).
//!
//! - [`model`]: the decision problem, its generator and its reference semantics;
//! - [`emit`]: the same problem as PolicyGate YAML, Cedar and Rego;
//! - [`engines`]: load / prepare / decide adapters for each engine;
//! - [`fairness`]: every engine must give the reference answer on every request;
//! - [`alloc`]: a counting allocator for the memory figures.

pub mod alloc;
pub mod emit;
pub mod engines;
pub mod fairness;
pub mod model;
pub mod rng;
