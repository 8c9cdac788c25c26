//! The command line's shape (clap derive); doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// FaaSET-rs: write FaaS functions in Rust, deploy them, call them, experiment with them.
#[derive(Debug, Parser)]
#[command(name = "faaset", version, about)]
pub struct Cli {
    /// Workspace folder (holds functions/ and platforms/); default: the current directory
    #[arg(long, global = true, env = "FAASET_WORKSPACE")]
    pub workspace: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a function from a template or a .rs file (without deploying it)
    New(NewArgs),
    /// Build (when the source changed) and publish a function
    Deploy(DeployArgs),
    /// Call a function once and print its response with roundTripTime and latency
    Invoke(InvokeArgs),
    /// Publish a new configuration without rebuilding
    Reconfigure(ReconfigureArgs),
    /// List functions and platforms
    List,
    /// Control the local platform's engine
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// Function name (lowercase letters, digits, underscores)
    pub name: String,
    /// Platform the function deploys to
    #[arg(long, default_value = "local")]
    pub platform: String,
    /// Rust source file holding `fn <name>(request: Value, context: Context) -> Value`
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Configuration JSON object, e.g. '{"memory": 1024}'
    #[arg(long)]
    pub config: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    pub name: String,
    /// Platform (default: the function's saved platform)
    #[arg(long)]
    pub platform: Option<String>,
    /// Configuration JSON object on top of the saved one
    #[arg(long)]
    pub config: Option<String>,
    /// Build and publish even when nothing changed
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    pub name: String,
    /// Payload JSON (default: {})
    pub payload: Option<String>,
    /// Platform (default: the function's saved platform)
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReconfigureArgs {
    pub name: String,
    /// Configuration JSON object, e.g. '{"memory": 1024}'
    pub config: String,
    /// Platform (default: the function's saved platform)
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Start the engine in the background (it also starts on demand)
    Start,
    /// Show the engine, its functions and execution environments
    Status,
    /// Stop the engine and its environments
    Stop,
    /// Run the engine in the foreground (what `start` runs)
    #[command(hide = true)]
    Serve {
        /// Port on 127.0.0.1 (0: any free port)
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}
