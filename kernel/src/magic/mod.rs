//! `%%cloud_function` and `%faaset` magics: parsed and checked ([`parse`]), then carried out
//! through the core library ([`run`]). The magics never touch the Rust session themselves:
//! they return [`run::Followup`]s (define a stub, bind a variable) that the kernel evaluates.

pub mod args;
pub mod help;
pub mod parse;
pub mod run;

pub use parse::{parse, Cell};
