//! One module per subcommand: its arguments (clap) and what it does.

pub mod audit;
pub mod diff;
pub mod eval;
pub mod explain;
pub mod healthcheck;
pub mod keygen;
pub mod replay;
pub mod serve;
pub mod sign;
pub mod test;
pub mod validate;
