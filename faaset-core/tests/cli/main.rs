//! End-to-end tests of the `faaset` CLI against the real local engine: real processes, real
//! HTTP on loopback, real function builds (into the shared target directory).

mod support;

mod analysis;
mod aws;
mod azure;
mod defects;
mod durability;
mod errors;
mod experiment;
mod experiment_cold;
mod experiment_open_loop;
mod google;
mod http;
mod lifecycle;
mod limits;
mod openwhisk;
mod processes;
mod runtime;
mod security;
mod seed_lock;
mod sweep;
