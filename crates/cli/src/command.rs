//! One module per subcommand: its arguments (clap) and what it does.

pub mod diff;
pub mod eval;
pub mod healthcheck;
pub mod replay;
pub mod serve;
pub mod validate;
