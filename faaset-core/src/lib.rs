//! FaaSET-rs core: write a FaaS function in Rust, deploy it, call it, experiment with it.
//!
//! - [`workspace`], [`name`], [`function`], [`source`], [`config`]: the files on disk and
//!   their rules (DESIGN §1.3, §1.4);
//! - [`deploy`]: persist → hash → build ([`bootstrap`], `build.sh`) → publish;
//! - [`invoke`]: one call with client-side timing; [`platform`]: the platform seam;
//! - [`engine`]: the built-in local platform, a Lambda-compatible engine on loopback;
//! - [`experiment`]: experiments and memory sweeps; [`results`]: the one reader of their rows;
//!   [`report`]: what the verbs show; [`verbs`]: every verb's parameters, for both front ends;
//! - [`analysis`], [`plot`]: statistics, t-tests and charts of results;
//! - [`auth`]: tokens of the loopback servers; [`locks`]: who may change a function when; [`progress`]: how the core reports;
//!   [`words`]: plurals and the like.
//!
//! The core never prints: it reports through a [`progress::Sink`].

pub mod analysis;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod deploy;
pub mod engine;
pub mod error;
pub mod experiment;
pub mod function;
pub mod invoke;
pub mod locks;
pub mod name;
pub mod platform;
pub mod plot;
pub mod progress;
pub mod random;
pub mod report;
pub mod results;
pub mod source;
pub mod verbs;
pub mod words;
pub mod workspace;

pub use error::{Error, Result};
pub use name::FunctionName;
pub use workspace::Workspace;
