//! `faaset`: the command line of FaaSET-rs. Parses arguments, runs the verb through the core
//! library, and maps the outcome to an exit code: 0 success, 1 a user error (one line on
//! stderr saying what to fix), 2 an internal error.

mod cli;
mod commands;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime");
    let code = match runtime.block_on(commands::run(cli)) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("faaset: {error}");
            if error.is_user_error() {
                1
            } else {
                2
            }
        }
    };
    // Do not wait for lingering pooled connections or blocking tasks.
    runtime.shutdown_background();
    std::process::exit(code);
}
