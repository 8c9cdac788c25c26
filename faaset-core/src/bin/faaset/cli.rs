//! The command line's shape (clap derive); doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use faaset::analysis::bootstrap;
use faaset::experiment::{spec, sweep, Arrival};
use faaset::results;
use faaset::verbs::help;

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
    #[arg(long, help = help("deploy", "platform"))]
    pub platform: Option<String>,
    #[arg(long, help = help("deploy", "config"))]
    pub config: Option<String>,
    #[arg(long, help = help("deploy", "force"))]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    pub name: String,
    /// Payload JSON, @FILE to read it from a file, or - for stdin (default: {})
    pub payload: Option<String>,
    #[arg(long, help = help("invoke", "platform"))]
    pub platform: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReconfigureArgs {
    pub name: String,
    /// Configuration JSON object, e.g. '{"memory": 1024}'
    pub config: String,
    #[arg(long, help = help("reconfigure", "platform"))]
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
    #[arg(long, default_value_t = spec::DEFAULT_THREADS, help = help("experiment", "threads"))]
    pub threads: usize,
    #[arg(long, default_value_t = spec::DEFAULT_RUNS_PER_THREAD, conflicts_with = "calls",
          help = help("experiment", "runs_per_thread"))]
    pub runs_per_thread: usize,
    #[arg(long, help = help("experiment", "calls"))]
    pub calls: Option<usize>,
    #[arg(long, help = help("experiment", "payloads"))]
    pub payloads: Option<String>,
    #[arg(long, conflicts_with = "payloads", help = help("experiment", "payload"))]
    pub payload: Option<String>,
    #[arg(long, help = help("experiment", "experiment_name"))]
    pub experiment_name: String,
    #[arg(long, help = help("experiment", "shuffle_payloads"))]
    pub shuffle_payloads: bool,
    #[arg(long, help = help("experiment", "tags"))]
    pub tags: Option<String>,
    #[arg(long, default_value_t = spec::DEFAULT_SEED, help = help("experiment", "seed"))]
    pub seed: u64,
    #[arg(long, allow_negative_numbers = true, help = help("experiment", "rate"))]
    pub rate: Option<f64>,
    #[arg(long, allow_negative_numbers = true, help = help("experiment", "duration"))]
    pub duration: Option<f64>,
    #[arg(long, default_value = Arrival::default().name(), help = help("experiment", "arrival"))]
    pub arrival: String,
    #[arg(long, help = help("experiment", "phases"))]
    pub phases: Option<String>,
    #[arg(long, default_value_t = spec::DEFAULT_CONCURRENCY, help = help("experiment", "concurrency"))]
    pub concurrency: usize,
    #[arg(long, help = help("experiment", "cold"))]
    pub cold: bool,
    #[arg(long, help = help("experiment", "platform"))]
    pub platform: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    pub function: String,
    pub experiment: String,
    #[arg(long, help = help("load", "csv"))]
    pub csv: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    pub function: String,
    pub experiment: String,
    #[arg(long, default_value = results::DEFAULT_METRIC, help = help("stats", "metric"))]
    pub metric: String,
    #[arg(long, help = help("stats", "group_by"))]
    pub group_by: Option<String>,
    #[arg(long, help = help("stats", "ci_width"))]
    pub ci_width: Option<f64>,
    #[arg(long, default_value_t = bootstrap::DEFAULT_RESAMPLES, help = help("stats", "resamples"))]
    pub resamples: usize,
    #[arg(long, default_value_t = bootstrap::DEFAULT_SEED, help = help("stats", "seed"))]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct TtestArgs {
    /// First sample: FUNCTION/EXPERIMENT
    pub a: String,
    /// Second sample: FUNCTION/EXPERIMENT
    pub b: String,
    #[arg(long, default_value = results::DEFAULT_METRIC, help = help("ttest", "metric"))]
    pub metric: String,
    #[arg(long, help = help("ttest", "paired"))]
    pub paired: bool,
    #[arg(long, default_value_t = bootstrap::DEFAULT_RESAMPLES, help = help("ttest", "resamples"))]
    pub resamples: usize,
    #[arg(long, default_value_t = bootstrap::DEFAULT_SEED, help = help("ttest", "seed"))]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    pub function: String,
    pub experiment: String,
    #[arg(long, default_value = results::PlotKind::DEFAULT.name(), help = help("plot", "kind"))]
    pub kind: String,
    #[arg(long, default_value = results::DEFAULT_METRIC, help = help("plot", "metric"))]
    pub metric: String,
    #[arg(long, help = help("plot", "group_by"))]
    pub group_by: Option<String>,
    #[arg(long, help = help("plot", "output"))]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    pub function: String,
    #[arg(long, value_delimiter = ',', default_values_t = sweep::DEFAULT_MEMORY,
          help = help("sweep", "memory"))]
    pub memory: Vec<u32>,
    #[arg(long, default_value_t = spec::DEFAULT_THREADS, help = help("sweep", "threads"))]
    pub threads: usize,
    #[arg(long, default_value_t = sweep::DEFAULT_RUNS_PER_THREAD,
          help = help("sweep", "runs_per_thread"))]
    pub runs_per_thread: usize,
    #[arg(long, help = help("sweep", "payloads"))]
    pub payloads: Option<String>,
    #[arg(long, conflicts_with = "payloads", help = help("sweep", "payload"))]
    pub payload: Option<String>,
    #[arg(long, default_value = sweep::DEFAULT_EXPERIMENT_NAME,
          help = help("sweep", "experiment_name"))]
    pub experiment_name: String,
    #[arg(long, default_value_t = sweep::DEFAULT_DISCARD_TOP_BOTTOM,
          help = help("sweep", "discard_top_bottom"))]
    pub discard_top_bottom: f64,
    #[arg(long, help = help("sweep", "output"))]
    pub output: Option<PathBuf>,
    #[arg(long, help = help("sweep", "platform"))]
    pub platform: Option<String>,
}
