//! One adapter per engine, each with the same three steps: load (parse, validate,
//! compile), prepare (build the engine's input from the request's JSON body, the work a
//! server does per request) and decide (pure evaluation of a prepared input).

pub mod cedar;
pub mod policygate;
pub mod rego;
