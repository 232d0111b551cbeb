//! One module per subcommand: its arguments (clap) and what it does.

pub mod audit;
pub mod eval;
pub mod healthcheck;
pub mod serve;
pub mod validate;
