//! One module per subcommand: an `Args` (clap) and a `run`.

pub mod analyze;
pub mod bench;
pub mod check;
pub mod demo;
pub mod export;
pub mod plan;
pub mod power;
pub mod reproduce;
pub mod run;
pub mod simulate;
pub mod stimuli_make;
pub mod validate;
pub mod window;
pub mod withdraw;
