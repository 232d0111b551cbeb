//! Integration tests of the stable core against the test kit's fake PDPs on loopback
//! (`policygate_testkit::pdp`); `answers` is what they answer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers may fail loudly; clippy only exempts #[test] functions"
)]

mod answers;
mod client;
mod enforcer;
mod layer;
