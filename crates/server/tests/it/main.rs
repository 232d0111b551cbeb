//! Integration tests of the PDP service, one binary (see STYLE.md):
//! - `batch`: `POST /evaluate/batch`: order, per-item results and audit events, limits;
//! - `caller`: `caller.id` is the authenticated caller, never the body's;
//! - `conn`: the connection layer on a real socket: idle and slow-header connections
//!   closed by their timeouts, the connection limit, stable error bodies for heads
//!   hyper refuses and for our own head limits;
//! - `contracts`: the JSON Schemas under `contracts/` are generated from the Rust types
//!   (golden files; `UPDATE_CONTRACTS=1` rewrites them) and agree with the request
//!   validator; the policy schema accepts the policies we ship;
//! - `ext_authz`: the Envoy ext_authz gRPC service, driven by a tonic client sending what
//!   Envoy sends: every decision, mapping denials, a failing sink;
//! - `http`: every decision, every error status and the audit line of each, through
//!   `app(state)` in memory;
//! - `reload`: `reload` swaps a valid policy in and keeps the last valid one otherwise;
//!   `/health`, `/ready`, `/metrics` and the audit stream report each attempt;
//! - `shadow`: a shadow policy never changes an answer; the audit shows its outcome;
//! - `pinned`: exact bytes of a few answers and audit lines, so that refactoring
//!   cannot change them;
//! - `socket`: the same over a real socket, plus auth and graceful shutdown.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

mod authz;
mod batch;
mod caller;
mod common;
mod conn;
mod contracts;
mod ext_authz;
mod http;
mod pinned;
mod reload;
mod shadow;
mod socket;
