//! One module per subcommand that lives in this crate (`serve` and `healthcheck` live
//! in `policygate-server`).

pub mod eval;
pub mod explain;
pub mod test;
pub mod validate;

/// Shown at the end of `--help`.
pub const EXIT_CODES_HELP: &str =
    "Exit codes: 0 ok, 1 invalid policy or request, 2 usage or I/O error, 3 server runtime failure";
