//! The binary's exit codes, stable because scripts and container runtimes rely on them.
//!
//! - `0` success (policy valid; decision printed; server stopped cleanly);
//! - `1` invalid input: a policy with errors, a request that breaks the contract; for
//!   `healthcheck`, an unhealthy or unreachable service; for `audit verify`, a trail
//!   that does not verify;
//! - `2` usage error (bad flags or flag values) or an I/O error reading inputs;
//! - `3` (`serve`) the server failed at runtime, e.g. could not bind or audit.
//!
//! `diff` and `replay` answer a question, so theirs differ: `0` no change (equivalent
//! policies; no replayed event changed), `1` changes (or, for `diff`, undecided pairs),
//! `2` an invalid or unreadable policy or input.

use std::process::ExitCode;

/// A policy or request with errors; an unhealthy service.
pub const INVALID: u8 = 1;
/// Bad flags or flag values, unreadable inputs.
pub const USAGE: u8 = 2;
/// `serve` failed at runtime.
pub const RUNTIME: u8 = 3;

/// Shown at the end of `--help`.
pub const HELP: &str = "Exit codes: 0 ok, 1 invalid policy, request or audit trail, 2 usage or I/O error, 3 server runtime failure.\ndiff and replay: 0 no change, 1 changes, 2 invalid or unreadable policy or input";

/// Exit code `code`.
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}

/// Prints `error: {message}` on stderr and returns the usage exit code.
pub fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    code(USAGE)
}
