//! One module per subcommand: its arguments (clap) and what it does.

pub mod eval;
pub mod explain;
pub mod healthcheck;
pub mod serve;
pub mod test;
pub mod validate;
