//! One module per subcommand: an `Args` (clap) and a `run`.

pub mod analyze;
pub mod bench;
pub mod check;
pub mod demo;
pub mod plan;
pub mod reproduce;
pub mod validate;
