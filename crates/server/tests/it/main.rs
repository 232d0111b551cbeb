//! Integration tests of the PDP service, one binary (see STYLE.md):
//! - `contracts`: the JSON Schemas under `contracts/` are generated from the Rust types
//!   (golden files; `UPDATE_CONTRACTS=1` rewrites them) and agree with the request
//!   validator; the policy schema accepts the policies we ship;
//! - `http`: every decision, every error status and the audit line of each, through
//!   `app(state)` in memory;
//! - `pinned`: exact bytes of a few answers and audit lines, so that refactoring
//!   cannot change them;
//! - `socket`: the same over a real socket, plus auth and graceful shutdown.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

mod common;
mod contracts;
mod http;
mod pinned;
mod socket;
