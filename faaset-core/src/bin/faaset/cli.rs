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
    /// Run an experiment: THREADS concurrent workers × RUNS_PER_THREAD calls each
    Experiment(ExperimentArgs),
    /// Print an experiment's results as a table
    Load(LoadArgs),
    /// Summary statistics of a metric (count, errors, cold starts, mean, median, sd, cv, p90/95/99)
    Stats(StatsArgs),
    /// Compare a metric between two experiments (Welch's or paired t-test, Mann–Whitney U)
    Ttest(TtestArgs),
    /// Chart an experiment (histogram, box plot, CDF, timeline) as SVG or PNG
    Plot(PlotArgs),
    /// Memory sweep: for each memory setting reconfigure, run the experiment, compare cost and speed
    Sweep(SweepArgs),
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
    /// Payload JSON, @FILE to read it from a file, or - for stdin (default: {})
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

#[derive(Debug, Args)]
pub struct ExperimentArgs {
    pub function: String,
    /// Concurrent workers
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Sequential calls per worker
    #[arg(long, default_value_t = 1, conflicts_with = "calls")]
    pub runs_per_thread: usize,
    /// Total calls instead of --runs-per-thread, spread over the workers as evenly as possible
    #[arg(long)]
    pub calls: Option<usize>,
    /// JSON array of payloads, spread over all calls, or @FILE / - (default: [{}])
    #[arg(long)]
    pub payloads: Option<String>,
    /// Results go to functions/<fn>/experiments/<name>/ (a second run appends)
    #[arg(long)]
    pub experiment_name: String,
    /// Shuffle the payload order (seeded)
    #[arg(long)]
    pub shuffle_payloads: bool,
    /// JSON object of tags recorded on every row
    #[arg(long)]
    pub tags: Option<String>,
    /// Seed of the payload shuffle
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Platform (default: the function's saved platform)
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    pub function: String,
    pub experiment: String,
    /// Print CSV instead of a table
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    pub function: String,
    pub experiment: String,
    /// Column to summarise
    #[arg(long, default_value = "runtime")]
    pub metric: String,
    /// Summarise per value of this column (e.g. memorySize)
    #[arg(long)]
    pub group_by: Option<String>,
}

#[derive(Debug, Args)]
pub struct TtestArgs {
    /// First sample: FUNCTION/EXPERIMENT
    pub a: String,
    /// Second sample: FUNCTION/EXPERIMENT
    pub b: String,
    /// Column to compare
    #[arg(long, default_value = "runtime")]
    pub metric: String,
    /// Paired t-test (rows matched in order) instead of Welch's
    #[arg(long)]
    pub paired: bool,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    pub function: String,
    pub experiment: String,
    /// hist, box, cdf or timeline
    #[arg(long, default_value = "hist")]
    pub kind: String,
    /// Column to plot
    #[arg(long, default_value = "runtime")]
    pub metric: String,
    /// Group the box plot by this column
    #[arg(long)]
    pub group_by: Option<String>,
    /// Output file (.svg or .png); default: <experiment folder>/<kind>-<metric>.svg
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    pub function: String,
    /// Memory settings in MB, comma separated
    #[arg(long, value_delimiter = ',', default_value = "128,256,512,1024,2048")]
    pub memory: Vec<u32>,
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[arg(long, default_value_t = 10)]
    pub runs_per_thread: usize,
    /// JSON array of payloads, or @FILE / - (default: [{}])
    #[arg(long)]
    pub payloads: Option<String>,
    /// Experiment name (rows tagged with the memory setting)
    #[arg(long, default_value = "memory_sweep")]
    pub experiment_name: String,
    /// Fraction of the slowest and fastest calls dropped before averaging
    #[arg(long, default_value_t = 0.2)]
    pub discard_top_bottom: f64,
    /// Chart file (.svg or .png); default: <experiment folder>/sweep.svg
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Platform (default: the function's saved platform)
    #[arg(long)]
    pub platform: Option<String>,
}
