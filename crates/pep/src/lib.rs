#![doc = include_str!("../README.md")]
//!
//! ## Module map
//!
//! - [`RequestBuilder`]: facts → contract-valid request (`builder.rs`).
//! - [`PdpClient`]: one bounded, fail-closed `POST /evaluate` (`client.rs`, `response.rs`),
//!   over TCP or a Unix domain socket (`transport.rs`).
//! - [`Decision`] / [`Origin`]: what a handler enforces (`decision.rs`).
//! - [`Enforcer`], [`Handlers`], [`SyncHandlers`], [`handlers`]: dispatch (`enforcer.rs`).
//! - [`OutputCapExt`], [`ObligationKind`]: obligations (`obligation.rs`).
//! - [`PepLayer`]: the tower layer (`layer.rs`).
//! - [`PepError`], [`codes`]: failures and their rationale codes (`error.rs`).
#![warn(missing_docs)]

mod builder;
mod client;
mod decision;
mod enforcer;
mod error;
mod layer;
mod obligation;
mod response;
mod transport;

pub use builder::{IntoEvaluateRequest, IntoSignal, RequestBuilder};
pub use client::{
    CallOptions, DEFAULT_DEADLINE, DEFAULT_MAX_RETRIES, MAX_RESPONSE_BYTES, PdpClient,
    PdpClientBuilder, is_traceparent,
};
pub use decision::{Decision, Origin, Refusal};
pub use enforcer::{
    AsyncFn, BlockingEnforcer, DecisionFn, DegradeResult, Enforcer, FnHandlers, Handlers, Missing,
    SyncAdapter, SyncFn, SyncHandlers, Unenforceable, dispatch, dispatch_sync, handlers,
};
pub use error::{PepError, codes};
pub use layer::{PepLayer, PepService};
pub use obligation::{
    MAX_BYTES_LIMIT, MAX_ITEMS_LIMIT, MAX_TOKENS_LIMIT, ObligationKind, OutputCapExt,
    merged_output_cap,
};
/// The wire types, re-exported so that a service needs only this crate.
pub use policygate_api as api;
