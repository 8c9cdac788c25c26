//! `faaset`: the command line of FaaSET-rs. Parses arguments, runs the verb through the core
//! library, and maps the outcome to an exit code: 0 success, 1 a user error (one line on
//! stderr saying what to fix), 2 an internal error.

mod cli;
mod commands;
mod notebook_form;

use clap::Parser;

fn main() {
    let args = match notebook_form::translate(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("faaset: {message}");
            std::process::exit(1);
        }
    };
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are not errors; a bad command line is a user error (1).
            let code = if error.use_stderr() { 1 } else { 0 };
            let _ = error.print();
            std::process::exit(code);
        }
    };
    // The engine runs on one thread: its work is handing small messages between sockets, and
    // staying on one thread saves a cross-thread wake-up per hop (the functions' own
    // processes use the other cores).
    let engine = matches!(
        cli.command,
        cli::Command::Local {
            command: cli::LocalCommand::Serve { .. }
        }
    );
    let runtime = if engine {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
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
