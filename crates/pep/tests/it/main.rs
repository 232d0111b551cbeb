//! Integration tests of the stable core against in-test fake PDPs on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers may fail loudly; clippy only exempts #[test] functions"
)]

mod client;
mod enforcer;
mod fake;
mod layer;
